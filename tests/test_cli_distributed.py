"""`dlstudio run --workers` and `dlstudio worker` refuse what cannot work, in one plain line,
before any process loads TensorFlow (the searches themselves:
tests/workers/test_distributed_processes.py)."""

from __future__ import annotations

import socket


def test_a_busy_port_is_refused_before_the_project_is_made(cli, credit_csv, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = cli("run", credit_csv, "--template", "credit-scoring", "--project", "p",
                "--workers", "2", "--port", str(port))
    assert r.code == 2, r.stderr
    assert f"port {port} on 127.0.0.1 cannot be used" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "p").exists()


def test_hyperband_cannot_share_trials_among_workers(cli, credit_csv, tmp_path):
    r = cli("run", credit_csv, "--template", "credit-scoring", "--project", "p",
            "--workers", "2", "--tuner", "hyperband")
    assert r.code == 2 and "bayesian and random" in r.stderr and not (tmp_path / "p").exists()


def test_a_worker_needs_an_address_and_a_project(cli, tmp_path):
    r = cli("worker", "--chief", "nowhere", tmp_path)
    assert r.code == 2 and "HOST:PORT" in r.stderr
    r = cli("worker", "--chief", "127.0.0.1:9", tmp_path / "missing")
    assert r.code == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_resume_runs_as_many_workers_as_the_project_had_unless_told(cli, credit_csv, tmp_path):
    """project.json keeps the number of workers; `resume` uses it unless --workers is given.
    Probed before any process loads TensorFlow, with projects whose search method cannot
    share trials: refused for the 2 workers the project had, and for --workers 2 given to a
    project that had 1 (which alone would resume in one process)."""
    from dlstudio.engine.config import RunConfig
    from dlstudio.engine.project import Project

    for name, workers in (("two", 2), ("one", 1)):
        Project.create(tmp_path / name, RunConfig(
            data=str(credit_csv), template="credit-scoring", project=str(tmp_path / name),
            tuner="hyperband", workers=workers))
        assert Project.open(tmp_path / name).config.workers == workers
    r = cli("resume", "two")
    assert r.code == 2 and "bayesian and random" in r.stderr, r.stderr
    r = cli("resume", "one", "--workers", "2")
    assert r.code == 2 and "bayesian and random" in r.stderr, r.stderr
