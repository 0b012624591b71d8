"""The app deletes its Qt objects in a safe order before Python finalises (a SIGSEGV at exit otherwise)."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import gc, sys
    import pyqtgraph as pg
    import shiboken6
    from PySide6.QtWidgets import QApplication, QGraphicsItem, QMainWindow
    from strfviewer.gui.window.teardown import delete_qt_objects

    app = QApplication([])
    window = QMainWindow()
    layout = pg.GraphicsLayoutWidget()
    window.setCentralWidget(layout)
    layout.addPlot().plot([1, 2, 3])
    window.show()
    orphan = pg.ColorBarItem(interactive=False)  # a plot in no scene: its control panel is a parentless widget
    menus = [w for w in app.topLevelWidgets() if w.parent() is None and w is not window]
    assert menus, "pyqtgraph made no parentless widgets: the test no longer covers the ordering"
    app.processEvents()
    delete_qt_objects(app, window)
    assert not shiboken6.isValid(window) and not shiboken6.isValid(orphan)
    left = [o for o in gc.get_objects() if issubclass(type(o), QGraphicsItem) and shiboken6.isValid(o)]
    assert not left, left
    left = [w for w in app.topLevelWidgets() if shiboken6.isValid(w)]
    assert not left, left
    print("clean")
""")


def test_delete_qt_objects_leaves_nothing_for_the_interpreter_to_destroy(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "clean" in proc.stdout
