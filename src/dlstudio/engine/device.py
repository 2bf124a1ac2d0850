"""Where the networks train: the CPU, or a GPU that TensorFlow sees, and what suits each.

On a GPU the search trains in larger batches (`GPU_BATCH_SCALE` times the CPU's, see
`hypermodel.batch_size_choices`) and, for classification on GPUs with tensor cores (compute
capability 7.0 or more), in mixed precision: float16 arithmetic with float32 weights, inputs,
preprocessing and outputs (Keras's `mixed_float16` policy, with loss scaling). Regression stays
in float32: its loss is in the target's units, and the gradients of a price near 400,000 overflow
float16 in the hidden layers (measured: such a network never trains). On the CPU nothing
changes: mixed precision would be slower there. DLSTUDIO_DEVICE=cpu trains on the CPU even when
a GPU is present.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from dlstudio.engine.templates import TaskType
from dlstudio.engine.tf import gpu_names, keras, tf

GPU_BATCH_SCALE = 4
MIXED_PRECISION_MIN_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class Device:
    kind: str                  # "CPU" or "GPU"
    name: str = ""             # the GPU's name, e.g. "NVIDIA H200"
    mixed_precision: bool = False
    batch_scale: int = 1

    def describe(self) -> str:
        """For the Training and Results pages, the log and the model card."""
        if self.kind == "CPU":
            return "CPU"
        return f"GPU: {self.name}" + (" (mixed precision)" if self.mixed_precision else "")


def choose(gpu: str | None, capability: tuple[int, int], task: TaskType | None) -> Device:
    """The settings for a GPU named `gpu` (None: no GPU) of this compute capability."""
    if gpu is None:
        return Device("CPU")
    mixed = capability >= MIXED_PRECISION_MIN_CAPABILITY and task is not TaskType.REGRESSION
    return Device("GPU", gpu, mixed, GPU_BATCH_SCALE)


def detect(task: TaskType | None = None) -> Device:
    """The device this process will train on, and its settings for `task`."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus or os.environ.get("DLSTUDIO_DEVICE", "").lower() == "cpu":
        return choose(None, (0, 0), task)
    try:
        capability = tuple(tf.config.experimental.get_device_details(gpus[0])
                           .get("compute_capability") or (0, 0))
    except Exception:      # details are optional; without them, no mixed precision
        capability = (0, 0)
    return choose((gpu_names()[:1] or [gpus[0].name])[0], capability, task)


def configure(task: TaskType | None = None, device: Device | None = None) -> Device:
    """Detect the device (unless given) and set Keras's precision policy for it; returns it."""
    device = device or detect(task)
    if device.kind == "CPU" and tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):          # the GPU is in use already: keep it
            tf.config.set_visible_devices([], "GPU")     # DLSTUDIO_DEVICE=cpu
    keras.mixed_precision.set_global_policy("mixed_float16" if device.mixed_precision
                                            else "float32")
    return device
