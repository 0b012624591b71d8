"""Preferences dialog (File > Preferences...): the audio output device, stored in ``QSettings``.

The device is stored by name (``audio/output_device``; empty = the system default) because PortAudio's
device indices change when devices come and go.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QWidget)

OUTPUT_DEVICE_KEY = "audio/output_device"


def stored_device_name(settings) -> str:
    return str(settings.value(OUTPUT_DEVICE_KEY, "") or "")


def device_index(player, name: str) -> Optional[int]:
    """Index of the output device called ``name`` (None: system default, or not present any more)."""
    if not name:
        return None
    for dev in player.output_devices():
        if dev.name == name:
            return dev.index
    return None


class PreferencesDialog(QDialog):
    """``device_box`` lists "System default" then every output device; ``reason_label`` says why playback
    is off when it is. Accepting stores the choice and applies it to the player."""

    def __init__(self, settings, player, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")
        self.settings, self.player = settings, player
        self.device_box = QComboBox()
        self.device_box.setObjectName("outputDevice")
        self.reason_label = QLabel("")
        self.reason_label.setWordWrap(True)
        again = QPushButton("Look again")
        again.setToolTip("search for the audio library and output devices again (e.g. after plugging headphones)")
        again.clicked.connect(self.rescan)
        row = QHBoxLayout()
        row.addWidget(self.device_box, 1)
        row.addWidget(again)
        form = QFormLayout(self)
        form.addRow("Audio output", row)
        form.addRow(self.reason_label)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.fill()

    def fill(self) -> None:
        self.device_box.clear()
        self.device_box.addItem("System default", "")
        for dev in self.player.output_devices():
            self.device_box.addItem(f"{dev.name} ({dev.default_samplerate:.0f} Hz)", dev.name)
        stored = stored_device_name(self.settings)
        index = self.device_box.findData(stored)
        if index < 0 and stored:
            self.device_box.addItem(f"{stored} (not connected)", stored)
            index = self.device_box.count() - 1
        self.device_box.setCurrentIndex(max(0, index))
        reason = self.player.unavailable_reason
        self.reason_label.setText(reason or "")
        self.device_box.setEnabled(reason is None)

    def rescan(self) -> None:
        self.player.refresh()
        self.fill()

    def chosen_name(self) -> str:
        return str(self.device_box.currentData() or "")

    def accept(self) -> None:
        name = self.chosen_name()
        self.settings.setValue(OUTPUT_DEVICE_KEY, name)
        self.player.device = device_index(self.player, name)
        super().accept()
