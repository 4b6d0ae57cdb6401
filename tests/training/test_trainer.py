"""Trainer: distribution equivalence, resume exactness, divergence, learning."""

import json
import os
import signal
import socket
import subprocess
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_i2i.losses import l1_loss
from keras_i2i.models import build_model
from keras_i2i.training.trainer import RunDirError, Trainer, TrainingDiverged, latest_checkpoint, train
from tests.conftest import run_cli, tiny_overrides


def _weights(model):
    return [np.asarray(v) for v in model.weights]


def _feeds_instance_norm(model, variable):
    """Conv biases right before an instance norm: the norm subtracts the channel mean,
    so their true gradient is exactly zero and Adam's first step turns rounding noise
    into a +-lr update (g / (|g| + eps)); such a weight has no defined value to compare."""
    layer_name = variable.path.split("/")[-2]
    for net in (model.gen_a2b, model.gen_b2a, model.disc_a, model.disc_b):
        names = [layer.name for layer in net.layers]
        if layer_name in names:
            following = names[names.index(layer_name) + 1: names.index(layer_name) + 3]
            return variable.path.endswith("bias") and any(n.endswith("norm") or "_norm" in n for n in following)
    return False


# Two parametrizations: two MirroredStrategy trainings in one process, which collided on
# TensorFlow collective keys until make_strategy gave each strategy its own key base.
@pytest.mark.parametrize("norm", ["instance", "none"])
def test_mirrored_two_replicas_equals_default_strategy(tiny_config, tmp_path, norm):
    assert len(tf.config.list_logical_devices("CPU")) == 2
    default = Trainer(tiny_config(**{"train.batch_size": 2, "train.max_steps": 1, "model.norm": norm}),
                      tmp_path / "default", strategy="default", verbose=0)
    default.run()
    mirrored = Trainer(tiny_config(**{"train.batch_size": 1, "train.max_steps": 1, "model.norm": norm}),
                       tmp_path / "mirrored", strategy="mirrored", verbose=0)
    assert mirrored.strategy.num_replicas_in_sync == 2
    mirrored.run()
    compared = 0
    for a, b, v in zip(_weights(default.model), _weights(mirrored.model), default.model.weights):
        if _feeds_instance_norm(default.model, v):
            continue
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=v.path)
        compared += 1
    assert compared > 40


def test_cycle_loss_halves_on_real_images(tiny_config, tmp_path):
    cfg = tiny_config(**{"train.max_steps": 200, "model.ngf": 8, "train.lr": 1e-3, "data.flip": "false",
                         "train.checkpoint_every": 1000, "train.log_every": 1000, "train.lr_policy": "constant"})
    from keras_i2i.data.pipeline import UnpairedData

    data = UnpairedData(cfg.data, 2)
    real_a = np.stack([data.a.get(i)[2:34, 2:34] for i in range(len(data.a))]).astype("float32") / 127.5 - 1

    def cycle(model):
        return float(l1_loss(model.gen_b2a(model.gen_a2b(real_a)), real_a))

    keras.utils.set_random_seed(cfg.train.seed)
    before = cycle(build_model(cfg.model, 32, cfg.train.seed))
    trainer = Trainer(cfg, tmp_path / "run", verbose=0)
    trainer.run()
    after = cycle(trainer.model)
    assert after < 0.5 * before, (before, after)


def test_divergence_stops_with_named_loss(tiny_config, tmp_path):
    cfg = tiny_config(**{"train.lr": 1e25, "train.max_steps": 30, "train.checkpoint_every": 1000})
    with pytest.raises(TrainingDiverged, match=r"loss_\w+ became NaN/Inf at step \d+"):
        train(cfg, tmp_path / "run", verbose=0)
    assert latest_checkpoint(tmp_path / "run") is None  # nothing saved after the NaN


def test_new_run_refuses_existing_run_dir(tiny_config, tmp_path):
    train(tiny_config(**{"train.max_steps": 2}), tmp_path / "run", verbose=0)
    with pytest.raises(RunDirError, match="--resume"):
        Trainer(tiny_config(), tmp_path / "run")
    with pytest.raises(RunDirError, match="no checkpoint"):
        Trainer(tiny_config(), tmp_path / "empty", resume=True)


def test_run_directory_contents(tiny_config, tmp_path):
    run = tmp_path / "run"
    result = train(tiny_config(**{"train.max_steps": 4, "train.translate_test": "true"}), run, verbose=0)
    assert result.step == 4
    assert (run / "config.yaml").is_file() and (run / "data_report.json").is_file()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["step"] for r in records} >= {2, 4} and "loss_cycle_a" in records[0]
    assert list((run / "samples").glob("*.png"))
    assert list((run / "logs").glob("events.out.tfevents*"))
    assert len(list((run / "test_results" / "a2b").glob("*.png"))) == 4
    assert len(list((run / "test_results" / "b2a").glob("*.png"))) == 4
    assert os.path.basename(latest_checkpoint(run)) == "ckpt-4"


def _checkpoint_values(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


def _wait_for(predicate, timeout=240):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# The second: EMA, gradient accumulation and per-player optimizers, all in the checkpoint.
@pytest.mark.slow
@pytest.mark.parametrize("extra", [{}, {"train.ema_decay": 0.9, "train.accumulate": 2, "train.optimizers.disc.lr": 4e-4,
                                        "train.optimizers.gen.beta1": 0.0}], ids=["plain", "ema_accumulate"])
def test_sigkill_then_resume_equals_uninterrupted(emoji_root, tmp_path, extra):
    common = tiny_overrides(emoji_root, **{"train.deterministic": "true", "train.checkpoint_every": 3,
                                           "model.pool_size": 2, **extra})
    killed = tmp_path / "killed"
    args = ["train"] + [x for o in common + ["train.max_steps=100000"] for x in ("--set", o)]
    proc = run_cli(args + ["--run-dir", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: latest_checkpoint(killed) is not None or proc.poll() is not None), "no checkpoint"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    k = int(latest_checkpoint(killed).rsplit("-", 1)[1])
    target = k + 4
    resumed = run_cli(["train", "--resume", str(killed), "--set", f"train.max_steps={target}"],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = resumed.communicate()[0].decode()
    assert resumed.returncode == 0, out
    reference = tmp_path / "reference"
    args = ["train"] + [x for o in common + [f"train.max_steps={target}"] for x in ("--set", o)]
    ref = run_cli(args + ["--run-dir", str(reference)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ref.communicate()[0].decode()
    assert ref.returncode == 0, out
    a = _checkpoint_values(latest_checkpoint(killed))
    b = _checkpoint_values(latest_checkpoint(reference))
    assert latest_checkpoint(killed).endswith(f"ckpt-{target}")
    assert a.keys() == b.keys() and len(a) > 50
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_130(emoji_root, tmp_path):
    run = tmp_path / "run"
    args = ["train"] + [x for o in tiny_overrides(emoji_root, **{"train.max_steps": 100000, "train.checkpoint_every": 1000})
                        for x in ("--set", o)]
    proc = run_cli(args + ["--run-dir", str(run)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert _wait_for(lambda: (run / "metrics.jsonl").is_file() or proc.poll() is not None)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, out
    assert "--resume" in out
    assert latest_checkpoint(run) is not None


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_two_processes_end_identical(emoji_root, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        args = ["train", "--strategy", "multiworker", "--run-dir", str(tmp_path / f"w{index}")]
        args += [x for o in tiny_overrides(emoji_root, **{"train.max_steps": 3, "train.batch_size": 1,
                                                          "train.checkpoint_every": 3}) for x in ("--set", o)]
        procs.append(run_cli(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outs = [p.communicate(timeout=600)[0].decode() for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    chief = latest_checkpoint(tmp_path / "w0")
    other = tf.train.latest_checkpoint(str(tmp_path / "w1" / "worker1"))
    assert chief.endswith("ckpt-3") and other.endswith("ckpt-3")
    a, b = _checkpoint_values(chief), _checkpoint_values(other)
    assert a.keys() == b.keys()
    # Every variable: the networks' weights are saved under optimizer_*/_trainable_variables,
    # the image pools under model/, then the optimizer slots and iterations.
    assert sum("_trainable_variables" in name for name in a) > 40
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_with_float32_weights(tiny_config, tmp_path, precision):
    try:
        trainer = Trainer(tiny_config(**{"train.precision": precision, "train.max_steps": 2}), tmp_path / precision,
                          verbose=0)
        trainer.run()
        model = trainer.model
        assert model.gen_a2b.layers[2].compute_dtype == {"bf16": "bfloat16", "fp16": "float16"}[precision]
        assert all(v.dtype == "float32" for v in model.gen_a2b.trainable_variables)
        if precision == "fp16":
            assert isinstance(model.optimizers()["gen"], keras.optimizers.LossScaleOptimizer)
        assert int(model.step.numpy()) == 2
        for v in model.gen_a2b.trainable_variables:
            assert np.all(np.isfinite(np.asarray(v)))
        assert model.gen_a2b(np.zeros((1, 32, 32, 3), "float32")).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_xla_step_matches_graph_step(tiny_config, tmp_path):
    plain = Trainer(tiny_config(**{"train.max_steps": 1}), tmp_path / "plain", verbose=0)
    plain.run()
    xla = Trainer(tiny_config(**{"train.max_steps": 1, "train.jit_compile": "true"}), tmp_path / "xla", verbose=0)
    xla.run()
    for a, b, v in zip(_weights(plain.model), _weights(xla.model), plain.model.weights):
        if not _feeds_instance_norm(plain.model, v):
            np.testing.assert_allclose(a, b, atol=1e-4, err_msg=v.path)
