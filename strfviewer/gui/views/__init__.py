"""The main window's views, one small widget per file, each redrawn from session events.

Plots use dark ink on a white background (readable, and what exported figures want).
"""

import pyqtgraph as pg

pg.setConfigOptions(background="w", foreground="k", antialias=False)  # antialiasing doubled paint time
