"""``ms.calibrate``: fitting a resolver's numeric arguments to measurements.

Synthetic measurements are made by the resolver itself at known parameter values; the fit must
recover them (to the zoom's resolution) and its values, passed back into ``solve``, must
reproduce the measurements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlsysim_vec as ms
from mlsysim_vec.calibrate import calibrate

H = ms.Hardware.Cloud
MODELS = [ms.Models.Language.Llama3_8B, ms.Models.ResNet50]


def _measure(efficiency, ratio=0.1, hardware=(H.A100, H.H100), batches=(1, 64, 256), unit="ms"):
    """Latency of SingleNodeModel at known parameters, one row per (model, hardware, batch)."""
    rows = []
    for model in MODELS:
        for hw in hardware:
            eta = efficiency[hw.name] if isinstance(efficiency, dict) else efficiency
            for b in batches:
                r = ms.SingleNodeModel().solve(
                    model=model, hardware=hw, batch_size=b, efficiency=eta, activation_traffic_ratio=ratio
                )
                rows.append(
                    {"model": model.name, "hardware": hw, "batch_size": b, f"latency [{unit}]": r.latency.to(unit).m}
                )
    return pd.DataFrame(rows)


def test_recovers_one_parameter():
    fit = calibrate(ms.SingleNodeModel(), _measure(0.42), fit="efficiency")
    assert fit.values["efficiency"] == pytest.approx(0.42, rel=1e-6)
    assert fit.max_error < 1e-6
    assert list(fit.parameters.columns) == ["efficiency", "rows", "mean_error", "max_error"]
    assert fit.parameters["rows"].item() == 12


def test_recovers_a_value_per_group_and_solve_takes_them_back():
    truth = {H.A100.name: 0.31, H.H100.name: 0.58}
    data = _measure(truth)
    fit = calibrate(ms.SingleNodeModel, data, fit=["efficiency"], by="hardware")
    got = dict(zip(fit.parameters["hardware"], fit.parameters["efficiency"]))
    assert got == pytest.approx(truth, rel=1e-6)
    # the values go straight back into a grid call over the same hardware
    r = ms.SingleNodeModel().solve(model=MODELS, hardware=[H.A100, H.H100], batch_size=[1, 64, 256], **fit.values)
    for row in data.itertuples(index=False):
        predicted = r.latency.sel(model=row.model, hardware=row.hardware.name, batch_size=row.batch_size)
        assert float(predicted.pint.to("ms").pint.magnitude) == pytest.approx(row[3], rel=1e-6)


def test_recovers_two_parameters_with_bounds():
    data = _measure(0.45, ratio=0.6)
    fit = calibrate(
        ms.SingleNodeModel(),
        data,
        fit=["efficiency", "activation_traffic_ratio"],
        bounds={"activation_traffic_ratio": (0, 2)},
    )
    assert fit.values["efficiency"] == pytest.approx(0.45, rel=1e-4)
    assert fit.values["activation_traffic_ratio"] == pytest.approx(0.6, rel=1e-4)


def test_units_in_column_names():
    """The same measurements in ms and in s (the canonical unit, no bracket) fit the same value."""
    in_ms = _measure(0.5)
    in_s = in_ms.rename(columns={"latency [ms]": "latency"})
    in_s["latency"] = in_s["latency"] / 1e3
    a = calibrate(ms.SingleNodeModel(), in_ms, fit="efficiency")
    b = calibrate(ms.SingleNodeModel(), in_s, fit="efficiency")
    assert a.values["efficiency"] == pytest.approx(b.values["efficiency"], rel=1e-9)
    assert "latency measured" in a.table and a.table["latency measured"].iloc[0] == in_ms["latency [ms]"].iloc[0]


def test_missing_measurements_are_skipped():
    data = _measure(0.4)
    data.loc[3, "latency [ms]"] = np.nan
    fit = calibrate(ms.SingleNodeModel(), data, fit="efficiency")
    assert fit.values["efficiency"] == pytest.approx(0.4, rel=1e-6)
    assert np.isnan(fit.table["latency error"].iloc[3])


def test_one_resolver_call_per_round(monkeypatch):
    """The search is vectorized: one solve per zoom round (plus one probe and one final call),
    whatever the number of rows and candidates."""
    data = _measure(0.5)
    calls = []
    solver = ms.SingleNodeModel()
    original = type(solver).solve

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(solver), "solve", counting)
    calibrate(solver, data, fit="efficiency", rounds=4)
    assert len(calls) == 4 + 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(fit="precision"), "fit='precision' is not a numeric argument of SingleNodeModel"),
        (dict(fit="efficiency", outputs="ttft"), "outputs='ttft' is not an output of SingleNodeModel"),
        (dict(fit="efficiency", bounds={"efficiency": (0.5, 2.0)}), "outside its allowed range"),
        (dict(fit="efficiency", bounds={"batch_size": (1, 2)}), "bounds names \\['batch_size'\\]"),
        (dict(fit="activation_traffic_ratio"), "give bounds="),
        (dict(fit="efficiency", precision=["fp16", "fp8"]), "must be a scalar"),
        (dict(fit="efficiency", efficiency=0.5), "both fitted and fixed"),
        (dict(fit="efficiency", by="region"), "by='region' is not a column"),
        (dict(fit=[]), "fit names no argument"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        calibrate(ms.SingleNodeModel(), _measure(0.5), **kwargs)


def test_bad_data_raises():
    with pytest.raises(ValueError, match="non-empty pandas DataFrame"):
        calibrate(ms.SingleNodeModel(), pd.DataFrame(), fit="efficiency")
    no_output = _measure(0.5).drop(columns="latency [ms]")
    with pytest.raises(ValueError, match="no column named after an output"):
        calibrate(ms.SingleNodeModel(), no_output, fit="efficiency")
    zero = _measure(0.5)
    zero.loc[0, "latency [ms]"] = 0.0
    with pytest.raises(ValueError, match="a measured value of 0"):
        calibrate(ms.SingleNodeModel(), zero, fit="efficiency")
    unknown = _measure(0.5)
    unknown.loc[0, "hardware"] = "Imaginary GPU"
    with pytest.raises(ValueError, match="hardware='Imaginary GPU' is not a record"):
        calibrate(ms.SingleNodeModel(), unknown, fit="efficiency")
    missing = _measure(0.5).drop(columns="hardware")
    with pytest.raises(ValueError, match="needs 'hardware'"):
        calibrate(ms.SingleNodeModel(), missing, fit="efficiency")
