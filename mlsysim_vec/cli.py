"""The ``mlsysim-vec`` command line.

    mlsysim-vec                             this help
    mlsysim-vec demo [-o PATH]              a roofline sweep (the built-in ``demo`` spec) with a summary
    mlsysim-vec zoo [hardware|models|systems|grids]
                                            the built-in registries as tables
    mlsysim-vec sweep SPEC [-o PATH]        any resolver over any grid, from a TOML or YAML spec
    mlsysim-vec optimize SPEC [-o PATH]     the best configuration of a spec's grid ([objective] table)
    mlsysim-vec validate                    predicted vs published training runs (Megatron-LM 2021,
                                            Korthikanti et al. 2022), error per row, mean and max

SPEC is a file, or the name of a built-in spec (``demo``, ``optimize_demo``); a name that is
neither gets the nearest built-in name suggested. Every sweep is one ``solve`` call; results are
written as parquet (``ms.read_parquet`` reads them back). A mistake in the input (a bad spec, a
grid too large for memory, a path that cannot be written) prints one line ``error: ...`` on
stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, specs
from .io import ConcurrentWriteError
from .registry import Hardware, Infra, Models, Systems
from .sweep import (
    SpecError,
    describe_search,
    format_table,
    format_value,
    grid_points,
    load_spec,
    point_counts,
    run_spec,
    search_spec,
    summarize,
)

__all__ = ["main"]

DEMO_OUTPUT = "mlsysim_vec_demo.parquet"
#: Batch sizes shown as columns of the demo's "fastest GPU" table.
DEMO_BATCHES = (1, 32, 1024)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error that argparse has printed
        return int(stop.code or 0)
    if args.command is None:  # no subcommand: say what there is
        parser.print_help()
        return 0
    try:
        return args.command(args)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "error: the grid does not fit in memory; sweep fewer values, or add a [chunks] table "
            "to compute it out-of-core with dask",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:  # Ctrl-C: parquet writes are atomic, so nothing half-written is left
        print("interrupted: nothing was written (an existing output file is unchanged)", file=sys.stderr)
        return 130
    except ConcurrentWriteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (mlsysim-vec zoo | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsysim-vec", description="Analytical ML-systems models evaluated over whole design grids in one call."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="roofline of 7 models × 14 GPUs × 11 batch sizes × 5 precisions",
        description="Run the built-in demo sweep, write it as parquet and summarise it.",
    )
    demo.add_argument("-o", "--output", default=DEMO_OUTPUT, help=f"parquet file to write (default: {DEMO_OUTPUT})")
    demo.set_defaults(command=_demo)

    zoo = commands.add_parser(
        "zoo",
        help="list the built-in hardware, models, systems and grids",
        description="Print the built-in registries as tables.",
    )
    zoo.add_argument(
        "registry", nargs="?", choices=(*_ZOO, "all"), default="all", help="which registry to list (default: all)"
    )
    zoo.set_defaults(command=_zoo)

    sweep = commands.add_parser(
        "sweep",
        help="run a sweep spec (TOML or YAML) and write parquet",
        description="Load a sweep spec, evaluate it in one solve call, write the result as parquet and summarise it.",
    )
    sweep.add_argument("spec", help=f"spec file (.toml, .yaml or .yml), or a built-in spec: {', '.join(specs.names())}")
    sweep.add_argument(
        "-o",
        "--output",
        help="parquet file to write (default: the spec's output, "
        "else SPEC's name with .parquet, in the current directory)",
    )
    sweep.set_defaults(command=_sweep)

    optimize = commands.add_parser(
        "optimize",
        help="search a spec's grid for the best configuration",
        description="Load an optimize spec (a sweep spec with an [objective] table), "
        "evaluate its grid in one solve call, search it (objective, "
        "constraints, top-k), write the search result as parquet and "
        "print the best configuration per point.",
    )
    optimize.add_argument(
        "spec", help="spec file (.toml, .yaml or .yml), or the name of a built-in spec (optimize_demo)"
    )
    optimize.add_argument(
        "-o",
        "--output",
        help="parquet file to write (default: the spec's output, else "
        "SPEC's name with .parquet, in the current directory)",
    )
    optimize.set_defaults(command=_optimize)

    validate = commands.add_parser(
        "validate",
        help="compare predictions with published training runs",
        description="Print predicted vs published values (Megatron-LM 2021 Table 1 "
        "throughput, Korthikanti et al. 2022 Figure 1 memory) with the "
        "error per row and the mean/max error against the targets.",
    )
    validate.set_defaults(command=_validate)
    return parser


# ---- demo and sweep ----------------------------------------------------------------------------


def _demo(args) -> int:
    spec = load_spec(specs.path("demo"))
    result, path, timing = _run_and_write(spec, args.output)
    ds, points = result.dataset, grid_points(result)
    print(
        f"mlsysim-vec demo: SingleNodeModel roofline over "
        f"{' × '.join(f'{ds.sizes[d]} {d}' for d in result.dims)} = {points:,} points\n"
    )
    print("Fastest configuration that fits in memory, per model and batch size (GPU, precision, latency):")
    print(format_table(_fastest(ds, DEMO_BATCHES)))
    bound = point_counts(result, "bottleneck")
    print(f"\nbottleneck: {bound['Memory']:,} points memory-bound, {bound['Compute']:,} compute-bound")
    print(f"feasible:   {point_counts(result, 'feasible')[True]:,} of {points:,} points fit in device memory")
    print(timing)
    print(f"wrote {path}")
    print(
        f"\nnext: mlsysim-vec zoo | mlsysim-vec sweep SPEC.toml | "
        f"python -c \"import mlsysim_vec as ms; print(ms.read_parquet('{path}').to_dataframe())\""
    )
    return 0


def _fastest(ds, batches):
    """Table of the lowest-latency feasible (hardware, precision) per model and batch size."""
    latency = ds["latency"].where(ds["feasible"]).sel(batch_size=list(batches))
    options = latency.stack(option=("hardware", "precision"))
    best = options.isel(option=options.fillna(np.inf).argmin("option"))
    key_of = {record.name: key for key, record in _items(Hardware)}
    rows = best.to_dataframe(name="best")[["hardware", "precision", "best"]]
    cells = [
        f"{key_of.get(hw, hw)} {precision} {_duration(seconds)}" if seconds == seconds else "none fits"
        for hw, precision, seconds in rows.itertuples(index=False)
    ]
    table = rows.assign(cell=cells)["cell"].unstack("batch_size")
    table.columns = [f"batch {format_value(b)}" for b in table.columns]
    return table.reindex(ds["model"].values).rename_axis("model").reset_index()


def _spec_source(name: str):
    """The spec a SPEC argument names: a file that exists, else a built-in spec of that name.
    Neither is a ``SpecError`` that suggests the nearest built-in name."""
    path = Path(name)
    if path.exists():
        return name
    builtin = specs.names()
    if name in builtin:
        return specs.path(name)
    stem = path.stem if path.suffix.lower() in (".toml", ".yaml", ".yml") else path.name
    close = difflib.get_close_matches(stem, builtin, n=1)
    hint = f" (did you mean the built-in spec {close[0]!r}?)" if close else ""
    if len(path.parts) == 1 and not path.suffix:  # a bare name: the user meant a built-in spec
        raise SpecError(
            f"{name}: no such file, and no built-in spec of that name{hint}; built-in specs: {', '.join(builtin)}"
        )
    raise SpecError(f"{name}: no such file{hint}")


def _sweep(args) -> int:
    spec = load_spec(_spec_source(args.spec))
    output = args.output or spec.output or f"{Path(args.spec).stem}.parquet"
    result, path, timing = _run_and_write(spec, output)
    print(summarize(result))
    print()
    print(timing)
    print(f"wrote {path}")
    return 0


def _optimize(args) -> int:
    """Run an optimize spec: solve, search, write the search result, print its summary."""

    spec = load_spec(_spec_source(args.spec))
    path = Path(args.output or spec.output or f"{Path(args.spec).stem}.parquet").expanduser().resolve()
    if spec.objective is None:
        raise SpecError(
            f"{args.spec}: the spec has no [objective] table; add one with name, goal and "
            f"optionally constraints, over and top_k (see mlsysim-vec optimize optimize_demo)"
        )
    start = time.perf_counter()
    result = run_spec(spec)
    solved = time.perf_counter()
    found = search_spec(spec, result)
    searched = time.perf_counter()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        found.to_parquet(path, progress=sys.stderr.isatty())
    except OSError as error:
        raise SpecError(f"cannot write {path}: {error.strerror or error}") from None
    written = time.perf_counter()
    ds = found.dataset
    candidates = int(ds["n_searched"]) * int(np.prod([ds.sizes[d] for d in found.dims if d != "rank"]))
    print(describe_search(found))
    print()
    print(
        f"time: {candidates:,} candidates solved in {_duration(solved - start)}, searched in "
        f"{_duration(searched - solved)} (the first search of a process includes compiling the numba kernels), "
        f"parquet written in {_duration(written - searched)}"
    )
    print(f"wrote {path}")
    return 0


def _run_and_write(spec, output):
    """Evaluate ``spec`` in one call and write it; return (result, absolute path, timing line).
    A path that cannot be written is the user's mistake: ``SpecError``."""
    path = Path(output).expanduser().resolve()
    start = time.perf_counter()
    result = run_spec(spec)
    solved = time.perf_counter()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        result.to_parquet(path, progress=sys.stderr.isatty())
    except OSError as error:
        raise SpecError(f"cannot write {path}: {error.strerror or error}") from None
    written = time.perf_counter()
    points = grid_points(result)
    solve, write = solved - start, written - solved
    if result.dataset.chunks:
        timing = (
            f"time: {points:,} points as a lazy dask graph in {_duration(solve)}, computed and written "
            f"in {_duration(write)} ({points / (solve + write):,.0f} points/s)"
        )
    else:
        timing = (
            f"time: {points:,} points solved in {_duration(solve)} ({points / solve:,.0f} points/s), "
            f"parquet written in {_duration(write)}"
        )
    return result, path, timing


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _validate(args) -> int:
    from . import validation

    print(validation.report())
    return 0


# ---- zoo ---------------------------------------------------------------------------------------


def _zoo(args) -> int:
    chosen = _ZOO.values() if args.registry == "all" else [_ZOO[args.registry]]
    blocks = [
        f"{title} — {len(rows)} entries\n{format_table(_frame(rows))}{note}"
        for tables in chosen
        for title, rows, *notes in tables()
        for note in [f"\n{notes[0]}" if notes else ""]
    ]
    print("\n\n".join(blocks))
    return 0


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


def _items(family) -> list[tuple]:
    """(key, record) of every entry of a family, in registry order."""
    return list(zip(family.keys(), family.list()))


def _m(quantity, unit: str) -> float:
    """Magnitude of an optional Quantity in ``unit`` (NaN for None)."""
    return float("nan") if quantity is None else float(quantity.to(unit).magnitude)


def _count(value: float) -> str:
    """A large count with an SI suffix: 25.6 M, 8.03 B, 1.76 T (blank for NaN)."""
    if value != value:
        return ""
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{value:.3g}"


def _hardware():
    group_of: dict[str, str] = {}  # the first (narrowest) kind family of each Cloud record
    for group, members in Hardware.groups().items():
        for key in members.keys():
            group_of.setdefault(key, group)
    rows = [
        {
            "family": family,
            "key": key,
            "group": group_of.get(key, "") if family == "Cloud" else "",
            "name": hw.name,
            "peak TFLOP/s": _m(hw.compute.peak_flops, "TFLOP/s"),
            "memory GiB": _m(hw.memory.capacity, "GiB"),
            "bandwidth GB/s": _m(hw.memory.bandwidth, "GB/s"),
            "TDP W": _m(hw.tdp, "W"),
        }
        for family, members in Hardware.families().items()
        for key, hw in _items(members)
    ]
    groups = ", ".join(f"Hardware.{name} ({len(members)})" for name, members in Hardware.groups().items())
    note = (
        f"group: the Cloud records by kind, to sweep like with like: {groups}; the GPUs and TPUs are "
        f"also Accelerators (docs/registry.md)"
    )
    return [("Hardware", rows, note)]


def _models():
    rows = [
        {
            "family": family,
            "key": key,
            "type": type(model).__name__,
            "name": model.name,
            "params": _count(model.si["parameters"]),
            "layers": model.si["layers"],
            "GFLOP": model.si["ops_per_sample"] / 1e9,
        }
        for family, members in Models.families().items()
        for key, model in _items(members)
    ]
    return [("Models (GFLOP: one inference; for language models one token)", rows)]


def _systems():
    clusters = [
        {
            "key": key,
            "name": fleet.name,
            "nodes": fleet.count,
            "node": fleet.node.name,
            "accelerator": fleet.node.accelerator.name,
            "per node": fleet.node.accelerators_per_node,
            "accelerators": fleet.total_accelerators,
            "fabric": fleet.fabric.name,
        }
        for key, fleet in _items(Systems.Clusters)
    ]
    nodes = [
        {
            "key": key,
            "name": node.name,
            "accelerator": node.accelerator.name,
            "per node": node.accelerators_per_node,
            "intra-node GB/s": _m(node.intra_node_bw, "GB/s"),
        }
        for key, node in _items(Systems.Nodes)
    ]
    fabrics = [
        {
            "key": key,
            "name": fabric.name,
            "bandwidth GB/s": _m(fabric.bandwidth, "GB/s"),
            "latency µs": _m(fabric.latency, "us"),
            "topology": fabric.topology,
            "oversubscription": fabric.oversubscription_ratio,
        }
        for key, fabric in _items(Systems.Fabrics)
    ]
    return [("Clusters", clusters), ("Nodes", nodes), ("Fabrics", fabrics)]


def _grids():
    grids = [
        {
            "key": key,
            "name": grid.name,
            "carbon g/kWh": grid.carbon_intensity_g_kwh,
            "PUE": grid.pue,
            "WUE L/kWh": grid.wue,
            "source": grid.primary_source,
        }
        for key, grid in _items(Infra.Grids)
    ]
    datacenters = [
        {"key": key, "name": dc.name, "grid": dc.grid.name, "PUE": dc.pue} for key, dc in _items(Infra.Datacenters)
    ]
    cooling = [
        {"key": key, "name": c.name, "PUE": c.pue, "WUE L/kWh": c.wue} for key, c in _items(Infra.FacilityCooling)
    ]
    return [("Grids", grids), ("Datacenters", datacenters), ("Facility cooling", cooling)]


#: The zoo's registries: each returns (title, rows) pairs.
_ZOO = {"hardware": _hardware, "models": _models, "systems": _systems, "grids": _grids}
