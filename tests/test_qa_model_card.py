"""QA: the README.md model card of a checkpoint states the headline result and stays valid Markdown/JSON when
the metadata is large (a population of many neurons)."""

import json
import re

from strfviewer.io.checkpoints import default_model_card

CONFIG = {"_model_class": "Linear", "n_frequency_bands": 34, "out_neurons": 150, "temporal_window_size": 15}


def _metadata(n):
    part = {"cc": [0.5] * n, "cc_max": [0.9] * n, "cc_norm": [0.6] * n, "mean_cc_norm": 0.6}
    return {"dt_ms": 5.0, "dataset": {"name": "pop", "split": {f"stim{k}": "train" for k in range(400)}},
            "metrics": {"train": dict(part, mean_cc_norm=0.7), "val": part, "test": dict(part, mean_cc_norm=0.55),
                        "epochs": 12}}


def test_card_states_the_mean_cc_norm_per_split():
    card = default_model_card(CONFIG, _metadata(3))
    assert re.search(r"test\D*0\.55", card) and re.search(r"train\D*0\.7", card)


def test_large_metadata_stays_valid_json_in_the_card():
    card = default_model_card(CONFIG, _metadata(150))
    blocks = re.findall(r"```json\n(.*?)```", card, flags=re.S)
    assert blocks and card.count("```") % 2 == 0
    for block in blocks:
        json.loads(block)  # never cut in the middle
    assert "metadata.json" in card  # where the rest is
