"""File > Open model: a checkpoint folder (browse) or a Hugging Face Hub repo id typed in, and for a deepSTRF
waveform checkpoint (which records no sample rate) the audio sample rate; :func:`sample_rate_prompt` asks for that
rate alone when a checkpoint turns out to need it."""

from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QInputDialog, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout)

#: the sample rate offered first (Hz): deepSTRF's front-ends are most often used at 16 kHz
DEFAULT_SAMPLE_RATE = 16000
SAMPLE_RATE_HELP = ("deepSTRF waveform checkpoints (a front-end in wav2spec) do not record the audio sample rate: "
                    "give the rate the model was trained at")


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
        self.rate_edit = QLineEdit()
        self.rate_edit.setObjectName("sampleRate")
        self.rate_edit.setPlaceholderText("only for deepSTRF waveform checkpoints, e.g. 16000")
        self.rate_edit.setToolTip(SAMPLE_RATE_HELP + "; asked for when needed if left empty.")
        rate_row = QFormLayout()
        rate_row.addRow("Audio sample rate (Hz)", self.rate_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A folder with config.json + model.safetensors (strfviewer or deepSTRF), "
                                "or a Hugging Face Hub repo id:"))
        layout.addLayout(row)
        layout.addLayout(rate_row)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Checkpoint folder", self._start_dir)
        if folder:
            self.edit.setText(folder)

    def target(self) -> str:
        return self.edit.text().strip()

    def sample_rate_text(self) -> str:
        """The sample rate as typed (checked by ``runs_table.parse_sample_rate``)."""
        return self.rate_edit.text().strip()


def sample_rate_prompt(parent, path_or_id: str) -> QInputDialog:
    """A dialog asking only for the audio sample rate (Hz) of the waveform checkpoint ``path_or_id``."""
    prompt = QInputDialog(parent)
    prompt.setObjectName("sampleRatePrompt")
    prompt.setWindowTitle("Audio sample rate")
    prompt.setInputMode(QInputDialog.InputMode.IntInput)
    prompt.setLabelText(f"{path_or_id}:\n{SAMPLE_RATE_HELP}.\nSample rate (Hz):")
    prompt.setIntRange(1000, 384000)
    prompt.setIntStep(1000)
    prompt.setIntValue(DEFAULT_SAMPLE_RATE)
    return prompt
