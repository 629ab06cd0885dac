"""Training under tf.distribute: two logical CPU devices give one device's loss curve."""

import json
import subprocess
import sys

import pytest

#: Run in a fresh interpreter: logical devices can be set only before TensorFlow starts.
SCRIPT = """
import json, sys
import numpy as np
from aecrypt.method.training import split_cpu, make_strategy, seed_everything, train_autoencoder
split_cpu(2)
from aecrypt.method.model import build_autoencoder
from aecrypt.errors import ParameterError
base = np.random.default_rng(0).random((16, 4, 4, 1), dtype=np.float32)
x = np.repeat(np.repeat(np.repeat(base, 4, 1), 4, 2), 3, 3)
out = {}
for name in ("default", "mirrored"):
    strategy = make_strategy(name)
    seed_everything(0, deterministic=False)
    with strategy.scope():
        autoencoder, _, _ = build_autoencoder(image_size=16)
    result = train_autoencoder(autoencoder, x[:11], x[11:], epochs=3, batch_size=4, seed=0, progress=False, strategy=strategy)
    out[name] = {"replicas": strategy.num_replicas_in_sync, "loss": result.history["loss"].tolist(),
                 "val_loss": result.history["val_loss"].tolist()}
seed_everything(0, deterministic=False)
outside, _, _ = build_autoencoder(image_size=16)
try:
    train_autoencoder(outside, x[:4], x[4:6], epochs=1, batch_size=4, progress=False, strategy=make_strategy("mirrored"))
except ParameterError as exc:
    out["outside_scope"] = str(exc)
print(json.dumps(out))
"""

#: Summing two half-batch gradients instead of one batch's changes only the rounding.
TOLERANCE = 1e-5


@pytest.mark.slow
def test_two_logical_cpus_under_mirrored_give_one_devices_loss_curve():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["default"]["replicas"] == 1 and out["mirrored"]["replicas"] == 2
    for curve in ("loss", "val_loss"):
        assert out["mirrored"][curve] == pytest.approx(out["default"][curve], rel=TOLERANCE)
    assert out["default"]["loss"][0] != pytest.approx(out["default"]["loss"][-1], rel=TOLERANCE)  # it trained
    assert "strategy.scope()" in out["outside_scope"]


def test_multi_worker_needs_tf_config(monkeypatch):
    from aecrypt.errors import ParameterError
    from aecrypt.method.training import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ParameterError, match="TF_CONFIG"):
        make_strategy("multi_worker")
    with pytest.raises(ParameterError, match="default, mirrored, multi_worker"):
        make_strategy("ring")
