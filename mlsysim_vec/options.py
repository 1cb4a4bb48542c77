"""Process-wide options: ``ms.set_options(fidelity="first_order")``, globally or as a context
manager (``with ms.set_options(fidelity="first_order"): ...``), and ``ms.get_options()``. The
default fidelity is "refined".

An argument whose default is an ``Option`` (``grid.Arg(default=Option("fidelity"))``) takes the
option's value at the time of the call; an explicit argument always wins.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["set_options", "get_options", "Option", "FIDELITIES"]

#: Physics fidelities: "first_order" reproduces mlsysim 0.3.0 (with the deviations of
#: docs/differences.md); "refined" is the project's best model (docs/equations.md) and the
#: default: the validation report (``mlsysim-vec validate``) shows it at least as accurate as
#: "first_order" on every table.
FIDELITIES = ("first_order", "refined")

_ALLOWED = {"fidelity": FIDELITIES}
_OPTIONS = {"fidelity": "refined"}


@dataclass(frozen=True)
class Option:
    """A default that reads the named option when a resolver is called."""

    name: str

    def value(self):
        return _OPTIONS[self.name]

    def __repr__(self):
        return f"<the {self.name!r} option, now {self.value()!r}>"


def get_options() -> dict:
    """The current options, as a new dict."""
    return dict(_OPTIONS)


class set_options:  # noqa: N801  (used like a function, as xarray.set_options)
    """Set options for the process, or for a ``with`` block only.

    Parameters
    ----------
    fidelity : {'first_order', 'refined'}
        Default physics fidelity of the resolvers that take ``fidelity``.
    """

    def __init__(self, **options):
        for name, value in options.items():
            if name not in _ALLOWED:
                raise ValueError(f"unknown option {name!r}; options: {', '.join(_ALLOWED)}")
            canonical = value.lower() if isinstance(value, str) else value
            if canonical not in _ALLOWED[name]:
                allowed = ", ".join(repr(v) for v in _ALLOWED[name])
                raise ValueError(f"{name}={value!r} is not allowed; {name} must be one of {allowed}")
            options[name] = canonical
        self._previous = {name: _OPTIONS[name] for name in options}
        _OPTIONS.update(options)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        _OPTIONS.update(self._previous)
