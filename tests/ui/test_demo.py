"""`dlstudio demo`: the real wizard driven end to end in its own process."""

from __future__ import annotations

import json

from studio_data import run_cli


def test_demo_walks_every_page_without_loading_tensorflow_in_the_gui(tmp_path):
    # The smallest search the wizard allows is enough to reach every page.
    r = run_cli("demo", "--screenshots", "shots", "--max-trials", "1", "--max-epochs", "1",
                cwd=tmp_path, timeout=600)
    assert r.code == 0, r.stderr
    report = json.loads((tmp_path / "shots" / "report.json").read_text())
    assert report["gui_imported_tensorflow"] is False
    for page in ("02-data.png", "03-task.png", "04-settings.png", "05-training.png",
                 "06-results.png", "07-export.png"):
        assert page in report["pages"]
        png = (tmp_path / "shots" / page).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert report["gui_max_stall_ms"] > 0
    assert (tmp_path / "shots" / "export" / "saved_model.pb").is_file()
    card = json.loads((tmp_path / "shots" / "export" / "model_card.json").read_text())
    assert card["template"]["name"] == "credit-scoring"
