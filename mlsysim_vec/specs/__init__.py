"""Built-in sweep specs (TOML files in this package), read with ``mlsysim_vec.sweep.load_spec``.

from mlsysim_vec import specs
from mlsysim_vec.sweep import run_spec
result = run_spec(specs.path("demo"))
"""

from importlib import resources

__all__ = ["names", "path"]


def names() -> list[str]:
    """Names of the built-in specs (file names without ``.toml``)."""
    return sorted(f.name.removesuffix(".toml") for f in resources.files(__name__).iterdir() if f.name.endswith(".toml"))


def path(name: str):
    """The built-in spec ``name`` as an ``importlib.resources`` file (``load_spec`` reads it)."""
    if name not in names():
        raise ValueError(f"no built-in spec {name!r}; built-in specs: {', '.join(names())}")
    return resources.files(__name__).joinpath(f"{name}.toml")
