import pytest

from strfviewer.models import registry


def test_register_and_lookup_roundtrip():
    @registry.register("activation", "_test_identity_act", aliases=("_TestIdentityAlias",))
    class _Ident:
        """A test activation."""

    assert registry.get("activation", "_test_identity_act") is _Ident
    assert registry.get("activation", "_TestIdentityAlias") is _Ident
    assert "_test_identity_act" in registry.names("activation")
    assert "_TestIdentityAlias" not in registry.names("activation")
    assert registry.entry("activation", "_test_identity_act").description == "A test activation."


def test_unknown_name_lists_known_names():
    with pytest.raises(registry.UnknownNameError, match="known kernels"):
        registry.get("kernel", "no-such-kernel")


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown registry kind"):
        registry.names("colour")


def test_conflicting_registration_is_refused():
    @registry.register("scale", "_test_scale_a")
    def a():
        pass

    def b():
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register("scale", "_test_scale_a")(b)


def test_names_in_any_case_and_aliases_resolve_to_the_registered_name():
    assert registry.canonical("model", "linear") == "Linear"
    assert registry.canonical("model", "STATENET") == "StateNet"
    assert registry.canonical("model", "ln") == "LinearNonlinear"
    assert registry.canonical("kernel", "Separable") == "separable"
    assert registry.canonical("kernel", "separablestrf") == "separable"
    assert registry.canonical("prefilter", "adaptrans") == "AdapTrans"
    assert registry.canonical("activation", "PSIGMOID") == "ParametricSigmoid"
    assert registry.canonical("frontend", "GABOR") == "GaborFilterbank"
    assert "linear" not in registry.names("model") and "ln" not in registry.names("model")
    with pytest.raises(registry.UnknownNameError, match="known models"):
        registry.canonical("model", "linea")
