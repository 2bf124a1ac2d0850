"""DL Studio: desktop AutoML with KerasTuner and TensorFlow."""

__version__ = "0.1.0"
