"""QA: a run saved by the app records its split where `strfviewer export` / the CLI read it
(metadata["dataset"]["split"]), so a headless export of an app-saved checkpoint scores on the split it was fitted
on, not on the data's default split."""

from strfviewer.commands.checkpoint_data import _saved_split
from strfviewer.gui.fitting.runs_table import run_checkpoint_metadata

from .conftest import make_dataset, make_run


def test_saved_run_metadata_has_the_split_under_dataset():
    ds = make_dataset()
    resplit = {name: part for name, part in zip([s.name for s in ds.stimuli],
                                                 ["val", "train", "train", "test", "train", "train"])}
    ds = ds.with_split(resplit)
    meta = run_checkpoint_metadata(make_run(ds), ds)
    assert meta["dataset"]["split"] == resplit
    assert _saved_split(meta) == resplit
