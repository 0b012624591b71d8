"""Entry script of the frozen app (PyInstaller, see strfviewer.spec): ``strfviewer.cli:main``.

``multiprocessing.freeze_support()`` comes first: the app runs fits in a child process started with
"spawn", and in a frozen build that child is this same executable, which must run the child's work and exit
instead of parsing the command line and opening another window.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from strfviewer.cli import main

    sys.exit(main())
