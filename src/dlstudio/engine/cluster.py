"""Settings of a distributed search, free of TensorFlow and gRPC (the CLI and the GUI read them).

The search itself is `engine/distributed.py`: KerasTuner's chief oracle served over gRPC and
workers that ask it for trials. This module holds what the user chooses (how many workers, where
the chief listens, how long silence is tolerated) and checks it with plain messages.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, fields
from typing import Any

from dlstudio.engine.errors import ConfigError

LOCAL_HOST = "127.0.0.1"
DISTRIBUTED_TUNERS = ("bayesian", "random")     # Hyperband's brackets make workers wait (IDLE)


@dataclass(frozen=True)
class ClusterSettings:
    """How a distributed search runs.

    `workers`: worker processes on this machine (the chief trains nothing itself).
    `host`/`port`: where the chief listens; 127.0.0.1 keeps it to this machine, 0.0.0.0 lets
    other machines join; port 0 takes a free one (reported by the `chief_ready` event).
    `worker_timeout`: a worker silent this long loses its trial, which goes back in the queue.
    `chief_timeout`: a worker whose chief is silent this long ends.
    `heartbeat`: seconds between a worker's "still here" calls."""

    workers: int = 1
    host: str = LOCAL_HOST
    port: int = 0
    worker_timeout: float = 60.0
    chief_timeout: float = 15.0
    heartbeat: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) \
                or not 1 <= self.workers <= 64:
            raise ConfigError(f"The number of workers must be a whole number from 1 to 64; "
                              f"got {self.workers!r}.")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"The port must be a number from 0 to 65535 (0: any free port); "
                              f"got {self.port!r}.")
        for name in ("worker_timeout", "chief_timeout", "heartbeat"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"The {name.replace('_', ' ')} must be a positive number of "
                                  f"seconds; got {value!r}.")
        if self.heartbeat * 2 > min(self.worker_timeout, self.chief_timeout):
            raise ConfigError(f"The heartbeat ({self.heartbeat:g} s) must be at most half of "
                              f"the timeouts ({self.worker_timeout:g} s for workers, "
                              f"{self.chief_timeout:g} s for the chief).")

    @property
    def distributed(self) -> bool:
        return self.workers > 1 or self.host != LOCAL_HOST or self.port != 0

    def check_port(self) -> None:
        """Refuse a busy port before any work starts (the chief binds it exclusively later).
        A plain socket without SO_REUSEPORT cannot share a port with a running gRPC server."""
        if not self.port:
            return
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as s:
            try:
                s.bind((self.host, self.port))
            except OSError as exc:
                raise ConfigError(f"The port {self.port} on {self.host} cannot be used "
                                  f"({exc.strerror or exc}): another search or program may use "
                                  f"it. Choose another port, or 0 for any free one.") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ClusterSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})


def parse_address(text: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port), with a plain message when it is not one."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"The chief's address must look like HOST:PORT (for example "
                          f"192.168.1.20:8765); got '{text}'.")
    return host.strip("[]"), int(port)


def check_worker_id(worker_id: str) -> str:
    """A worker's name is its KerasTuner tuner id; KerasTuner treats any id containing
    'chief' as the chief itself, so such a name is refused."""
    if not worker_id or "chief" in worker_id or any(c.isspace() for c in worker_id):
        raise ConfigError(f"A worker's name must be non-empty, without spaces and without the "
                          f"word 'chief' (KerasTuner reserves it); got '{worker_id}'.")
    return worker_id


def default_worker_id() -> str:
    """A name for a worker started by hand on another machine: host name and process id."""
    host = socket.gethostname().split(".")[0] or "worker"
    return check_worker_id(f"{host}-{os.getpid()}".replace("chief", "chf"))


def local_worker_ids(n: int) -> list[str]:
    return [f"worker{i}" for i in range(1, n + 1)]


def check_tuner(tuner: str) -> None:
    if tuner not in DISTRIBUTED_TUNERS:
        raise ConfigError(f"Several workers work with the {' and '.join(DISTRIBUTED_TUNERS)} "
                          f"search methods; '{tuner}' hands out trials in rounds that would "
                          f"keep workers waiting. Choose another method or one worker.")
