"""Step 7: export the best model (a SavedModel, and TFLite or ONNX if asked), show how to call
it, score a new file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
)

from dlstudio.engine import events as ev
from dlstudio.engine.errors import UserError
from dlstudio.engine.formats import ONNX, SAVEDMODEL, TFLITE, TITLES, missing_packages_message
from dlstudio.engine.project import export_folder_problem
from dlstudio.ui import dialogs
from dlstudio.ui.data_page import FILE_FILTER
from dlstudio.ui.page import CopyableText, Page, heading, hint
from dlstudio.workers.bridge import WorkerBridge
from dlstudio.workers.process import WorkerTask


def format_artifacts(artifacts: list[dict[str, Any]]) -> str:
    """What the export wrote, per format, and how each file set was checked."""
    lines = []
    for a in artifacts:
        lines.append(f"{TITLES.get(a.get('format'), a.get('format'))}: "
                     f"{', '.join(a.get('files') or [])}")
        lines.append(f"  {a.get('note', '')}")
        lines.append("")
    return "\n".join(lines).strip()


def format_signature(signature: dict[str, Any]) -> str:
    """The serving signature as a few readable lines."""
    lines = ["Inputs (one value per row, raw as in your file):"]
    for name, spec in (signature.get("inputs") or {}).items():
        lines.append(f"  {name:<24} {spec.get('dtype', '?'):<8} shape {spec.get('shape')}")
    lines.append("")
    lines.append("Outputs:")
    for name, spec in (signature.get("outputs") or {}).items():
        lines.append(f"  {name:<24} {spec.get('dtype', '?'):<8} shape {spec.get('shape')}")
    return "\n".join(lines)


def with_export_folder(snippet: str, export_dir: str | None) -> str:
    """The engine's snippet loads "PATH/TO/EXPORT"; once there is an export, its real folder
    (as a Python string literal)."""
    if not export_dir:
        return snippet
    return snippet.replace('"PATH/TO/EXPORT"', json.dumps(str(export_dir), ensure_ascii=False))


class ExportPage(Page):
    title = "Export"
    export_done = Signal(object)     # final event of the export task
    predict_done = Signal(object)    # final event of the predict task

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self._bridge: Any = None
        self._task: WorkerTask | None = None
        self.result: dict[str, Any] | None = None

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("Folder for the exported model")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self.choose_folder)
        self.export_button = QPushButton("Export model")
        self.export_button.setObjectName("primary")
        self.export_button.clicked.connect(self.export)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(140)
        self.progress.hide()
        self.status = QLabel("The export checks that the saved model gives the same answers as "
                             "the trained one; it takes a little while.")
        self.status.setWordWrap(True)
        self.format_boxes = {TFLITE: QCheckBox("TensorFlow Lite (phones, small devices)"),
                             ONNX: QCheckBox("ONNX (onnxruntime and other runtimes)")}
        formats_row = QHBoxLayout()
        formats_row.addWidget(QLabel("Also write:"))
        for box in self.format_boxes.values():
            formats_row.addWidget(box)
        formats_row.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Export to:"))
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        row.addWidget(self.export_button)
        row.addWidget(self.progress)

        self.signature = CopyableText("Serving signature")
        self.curl = CopyableText("Call it over HTTP (TensorFlow Serving)")
        self.python = CopyableText("Call it from Python")
        self.files = CopyableText("Files written, and how each was checked")
        self.card_label = QLabel()
        self.card_label.setWordWrap(True)
        tabs = QTabWidget()
        tabs.addTab(self.signature, "Signature")
        tabs.addTab(self.python, "Python")
        tabs.addTab(self.curl, "curl")
        tabs.addTab(self.files, "Files")
        self.tabs = tabs

        self.input_file = QLineEdit()
        self.input_file.setPlaceholderText("A CSV with the same columns as your data")
        self.output_file = QLineEdit()
        self.output_file.setPlaceholderText("Where to write the scored rows (CSV)")
        pick_in = QPushButton("Choose…")
        pick_out = QPushButton("Choose…")
        pick_in.clicked.connect(self.choose_input)
        pick_out.clicked.connect(self.choose_output)
        self.score_button = QPushButton("Score file")
        self.score_button.clicked.connect(self.predict)
        self.score_status = QLabel()
        self.score_status.setWordWrap(True)
        batch = QGroupBox("Score a new file with the exported model")
        bf = QFormLayout(batch)
        r1 = QHBoxLayout()
        r1.addWidget(self.input_file, 1)
        r1.addWidget(pick_in)
        r2 = QHBoxLayout()
        r2.addWidget(self.output_file, 1)
        r2.addWidget(pick_out)
        bf.addRow("Rows to score:", r1)
        bf.addRow("Save results as:", r2)
        r3 = QHBoxLayout()
        r3.addWidget(self.score_button)
        r3.addWidget(self.score_status, 1)
        bf.addRow(r3)

        layout = QVBoxLayout(self)
        layout.addWidget(heading("Use your model"))
        layout.addWidget(hint("The exported model is a TensorFlow SavedModel: it takes the raw "
                              "columns (or raw text) and returns predictions, so it can be "
                              "served with TensorFlow Serving or loaded from Python. "
                              "TensorFlow Lite and ONNX files are checked the same way, each "
                              "in its own runtime."))
        layout.addLayout(row)
        layout.addLayout(formats_row)
        layout.addWidget(self.status)
        layout.addWidget(self.card_label)
        layout.addWidget(tabs, 1)
        layout.addWidget(batch)
        state.project_changed.connect(self._project_changed)
        self._update_buttons()

    # -- Page ---------------------------------------------------------------------------------
    def on_enter(self) -> None:
        p = self.state.project
        if p is not None and not self.folder.text().strip():
            self.folder.setText(str(p.default_export_dir))
        if p is not None and self.result is None:
            self._show_existing_export()
        self._update_buttons()

    def busy(self) -> bool:
        return self._bridge is not None and self._bridge.is_running()

    def shutdown(self) -> None:
        if self.busy():
            self._bridge.kill()

    def _project_changed(self) -> None:
        self.result = None
        p = self.state.project
        self.folder.setText(str(p.default_export_dir) if p is not None else "")
        self._update_buttons()

    def _show_existing_export(self) -> None:
        """A reopened project that was exported before: show what is on disk."""
        p = self.state.project
        info = p.export_summary if p is not None else None
        if isinstance(info, dict) and info.get("signature"):
            self._show_result(info)

    def _update_buttons(self) -> None:
        running = self.busy()
        has_model = self.state.project is not None and self.state.project.best_model_path.exists()
        self.export_button.setEnabled(not running and has_model)
        exported = self.exported_dir() is not None
        self.score_button.setEnabled(not running and exported)
        self.progress.setVisible(running)

    def exported_dir(self) -> str | None:
        if self.result and self.result.get("export_dir"):
            return str(self.result["export_dir"])
        return None

    # -- choosing paths -----------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder for the exported model")
        if path:
            self.folder.setText(path)

    def choose_input(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Rows to score", "", FILE_FILTER)
        if path:
            self.input_file.setText(path)
            if not self.output_file.text().strip():
                p = Path(path)
                self.output_file.setText(str(p.with_name(f"{p.stem}-scored.csv")))

    def choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save scored rows", "", "CSV (*.csv)")
        if path:
            self.output_file.setText(path)

    # -- worker tasks -------------------------------------------------------------------------
    def _start(self, task: WorkerTask, payload: dict) -> bool:
        if self.busy():
            return False
        if self._bridge is None:
            self._bridge = WorkerBridge(self)
            self._bridge.finished.connect(self._finished)
        self._task = task
        self._bridge.start(task, payload)
        self._update_buttons()
        return True

    def export(self) -> None:
        p = self.state.project
        if p is None:
            dialogs.warn(self, "There is no trained model yet: run a search first.")
            return
        folder = self.folder.text().strip() or str(p.default_export_dir)
        target = Path(folder).expanduser()
        problem = export_folder_problem(target)
        if problem:
            dialogs.warn(self, problem)
            return
        formats = [SAVEDMODEL, *(f for f, box in self.format_boxes.items() if box.isChecked())]
        problem = missing_packages_message(formats)
        if problem:
            dialogs.warn(self, problem)
            return
        try:
            self.state.save_decision()     # the threshold chosen on the Results page
        except (OSError, UserError) as exc:
            dialogs.warn(self, f"The chosen threshold could not be saved in the project: {exc}")
            return
        if self._start(WorkerTask.EXPORT, {"project": str(p.root), "export_dir": str(target),
                                           "formats": formats}):
            self.status.setText("Exporting and checking the model…")

    def predict(self) -> None:
        export_dir = self.exported_dir()
        src = self.input_file.text().strip()
        out = self.output_file.text().strip()
        if export_dir is None:
            dialogs.warn(self, "Export the model first.")
            return
        if not src or not Path(src).is_file():
            dialogs.warn(self, "Choose an existing CSV file with the rows to score.")
            return
        if not out:
            out = str(Path(src).with_name(f"{Path(src).stem}-scored.csv"))
            self.output_file.setText(out)
        if self._start(WorkerTask.PREDICT, {"export_dir": export_dir, "data": src, "output": out}):
            self.score_status.setText("Scoring…")

    def _finished(self, event: ev.Event) -> None:
        task, self._task = self._task, None
        ok = isinstance(event, ev.TaskFinished)
        result = event.result if isinstance(event, ev.TaskFinished) else {}
        message = event.message if isinstance(event, ev.Failed) else ""
        if task is WorkerTask.EXPORT:
            if ok:
                self._show_result(result)
                self._record_export(result)
            else:
                self.status.setText(f"The export failed: {message}")
                self.show_failure(event)
            self._update_buttons()
            self.export_done.emit(event)
        else:
            if ok:
                self.score_status.setText(f"Scored {int(result.get('rows', 0)):,} rows; saved "
                                          f"to {result.get('output')}.")
            else:
                self.score_status.setText("Scoring failed.")
                self.show_failure(event)
            self._update_buttons()
            self.predict_done.emit(event)

    def _show_result(self, result: dict[str, Any]) -> None:
        self.result = dict(result)
        final = result.get("final_fit_rows")
        trained = (f" It is the tested model trained once more on all {final:,} rows."
                   if final else "")
        self.status.setText(f"Exported to {result.get('export_dir')}. The saved model was "
                            f"reloaded and gives the same predictions.{trained}")
        self.signature.set_text(format_signature(result.get("signature") or {}))
        self.curl.set_text(str(result.get("curl_example", "")))
        self.python.set_text(with_export_folder(str(result.get("python_example", "")),
                                                result.get("export_dir")))
        self.files.set_text(format_artifacts(result.get("artifacts") or []))
        card = result.get("model_card")
        self.card_label.setText(f"Model card: {card}" if card else "")
        self._update_buttons()

    def _record_export(self, result: dict[str, Any]) -> None:
        """The worker recorded the export in project.json; reload it so the state agrees."""
        p = self.state.project
        if p is None:
            return
        try:
            self.state.project = type(p).open(p.root)
        except UserError as exc:
            dialogs.log_to_file(p.log_path, f"could not reload the project: {exc}")
