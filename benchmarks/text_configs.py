"""Text configurations, one network each, timed per phase (issue 10).

Trains DL Studio's own network (`StudioHyperModel`, the `fit` the search uses, early stopping and
the epoch kept as in the search: by the validation loss, `templates.deciding_objective`) with
fixed hyper-parameters on the text sets of `benchmarks/quality.py`: the same
seeded 80/20 split, the 80 % split again 80/20 into training and validation rows as the studio
does. For each configuration it prints the validation and test accuracy and where the time of the
trial went:

* ``adapt`` -- learning the vocabularies and idf weights (cached by the hypermodel: paid by the
  first trial that asks for a setting, free for later ones);
* ``build`` -- building and compiling the Keras model;
* ``first_epoch`` -- the first epoch (includes tracing the train and validation steps);
* ``epoch`` -- the median of the later epochs;
* ``fit`` -- the whole of `fit`: the epochs and, for a bag, vectorising each split once.

For a before/after comparison in one session, run it once with ``PYTHONPATH=<other checkout>/src``.

Run from the repository root::

    python benchmarks/text_configs.py                      # every configuration, both sets
    python benchmarks/text_configs.py --only film-reviews --configs words chars_sublinear
    python benchmarks/text_configs.py --only fine-foods --configs default_nb --seed 1

Writes ``benchmarks/results/text_configs.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality import TASKS, split  # noqa: E402

# name -> hyper-parameter values (the rest: the hypermodel's defaults)
CONFIGS: dict[str, dict] = {
    "default": {},                       # the first trial of a search: the hypermodel's defaults
    "default_dropout0.3": {"dropout": 0.3},
    "default_nb": {"bag_weighting": "nb_sublinear_tf_idf"},
    "default_nb_dropout0.5": {"bag_weighting": "nb_sublinear_tf_idf", "dropout": 0.5},
    "default_dropout0.5": {"dropout": 0.5},
    "default_dropout0.5_lr3e-3": {"dropout": 0.5, "learning_rate": 3e-3},
    "default_lr3e-3": {"learning_rate": 3e-3},
    "default_lr5e-3": {"learning_rate": 5e-3},
    "words_multi_hot": {"text_model": "bag", "bag_weighting": "multi_hot",
                        "bag_char_ngrams": False},
    "words_tf_idf": {"text_model": "bag", "bag_weighting": "tf_idf", "bag_char_ngrams": False},
    "words_sublinear": {"text_model": "bag", "bag_weighting": "sublinear_tf_idf",
                        "bag_char_ngrams": False},
    "chars_tf_idf": {"text_model": "bag", "bag_weighting": "tf_idf", "bag_char_ngrams": True},
    "chars_sublinear": {"text_model": "bag", "bag_weighting": "sublinear_tf_idf",
                        "bag_char_ngrams": True},
    "chars_sublinear_lr3e-3": {"text_model": "bag", "bag_weighting": "sublinear_tf_idf",
                               "bag_char_ngrams": True, "learning_rate": 3e-3},
    "chars_sublinear_lr1e-2": {"text_model": "bag", "bag_weighting": "sublinear_tf_idf",
                               "bag_char_ngrams": True, "learning_rate": 1e-2},
    "words_sublinear_lr1e-2": {"text_model": "bag", "bag_weighting": "sublinear_tf_idf",
                               "bag_char_ngrams": False, "learning_rate": 1e-2},
    "cnn": {"text_model": "cnn"},
    "rnn_gru": {"text_model": "rnn", "rnn_cell": "gru"},
    "rnn_lstm": {"text_model": "rnn", "rnn_cell": "lstm"},
}


class EpochTimer:
    def __init__(self):
        from dlstudio.engine.tf import keras

        class _Cb(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._start)

        self.seconds: list[float] = []
        self.callback = _Cb()


def run_config(hypermodel, hp_values: dict, rows, val_rows, test_arrays, y_test,
               max_epochs: int, objective: str) -> dict:
    from dlstudio.engine.hypermodel import predict
    from dlstudio.engine.templates import TaskType, deciding_objective
    from dlstudio.engine.tf import keras, kt

    keras.utils.set_random_seed(0)
    hp = kt.HyperParameters()
    hp.values.update(hp_values)
    start = time.perf_counter()
    vocab_before = len(hypermodel._text_vocab) + len(hypermodel._text_idf)
    model = hypermodel.build(hp)
    built = time.perf_counter() - start
    adapted = len(hypermodel._text_vocab) + len(hypermodel._text_idf) > vocab_before
    timer = EpochTimer()
    # As in the search: the epoch kept is the best by `deciding_objective` (the validation loss
    # where the objective is accuracy), reported with its accuracy.
    monitor, mode = deciding_objective(objective, "max", TaskType.MULTICLASS)
    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=5,
                                         restore_best_weights=True)
    fit_start = time.perf_counter()
    history = hypermodel.fit(hp, model, rows, validation_data=val_rows, epochs=max_epochs,
                             callbacks=[timer.callback, stop], verbose=0)
    fitted = time.perf_counter() - fit_start
    out = predict(model, test_arrays)
    labels = out.argmax(axis=1)
    val = history.history[objective]
    kept = int(np.argmin(history.history[monitor]) if mode == "min"
               else np.argmax(history.history[monitor]))
    return {
        "hp": {k: v for k, v in hp.values.items()},
        "val_accuracy": float(val[kept]),
        "kept_epoch": kept + 1,
        "test_accuracy": float((labels == y_test).mean()),
        "epochs": len(val),
        "seconds": round(built + sum(timer.seconds), 2),
        "build_seconds": round(built, 2),
        "fit_seconds": round(fitted, 2),        # the epochs and, once per split, vectorising
        "adapted_in_build": adapted,
        "first_epoch_seconds": round(timer.seconds[0], 2),
        "epoch_seconds": round(statistics.median(timer.seconds[1:]), 2)
        if len(timer.seconds) > 1 else None,
        "params": int(model.count_params()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[n for n, t in TASKS.items() if t.kind == "text"],
                        action="append")
    parser.add_argument("--configs", nargs="*", choices=list(CONFIGS))
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0,
                        help="the split of quality.py (the networks are seeded 0)")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "text_configs.json")
    args = parser.parse_args(argv)

    from dlstudio.engine.features import FeatureSpec
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats, make_rows
    from dlstudio.engine.schema import Role
    from dlstudio.engine.templates import TaskType, get_template

    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tasks": {}}
    names = args.only or [n for n, t in TASKS.items() if t.kind == "text"]
    for name in names:
        task = TASKS[name]
        train, test = split(task, args.seed)
        fit_part, val_part = train_test_split(train, test_size=0.2, stratify=train[task.target],
                                              random_state=0)
        classes = sorted(train[task.target].astype(str).unique())
        spec = FeatureSpec(task.text_column, "text", Role.TEXT, "string")

        def arrays(df, column=task.text_column):
            return {"text": df[column].astype(str).to_numpy().reshape(-1, 1)}

        def labels(df, target=task.target, classes=classes):
            return np.array([classes.index(v) for v in df[target].astype(str)])

        stats = TrainingStats.from_training(fit_part.reset_index(drop=True), [spec],
                                            labels(fit_part), TaskType.MULTICLASS, len(classes))
        hypermodel = StudioHyperModel(stats, get_template(task.template), seed=0)
        rows = make_rows(arrays(fit_part), labels(fit_part))
        val_rows = make_rows(arrays(val_part), labels(val_part))
        results["tasks"][name] = {}
        for config in args.configs or list(CONFIGS):
            r = run_config(hypermodel, CONFIGS[config], rows, val_rows, arrays(test),
                           labels(test), args.max_epochs, "val_accuracy")
            results["tasks"][name][config] = r
            print(f"{name:13s} {config:24s} val {r['val_accuracy']:.4f} test "
                  f"{r['test_accuracy']:.4f} epochs {r['kept_epoch']:2d}/{r['epochs']:2d} "
                  f"total {r['seconds']:6.1f}s "
                  f"build {r['build_seconds']:5.1f}s fit {r['fit_seconds']:6.1f}s "
                  f"first {r['first_epoch_seconds']:5.1f}s "
                  f"epoch {r['epoch_seconds']}s", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
