"""QA: ``prefilter = "none"`` in a sweep grid means no prefilter, as everywhere else (factory, fit dialog)."""

from strfviewer.runs.sweep_spec import SweepSpec


def test_none_prefilter_is_no_prefilter():
    sweep = SweepSpec.from_dict({"name": "s", "data": ["demo"], "seeds": [0],
                                 "model": [{"family": "LinearNonlinear", "prefilter": ["none", "AdapTrans"]}]})
    prefilters = [t.spec.get("prefilter") for t in sweep.trials()]
    assert prefilters == [None, "AdapTrans"]  # stored as no prefilter: grouped with plain fits, labelled without it


def test_prefilter_arguments_do_not_break_the_none_trial():
    sweep = SweepSpec.from_dict({"name": "s", "data": ["demo"], "seeds": [0],
                                 "model": [{"family": "Linear", "prefilter": ["none", "ICAdaptation"],
                                            "prefilter_kwargs": {"dt": 5.0}}]})
    specs = [t.spec for t in sweep.trials()]
    assert specs[0].get("prefilter") is None and not specs[0].get("prefilter_kwargs")
    assert specs[1]["prefilter"] == "ICAdaptation" and specs[1]["prefilter_kwargs"] == {"dt": 5.0}
