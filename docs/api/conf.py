"""Sphinx configuration of the API reference (``python -m sphinx -W -b html docs/api docs/api/_build``).

Every page is generated from the docstrings: the resolvers' ``solve`` docstrings are themselves
generated from the argument and output catalogue (``mlsysim_vec.solvers.docs``), so ``help()``,
IDE completion and these pages show one text.
"""

import mlsysim_vec

project = "mlsysim-vec"
author = "mlsysim-vec developers"
release = mlsysim_vec.__version__
version = release

extensions = ["sphinx.ext.autodoc", "numpydoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
nitpicky = False

# ---- pages generated from the package (a new resolver appears without editing anything) -------
import inspect  # noqa: E402
from pathlib import Path  # noqa: E402

from mlsysim_vec import solvers  # noqa: E402
from mlsysim_vec.solvers.base import Resolver  # noqa: E402

DOMAINS = {
    "node": "Node: one accelerator",
    "serving": "LLM serving",
    "fleet": "Fleet: distributed training and the cluster",
    "data": "Data pipelines",
    "algorithm": "Algorithm: scaling and compression",
    "ops": "Operations: cost, carbon and responsible engineering",
    "analysis": "Analysis: sensitivity and synthesis",
    "optimizers": "Optimizers",
}


def _write_resolver_pages(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    by_module: dict[str, list[str]] = {}
    for name in solvers.__all__:
        obj = getattr(solvers, name)
        if inspect.isclass(obj) and issubclass(obj, Resolver):
            by_module.setdefault(obj.__module__.rsplit(".", 1)[-1], []).append(name)
    unknown = set(by_module) - set(DOMAINS)
    if unknown:
        raise RuntimeError(f"resolver modules without a page title in docs/api/conf.py: {sorted(unknown)}")
    for module, title in DOMAINS.items():
        lines = [title, "=" * len(title), "", f".. currentmodule:: mlsysim_vec.solvers.{module}", ""]
        for name in by_module.get(module, []):
            lines += [f".. autoclass:: {name}", "   :members: solve", ""]
        text = "\n".join(lines)
        page = folder / f"{module}.rst"
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")


_write_resolver_pages(Path(__file__).parent / "resolvers")
