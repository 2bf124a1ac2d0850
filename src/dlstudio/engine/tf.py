"""The one place the engine imports TensorFlow, Keras and KerasTuner (quietly).

Modules that need them do `from dlstudio.engine.tf import keras, kt, tf`; everything else in the
engine stays importable without TensorFlow, which keeps the GUI process light.
"""

from __future__ import annotations

import contextlib
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")      # no C++ info/warning chatter
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import keras_tuner as kt
import tensorflow as tf

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)

# By default TensorFlow takes nearly all GPU memory on first use. The worker, the fresh process
# that verifies an export and the GUI's probe can all hold the GPU at once, so each takes only
# what it needs.
# (A RuntimeError means the GPU was initialised already in this process: keep its setting.)
for _gpu in tf.config.list_physical_devices("GPU"):
    with contextlib.suppress(RuntimeError):
        tf.config.experimental.set_memory_growth(_gpu, True)

__all__ = ["keras", "kt", "tf"]


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow can use (empty on a CPU-only machine)."""
    names = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(device)
            names.append(details.get("device_name", device.name))
        except Exception:   # details are optional; the device is what matters
            names.append(device.name)
    return names


def kt_distribute():
    """KerasTuner's gRPC pieces for a distributed search: its protocol (`protos`, with the
    service stubs) and its stock `oracle_chief.OracleServicer`. KerasTuner exports neither
    publicly; `engine/distributed.py` is their one user. Imported on demand (grpc, protobuf)."""
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief
    return protos, oracle_chief
