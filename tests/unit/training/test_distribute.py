from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from training.distribute import is_chief, make_strategy, parse_tf_config

CLUSTER = {"worker": ["trainer-0.trainer:12345", "trainer-1.trainer:12345"]}


def test_parses_a_valid_tf_config():
    conf = parse_tf_config(json.dumps({"cluster": CLUSTER, "task": {"type": "worker",
                                                                     "index": 1}}))
    assert conf["cluster"] == CLUSTER and not is_chief(conf)
    assert is_chief({"cluster": CLUSTER, "task": {"type": "worker", "index": 0}})
    with_chief = {"cluster": {**CLUSTER, "chief": ["c:1"]}, "task": {"type": "worker",
                                                                      "index": 0}}
    assert not is_chief(with_chief)


@pytest.mark.parametrize("raw,message", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{not json", "not valid JSON"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), "cluster.worker"),
    (json.dumps({"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker", "index": 0}}),
     "host:port"),
    (json.dumps({"cluster": CLUSTER}), "task must give"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "ps", "index": 0}}), "not a role"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}), "0..1"),
])
def test_rejects_a_broken_tf_config(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_tf_config(raw)


def test_strategy_choice():
    import tensorflow as tf

    assert make_strategy(None) is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="must be one of"):
        make_strategy("parameter-server")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multiworker", environ={})


MIRRORED = textwrap.dedent("""
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from training.distribute import make_strategy
    from training.models import config_for
    from training.train import train
    strategy = make_strategy("mirrored")
    print("replicas", strategy.num_replicas_in_sync)
    cfg = config_for("similarity", "test")
    cfg.examples, cfg.epochs, cfg.batch_size = 400, 2, 32
    run = train("similarity", cfg=cfg, out=sys.argv[1], distribute="mirrored", verbose=False)
    print("trained", run.metrics["replicas"], run.metrics["epochs"])
""")


@pytest.mark.slow
def test_mirrored_trains_on_two_logical_cpus(tmp_path):
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "replicas 2" in proc.stdout
    assert "trained 2 2" in proc.stdout
    assert (tmp_path / "similarity" / "best.weights.h5").is_file()
