"""Every resolver class (``from mlsysim_vec.solvers import SingleNodeModel``).

Each domain module of this package (``node``, ...) defines its resolvers; this package
collects every public ``Resolver`` subclass of those modules, so a new domain module needs no
registration here. ``Engine`` (the roofline shortcut) and ``OOMError`` are exported too.
"""

from importlib import import_module
from pkgutil import iter_modules

from .base import Resolver
from .node import Engine, OOMError

__all__ = ["Engine", "OOMError"]


def _collect() -> None:
    for info in sorted(iter_modules(__path__), key=lambda m: m.name):
        if info.name in ("base", "docs"):
            continue
        module = import_module(f"{__name__}.{info.name}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, Resolver) and obj is not Resolver and name not in __all__:
                globals()[name] = obj
                __all__.append(name)


_collect()
