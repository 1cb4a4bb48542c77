"""Shared helpers of the parity tests: load the mlsysim 0.3.0 fixtures, rebuild each case's
inputs from our registry, classify the cases docs/differences.md deviates on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlsysim_vec as ms

DATA = Path(__file__).parent / "data"
RTOL = 1e-9


def load(name: str) -> dict:
    return json.loads((DATA / f"parity_{name}.json").read_text())


def record(ref: str, registry):
    family, key = ref.split(".")
    return getattr(getattr(registry, family), key)


def kwargs_of(inputs: dict) -> dict:
    out = {}
    for key, value in inputs.items():
        if key in ("via",):
            continue
        if key == "model":
            value = record(value, ms.Models)
        elif key == "hardware":
            value = record(value, ms.Hardware)
        out[key] = value
    return out


def close(ours, theirs, rtol=RTOL) -> bool:
    """Equal within ``rtol`` (relative), treating None/NaN alike and bools/strings exactly."""
    if theirs is None:
        return ours is None or (isinstance(ours, float) and math.isnan(ours))
    if isinstance(theirs, (bool, str)):
        return ours == theirs
    if ours is None:
        return False
    ours = float(ours.to_base_units().magnitude) if hasattr(ours, "to_base_units") else float(ours)
    if math.isinf(theirs) or math.isinf(ours):
        return ours == theirs
    return abs(ours - theirs) <= rtol * max(abs(theirs), abs(ours), 1e-300)


def mismatches(result, expected: dict, units: dict, skip=()) -> list[str]:
    """Names (with values) of the outputs that differ from the fixture."""
    bad = []
    for name, want in expected.items():
        if name in skip or name not in result.outputs:
            continue
        got = getattr(result, name)
        if hasattr(got, "to") and units.get(name) not in (None, "dimensionless"):
            got = got.to(units[name]).magnitude
        if not close(got, want):
            bad.append(f"{name}: ours {got!r} vs reference {want!r}")
    return bad
