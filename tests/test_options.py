"""``ms.set_options`` / ``ms.get_options``: process-wide defaults, globally or in a ``with`` block."""

from __future__ import annotations

import pytest

from mlsysim_vec.grid import Arg
from mlsysim_vec.options import Option, get_options, set_options
from mlsysim_vec.solvers.base import FIDELITY, Resolver


class _Echo(Resolver):
    """Echo the fidelity it was called with (a test resolver)."""

    ARGS = (Arg("x", default=1.0), FIDELITY)
    OUTPUTS = ("mfu",)

    def _compute(self, g):
        return {"mfu": g["x"] + 0.0 * g["fidelity"]}


def _fidelity(result) -> str:
    return result.dataset["fidelity"].item()


def test_default_follows_the_option_at_call_time():
    """The shipped default is "refined" (the validation report shows it at least as accurate as
    "first_order" on every table); the option changes it at call time; an argument wins."""
    assert get_options()["fidelity"] == "refined"
    assert _fidelity(_Echo().solve()) == "refined"
    with set_options(fidelity="first_order"):
        assert get_options()["fidelity"] == "first_order"
        assert _fidelity(_Echo().solve()) == "first_order"
        assert _fidelity(_Echo().solve(fidelity="refined")) == "refined"  # explicit wins
    assert _fidelity(_Echo().solve()) == "refined"


def test_global_setting_and_restore():
    set_options(fidelity="FIRST_ORDER")  # case-insensitive, like every choice
    try:
        assert get_options()["fidelity"] == "first_order"
    finally:
        set_options(fidelity="refined")
    assert get_options()["fidelity"] == "refined"


def test_fidelity_is_a_grid_dimension():
    r = _Echo().solve(fidelity=["first_order", "refined"])
    assert list(r.dataset["fidelity"].values) == ["first_order", "refined"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(dict(fidelity="exact"), "fidelity='exact' is not allowed"), (dict(speed=2), "unknown option 'speed'")],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        set_options(**kwargs)
    assert get_options()["fidelity"] == "refined"


def test_documented_default_names_the_option():
    import inspect

    assert "default: the 'fidelity' option" in inspect.getdoc(_Echo().solve)
    assert isinstance(inspect.signature(_Echo().solve).parameters["fidelity"].default, Option)
