"""Constants of the first-order models, in canonical SI units (plain floats).

Values follow mlsysim 0.3.0 (``engine/calibration.py`` as described in
``reference/anchor-0.3.0-spec.md`` §0.4 and part 2 §0.3); each line says where it is used.
"""

#: Bytes per element of each selectable precision (DECISIONS D15). Keys are canonical
#: lower-case names; the order fixes the integer precision codes used on grids.
PRECISION_BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}
PRECISIONS = tuple(PRECISION_BYTES)

#: Framework launch tax per layer per pass [s] (FRAMEWORK_LAYER_TAX_MS = 0.01 ms).
LAYER_TAX_S = 0.01e-3
#: Host-link bandwidth when a device has no interconnect [byte/s] (FALLBACK_PCIE_BANDWIDTH_GB_S).
FALLBACK_HOST_LINK_BW = 64e9
#: Energy model: idle fraction of TDP plus a dynamic part proportional to utilisation.
ENERGY_IDLE_FRACTION = 0.30
ENERGY_DYNAMIC_FRACTION = 0.70
#: Roofline traffic heuristic: extra bytes per sample as a fraction of weight bytes (D4).
ACTIVATION_TRAFFIC_RATIO = 0.1
#: Optimizer state bytes per trainable parameter (TRAINING_OPTIMIZER_BYTES_*).
OPTIMIZER_BYTES = {"adam": 12.0, "adamw": 12.0, "sgd": 4.0, "none": 0.0}
OPTIMIZERS = tuple(OPTIMIZER_BYTES)
#: Activation-checkpointing strategies of the Korthikanti et al. (2022) activation model.
CHECKPOINTING = ("none", "selective", "full")
#: LoRA rank used to size the trainable fraction of a LoRA fine-tune (Engine training path).
LORA_RANK = 16
#: Defaults of a Transformer record that lacks the field (reference behaviour).
DEFAULT_HIDDEN_DIM = 4096
DEFAULT_HEADS = 32
#: EfficiencyModel constants (Literature.Training MfuLow/MfuHigh, MFU_* caps, SM_OCCUPANCY_HEADROOM).
MFU_LOW, MFU_HIGH = 0.30, 0.50
MFU_FLASH_ATTENTION, MFU_FLASH_ATTENTION_CAP = 0.75, 0.85
MFU_FFN_CAP, MFU_CONV_CAP = 0.60, 0.55
SM_OCCUPANCY_HEADROOM = 1.1
