"""DL Studio's log of internal errors has one writer, shared by the engine, the CLI and the GUI."""

from __future__ import annotations

from dlstudio.paths import append_to_log


def test_entries_are_dated_and_appended(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_HOME", str(tmp_path / "home"))
    log = tmp_path / "project" / "logs" / "dlstudio.log"
    assert append_to_log("Traceback: first", log) == log
    assert append_to_log("Traceback: second\n", log) == log
    text = log.read_text(encoding="utf-8")
    assert text.count("--- ") == 2
    assert text.index("first") < text.index("second")
    assert not (tmp_path / "home").exists()          # the user log was not needed


def test_an_unwritable_project_log_falls_back_to_the_user_log(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_HOME", str(tmp_path / "home"))
    blocker = tmp_path / "project"
    blocker.write_text("a file where the project's logs folder should be")
    where = append_to_log("Traceback: kept", blocker / "logs" / "dlstudio.log")
    assert where == tmp_path / "home" / "logs" / "dlstudio.log"
    assert "Traceback: kept" in where.read_text(encoding="utf-8")
