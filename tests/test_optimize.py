"""The general search (``mlsysim_vec.optimize``): ``search`` and ``pareto`` against brute-force
loops in plain Python over the dataset's values, every constraint form, the errors that name
what is wrong, nothing-feasible slices, top-k order, dask, zipped dimensions, export.

The FAST hypothesis profile runs by default; ``pytest -m slow`` runs the LONG twins.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pint
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec.optimize import OPERATORS, Constraint, pareto, parse_constraint, search
from mlsysim_vec.result import Result
from mlsysim_vec.sweep import describe_search as describe
from mlsysim_vec.variables import BOTTLENECKS

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DIMS = ("hardware", "batch_size", "precision")
#: Variables of the toy result and the dimensions each is stored over (some are stored without
#: dimensions they do not vary along, as resolvers do).
LAYOUT = {
    "latency": DIMS,
    "energy": ("hardware", "precision"),
    "feasible": DIMS,
    "bottleneck": ("batch_size", "precision"),
    "memory_utilization": ("batch_size",),
}


# ---- a toy result and brute force ------------------------------------------------------------------


def toy_result(sizes, data: dict, chunks=None) -> Result:
    """A Result over DIMS of the given sizes; ``data[name]`` is a flat list for LAYOUT[name]."""
    coords = {
        "hardware": np.array([f"GPU {i}" for i in range(sizes[0])], dtype=object),
        "batch_size": np.array([2**i for i in range(sizes[1])]),
        "precision": np.array(["fp16", "fp8", "int8"][: sizes[2]], dtype=object),
    }
    shape = dict(zip(DIMS, sizes))
    variables = {}
    for name, dims in LAYOUT.items():
        array = np.array(data[name]).reshape([shape[d] for d in dims])
        if chunks:
            import dask.array as da

            array = da.from_array(array, chunks=1)
        variables[name] = (dims, array.astype(np.int8) if name == "bottleneck" else array)
    return Result("Toy", DIMS, coords, variables, {"efficiency": 0.5})


@st.composite
def toy_grids(draw):
    sizes = (draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    shape = dict(zip(DIMS, sizes))

    def flat(dims, elements):
        return draw(
            st.lists(elements, min_size=math.prod(shape[d] for d in dims), max_size=math.prod(shape[d] for d in dims))
        )

    # few distinct values: ties are common; NaN and ±inf appear
    numbers = st.sampled_from([1e-3, 2e-3, 3e-3, np.nan, np.inf, -np.inf])
    data = {
        "latency": flat(DIMS, numbers),
        "energy": flat(LAYOUT["energy"], st.sampled_from([1.0, 2.0, np.nan])),
        "feasible": flat(DIMS, st.booleans()),
        "bottleneck": flat(LAYOUT["bottleneck"], st.integers(0, 1)),
        "memory_utilization": flat(LAYOUT["memory_utilization"], st.sampled_from([0.5, 0.9, 1.2])),
    }
    over = draw(st.lists(st.sampled_from(DIMS), min_size=1, max_size=3, unique=True))
    constraints = draw(st.lists(st.sampled_from(list(CONSTRAINT_MASKS)), max_size=2, unique=True))
    return sizes, data, over, constraints


#: Constraint strings and the brute-force predicate of each on one point (a dict of values).
CONSTRAINT_MASKS = {
    "feasible": lambda p: p["feasible"],
    "not feasible": lambda p: not p["feasible"],
    "latency < 2.5 ms": lambda p: p["latency"] < 2.5e-3,
    "latency >= 0.002 s": lambda p: p["latency"] >= 2e-3,
    "memory_utilization <= 90 %": lambda p: p["memory_utilization"] <= 0.9,
    "bottleneck == Memory": lambda p: p["bottleneck"] == 1,
    "bottleneck != compute": lambda p: p["bottleneck"] != 0,
    "precision != fp16": lambda p: p["precision"] != "fp16",
    "hardware == 'GPU 0'": lambda p: p["hardware"] == "GPU 0",
    "batch_size > 1": lambda p: p["batch_size"] > 1,
    "energy <= 1.5 J": lambda p: p["energy"] <= 1.5,
}


def points(result: Result):
    """Every grid point as (index tuple, {name: value}) in C order, read from the dataset."""
    ds = result.dataset.compute()
    full = {
        name: np.asarray(ds[name].broadcast_like(ds[list(LAYOUT)[0]]).transpose(*DIMS).values)
        for name in [*ds.data_vars, *DIMS]
    }
    for index in itertools.product(*(range(ds.sizes[d]) for d in DIMS)):
        yield index, {name: full[name][index] for name in full}


def brute(result, objective, over, constraints, minimize, k=None):
    """{kept index: [(value, {dim: label}), ...] best first} by a plain loop: candidates in the
    C order of ``over``, kept in order when equal (the first wins)."""
    keep = [d for d in DIMS if d not in over]
    slices = {}
    table = dict(points(result))
    ds = result.dataset
    for kept in itertools.product(*(range(ds.sizes[d]) for d in keep)):
        candidates = []
        for searched in itertools.product(*(range(ds.sizes[d]) for d in over)):
            where = dict(zip(keep, kept)) | dict(zip(over, searched))
            point = table[tuple(where[d] for d in DIMS)]
            value = float(point[objective])
            if math.isnan(value) or not all(CONSTRAINT_MASKS[c](point) for c in constraints):
                continue
            candidates.append((value, {d: point[d] for d in over}))
        ordered = sorted(candidates, key=lambda c: c[0] if minimize else -c[0])  # stable: first wins ties
        slices[kept] = (ordered[: k or 1], len(candidates))
    return keep, slices


def check_search(sizes, data, over, constraints, minimize, k=None, chunks=None):
    result = toy_result(sizes, data, chunks)
    found = search(result, "latency", minimize=minimize, constraints=constraints, over=over, top_k=k)
    keep, expected = brute(result, "latency", over, constraints, minimize, k)
    ds = found.dataset
    assert found.dims == tuple(keep) + (("rank",) if k else ())
    assert int(ds.n_searched) == math.prod(sizes[DIMS.index(d)] for d in over)
    for kept, (best, count) in expected.items():
        at = ds.isel(dict(zip(keep, kept)))
        assert int(at.n_feasible) == count
        for rank in range(k or 1):
            row = at.isel(rank=rank) if k else at
            if rank < len(best):
                value, labels = best[rank]
                assert bool(row.feasible) and float(row.objective) == value
                assert float(row.latency) == value
                for dim, label in labels.items():
                    assert row[f"best_{dim}"].item() == label
            else:
                assert not bool(row.feasible) and np.isnan(float(row.objective))
                for dim in over:
                    label = row[f"best_{dim}"].item()
                    assert label is None or (isinstance(label, float) and math.isnan(label))


@FAST
@given(toy_grids(), st.booleans())
def test_search_equals_brute_force(grid, minimize):
    check_search(*grid, minimize)


@pytest.mark.slow
@LONG
@given(toy_grids(), st.booleans())
def test_search_equals_brute_force_long(grid, minimize):
    check_search(*grid, minimize)


@FAST
@given(toy_grids(), st.booleans(), st.integers(1, 5))
def test_top_k_equals_brute_force(grid, minimize, k):
    check_search(*grid, minimize, k=k)


@pytest.mark.slow
@LONG
@given(toy_grids(), st.booleans(), st.integers(1, 5))
def test_top_k_equals_brute_force_long(grid, minimize, k):
    check_search(*grid, minimize, k=k)


@FAST
@given(toy_grids(), st.booleans(), st.sampled_from([None, 2]))
def test_chunked_search_equals_brute_force(grid, minimize, k):
    """dask-backed results (one chunk per element) give the brute-force answer too."""
    check_search(*grid, minimize, k=k, chunks=True)


def brute_front(result, over, constraints):
    """{point index: on the front} by the O(n²) definition over plain values (both minimised)."""
    keep = [d for d in DIMS if d not in over]
    table = dict(points(result))
    ok = {
        i: not (math.isnan(p["latency"]) or math.isnan(p["energy"]))
        and all(CONSTRAINT_MASKS[c](p) for c in constraints)
        for i, p in table.items()
    }
    front = {}
    for i, p in table.items():
        same = [j for j in table if all(j[DIMS.index(d)] == i[DIMS.index(d)] for d in keep) and ok[j]]
        front[i] = ok[i] and not any(
            table[j]["latency"] <= p["latency"]
            and table[j]["energy"] <= p["energy"]
            and (table[j]["latency"] < p["latency"] or table[j]["energy"] < p["energy"])
            for j in same
        )
    return front


@FAST
@given(toy_grids())
def test_pareto_equals_brute_force(grid):
    sizes, data, over, constraints = grid
    result = toy_result(sizes, data)
    marked = pareto(result, "latency", "energy", constraints=constraints, over=over)
    on_front = marked.dataset.on_front.transpose(*DIMS).values
    for index, expected in brute_front(result, over, constraints).items():
        assert bool(on_front[index]) == expected, index
    met = marked.dataset.meets_constraints.broadcast_like(marked.dataset.latency).transpose(*DIMS).values
    for index, point in points(result):
        assert bool(met[index]) == all(CONSTRAINT_MASKS[c](point) for c in constraints)
    assert marked.dims == result.dims and set(result.outputs) < set(marked.outputs)


@pytest.mark.slow
@LONG
@given(toy_grids())
def test_pareto_equals_brute_force_long(grid):
    test_pareto_equals_brute_force.hypothesis.inner_test(grid)


def test_pareto_directions_and_chunks():
    """Maximising one objective flips its side of the front; a chunked result gives the same front."""
    r = ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_8B],
        hardware=ms.Hardware.Cloud,
        batch_size=[1, 16, 256],
        precision=["fp16", "fp8"],
    )
    eager = pareto(
        r,
        "latency",
        "throughput",
        minimize=(True, False),
        constraints=["feasible"],
        over=["hardware", "precision", "batch_size"],
    )
    lazy_input = ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_8B],
        hardware=ms.Hardware.Cloud,
        batch_size=[1, 16, 256],
        precision=["fp16", "fp8"],
        chunks={"hardware": 5},
    )
    lazy = pareto(
        lazy_input,
        "latency",
        "throughput",
        minimize=(True, False),
        constraints=["feasible"],
        over=["hardware", "precision", "batch_size"],
    )
    np.testing.assert_array_equal(lazy.dataset.on_front.values, eager.dataset.on_front.values)
    df = eager.to_dataframe()
    for _, rows in df[df.feasible].groupby("model", observed=True):
        front = rows[rows.on_front]
        assert len(front) >= 1
        # the fastest feasible point and the highest-throughput one are on the front
        assert rows.latency.min() in set(front.latency) and rows.throughput.max() in set(front.throughput)
        for _, p in front.iterrows():  # nothing feasible dominates a front point
            better = (
                (rows.latency <= p.latency)
                & (rows.throughput >= p.throughput)
                & ((rows.latency < p.latency) | (rows.throughput > p.throughput))
            )
            assert not better.any()


# ---- constraints ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roofline():
    return ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_70B],
        hardware=[ms.Hardware.Cloud.H100, ms.Hardware.Cloud.T4, ms.Hardware.Cloud.A100],
        batch_size=[1, 32, 512],
        precision=["fp16", "fp8", "fp32"],
    )


def frame_mask(df, text):
    """The brute-force row mask of a constraint on the tidy DataFrame."""
    return {
        "feasible": df.feasible,
        "not overhead_dominated": ~df.overhead_dominated,
        "latency < 50 ms": df.latency < 0.05,
        "latency <= 0.05 s": df.latency <= 0.05,
        "throughput > 1e3 / s": df.throughput > 1e3,
        "throughput >= 1000 / s": df.throughput >= 1000,
        "memory_footprint <= 20 GiB": df.memory_footprint <= 20 * 2**30,
        "batch_size != 32": df.batch_size != 32,
        "mfu == 0.5": df.mfu == 0.5,
        "bottleneck == Memory": df.bottleneck == "Memory",
        "bottleneck != 'Compute'": df.bottleneck != "Compute",
        "infeasible_reason == none": df.infeasible_reason == "none",
        "precision == fp8": df.precision == "fp8",
        'hardware != "NVIDIA T4"': df.hardware != "NVIDIA T4",
        "model == Llama-3.1-70B": df.model == "Llama-3.1-70B",
        "batch_size < 100": df.batch_size < 100,
        "efficiency == 0.5": df.efficiency == 0.5,
        "feasible == true": df.feasible,
        "overhead_dominated != True": ~df.overhead_dominated,
    }[text]


CONSTRAINTS = [
    "feasible",
    "not overhead_dominated",
    "latency < 50 ms",
    "latency <= 0.05 s",
    "throughput > 1e3 / s",
    "throughput >= 1000 / s",
    "memory_footprint <= 20 GiB",
    "batch_size != 32",
    "mfu == 0.5",
    "bottleneck == Memory",
    "bottleneck != 'Compute'",
    "infeasible_reason == none",
    "precision == fp8",
    'hardware != "NVIDIA T4"',
    "model == Llama-3.1-70B",
    "batch_size < 100",
    "efficiency == 0.5",
    "feasible == true",
    "overhead_dominated != True",
]


@pytest.mark.parametrize("text", CONSTRAINTS)
def test_every_constraint_form(roofline, text):
    """The winner per model is the lowest-latency row of the DataFrame that satisfies the
    constraint; the feasible counts match."""
    df = roofline.to_dataframe()
    allowed = df[frame_mask(df, text) & df.latency.notna()]
    found = search(roofline, "latency", constraints=[text], over=["hardware", "batch_size", "precision"])
    for model in df.model.cat.categories:
        at = found.dataset.sel(model=model)
        rows = allowed[allowed.model == model]
        assert int(at.n_feasible) == len(rows)
        if rows.empty:
            assert not bool(at.feasible) and np.isnan(float(at.objective))
            continue
        best = rows.loc[rows.latency.idxmin()]
        assert float(at.objective) == best.latency
        assert (at.best_hardware.item(), at.best_batch_size.item(), at.best_precision.item()) == (
            best.hardware,
            best.batch_size,
            best.precision,
        )


def test_constraints_combine_with_and_and_masks(roofline):
    """Several constraints hold together; a boolean DataArray (over some dimensions) is a mask."""
    allowed_hw = xr.DataArray([True, False, True], dims="hardware")
    fp = xr.DataArray([True, True, False], dims="precision", coords={"precision": ["fp16", "fp8", "fp32"]})
    found = search(
        roofline,
        "throughput",
        minimize=False,
        over=["hardware", "precision"],
        constraints=["feasible", "latency < 50 ms", allowed_hw, fp],
    )
    df = roofline.to_dataframe()
    ok = df.feasible & (df.latency < 0.05) & (df.hardware != "NVIDIA T4") & (df.precision != "fp32")
    for (model, batch), rows in df[ok].groupby(["model", "batch_size"], observed=True):
        at = found.dataset.sel(model=model, batch_size=batch)
        best = rows.loc[rows.throughput.idxmax()]
        assert (at.best_hardware.item(), at.best_precision.item()) == (best.hardware, best.precision)
        assert int(at.n_feasible) == len(rows) and float(at.throughput) == best.throughput
    assert found.dataset.attrs["constraints"][2:] == ["<mask over (hardware)>", "<mask over (precision)>"]


def test_parse_constraint_forms():
    assert parse_constraint("feasible") == Constraint("feasible", "feasible")
    assert parse_constraint("  not  overhead_dominated ") == Constraint(
        "  not  overhead_dominated ", "overhead_dominated", negate=True
    )
    assert parse_constraint("notable") == Constraint("notable", "notable")
    for op in OPERATORS:
        c = parse_constraint(f"itl{op}50 ms")
        assert (c.name, c.op, c.value) == ("itl", op, "50 ms")
    assert parse_constraint('hardware == "NVIDIA H100"').value == '"NVIDIA H100"'


BAD_CONSTRAINTS = [
    (
        "latency <",
        "constraint 'latency <' is not understood; a constraint is 'name', 'not name' or "
        "'name OP value [unit]' with OP one of <=, >=, ==, !=, <, > (no arithmetic)",
    ),
    ("latency << 3", "constraint 'latency << 3' is not understood"),
    ("tp_size * pp_size <= 64", "constraint 'tp_size * pp_size <= 64' is not understood"),
    ("3 < latency", "constraint '3 < latency' is not understood"),
    ("__import__('os')", "is not understood"),
    ("not latency < 3", "constraint 'not latency < 3' is not understood"),
    (
        "latncy < 3 ms",
        "constraint 'latncy < 3 ms' names 'latncy', which is no output or input of the result; "
        "outputs: latency, latency_compute",
    ),
    ("latency < 5 GB", "constraint 'latency < 5 GB': cannot read 'GB' as a unit of latency [s]"),
    ("latency < 5 parsecs_per_fortnight", "cannot read 'parsecs_per_fortnight' as a unit of latency [s]"),
    ("latency < fast", "constraint 'latency < fast': 'latency' is numeric; the value must be a number"),
    ("latency", "constraint 'latency': 'latency' is number, not boolean; compare it instead, e.g. 'latency <= 1'"),
    ("not bottleneck", "'bottleneck' is category, not boolean"),
    (
        "bottleneck == Memroy",
        "constraint 'bottleneck == Memroy': 'Memroy' is not a bottleneck label; labels: " + ", ".join(BOTTLENECKS),
    ),
    (
        "bottleneck < Memory",
        "constraint 'bottleneck < Memory': 'bottleneck' is category; it compares only with == or !=",
    ),
    (
        "precision == fp9",
        "constraint 'precision == fp9': 'fp9' is not a value of precision; values in the result: fp16, fp32, fp8",
    ),
    ("feasible == maybe", "'feasible' is boolean; compare it with true or false"),
    ("hardware", "'hardware' is label, not boolean"),
    (3, "constraint 3 is a int; a constraint is a string"),
    (
        xr.DataArray([1.0, 2.0, 3.0], dims="hardware"),
        "constraint mask <mask over (hardware)> has dtype float64; a mask must be boolean",
    ),
    (
        xr.DataArray([True], dims="region"),
        "constraint mask <mask over (region)> has dimension 'region', which the "
        "result does not have; dimensions: model, hardware, batch_size, precision",
    ),
    (xr.DataArray([True, False], dims="hardware"), "its coordinates along 'hardware' differ from the result's"),
    (
        xr.DataArray([True, False, True], dims="precision", coords={"precision": ["a", "b", "c"]}),
        "its coordinates along 'precision' differ",
    ),
]


@pytest.mark.parametrize("constraint, message", BAD_CONSTRAINTS, ids=[str(m[:30]) for _, m in BAD_CONSTRAINTS])
def test_bad_constraints_raise_naming_them(roofline, constraint, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        search(roofline, "latency", constraints=["feasible", constraint])
    with pytest.raises(ValueError, match=re.escape(message)):
        pareto(roofline, "latency", "energy", constraints=[constraint])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"objective": "latncy"}, "objective='latncy' names no output or input of the result; outputs: latency, "),
        (
            {"objective": "bottleneck"},
            "objective='bottleneck' is not numeric (category); the objective must be a numeric output or input",
        ),
        ({"objective": "hardware"}, "objective='hardware' is not numeric (label)"),
        (
            {"over": "region"},
            "over='region' names 'region', which is not a dimension of the result; over takes one or "
            "more of the dimensions: model, hardware, batch_size, precision",
        ),
        ({"over": []}, "over=[] is empty; over takes one or more of the dimensions"),
        ({"over": ["hardware", "hardware"]}, "over=['hardware', 'hardware'] repeats a dimension"),
        ({"minimize": "max"}, "minimize='max' is not allowed; minimize must be True (smallest objective) or False"),
        ({"top_k": 0}, "top_k=0 is not allowed; top_k must be a whole number >= 1 (or None)"),
        ({"top_k": 2.5}, "top_k=2.5 is not allowed"),
        ({"top_k": True}, "top_k=True is not allowed"),
    ],
)
def test_bad_objective_over_top_k_raise(roofline, kwargs, message):
    kwargs = {"objective": "latency", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        search(roofline, **kwargs)


def test_pareto_argument_errors(roofline):
    with pytest.raises(ValueError, match=re.escape("minimize=True is not allowed; give two booleans")):
        pareto(roofline, "latency", "energy", minimize=True)
    with pytest.raises(ValueError, match=re.escape("objective='nope' names no output or input")):
        pareto(roofline, "latency", "nope")
    with pytest.raises(ValueError, match=re.escape("over=['x'] names 'x'")):
        pareto(roofline, "latency", "energy", over=["x"])
    scalar = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud.H100)
    with pytest.raises(ValueError, match="the result has no dimensions: there is nothing to search over"):
        search(scalar, "latency")


# ---- results: nothing feasible, scalars, labels, inputs as objectives -------------------------------


def test_nothing_feasible_is_missing_not_an_error(roofline):
    found = search(
        roofline, "latency", constraints=["latency < 1 ns", "bottleneck == Memory"], over=["hardware", "precision"]
    )
    ds = found.dataset
    assert not ds.feasible.any() and (ds.n_feasible == 0).all() and int(ds.n_searched) == 9
    assert ds.objective.isnull().all() and ds.latency.isnull().all()
    assert all(v is None or v != v for v in ds.best_hardware.values.ravel())
    assert (ds.bottleneck.values == 0).all()  # categorical at an empty slice: first code (documented)
    top = search(roofline, "latency", constraints=["latency < 1 ns"], top_k=2)
    assert top.dims == ("rank",) and not top.dataset.feasible.any() and np.isnan(top.dataset.objective).all()
    one = search(roofline, "latency", constraints=["latency < 1 ns"])
    assert one.is_scalar and one.feasible is False and one.n_feasible == 0 and one.n_searched == 54
    assert one.best_hardware in (None,) or one.best_hardware != one.best_hardware
    assert math.isnan(one.objective) and one.latency.magnitude != one.latency.magnitude


def test_scalar_result_when_every_dimension_is_searched(roofline):
    """Searching every dimension gives the seed-style scalar facade: strings, ints, Quantities."""
    best = search(roofline, "throughput", minimize=False, constraints=["feasible"])
    assert best.is_scalar
    assert isinstance(best.best_hardware, str) and isinstance(best.best_model, str)
    assert isinstance(best.best_batch_size, int) and isinstance(best.best_precision, str)
    assert isinstance(best.throughput, pint.Quantity) and isinstance(best.n_searched, int)
    df = roofline.to_dataframe()
    row = df[df.feasible].loc[df[df.feasible].throughput.idxmax()]
    assert (best.best_model, best.best_hardware, best.best_batch_size, best.best_precision) == (
        row.model,
        row.hardware,
        row.batch_size,
        row.precision,
    )
    assert best.objective == row.throughput and best.throughput.to("1/s").magnitude == row.throughput
    assert best.n_searched == len(df) and best.n_feasible == int(df.feasible.sum())
    assert best.dataset.objective.attrs["units"] == "1/s"


def test_input_coordinate_as_objective(roofline):
    """The largest batch size that meets a latency target, per model × hardware × precision."""
    found = search(
        roofline, "batch_size", minimize=False, over="batch_size", constraints=["feasible", "latency <= 10 ms"]
    )
    df = roofline.to_dataframe()
    ok = df[df.feasible & (df.latency <= 0.01)]
    for (model, hw, p), rows in df.groupby(["model", "hardware", "precision"], observed=True):
        at = found.dataset.sel(model=model, hardware=hw, precision=p)
        allowed = ok[(ok.model == model) & (ok.hardware == hw) & (ok.precision == p)]
        if allowed.empty:
            assert not bool(at.feasible) and np.isnan(float(at.best_batch_size))
        else:
            assert float(at.objective) == float(at.best_batch_size) == allowed.batch_size.max()
    assert "batch_size" not in found.dataset.data_vars and found.dataset.latency.dims == (
        "model",
        "hardware",
        "precision",
    )


def test_zipped_config_dimension_and_its_coordinates():
    """TP and PP zipped along one ``config`` dimension; non-dimension coordinates along the
    searched dimension (here the TP and PP degrees) are reported at the winner."""
    tp, pp = [1, 2, 4, 8, 8, 2], [1, 1, 2, 4, 1, 8]
    r = ms.DistributedModel().solve(
        model=[ms.Models.Language.Llama3_8B, ms.Models.Language.Llama3_70B],
        fleet=ms.Systems.Clusters.Research_256,
        batch_size=[256, 1024],
        tp_size=xr.DataArray(tp, dims="config"),
        pp_size=xr.DataArray(pp, dims="config"),
        microbatch_count=8,
    )
    labelled = Result.from_dataset(r.dataset.assign_coords(tp_size=("config", tp), pp_size=("config", pp)))
    found = search(labelled, "mfu", minimize=False, over="config", constraints=["feasible"])
    assert found.dims == ("model", "batch_size")
    for model in found.dataset.model.values:
        for batch in found.dataset.batch_size.values:
            scores = [
                ms.DistributedModel().solve(
                    model=getattr(ms.Models.Language, key),
                    fleet=ms.Systems.Clusters.Research_256,
                    batch_size=int(batch),
                    tp_size=t,
                    pp_size=p,
                    microbatch_count=8,
                )
                for key in ("Llama3_8B", "Llama3_70B")
                for t, p in zip(tp, pp)
                if getattr(ms.Models.Language, key).name == model
            ]
            allowed = [(s.mfu, i) for i, s in enumerate(scores) if s.feasible]
            at = found.dataset.sel(model=model, batch_size=batch)
            if not allowed:
                assert not bool(at.feasible)
                continue
            mfu, index = max(allowed, key=lambda x: (x[0], -x[1]))
            assert int(at.best_config) == index and float(at.objective) == pytest.approx(mfu, rel=1e-12)
            assert (int(at.tp_size), int(at.pp_size)) == (tp[index], pp[index])


def test_chunked_result_equals_eager(roofline):
    lazy = ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_70B],
        hardware=[ms.Hardware.Cloud.H100, ms.Hardware.Cloud.T4, ms.Hardware.Cloud.A100],
        batch_size=[1, 32, 512],
        precision=["fp16", "fp8", "fp32"],
        chunks={"hardware": 1, "batch_size": 2},
    )
    assert lazy.dataset.latency.chunks is not None
    for kwargs in ({"over": ["hardware", "precision"]}, {"over": ["batch_size"], "top_k": 2}, {}):
        a = search(lazy, "latency", constraints=["feasible", "bottleneck == Memory"], **kwargs)
        b = search(roofline, "latency", constraints=["feasible", "bottleneck == Memory"], **kwargs)
        xr.testing.assert_identical(a.dataset, b.dataset)


def test_top_k_rank_dimension(roofline):
    found = search(roofline, "latency", over=["hardware", "precision"], constraints=["feasible"], top_k=4)
    ds = found.dataset
    assert found.dims == ("model", "batch_size", "rank") and list(ds["rank"].values) == [1, 2, 3, 4]
    assert ds.best_hardware.dims == ("model", "batch_size", "rank") and ds.n_feasible.dims == ("model", "batch_size")
    values = ds.objective.values
    filled = ~np.isnan(values)
    ordered = np.where(filled, values, np.inf)
    np.testing.assert_array_equal(np.sort(ordered, axis=-1), ordered)  # best first
    assert (filled == ds.feasible.values).all() and (filled.sum(-1) == np.minimum(ds.n_feasible.values, 4)).all()
    first = search(roofline, "latency", over=["hardware", "precision"], constraints=["feasible"])
    np.testing.assert_array_equal(first.dataset.objective.values, values[..., 0])


def test_dataframe_and_parquet_round_trip_numeric_labels(tmp_path, roofline):
    found = search(roofline, "latency", over=["batch_size"], constraints=["feasible", "latency < 30 ms"], top_k=2)
    df = found.to_dataframe()
    assert list(df.columns[:4]) == ["model", "hardware", "precision", "rank"]
    assert {"best_batch_size", "objective", "latency", "feasible", "n_searched", "n_feasible"} <= set(df.columns)
    assert len(df) == 2 * 3 * 3 * 2 and (df.n_searched == 3).all()
    back = ms.read_parquet(found.to_parquet(tmp_path / "search.parquet"))
    xr.testing.assert_equal(back.dataset, found.dataset)
    assert back.dataset.objective.attrs["units"] == "s"


def test_parquet_round_trip_text_labels(tmp_path, roofline):
    found = search(roofline, "latency", over=["hardware", "precision"], constraints=["feasible"])
    back = ms.read_parquet(found.to_parquet(tmp_path / "search.parquet"))
    assert list(back.dataset.best_hardware.values.ravel()) == list(found.dataset.best_hardware.values.ravel())


def test_search_result_describes_itself(roofline):
    found = search(roofline, "latency", over=["hardware", "precision"], constraints=["feasible", "latency < 5 ms"])
    assert found.dataset.attrs["objective"] == "latency" and found.dataset.attrs["goal"] == "minimize"
    assert found.dataset.attrs["over"] == ["hardware", "precision"]
    assert found.dataset.attrs["constraints"] == ["feasible", "latency < 5 ms"]
    assert found.dataset.objective.attrs["units"] == "s"
    assert isinstance(found.latency.data, pint.Quantity) and found.best_hardware.dtype == object
    assert found.dataset.efficiency.item() == 0.5  # fixed inputs stay scalar coordinates


def test_describe_lists_the_best_configuration_per_point(roofline):
    found = search(
        roofline, "throughput", minimize=False, over=["hardware", "precision"], constraints=["feasible"], top_k=2
    )
    text = describe(found, rows=5)
    lines = text.splitlines()
    assert lines[0] == (
        "SingleNodeModel: maximize throughput over hardware × precision (9 candidates per point) subject to feasible"
    )
    n = int(found.dataset.n_feasible.sum())
    assert (
        lines[1] == f"6 points (model × batch_size); a feasible candidate at 6 of 6; {n} of 54 candidates satisfy "
        f"the constraints"
    )
    header = lines[4].split()
    assert header == [
        "model",
        "batch_size",
        "rank",
        "best_hardware",
        "best_precision",
        "throughput",
        "[1/s]",
        "n_feasible",
    ]
    first = found.dataset.isel(model=0, batch_size=0, rank=0)
    assert lines[5].split()[-2:] == [f"{float(first.objective):.4g}", str(int(first.n_feasible))]
    assert len(lines) == 4 + 1 + 5 + 1 and lines[-1] == "... 7 more rows"


@pytest.mark.parametrize("text", ["latency < 8", "throughput >= 1000", "memory_footprint <= 20"])
def test_a_bare_number_on_a_dimensional_output_needs_its_unit(text):
    """``"itl < 8"`` would be read in seconds while the CLI shows milliseconds: refused, naming
    the unit; a dimensionless output (mfu) and a bare 0 need none."""
    r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud.H100, batch_size=[1, 32])
    name = text.split()[0]
    with pytest.raises(ValueError, match=rf"constraint '{text}': {name} has a unit .*write the unit"):
        search(r, "latency", minimize=True, constraints=[text], over="batch_size")
    for fine in ("mfu <= 1", "latency > 0"):
        assert search(r, "latency", minimize=True, constraints=[fine], over="batch_size").feasible
