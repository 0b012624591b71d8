"""strfviewer: fit, open and explore spectro-temporal receptive field (STRF) encoding models.

The engine (``strfviewer.models``, ``strfviewer.data``, ``strfviewer.fit``, ``strfviewer.analysis``,
``strfviewer.io``) never imports Qt; ``strfviewer.gui`` is the PySide6 application over it.
"""

__version__ = "0.1.0"
