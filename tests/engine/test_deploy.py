"""TFLite and ONNX exports, each checked in its own runtime: one tiny table model (numbers with
NaN, categories) and one tiny text model (the default: words beside characters, sub-linear
TF-IDF), trained for real once per module and exported to every format; a real disagreement (a
wrong preprocessing spec) must stop an export. preprocess.py against each text layer, bit for
bit; the CNN and recurrent text networks converted, and TFLite refused for the recurrent one.
Ensembles split member by member (steps shared when equal), a text ensemble of three networks
with different preprocessing converted and verified in both runtimes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.records import ModelCard
from studio_data import credit_frame, review_texts, run_cli

TINY = ("--max-trials", "1", "--max-epochs", "2", "--seed", "1")
ALL = "savedmodel,tflite,onnx"


@pytest.fixture(scope="module")
def table_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deploy-table")
    credit_frame().to_csv(root / "credit.csv", index=False)
    r = run_cli("run", "credit.csv", "--template", "credit-scoring", *TINY, "--project", "proj",
                cwd=root)
    assert r.code == 0, r.stderr
    return root / "proj"


@pytest.fixture(scope="module")
def text_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deploy-text")
    texts, labels = review_texts(240)
    pd.DataFrame({"review": texts, "sentiment": labels}).to_csv(root / "reviews.csv",
                                                                index=False)
    r = run_cli("run", "reviews.csv", "--template", "sentiment", "--text-column", "review",
                "--target", "sentiment", *TINY, "--project", "proj", cwd=root)
    assert r.code == 0, r.stderr
    return root / "proj"


@pytest.fixture(scope="module")
def table_export(table_project) -> tuple[Path, dict]:
    from dlstudio.engine import pipeline
    from dlstudio.engine.project import Project
    out = table_project.parent / "out"
    result = pipeline.export_project(Project.open(table_project), out, formats=ALL)
    return out, result


def _check_records(card: dict, out: Path, formats: list[str], edge_rows: int) -> dict:
    """Each artefact verified in its runtime on the test rows plus the edge rows, within the
    SavedModel's tolerance, with the same labels; its files written."""
    from dlstudio.engine.project import Project
    test_rows = min(200, Project.open(out.parent / "proj").split_sizes["test"])
    records = {a["format"]: a for a in card["artifacts"]}
    assert [a["format"] for a in card["artifacts"]] == formats
    for fmt, a in records.items():
        assert a["verified"] is True, a
        assert a["labels_equal"] is True, a          # both tasks are classifications
        assert 0 <= a["max_difference"] <= 1e-5, a
        assert a["rows"] == test_rows + edge_rows, a
        for f in a["files"]:
            assert (out / f.rstrip("/")).exists(), (fmt, f)
        assert a["note"].endswith("."), a
    assert records["savedmodel"]["runtime"].startswith("tensorflow 2.")
    return records


def test_a_table_model_exports_to_every_format_each_verified_in_its_runtime(table_export):
    out, result = table_export
    card = json.loads((out / "model_card.json").read_text())
    assert card["artifacts"] == result["artifacts"]
    records = _check_records(card, out, ["savedmodel", "tflite", "onnx"], edge_rows=5)
    # No text column: TFLite holds the whole model (lookup tables included), ONNX the core.
    assert records["tflite"]["files"][0] == "model.tflite"
    assert records["tflite"]["runtime"].startswith("ai-edge-litert ")
    assert records["onnx"]["runtime"].startswith("onnxruntime ")
    assert "core/preprocess.py" in records["onnx"]["files"]
    assert "5 edge rows" in records["onnx"]["note"]
    assert "| onnx |" in (out / "model_card.md").read_text()
    assert ModelCard.from_dict(card).artifacts == card["artifacts"]

    # The examples run as written, without TensorFlow, and give the same label.
    labels = []
    for script in ("serving_example_tflite.py", "core/serving_example_onnx.py"):
        p = subprocess.run([sys.executable, "-X", "importtime", script], cwd=out,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        imported = {line.split("|")[-1].strip().split(".")[0]
                    for line in p.stderr.splitlines() if "|" in line}
        assert "numpy" in imported and "tensorflow" not in imported
        labels.append(re.findall(r"'(bad|good)'", p.stdout))
    assert labels[0] == labels[1] and len(labels[0]) == 1, labels


def test_a_text_model_exports_a_core_with_numpy_preprocessing_for_each_runtime(text_project):
    root = text_project.parent
    from dlstudio.engine import pipeline
    from dlstudio.engine.project import Project
    result = pipeline.export_project(Project.open(text_project), root / "out", formats=ALL)
    out = root / "out"
    records = _check_records(result, out, ["savedmodel", "tflite", "onnx"], edge_rows=2)
    # TextVectorization has no built-in TFLite operations: TFLite is a core too.
    assert not (out / "model.tflite").exists()
    assert records["tflite"]["files"][0] == "core/core.tflite"
    assert records["onnx"]["files"][0] == "core/core.onnx"
    spec = json.loads((out / "core" / "preprocessing.json").read_text())
    # The default text model (words beside characters, sub-linear TF-IDF): two text steps
    # giving counts; the weighting, the L2 norm and the concatenation stay in the core.
    words, chars = spec["steps"]
    assert (words["name"], chars["name"]) == ("review_ngrams", "review_char_ngrams")
    assert all(s["kind"] == "text" and s["column"] == "review" and s["mode"] == "count"
               and s["lowercase"] is True for s in (words, chars))
    assert words["split"] == "whitespace" and words["ngrams"] == [1, 2] and words["strip_regex"]
    assert chars["split"] == "character" and chars["ngrams"] == [2, 3, 4, 5]
    assert chars["strip_regex"] is None and len(chars["vocabulary"]) > 100
    # preprocess.py needs nothing but NumPy.
    source = (out / "core" / "preprocess.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "json", "re", "pathlib", "typing", "numpy"}, imports


def _spec_edits():
    def shifted_means(spec):     # as a careless hand edit, or a wrong reading of the layer
        step = next(s for s in spec["steps"] if s["kind"] == "numeric")
        step["mean"] = [m + 2 * sd for m, sd in zip(step["mean"], step["std"], strict=True)]

    def swapped_categories(spec):
        step = next(s for s in spec["steps"] if s["kind"] == "lookup")
        v = step["vocabulary"]
        v[1], v[2], v[3] = v[3], v[1], v[2]

    return [shifted_means, swapped_categories]


def test_an_artefact_whose_runtime_disagrees_is_refused(table_export, tmp_path):
    """The exported ONNX bundle, checked again against the SavedModel the way the export checks
    it, passes; with a wrong preprocessing spec it really disagrees, and is refused."""
    from dlstudio.engine import deploy
    from dlstudio.engine.features import to_arrays
    from dlstudio.engine.prepare import PreparedRun
    from dlstudio.engine.project import Project
    from dlstudio.engine.tf import tf

    out, _ = table_export
    run = PreparedRun.load(Project.open(out.parent / "proj"))
    sample = deploy.with_edge_rows(to_arrays(run.parts["test"].head(200), run.specs), run.specs)
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    expected = {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in
                                                  sample.items()}).items()}
    expected["label"] = np.array([x.decode() for x in expected["label"]])
    card = ModelCard.from_dict(json.loads((out / "model_card.json").read_text()))

    def check(bundle: Path) -> dict:
        return deploy.verify_artifact("ONNX", "onnx", bundle / "core.onnx", bundle, sample,
                                      expected, card, run.specs)

    assert check(out / "core")["max_difference"] <= 1e-5
    for edit in _spec_edits():
        bundle = tmp_path / edit.__name__
        shutil.copytree(out / "core", bundle)
        spec = json.loads((bundle / "preprocessing.json").read_text())
        edit(spec)
        (bundle / "preprocessing.json").write_text(json.dumps(spec))
        with pytest.raises(RuntimeError, match=r"ONNX file (gives outputs that differ|predicts)"):
            check(bundle)


def test_missing_packages_and_unknown_formats_get_a_plain_message(table_project):
    root = table_project.parent
    block = ("import sys; sys.modules['onnxruntime'] = None; from dlstudio.cli import main; "
             "sys.exit(main(sys.argv[1:]))")
    p = subprocess.run([sys.executable, "-c", block, "export", "proj", "x", "--format", "onnx"],
                       cwd=root, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "onnxruntime" in p.stderr and 'pip install "dlstudio[deploy]"' in p.stderr
    assert "Traceback" not in p.stderr
    r = run_cli("export", "proj", "x", "--format", "onnx,coreml", cwd=root)
    assert r.code == 2 and "'coreml'" in r.stderr and "Traceback" not in r.stderr
    assert not (root / "x").exists()


def test_an_old_model_card_without_artifacts_still_loads(table_project):
    card = {"name": "m", "created": "", "template": {}, "task": "binary", "target": "t",
            "classes": ["a", "b"], "positive_class": "b", "threshold": 0.5,
            "threshold_rule": None, "inputs": [], "outputs": {}, "metrics": {},
            "hyperparameters": {}, "data": {}, "versions": {}}
    assert ModelCard.from_dict(card).artifacts == []


def test_edge_rows_cover_missing_infinite_empty_and_unseen_values():
    from dlstudio.engine.deploy import EDGE_TEXT, UNSEEN_CATEGORY, with_edge_rows
    from dlstudio.engine.features import FeatureSpec
    from dlstudio.engine.schema import Role
    specs = [FeatureSpec("x", "x", Role.NUMERIC, "float32"),
             FeatureSpec("c", "c", Role.CATEGORICAL, "string"),
             FeatureSpec("t", "t", Role.TEXT, "string")]
    sample = {"x": np.array([[1.5], [2.0]], dtype=np.float32),
              "c": np.array([["a"], ["b"]], dtype=object),
              "t": np.array([["hi there"], ["yo"]], dtype=object)}
    rows = with_edge_rows(sample, specs)
    x = rows["x"][2:, 0]
    assert np.isnan(x[0]) and x[1] == np.inf and x[2] == -np.inf and (x[3:] == 1.5).all()
    assert list(rows["c"][2:, 0]) == ["a", "a", "a", "", UNSEEN_CATEGORY]
    assert list(rows["t"][2:, 0]) == ["hi there"] * 3 + ["", EDGE_TEXT]


def test_the_split_follows_the_graph_not_layer_names(table_project):
    """The model's layers called again on new inputs (as an ensemble built from several
    searched networks would call them) split at the calls in that graph; a model that holds a
    whole model as one layer is refused in a sentence."""
    from dlstudio.engine import deploy
    from dlstudio.engine.pipeline import load_best_model
    from dlstudio.engine.project import Project
    from dlstudio.engine.tf import keras

    model = load_best_model(Project.open(table_project))
    inputs = {t.name: keras.Input(shape=(1,), dtype=t.dtype, name=f"{t.name}_again")
              for t in model.inputs}
    made: dict[int, object] = {}

    def again(t):        # the same layers, called once more on `inputs`
        if id(t) not in made:
            op, index = t._keras_history.operation, t._keras_history.node_index
            if isinstance(op, keras.layers.InputLayer):
                made[id(t)] = inputs[op.name]
            else:
                args = [again(u) for u in op._inbound_nodes[index].input_tensors]
                made[id(t)] = op(args if len(args) > 1 else args[0])
        return made[id(t)]

    flat = keras.Model(inputs, again(model.outputs[0]))
    core, steps = deploy.split_model(flat)
    assert [s["kind"] for s in steps] == ["numeric", "lookup"]
    assert steps[0]["columns"] == ["Income_again", "Age_again"]
    assert steps[1]["column"] == "Home_again"
    assert len(core.inputs) == 2

    # A model that holds the network whole splits through it (as an ensemble does), but not
    # one that also reads a raw column beside it.
    _, held = deploy.split_model(keras.Model(inputs, model(inputs)))
    assert [(s["name"], s["members"]) for s in held] == [(s["name"], [1]) for s in steps]
    assert held[0]["columns"] == ["Income_again", "Age_again"]     # the columns fed to it
    beside = keras.layers.Concatenate()([model(inputs), inputs["Income"]])
    with pytest.raises(deploy.SplitError, match="raw columns outside the networks it holds"):
        deploy.split_model(keras.Model(inputs, beside))


TRICKY_TEXTS = [
    "Great movie!!! Loved it.", "great MOVIE, loved it", "", "   ", "a",
    "Café CAFÉ cafe\u0301 naïve ÀÉÎÕÜ ß İstanbul", "emoji 😀👍🏽 👨‍👩‍👧 ok 🇫🇷",
    "tabs\tand\nnew lines\r\nand  double  spaces ", "don't stop-believing... (really?) [x] {y}",
    "nbsp\u00a0here ideographic\u3000space \x0bvt \x1csep", "日本語のテキスト 中文 한국어",
    "zzqx UNSEEN-words, Ünïcödé!!", "loved loved loved it it", "\u200bzero\u200bwidth",
]


def _text_layers():
    """One TextVectorization per configuration the hypermodel builds, adapted (or given a
    vocabulary and idf weights, as the hypermodel gives them) on a few tricky texts."""
    from dlstudio.engine.tf import keras
    fit = TRICKY_TEXTS[:7] + TRICKY_TEXTS[10:12]
    tv = keras.layers.TextVectorization

    def adapted(**kwargs):
        layer = tv(**kwargs)
        layer.adapt(fit)
        return layer

    words = [t for t in adapted(ngrams=2).get_vocabulary() if t not in ("", "[UNK]")]
    return {
        "words_multi_hot": adapted(ngrams=2, output_mode="multi_hot"),
        "words_count": adapted(ngrams=2, output_mode="count"),
        "words_tf_idf_adapted": adapted(ngrams=2, output_mode="tf_idf"),
        "words_tf_idf_given": tv(ngrams=2, output_mode="tf_idf", vocabulary=words,
                                 idf_weights=np.linspace(0.5, 2.5, len(words))),
        "chars_count": adapted(standardize="lower", split="character", ngrams=(2, 3, 4, 5),
                               output_mode="count", max_tokens=3000),
        "chars_multi_hot": adapted(standardize="lower", split="character",
                                   ngrams=(2, 3, 4, 5), output_mode="multi_hot"),
        "chars_tf_idf": adapted(standardize="lower", split="character", ngrams=(2, 3, 4, 5),
                                output_mode="tf_idf"),
        "tokens": adapted(output_mode="int", output_sequence_length=6),
    }


def test_preprocess_py_reproduces_each_text_layer_bit_exactly():
    """preprocess.py, fed the steps split_model writes, gives exactly the layer's output on
    texts with accents (composed and combining), emoji sequences, punctuation, odd whitespace
    and scripts without spaces; a wrong reading of a layer would not be equal."""
    from dlstudio.engine import deploy
    from dlstudio.engine.tf import keras
    from dlstudio.resources.deploy import preprocess

    texts = np.array(TRICKY_TEXTS, dtype=object).reshape(-1, 1)
    for name, layer in _text_layers().items():
        x = keras.Input(shape=(1,), dtype="string", name="t")
        model = keras.Model(x, keras.layers.Reshape((-1,))(layer(x)))
        _, steps = deploy.split_model(model)
        assert len(steps) == 1 and steps[0]["kind"] == "text", name
        spec = json.loads(json.dumps({"inputs": [{"input": "t"}], "steps": steps}))
        got = preprocess.preprocess({"t": list(texts[:, 0])}, spec)[steps[0]["name"]]
        want = np.asarray(layer(texts))
        # In the dtype the core declares for that input (counts are whole numbers).
        assert got.dtype == model.layers[-1].input.dtype, (name, got.dtype)
        assert np.array_equal(got.reshape(want.shape), want.astype(got.dtype)), name
        if layer.get_config()["output_mode"] != "int":
            assert want.sum() > 0 and want[:, 1:].any(axis=1).sum() >= 6, name


@pytest.fixture(scope="module")
def sequence_models():
    """The hypermodel's CNN and recurrent (GRU) text networks, built untrained (random weights
    tell a wrong conversion apart as well as trained ones) for a 'review' column."""
    from dlstudio.engine.features import FeatureSpec
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats
    from dlstudio.engine.schema import Role
    from dlstudio.engine.templates import TaskType, get_template
    from dlstudio.engine.tf import keras, kt
    texts, labels = review_texts(60, seed=3)
    stats = TrainingStats.from_training(
        pd.DataFrame({"review": texts}), [FeatureSpec("review", "review", Role.TEXT, "string")],
        np.array([lab == "positive" for lab in labels], dtype=int), TaskType.BINARY, 2)
    hypermodel = StudioHyperModel(stats, get_template("sentiment"), seed=0,
                                  space={"text_architectures": ["cnn", "rnn"]})
    models = {}
    for name, values in (("cnn", {"text_model": "cnn"}),
                         ("gru", {"text_model": "rnn", "rnn_cell": "gru"})):
        keras.utils.set_random_seed(0)
        hp = kt.HyperParameters()
        hp.values.update(values)
        models[name] = hypermodel.build(hp)
    return models, texts


def _core_outputs(model, texts, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """(the Keras model's probability, the converted core's run in its runtime on
    preprocess.py's inputs) for `texts`."""
    from dlstudio.engine import deploy
    from dlstudio.engine.templates import TaskType
    from dlstudio.engine.tf import tf
    from dlstudio.resources.deploy import preprocess
    raw = np.array(texts, dtype=object).reshape(-1, 1)
    core, steps = deploy.split_model(model)
    function, specs = deploy.core_function(core, steps, TaskType.BINARY)
    spec = json.loads(json.dumps({"inputs": [{"input": "review"}], "steps": steps}))
    feeds = preprocess.preprocess({"review": list(raw[:, 0])}, spec)
    if fmt == "onnx":
        import onnxruntime
        session = onnxruntime.InferenceSession(deploy.onnx_bytes_from_function(function, specs),
                                               providers=["CPUExecutionProvider"])
        got = session.run(None, feeds)[0]
    else:
        from ai_edge_litert.interpreter import Interpreter
        runner = Interpreter(model_content=deploy.tflite_bytes_from_function(
            function, specs, core)).get_signature_runner("serving_default")
        got = runner(**feeds)["probabilities"]
    return np.asarray(model({"review": tf.constant(raw)}))[:, 0], got[:, 1]


def test_the_sequence_text_networks_split_and_convert(sequence_models):
    """The CNN in both runtimes and the masked recurrent net in onnxruntime give the Keras
    model's outputs on texts shorter and longer than the sequence length, empty and unseen."""
    from dlstudio.engine.deploy import EDGE_TEXT
    models, texts = sequence_models
    rows = [*texts[:6], "", EDGE_TEXT, " ".join(texts[:40])]
    for name, fmt in (("cnn", "onnx"), ("cnn", "tflite"), ("gru", "onnx")):
        want, got = _core_outputs(models[name], rows, fmt)
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), (name, fmt, got, want)
        assert np.ptp(want) > 0, name           # the rows really differ


def test_a_recurrent_text_network_is_refused_for_tflite_in_a_sentence(sequence_models,
                                                                     text_project):
    """TFLite's built-in operations cannot hold the recurrent net's loop: the export says so
    before writing anything (and the converter really fails on it)."""
    from dlstudio.engine import deploy, pipeline
    from dlstudio.engine.errors import ConfigError
    from dlstudio.engine.project import Project
    models, texts = sequence_models
    out = text_project.parent / "refused"
    with pytest.raises(ConfigError, match=r"^TensorFlow Lite cannot hold this model: its "
                                          r"recurrent text network .*--format savedmodel,onnx"):
        pipeline.export_project(Project.open(text_project), out, model=models["gru"],
                                formats="savedmodel,tflite")
    assert not out.exists()
    assert deploy.refusal(models["gru"], ["savedmodel", "onnx"]) is None
    assert deploy.refusal(models["cnn"], ["savedmodel", "tflite", "onnx"]) is None
    # Why: the conversion itself fails (if a TensorFlow release makes it pass, the refusal can go).
    with pytest.raises(Exception, match="tensor list ops"):
        _core_outputs(models["gru"], texts[:2], "tflite")


def test_an_ensemble_splits_member_by_member_and_shares_identical_steps():
    """An ensemble holds its members whole: each member is split on its own, a step several
    members share is written once (naming them), the others per member; the core holds every
    member and the average, and on preprocess.py's inputs gives the ensemble's outputs. A
    recurrent member is refused for TFLite in a sentence naming it."""
    from dlstudio.engine import deploy, ensemble
    from dlstudio.engine.hypermodel import NumericEncoder
    from dlstudio.engine.tf import keras
    from dlstudio.resources.deploy import preprocess

    def member(units: int, vocabulary: list[str], recurrent: bool = False):
        x = keras.Input(shape=(1,), name="x")
        c = keras.Input(shape=(1,), dtype="string", name="c")
        numbers = NumericEncoder([0.0], [1.0], [2.0], name="numeric")(x)
        looked = keras.layers.StringLookup(vocabulary=vocabulary, output_mode="one_hot",
                                           name="c_lookup")(c)
        hidden = keras.layers.Concatenate()([numbers, looked])
        if recurrent:
            hidden = keras.layers.GRU(2)(keras.layers.Reshape((-1, 1))(hidden))
        hidden = keras.layers.Dense(units, activation="tanh")(hidden)
        return keras.Model({"x": x, "c": c}, keras.layers.Dense(1, activation="sigmoid")(hidden))

    keras.utils.set_random_seed(0)
    three = ensemble.build([member(3, ["a", "b"]), member(4, ["a", "b"]),
                            member(5, ["b", "a", "z"])])
    assert deploy.refusal(three, ["savedmodel", "tflite", "onnx"]) is None
    core, steps = deploy.split_model(three)
    assert [(s["name"], s["members"], s.get("vocabulary")) for s in steps] == [
        ("numeric", [1, 2, 3], None),
        ("members_1_2_c_lookup", [1, 2], ["[UNK]", "a", "b"]),
        ("member_3_c_lookup", [3], ["[UNK]", "b", "a", "z"])]
    assert [t.name for t in core.inputs] == [s["name"] for s in steps]
    assert {"member_1", "member_2", "member_3", "average"} <= {x.name for x in core.layers}
    rows = {"x": np.array([[0.5], [np.nan], [-2.0]], dtype="float32"),
            "c": np.array([["a"], ["z"], [""]], dtype=object)}
    spec = json.loads(json.dumps({"inputs": [{"input": "x"}, {"input": "c"}], "steps": steps}))
    feeds = preprocess.preprocess(rows, spec)
    got = np.asarray(core([feeds[s["name"]] for s in steps]))
    want = np.asarray(three(rows))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.ptp(want) > 0

    # A member that reads a raw column past its preprocessing cannot be split.
    x = keras.Input(shape=(1,), name="x")
    raw = keras.Model({"x": x}, keras.layers.Dense(1)(x))
    with pytest.raises(deploy.SplitError, match="without going through its preprocessing"):
        deploy.split_model(ensemble.build([member(3, ["a"]), raw]))

    mixed = ensemble.build([member(3, ["a"]), member(3, ["a"], recurrent=True)])
    assert deploy.refusal(mixed, ["savedmodel", "onnx"]) is None
    assert re.match(r"TensorFlow Lite cannot hold this model: the recurrent text network of "
                    r"this ensemble of 2 networks \(member_2: GRU or LSTM",
                    deploy.refusal(mixed, ["savedmodel", "tflite"]))


def test_a_text_ensemble_exports_one_core_of_its_members_verified_in_each_runtime(
        text_project, sequence_models, tmp_path):
    """The trained text model twice (the same preprocessing: its steps written once) and the
    CNN (its own vocabulary, tokens instead of counts) averaged: the TFLite and ONNX cores,
    each run in a fresh process in its runtime through preprocess.py on the test and edge
    rows, match the ensemble (the export's own check, on its in-memory outputs)."""
    from dlstudio.engine import deploy, ensemble, pipeline
    from dlstudio.engine import export as ex
    from dlstudio.engine.features import to_arrays
    from dlstudio.engine.prepare import PreparedRun
    from dlstudio.engine.project import Project
    from dlstudio.engine.tf import tf

    project = Project.open(text_project)
    models, _ = sequence_models
    model = ensemble.build([pipeline.load_best_model(project), pipeline.load_best_model(project),
                            models["cnn"]])
    run = PreparedRun.load(project)
    card = pipeline.model_card(run, project.read_evaluation())
    sample = deploy.with_edge_rows(to_arrays(run.parts["test"].head(200), run.specs), run.specs)
    serve = ex.serving_outputs(model, card.task, card.classes, card.threshold)
    expected = {k: v.numpy() for k, v in serve({k: tf.constant(v)
                                                for k, v in sample.items()}).items()}
    expected["label"] = np.array([x.decode() for x in expected["label"]])
    assert np.ptp(expected["probabilities"]) > 0

    records = deploy.artifact_writer(model, run.specs, card, ALL.split(","))(
        tmp_path, sample, expected)
    assert [r["format"] for r in records] == ["tflite", "onnx"]
    for r in records:
        assert r["verified"] and r["labels_equal"] and r["max_difference"] <= 1e-5, r
        assert r["rows"] == len(sample["review"]) and r["files"][0].startswith("core/core.")
        assert r["note"].startswith("The 3 networks of the ensemble, each after its "
                                    "preprocessing layers, and their average"), r["note"]
    spec = json.loads((tmp_path / "core" / "preprocessing.json").read_text())
    assert spec["format_version"] == 1 and spec["members"] == 3
    assert [(s["name"], s["members"], s["mode"]) for s in spec["steps"]] == [
        ("members_1_2_review_ngrams", [1, 2], "count"),
        ("members_1_2_review_char_ngrams", [1, 2], "count"),
        ("member_3_review_tokens", [3], "int")]
