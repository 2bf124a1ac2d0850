"""The engine: data, templates, search, evaluation and export.

Importing this package is cheap: modules that need TensorFlow import it themselves, so the GUI can
use `engine.data`, `engine.schema`, `engine.templates` and `engine.events` without loading it.
The engine never imports Qt.
"""
