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
