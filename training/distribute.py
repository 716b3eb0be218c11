"""Distribution strategies for `train --distribute`.

- `mirrored`: `tf.distribute.MirroredStrategy` over every local GPU; on a
  machine without GPUs, over the logical CPU devices when there are several
  (tests split the CPU into two with `tf.config.set_logical_device_configuration`),
  else the one CPU.
- `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy`, one process per
  worker, each started with the same `TF_CONFIG` except its own `task`:

      TF_CONFIG='{"cluster": {"worker": ["trainer-0.trainer:12345",
                                         "trainer-1.trainer:12345"]},
                  "task": {"type": "worker", "index": 0}}'

  In Kubernetes an indexed Job (or a StatefulSet behind a headless Service)
  builds it from the pod's index. Every worker writes checkpoints, so give
  each its own `--out` (e.g. `runs/worker-$INDEX`); worker 0 is the chief,
  and its run directory is the one to export.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

STRATEGIES = ("mirrored", "multiworker")


def parse_tf_config(raw: str | None) -> dict[str, Any]:
    """TF_CONFIG validated: a cluster with workers, and this process's task in it."""
    if not raw:
        raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable "
                         "(cluster and task, JSON)")
    try:
        conf = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON: {exc}") from None
    cluster = conf.get("cluster") if isinstance(conf, Mapping) else None
    if not isinstance(cluster, Mapping) or not cluster.get("worker"):
        raise ValueError("TF_CONFIG.cluster.worker must list the workers' host:port addresses")
    for role, addrs in cluster.items():
        if not isinstance(addrs, list) or not all(isinstance(a, str) and ":" in a for a in addrs):
            raise ValueError(f"TF_CONFIG.cluster.{role} must be a list of host:port strings")
    task = conf.get("task")
    if not isinstance(task, Mapping) or "type" not in task or "index" not in task:
        raise ValueError("TF_CONFIG.task must give this process's type and index")
    role, index = task["type"], task["index"]
    if role not in cluster:
        raise ValueError(f"TF_CONFIG.task.type {role!r} is not a role of TF_CONFIG.cluster")
    if not isinstance(index, int) or not 0 <= index < len(cluster[role]):
        raise ValueError(f"TF_CONFIG.task.index must be 0..{len(cluster[role]) - 1}")
    return conf


def is_chief(conf: Mapping[str, Any]) -> bool:
    task = conf["task"]
    if "chief" in conf["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def make_strategy(kind: str | None, environ: Mapping[str, str] | None = None
                  ) -> tf.distribute.Strategy:
    if kind in (None, "", "none"):
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if kind == "multiworker":
        env = os.environ if environ is None else environ
        parse_tf_config(env.get("TF_CONFIG"))  # fail with a clear message, not deep in TF
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--distribute must be one of {STRATEGIES}, got {kind!r}")
