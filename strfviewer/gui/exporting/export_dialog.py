"""The File > Export... dialog: pick what to export, the format (PNG with a DPI, SVG, PDF), the file.

The work is done by :class:`strfviewer.gui.exporting.feature.ExportFeature`; this dialog only collects the
choices. Errors appear in the main window's error dialog; the dialog stays open for another try.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)

LAST_FOLDER_KEY = "export/last_folder"
DPI_KEY = "export/dpi"
FORMAT_LABELS = {"png": "PNG image", "svg": "SVG (vector)", "pdf": "PDF (vector)"}


class ExportDialog(QDialog):
    """Non-modal export dialog. ``target_box`` (data = target key), ``format_box`` (png/svg/pdf),
    ``dpi_spin``, ``width_spin`` / ``height_spin`` (figure size, inches), ``path_edit``."""

    def __init__(self, feature, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.feature = feature
        self.window = feature.window
        self.setWindowTitle("Export")
        self.setObjectName("exportDialog")
        self.target_box = QComboBox()
        self.format_box = QComboBox()
        for key, label in FORMAT_LABELS.items():
            self.format_box.addItem(label, key)
        self.dpi_spin = QSpinBox()
        self.dpi_spin.setRange(50, 1200)
        self.dpi_spin.setSingleStep(50)
        self.dpi_spin.setSuffix(" dpi")
        self.dpi_spin.setValue(int(self.window.settings().value(DPI_KEY, 300)))
        self.dpi_spin.setToolTip("resolution of PNG images (a view is exported at its on-screen size x dpi/96)")
        self.width_spin = QDoubleSpinBox()
        self.height_spin = QDoubleSpinBox()
        for spin, value in ((self.width_spin, 9.0), (self.height_spin, 5.5)):
            spin.setRange(2.0, 30.0)
            spin.setSingleStep(0.5)
            spin.setSuffix(" in")
            spin.setValue(value)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        self.size_widget = QWidget()
        self.size_widget.setLayout(size_row)
        size_row.setContentsMargins(0, 0, 0, 0)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("exportPath")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.message = QLabel("")
        self.message.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("Export", self.target_box)
        form.addRow("Format", self.format_box)
        form.addRow("Resolution", self.dpi_spin)
        form.addRow("Figure size", self.size_widget)
        form.addRow("File", path_row)
        form.addRow(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.setDefault(True)
        buttons.accepted.connect(self.export)
        buttons.rejected.connect(self.hide)
        form.addRow(buttons)
        self.target_box.currentIndexChanged.connect(self._update)
        self.format_box.currentIndexChanged.connect(self._update_suffix)

    # --- state ---------------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        return self.target_box.currentData() or ""

    @property
    def fmt(self) -> str:
        return self.format_box.currentData()

    def refresh(self, target: Optional[str] = None) -> None:
        """Fill the list with what is exportable now and select ``target`` (or keep the current choice)."""
        keep = target or self.target
        self.target_box.blockSignals(True)
        self.target_box.clear()
        for key, label in self.feature.targets().items():
            self.target_box.addItem(label, key)
        index = self.target_box.findData(keep)
        self.target_box.setCurrentIndex(max(0, index))
        self.target_box.blockSignals(False)
        self._update()

    def select_target(self, key: str) -> None:
        index = self.target_box.findData(key)
        if index < 0:
            raise ValueError(f"nothing to export as {key!r} right now")
        self.target_box.setCurrentIndex(index)

    def select_format(self, fmt: str) -> None:
        self.format_box.setCurrentIndex(self.format_box.findData(fmt))

    def _folder(self) -> Path:
        return Path(str(self.window.settings().value(LAST_FOLDER_KEY, str(Path.home()))))

    def _update(self) -> None:
        target = self.target
        if not target:
            self.message.setText("nothing to export yet")
            self.export_button.setEnabled(False)
            return
        self.export_button.setEnabled(True)
        kind = self.feature.kind(target)
        image = kind == "image"
        self.format_box.setEnabled(image)
        self.dpi_spin.setEnabled(image and self.fmt == "png")
        self.size_widget.setEnabled(target == "figure")
        folder = Path(self.path_edit.text()).parent if self.path_edit.text() else self._folder()
        self.path_edit.setText(str(folder / self.feature.default_name(target, self.fmt)))
        self.message.setText("")

    def _update_suffix(self) -> None:
        self.dpi_spin.setEnabled(self.feature.kind(self.target) == "image" and self.fmt == "png")
        text = self.path_edit.text()
        if text and self.feature.kind(self.target) == "image":
            self.path_edit.setText(str(Path(text).with_suffix(f".{self.fmt}")))

    def browse(self) -> None:
        kind = self.feature.kind(self.target) if self.target else "image"
        filters = {"image": f"{FORMAT_LABELS[self.fmt]} (*.{self.fmt})", "csv": "CSV table (*.csv)",
                   "npz": "NumPy archive (*.npz)", "wav": "WAV sound (*.wav)"}[kind]
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), filters)
        if path:
            self.path_edit.setText(path)

    # --- action --------------------------------------------------------------------------------------
    def export(self):
        """Export the chosen target to the chosen file; returns the path, a worker, or None on error."""
        path = self.path_edit.text().strip()
        if not path or not self.target:
            self.message.setText("choose what to export and a file name")
            return None
        if self.feature.kind(self.target) == "image":
            suffix = Path(path).suffix.lower().lstrip(".")
            if suffix in FORMAT_LABELS and suffix != self.fmt:
                self.select_format(suffix)
            elif suffix not in FORMAT_LABELS:
                path = f"{path}.{self.fmt}"
        self.window.settings().setValue(LAST_FOLDER_KEY, str(Path(path).parent))
        self.window.settings().setValue(DPI_KEY, self.dpi_spin.value())
        self.message.setText(f"exporting to {path}…")
        try:
            result = self.feature.export(self.target, path, dpi=self.dpi_spin.value(),
                                         width_in=self.width_spin.value(), height_in=self.height_spin.value(),
                                         on_done=lambda p: self.message.setText(f"written: {p}"))
        except (ValueError, OSError, KeyError) as exc:
            self.message.setText(f"failed: {exc}")
            self.window.show_error("Export failed", str(exc))
            return None
        return result
