"""The README's examples run on the install the README says (issue 13, item 14).

Every ```python block of README.md and docs/registry.md, and the README's sweep spec, run in a
fresh interpreter in which only the base install can be imported: the packages of the
``[project] dependencies`` of pyproject.toml and what they require. Everything else in the
test environment (dask, PyYAML, matplotlib, the test tools...) is made unimportable first, so an
example that needs an extra fails here unless it says which extra.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def _base_distributions() -> set[str]:
    """Normalised names of the distributions a base ``pip install .`` brings: the project's
    dependencies and, recursively, theirs (extras and markers of this interpreter honoured)."""

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    todo = [(Requirement(r), None) for r in PYPROJECT["project"]["dependencies"]]
    seen: set[str] = set()
    while todo:
        req, extra = todo.pop()
        env = {"extra": extra or ""}
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = norm(req.name)
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or not str(sub.marker).count("extra"):
                todo.append((sub, None))
            else:
                todo += [(sub, e) for e in req.extras]
    return {key.split("[")[0] for key in seen}


def _blocked_modules() -> list[str]:
    """Top-level modules of installed distributions outside the base install (the project
    itself, its distribution and the standard library stay importable)."""
    base = _base_distributions() | {"mlsysim-vec"}
    blocked = []
    for module, dists in metadata.packages_distributions().items():
        if module.startswith("_") or module in sys.stdlib_module_names:
            continue
        if all(re.sub(r"[-_.]+", "-", d).lower() not in base for d in dists):
            blocked.append(module)
    return sorted(blocked)


BLOCKED = _blocked_modules()
PREAMBLE = (
    "import sys\n"
    f"for _name in {json.dumps(BLOCKED)}:\n"
    "    sys.modules[_name] = None  # not in the base install: importing it raises ImportError\n"
)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PREAMBLE + code], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_base_install_is_simulated():
    """The optional packages the examples could reach for are blocked; the core ones are not."""
    assert {"dask", "yaml", "matplotlib", "pytest"} <= set(BLOCKED)
    assert not {"numpy", "pandas", "xarray", "pint", "pint_xarray", "numba", "pyarrow"} & set(BLOCKED)
    probe = _run("import importlib.util as u; print(u.find_spec('dask'), u.find_spec('numpy') is not None)", ROOT)
    assert probe.stdout.split() == ["None", "True"], probe.stderr


EXAMPLES = [("README.md", i, code) for i, code in enumerate(_blocks(README, "python"))] + [
    ("docs/registry.md", i, code)
    for i, code in enumerate(_blocks((ROOT / "docs" / "registry.md").read_text(encoding="utf-8"), "python"))
]


def test_the_readme_has_its_examples():
    """The grid example and the HuggingFace-config example (issue 13, item 14) are there."""
    assert len([e for e in EXAMPLES if e[0] == "README.md"]) >= 2
    readme_code = "\n".join(code for name, _, code in EXAMPLES if name == "README.md")
    assert "ms.from_hf_config(" in readme_code and "hardware=ms.Hardware.GPUs" in readme_code


@pytest.mark.parametrize(("name", "index", "code"), EXAMPLES, ids=[f"{n}[{i}]" for n, i, _ in EXAMPLES])
def test_python_examples_run_on_the_base_install(tmp_path, name, index, code):
    done = _run(code, tmp_path)
    assert done.returncode == 0, f"{name} python block {index} failed:\n{done.stderr[-3000:]}"


def test_readme_grid_example_prints_what_it_says(tmp_path):
    """The first example: 2 models x 14 GPUs x 3 batch sizes x 2 precisions, written to
    roofline.parquet; ResNet-50 on one H100 at batch 1 is memory-bound (the comment's labels)."""
    done = _run(EXAMPLES[0][2], tmp_path)
    assert done.returncode == 0, done.stderr
    check = _run(
        "import mlsysim_vec as ms\nr = ms.read_parquet('roofline.parquet')\nprint(dict(r.dataset.sizes))\n",
        tmp_path,
    )
    assert check.stdout.strip() == str({"model": 2, "hardware": 14, "batch_size": 3, "precision": 2}), check.stderr
    assert "Memory" in done.stdout and "Compute" in done.stdout


def test_readme_hf_config_example_counts_llama2_7b():
    """6.74 B: LLaMA-2-7B's 6,738,415,616 parameters counted from its shapes (test_registry)."""
    code = next(code for name, _, code in EXAMPLES if "from_hf_config" in code and name == "README.md")
    done = _run(code, ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("6.74 B parameters\n")
    assert done.stdout.count("NVIDIA H100") == 2  # the H100 and H100 PCIe rows of the latency table


def test_readme_sweep_spec_runs_on_the_base_install(tmp_path):
    """The README's TOML spec through the command line, with only the base install."""
    spec = next(block for block in _blocks(README, "toml") if block.startswith('resolver = "SingleNodeModel"'))
    (tmp_path / "roofline.toml").write_text(spec, encoding="utf-8")
    done = _run("from mlsysim_vec.cli import main\nsys.exit(main(['sweep', 'roofline.toml']))", tmp_path)
    assert done.returncode == 0, done.stderr
    # Models.ResNet50 + the 16 Language models, 14 GPUs, 11 log-spaced batch sizes, efficiency
    # 0.3, 0.4, ..., 0.7 (5 values), 2 precisions: 17 x 14 x 11 x 5 x 2 = 26,180.
    assert done.stdout.startswith("SingleNodeModel: 26,180 points over model (17) × hardware (14)")
    assert (tmp_path / "roofline.parquet").exists()


def test_readme_names_only_extras_that_exist():
    """Every ``pip install ".[extra]"`` of the README names an extra of pyproject.toml, and the
    README says which extra dask (chunks), plots and the notebooks need."""
    named = set(re.findall(r'"\.\[([a-z]+)\]"', README))
    assert {"dask", "plot", "notebooks", "test", "docs"} <= named
    assert named <= set(PYPROJECT["project"]["optional-dependencies"]), named


def test_readme_commands_exist(capsys):
    """Each ``mlsysim-vec COMMAND`` the README shows is a subcommand the CLI's help lists."""
    from mlsysim_vec.cli import main

    assert main(["--help"]) == 0
    listed = capsys.readouterr().out.split("commands:")[1]
    commands = {line.split()[0] for line in listed.splitlines()[2:] if line.strip()}
    shown = set(re.findall(r"^mlsysim-vec ([a-z]+)", README, re.M))
    assert {"demo", "zoo", "sweep", "optimize", "validate"} <= commands
    assert shown and shown <= commands, shown - commands
