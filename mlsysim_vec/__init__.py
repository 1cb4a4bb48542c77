"""mlsysim_vec: analytical ML-systems models, evaluated over whole design grids in one call.

    import mlsysim_vec as mlsysim
    p = mlsysim.SingleNodeModel().solve(model=mlsysim.Models.ResNet50,
                                        hardware=mlsysim.Hardware.Cloud.A100, batch_size=1)
    r = mlsysim.SingleNodeModel().solve(model=mlsysim.Models.Language,
                                        hardware=mlsysim.Hardware.GPUs, batch_size=[1, 8, 64])

Importing loads no data file and compiles nothing (docs/differences.md, D18): registries load on first
use; xarray, pint-xarray, numba and dask are imported when first needed.
"""

from . import solvers
from .calibrate import Calibration, calibrate
from .hardware.types import ComputeCore, HardwareNode, IOInterconnect, MemoryHierarchy, StorageHierarchy
from .infra.types import CoolingProfile, Datacenter, GridProfile
from .models.types import (
    CNNWorkload,
    DiffusionWorkload,
    EmbodiedWorkload,
    SparseTransformerWorkload,
    SSMWorkload,
    TransformerWorkload,
    Workload,
    from_hf_config,
)
from .options import get_options, set_options
from .registry import Hardware, Infra, Infrastructure, Models, Systems
from .result import Result, read_parquet
from .solvers import *  # noqa: F401,F403  (every resolver class, collected by mlsysim_vec.solvers)
from .systems.types import Fleet, NetworkFabric, Node
from .units import Q_, ureg

__version__ = "0.1.0"


def __getattr__(name):
    """``mlsysim_vec.plot`` on first use: the figures need matplotlib (the ``[plot]`` extra),
    which importing the package does not load."""
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ureg",
    "Q_",
    "Hardware",
    "Models",
    "Systems",
    "Infra",
    "Infrastructure",
    *solvers.__all__,
    "Result",
    "read_parquet",
    "calibrate",
    "Calibration",
    "set_options",
    "get_options",
    "HardwareNode",
    "ComputeCore",
    "MemoryHierarchy",
    "StorageHierarchy",
    "IOInterconnect",
    "Workload",
    "TransformerWorkload",
    "SparseTransformerWorkload",
    "CNNWorkload",
    "SSMWorkload",
    "DiffusionWorkload",
    "EmbodiedWorkload",
    "from_hf_config",
    "Node",
    "NetworkFabric",
    "Fleet",
    "GridProfile",
    "Datacenter",
    "CoolingProfile",
]
