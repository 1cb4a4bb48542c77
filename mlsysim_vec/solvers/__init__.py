"""Every resolver class, by domain module (``from mlsysim_vec.solvers import SingleNodeModel``)."""

from .node import EfficiencyModel, Engine, OOMError, SingleNodeModel, TrainingMemoryModel

__all__ = ["SingleNodeModel", "Engine", "EfficiencyModel", "TrainingMemoryModel", "OOMError"]
