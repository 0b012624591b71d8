import sys

from strfviewer.cli import main

sys.exit(main())
