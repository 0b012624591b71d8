"""File > Open model: a checkpoint folder (browse) or a Hugging Face Hub repo id typed in."""

from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout)


class OpenModelDialog(QDialog):
    """Asks for a checkpoint folder or a Hub id such as ``owner/model-name``."""

    def __init__(self, parent=None, start_dir: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open model")
        self._start_dir = start_dir
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("checkpoint folder, or Hub id such as owner/model-name")
        self.edit.setMinimumWidth(420)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A folder with config.json + model.safetensors (strfviewer or deepSTRF), "
                                "or a Hugging Face Hub repo id:"))
        layout.addLayout(row)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Checkpoint folder", self._start_dir)
        if folder:
            self.edit.setText(folder)

    def target(self) -> str:
        return self.edit.text().strip()
