"""Tiers 2 and 3 for the fleet resolvers: the grid contract (grid == loop of scalar calls, zipped
dimensions, the input-type matrix of the unit-bearing inputs, bad arguments raising before any
computation, infeasible points not raising, dask == eager) and hypothesis properties (step time
never decreases with congestion or stragglers, scaling efficiency <= 1, MFU below the replica's,
bubble monotone in pp, goodput and failure probability in [0, 1], ...).

FAST profile by default; ``pytest -m slow`` runs the LONG twins.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec import ureg

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

L, C, F = ms.Models.Language, ms.Systems.Clusters, ms.Systems.Fabrics
DM = ms.DistributedModel()
CLUSTERS = list(C)
MODELS = [L.Llama3_8B, L.Llama3_70B, L.Mixtral_8x7B, L.GPT2, L.DeepSeek_V3, ms.Models.Vision.ResNet50]


def assert_same(ds_point, one, names=None):
    """Every output of a grid point equals the scalar call's, bit for bit (NaN == NaN)."""
    for name in names or one.data_vars:
        np.testing.assert_array_equal(ds_point[name].values, one[name].values, err_msg=name)


# ---------------------------------------------------------------------------- grid == loop
def test_distributed_grid_equals_loop():
    """3 models × 2 fleets × tp × pp × microbatches × batch (144 points, infeasible ones included)."""
    axes = dict(
        model=[L.Llama3_8B, L.Mixtral_8x7B, ms.Models.Vision.ResNet50],
        fleet=[C.Research_256, C.Lab_64_A100],
        tp_size=[1, 2, 8],
        pp_size=[1, 4],
        microbatch_count=[1, 8],
        batch_size=[64, 100],
    )
    ds = DM.solve(**axes, ep_size=2, zero_stage=3).dataset
    for m in axes["model"]:
        for f in axes["fleet"]:
            for tp in axes["tp_size"]:
                for pp in axes["pp_size"]:
                    for mb in axes["microbatch_count"]:
                        for b in axes["batch_size"]:
                            one = DM.solve(
                                model=m,
                                fleet=f,
                                tp_size=tp,
                                pp_size=pp,
                                microbatch_count=mb,
                                batch_size=b,
                                ep_size=2,
                                zero_stage=3,
                            ).dataset
                            point = ds.sel(
                                model=m.name, fleet=f.name, tp_size=tp, pp_size=pp, microbatch_count=mb, batch_size=b
                            )
                            assert_same(point, one)


@pytest.mark.parametrize(
    "resolver, axes, fixed",
    [
        (
            ms.MoERoutingModel,
            dict(
                model=[L.Mixtral_8x7B, L.DeepSeek_V3],
                ep_size=[1, 8],
                routing_imbalance_factor=[1, 3],
                precision=["fp16", "fp8"],
            ),
            dict(batch_size=4, seq_len=2048, fleet=C.Research_256),
        ),
        (
            ms.TopologyModel,
            dict(
                fabric=[F.InfiniBand_NDR, F.InfiniBand_NDR_Oversub4to1],
                topology=["fat_tree", "ring", "torus_3d", "dragonfly"],
                num_nodes=[1, 7, 512],
            ),
            {},
        ),
        (
            ms.NetworkRooflineModel,
            dict(
                model=[L.Llama3_8B, L.Mixtral_8x7B],
                fleet=[C.Research_256, C.Frontier_8K],
                batch_size=[1, 4096],
                seq_len=[1, 8192],
            ),
            {},
        ),
        (
            ms.ReliabilityModel,
            dict(
                fleet=CLUSTERS[:4],
                job_duration_hours=[0, 720],
                checkpoint_time_s=[10, 600],
                avg_recovery_time_s=[0, 3600],
            ),
            {},
        ),
        (
            ms.CheckpointModel,
            dict(
                model=[L.Llama3_8B, L.GPT3],
                hardware=[ms.Hardware.Cloud.H100, ms.Hardware.Cloud.T4],
                optimizer=["adam", "sgd"],
                n_writers=[1, 512],
                checkpoint_interval_hours=[0, 4],
            ),
            {},
        ),
        (ms.OrchestrationModel, dict(arrival_rate_jobs_per_day=[0, 0.4, 2], avg_job_duration_days=[0.5, 2]), {}),
    ],
)
def test_other_resolvers_grid_equals_loop(resolver, axes, fixed):
    ds = resolver().solve(**axes, **fixed).dataset
    names = list(axes)

    def walk(i, chosen):
        if i == len(names):
            one = resolver().solve(**chosen, **fixed).dataset
            assert_same(ds.sel({k: getattr(v, "name", v) for k, v in chosen.items()}), one)
            return
        for value in axes[names[i]]:
            walk(i + 1, {**chosen, names[i]: value})

    walk(0, {})


def test_zipped_parallel_configurations():
    """tp and pp zipped along one ``config`` dimension (DataArrays) instead of their product."""
    tp = xr.DataArray([8, 4, 2, 1], dims="config")
    pp = xr.DataArray([1, 2, 4, 8], dims="config")
    r = DM.solve(model=L.Llama3_70B, fleet=C.Frontier_8K, batch_size=2048, tp_size=tp, pp_size=pp, microbatch_count=16)
    assert r.dims == ("config",)
    for i in range(4):
        one = DM.solve(
            model=L.Llama3_70B,
            fleet=C.Frontier_8K,
            batch_size=2048,
            tp_size=int(tp[i]),
            pp_size=int(pp[i]),
            microbatch_count=16,
        ).dataset
        assert_same(r.dataset.isel(config=i), one)


def test_scale_out_curve_is_one_sweep():
    """D21: dp_size as a dimension gives the scale-out curve; throughput grows, efficiency falls."""
    r = DM.solve(
        model=L.Llama3_8B, fleet=C.Training_1K, batch_size=1024, tp_size=8, dp_size=[1, 2, 4, 8, 16, 32, 64, 128]
    )
    ds = r.dataset
    assert list(ds.accelerators_used.values) == [8 * d for d in (1, 2, 4, 8, 16, 32, 64, 128)]
    eff = ds.scaling_efficiency.values
    assert np.all(np.diff(eff) <= 0) and ds.dp_communication_latency.values[0] == 0.0
    assert np.all(np.diff(ds.effective_throughput.values[2:]) > 0)


def test_infeasible_points_do_not_raise():
    r = DM.solve(model=L.Llama3_70B, fleet=CLUSTERS, tp_size=[3, 8], pp_size=[1, 4, 128], batch_size=1024)
    reasons = set(np.asarray(r.infeasible_reason.values).ravel())
    assert {"not_divisible", "too_many_stages", "none", "memory_capacity"} <= reasons


def test_dask_chunked_equals_eager():
    axes = dict(
        model=[L.Llama3_8B, L.Mixtral_8x7B],
        fleet=CLUSTERS[:6],
        tp_size=[1, 2, 4, 8],
        batch_size=[64, 256, 1000],
        topology_override=["auto", "tree"],
    )
    eager = DM.solve(**axes).dataset
    lazy = DM.solve(**axes, chunks={"fleet": 2, "batch_size": 1}).compute().dataset
    for name in eager.data_vars:
        np.testing.assert_array_equal(eager[name].values, lazy[name].values, err_msg=name)


# ---------------------------------------------------------------------------- input types
@pytest.mark.parametrize(
    "value, dims",
    [
        (720, ()),
        (720.0, ()),
        (np.float64(720), ()),
        (720 * ureg.hour, ()),
        (30 * ureg.day, ()),
        ([720], ("job_duration_hours",)),
        ((720,), ("job_duration_hours",)),
        (np.array([720]), ("job_duration_hours",)),
        (np.array([30]) * ureg.day, ("job_duration_hours",)),
        (xr.DataArray([720], dims="job"), ("job",)),
        (xr.DataArray([30], dims="job", attrs={"units": "day"}), ("job",)),
        (xr.DataArray(ureg.Quantity(np.array([2.592e6]), "s"), dims="job"), ("job",)),
    ],
)
def test_reliability_input_types(value, dims):
    """Every form of 720 hours gives the same numbers; sequences add a dimension."""
    expected = ms.ReliabilityModel().solve(fleet=C.Frontier_8K, job_duration_hours=720).dataset
    r = ms.ReliabilityModel().solve(fleet=C.Frontier_8K, job_duration_hours=value)
    assert r.dims == dims
    for name in ("failure_probability", "expected_failures"):
        np.testing.assert_allclose(np.asarray(r.dataset[name].values).ravel(), float(expected[name]), rtol=1e-14)


@pytest.mark.parametrize(
    "resolver, kwargs, same_as",
    [
        (ms.CheckpointModel, dict(filesystem_limit_gbs=4 * ureg("Tbit/s")), dict(filesystem_limit_gbs=500)),
        (ms.CheckpointModel, dict(checkpoint_interval_hours=240 * ureg.minute), dict(checkpoint_interval_hours=4)),
        (
            ms.ReliabilityModel,
            dict(checkpoint_time_s=1 * ureg.minute, job_duration_hours=1),
            dict(checkpoint_time_s=60, job_duration_hours=1),
        ),
        (
            ms.OrchestrationModel,
            dict(arrival_rate_jobs_per_day=1 / (60 * ureg.hour), avg_job_duration_days=48 * ureg.hour),
            dict(arrival_rate_jobs_per_day=0.4, avg_job_duration_days=2),
        ),
    ],
)
def test_quantities_are_converted(resolver, kwargs, same_as):
    base = {
        ms.CheckpointModel: dict(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100),
        ms.ReliabilityModel: dict(fleet=C.Research_256),
        ms.OrchestrationModel: {},
    }[resolver]
    a, b = resolver().solve(**base, **kwargs).dataset, resolver().solve(**base, **same_as).dataset
    for name in a.data_vars:
        np.testing.assert_allclose(a[name].values.astype(float), b[name].values.astype(float), rtol=1e-12, err_msg=name)


def test_unit_of_the_wrong_dimension_is_a_type_error():
    with pytest.raises(TypeError, match="job_duration_hours=.*expected a quantity convertible to hour"):
        ms.ReliabilityModel().solve(fleet=C.Research_256, job_duration_hours=5 * ureg.GB)


# ---------------------------------------------------------------------------- bad arguments
DIST = dict(model=L.Llama3_8B, fleet=C.Research_256)


@pytest.mark.parametrize(
    "resolver, kwargs, error, pattern",
    [
        (
            ms.DistributedModel,
            dict(DIST, tp_size=0),
            ValueError,
            r"tp_size=0 is not allowed; tp_size must be a whole number >= 1",
        ),
        (ms.DistributedModel, dict(DIST, pp_size=[1, 2.5]), ValueError, r"pp_size=2.5 is not allowed \(1 of 2"),
        (ms.DistributedModel, dict(DIST, ep_size=-1), ValueError, r"ep_size=-1"),
        (ms.DistributedModel, dict(DIST, dp_size=0), ValueError, r"dp_size=0 is not allowed"),
        (ms.DistributedModel, dict(DIST, microbatch_count=0), ValueError, r"microbatch_count=0"),
        (ms.DistributedModel, dict(DIST, v_stages=0), ValueError, r"v_stages=0"),
        (ms.DistributedModel, dict(DIST, zero_stage=4), ValueError, r"zero_stage=4"),
        (ms.DistributedModel, dict(DIST, efficiency=0), ValueError, r"efficiency=0 is not allowed"),
        (ms.DistributedModel, dict(DIST, overlap_efficiency=1.2), ValueError, r"overlap_efficiency=1.2"),
        (ms.DistributedModel, dict(DIST, congestion_factor=-1), ValueError, r"congestion_factor=-1"),
        (
            ms.DistributedModel,
            dict(DIST, moe_routing_imbalance_factor=0.9),
            ValueError,
            r"moe_routing_imbalance_factor=0.9",
        ),
        (
            ms.DistributedModel,
            dict(DIST, topology_override="banana"),
            ValueError,
            r"topology_override='banana' is not allowed; topology_override must be one of 'auto', 'ring', 'tree'",
        ),
        (ms.DistributedModel, dict(DIST, precision="fp12"), ValueError, r"precision='fp12'"),
        (
            ms.DistributedModel,
            dict(DIST, fleet="Frontier"),
            TypeError,
            r"fleet='Frontier' is a str; fleet must be a Fleet record",
        ),
        (ms.DistributedModel, dict(DIST, fleet=F.InfiniBand_NDR), TypeError, r"fleet=NetworkFabric"),
        (ms.DistributedModel, dict(DIST, tp=8), TypeError, r"unexpected keyword argument 'tp'"),
        (
            ms.MoERoutingModel,
            dict(model=L.Mixtral_8x7B, batch_size=4),
            TypeError,
            r"missing required argument 'seq_len'",
        ),
        (
            ms.MoERoutingModel,
            dict(model=L.Mixtral_8x7B, batch_size=4, seq_len=8, routing_imbalance_factor=0.5),
            ValueError,
            r"routing_imbalance_factor=0.5",
        ),
        (
            ms.TopologyModel,
            dict(fabric=C.Research_256),
            TypeError,
            r"fabric=Fleet\('Research Cluster \(256 GPUs\)'\) is a Fleet",
        ),
        (ms.TopologyModel, dict(fabric=F.InfiniBand_NDR, num_nodes=2.5), ValueError, r"num_nodes=2.5"),
        (ms.NetworkRooflineModel, dict(model=L.Llama3_8B, fleet=C.Research_256, seq_len=0), ValueError, r"seq_len=0"),
        (ms.ReliabilityModel, dict(fleet=C.Research_256), TypeError, r"missing required argument 'job_duration_hours'"),
        (
            ms.ReliabilityModel,
            dict(fleet=C.Research_256, job_duration_hours=[1, -1]),
            ValueError,
            r"job_duration_hours=-1 is not allowed \(1 of 2",
        ),
        (
            ms.CheckpointModel,
            dict(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100, optimizer="lion"),
            ValueError,
            r"optimizer='lion' is not allowed; optimizer must be one of 'adam', 'adamw', 'sgd', 'none'",
        ),
        (ms.CheckpointModel, dict(model=L.Llama3_8B, hardware=C.Research_256), TypeError, r"hardware=Fleet"),
        (ms.OrchestrationModel, dict(arrival_rate=1, avg_duration=-2), ValueError, r"avg_job_duration_days=-2"),
        (
            ms.OrchestrationModel,
            dict(arrival_rate=1, arrival_rate_jobs_per_day=1, avg_duration=2),
            TypeError,
            r"got 'arrival_rate_jobs_per_day' twice",
        ),
    ],
)
def test_bad_arguments_raise_naming_the_argument(resolver, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        resolver().solve(**kwargs)


def test_model_without_weights_is_a_type_error():
    from mlsysim_vec.models.types import Workload

    with pytest.raises(TypeError, match="neither parameters nor model_size"):
        DM.solve(model=Workload(name="empty"), fleet=C.Research_256)


# ---------------------------------------------------------------------------- properties
configs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS),
        "fleet": st.sampled_from(CLUSTERS),
        "tp_size": st.sampled_from([1, 2, 4, 8]),
        "pp_size": st.sampled_from([1, 2, 4]),
        "ep_size": st.sampled_from([1, 2]),
        "microbatch_count": st.integers(1, 32),
        "batch_size": st.integers(1, 4096),
        "seq_len": st.sampled_from([512, 2048, 8192]),
        "precision": st.sampled_from(["fp32", "bf16", "fp8", "int8"]),
        "zero_stage": st.integers(0, 3),
        "activation_recomputation": st.booleans(),
        "overlap_comm": st.booleans(),
        "topology_override": st.sampled_from(["auto", "ring", "tree", "double_binary_tree", "hierarchical"]),
        "gradient_accumulation_steps": st.integers(1, 4),
    }
)


def check_monotone_and_bounded(cfg):
    factors = [1.0, 1.3, 2.0, 5.0]
    r = DM.solve(**cfg, congestion_factor=factors, straggler_factor=factors).dataset
    if not np.isfinite(r.dp_degree.values).all():
        assert (r.infeasible_reason.values == 2).all()  # not divisible: every dp-dependent output NaN
        return
    step = r.step_latency_total.transpose("congestion_factor", "straggler_factor").values
    assert np.all(np.diff(step, axis=0) >= 0) and np.all(np.diff(step, axis=1) >= 0)
    assert np.all(r.scaling_efficiency.values <= 1.0) and np.all(r.scaling_efficiency.values > 0)
    assert np.all(r.mfu.values <= r.node_mfu.values * (1 + 1e-12))
    assert np.all(r.hfu.values <= 1.0) and np.all(r.communication_latency.values >= 0)
    assert 0.0 <= float(r.bubble_fraction) < 1.0
    assert np.all(r.memory_footprint.values > 0)


@FAST
@given(configs)
def test_step_never_decreases_with_congestion_or_stragglers(cfg):
    check_monotone_and_bounded(cfg)


@pytest.mark.slow
@LONG
@given(configs)
def test_step_never_decreases_with_congestion_or_stragglers_long(cfg):
    check_monotone_and_bounded(cfg)


def check_pipeline_and_memory(cfg):
    base = {k: v for k, v in cfg.items() if k not in ("pp_size", "tp_size", "microbatch_count")}
    r = DM.solve(
        **base, pp_size=[1, 2, 4, 8], tp_size=[1, 2, 4, 8], microbatch_count=[1, 4, 16], v_stages=[1, 2], dp_size=2
    ).dataset
    bubble = r.bubble_fraction.transpose("pp_size", "microbatch_count", "v_stages", ...).values  # refined: and tp_size
    assert np.all(np.diff(bubble, axis=0) >= 0)  # more stages: more bubble
    assert np.all(np.diff(bubble, axis=1) <= 0)  # more microbatches: less bubble
    assert np.all(np.diff(bubble, axis=2) <= 0)  # interleaving: less bubble
    memory = r.memory_footprint.transpose("tp_size", ...).values  # NaN where dp·G exceeds the fleet
    step = np.diff(memory, axis=0)
    assert np.all((step <= 1e-6 * memory[:-1]) | np.isnan(step))  # a fixed dp: more TP never needs more memory


@FAST
@given(configs)
def test_bubble_monotone_and_memory_falls_with_tp(cfg):
    check_pipeline_and_memory(cfg)


@pytest.mark.slow
@LONG
@given(configs)
def test_bubble_monotone_and_memory_falls_with_tp_long(cfg):
    check_pipeline_and_memory(cfg)


def check_grid_equals_loop(cfg, batches):
    r = DM.solve(**{k: v for k, v in cfg.items() if k != "batch_size"}, batch_size=batches).dataset
    for b in batches:
        one = DM.solve(**{k: v for k, v in cfg.items() if k != "batch_size"}, batch_size=b).dataset
        assert_same(r.sel(batch_size=b), one)


@FAST
@given(configs, st.lists(st.integers(1, 8192), min_size=1, max_size=3, unique=True))
def test_distributed_grid_equals_loop_random(cfg, batches):
    check_grid_equals_loop(cfg, batches)


@pytest.mark.slow
@LONG
@given(configs, st.lists(st.integers(1, 8192), min_size=1, max_size=3, unique=True))
def test_distributed_grid_equals_loop_random_long(cfg, batches):
    check_grid_equals_loop(cfg, batches)


reliability_inputs = st.fixed_dictionaries(
    {
        "fleet": st.sampled_from(CLUSTERS),
        "checkpoint_time_s": st.floats(0.1, 7200),
        "avg_recovery_time_s": st.floats(0, 7200),
    }
)


def check_reliability(kw):
    hours = [0.0, 1.0, 24.0, 720.0, 8760.0]
    r = ms.ReliabilityModel().solve(**kw, job_duration_hours=hours).dataset
    p = r.failure_probability.values
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0) and p[0] == 0.0
    goodput = float(r.goodput_ratio)
    assert 0.0 <= goodput <= 1.0
    # Young's interval minimises the first-order waste δ/τ + τ/(2M): no other τ does better
    mtbf, tau, delta = float(r.fleet_mtbf), float(r.optimal_checkpoint_interval), kw["checkpoint_time_s"]
    waste = lambda t: delta / t + t / (2 * mtbf)  # noqa: E731
    assert waste(tau) <= min(waste(0.5 * tau), waste(2 * tau))


@FAST
@given(reliability_inputs)
def test_reliability_bounds(kw):
    check_reliability(kw)


@pytest.mark.slow
@LONG
@given(reliability_inputs)
def test_reliability_bounds_long(kw):
    check_reliability(kw)


@FAST
@given(st.sampled_from(list(F)), st.sampled_from(["fat_tree", "dragonfly", "torus_3d", "ring"]))
def test_bisection_bandwidth_grows_with_nodes(fabric, topology):
    r = ms.TopologyModel().solve(fabric=fabric, topology=topology, num_nodes=[2, 8, 64, 512, 4096]).dataset
    assert np.all(np.diff(r.bisection_bw.values) >= -1e-6 * r.bisection_bw.values[:-1])
    assert np.all(np.diff(r.hops_avg.values) >= 0)


@FAST
@given(st.floats(0.01, 10), st.lists(st.floats(0, 5), min_size=2, max_size=6, unique=True))
def test_queue_wait_grows_with_load(duration, rates):
    r = ms.OrchestrationModel().solve(arrival_rate_jobs_per_day=sorted(rates), avg_job_duration_days=duration).dataset
    wait = r.avg_wait_time.values
    assert np.all(wait[1:] >= wait[:-1]) and np.all(r.is_stable.values == (r.cluster_utilization.values < 1))


def test_chunked_distributed_outputs_stay_lazy():
    """Every output of a chunked DistributedModel sweep that varies along the chunked dimension
    is a dask array: nothing is computed whole at solve time (the element-wise and
    context-parallel times once were, through np.asarray), and each equals the eager value."""
    kw = dict(
        model=ms.Models.Language.Llama3_8B,
        fleet=ms.Systems.Clusters.Research_256,
        batch_size=[256, 512, 1024],
        seq_len=[1024, 2048],
        cp_size=[1, 2],
    )
    lazy = ms.DistributedModel().solve(**kw, chunks={"batch_size": 1}).dataset
    eager = ms.DistributedModel().solve(**kw).dataset
    for name in lazy.data_vars:
        if "batch_size" in lazy[name].dims:
            assert hasattr(lazy[name].data, "dask"), name
    for name in ("node_latency_elementwise", "cp_communication_latency", "step_latency_total"):
        np.testing.assert_array_equal(lazy[name].values, eager[name].values)
