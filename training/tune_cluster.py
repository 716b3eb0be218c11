"""A hyper-parameter search on several machines: keras-tuner's own distributed mode.

`python -m training tune ... --distributed` runs one process of the search, its role set
by keras-tuner's three environment variables (keras_tuner/src/distribute/utils.py):

- `KERASTUNER_TUNER_ID`: `chief` for the one process that runs the oracle (a gRPC
  server that hands out trials and collects their scores; it trains nothing), a unique id
  (`tuner0`, `tuner1`, ...) for each worker, which trains the trials it is given;
- `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`: where the chief listens (the chief
  binds this address, e.g. `0.0.0.0`; workers dial it, e.g. the chief's Service name).

Every process is started with the same arguments and the same `--out`, a directory all of
them share (a ReadWriteMany volume in Kubernetes): workers write each trial's checkpoint
there, and the chief, once the workers have used up `--max-trials`, reads the best one back
for the held-out test metric and writes `best_config.json`. Workers end when the oracle has
no trial left; a worker's own run prints its trials, not the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TUNER_ID, ORACLE_IP, ORACLE_PORT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP",
                                    "KERASTUNER_ORACLE_PORT")
ORACLE_ENV = (TUNER_ID, ORACLE_IP, ORACLE_PORT)


@dataclass(frozen=True)
class SearchRole:
    tuner_id: str
    oracle: str          # host:port of the chief

    @property
    def chief(self) -> bool:
        # keras-tuner's own rule (dist_utils.is_chief_oracle): "chief" in the id.
        return "chief" in self.tuner_id


def search_role(environ: Mapping[str, str], distributed: bool) -> SearchRole | None:
    """This process's role in a distributed search, None for a search of its own."""
    if not distributed:
        if environ.get(ORACLE_IP):
            # keras-tuner would quietly join a distributed search.
            raise ValueError(f"{ORACLE_IP} is set: keras-tuner would join a distributed "
                             "search; pass --distributed, or unset it for a search of its own")
        return None
    missing = [k for k in ORACLE_ENV if not environ.get(k)]
    if missing:
        raise ValueError(f"--distributed needs {', '.join(ORACLE_ENV)} (missing: "
                         f"{', '.join(missing)}): {TUNER_ID}=chief for the oracle, a unique "
                         "id such as tuner0 for each worker")
    port = environ[ORACLE_PORT]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{ORACLE_PORT} must be a TCP port number, got {port!r}")
    return SearchRole(environ[TUNER_ID], f"{environ[ORACLE_IP]}:{port}")
