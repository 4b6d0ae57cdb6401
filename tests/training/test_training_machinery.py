"""Per-player optimizers, the explicit step counter, the generator EMA and gradient
accumulation (issue 14)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_i2i.config import ConfigError
from keras_i2i.models import build_model
from keras_i2i.models.base import TranslationModel
from keras_i2i.runs import load_run
from keras_i2i.training.schedules import optimizer_settings
from keras_i2i.training.trainer import Trainer, checkpoint_for, latest_checkpoint, train

# Losses (epoch running means) of the tiny deterministic CycleGAN below before this work
# (parent commit bd0f761): the default path must train exactly as it did.
BEFORE = [(19.93509864807129, 0.6207003593444824, 0.4943331182003021),
          (18.42230224609375, 0.6095147728919983, 0.48609864711761475),
          (19.652074813842773, 0.5994694828987122, 0.4765435457229614)]


def _losses(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["loss_g"], r["loss_d_a"], r["loss_d_b"]) for r in records if r["kind"] == "step"]


def test_default_optimizers_train_as_before(tiny_config, tmp_path):
    cfg = tiny_config(**{"train.max_steps": 3, "train.deterministic": "true", "train.log_every": 1,
                         "train.checkpoint_every": 1000})
    assert cfg.train.optimizers is None and cfg.train.accumulate == 1 and cfg.train.ema_decay is None
    train(cfg, tmp_path / "default", verbose=0)
    np.testing.assert_allclose(_losses(tmp_path / "default"), BEFORE, rtol=1e-5)


def test_per_player_optimizer_settings(tiny_config):
    cfg = tiny_config(**{"train.optimizers": "{gen: {lr: 1.0e-4, beta1: 0.0, epsilon: 1.0e-6}, "
                                             "disc: {lr: 4.0e-4, weight_decay: 1.0e-4, lr_policy: linear}}",
                         "train.lr_policy": "constant"})
    model = build_model(cfg.model, 32)
    model.compile(cfg.train.lr, cfg.train.beta1, cfg.train.beta2, optimizers=optimizer_settings(cfg.train, 10))
    gen, disc = model.optimizers()["gen"], model.optimizers()["disc"]
    assert type(gen) is keras.optimizers.Adam and type(disc) is keras.optimizers.AdamW
    assert np.isclose(float(gen.learning_rate), 1e-4) and gen.beta_1 == 0.0 and gen.beta_2 == 0.999
    assert gen.epsilon == 1e-6 and disc.epsilon == 1e-7 and disc.beta_1 == 0.5
    assert np.isclose(disc.weight_decay, 1e-4)
    assert np.isclose(float(disc._learning_rate(0)), 4e-4)  # its own schedule: linear from 4e-4


def test_unknown_player_lists_the_models_players(tiny_config):
    with pytest.raises(ConfigError, match=r"train.optimizers.generator: .* its players are gen, disc"):
        tiny_config(**{"train.optimizers.generator.lr": 1e-4})
    with pytest.raises(ConfigError, match="train.optimizers.gen.lr_policy"):
        tiny_config(**{"train.optimizers.gen.lr_policy": "cosine"})
    model = build_model(tiny_config().model, 32)
    with pytest.raises(ConfigError, match="its players are gen, disc"):
        model.compile(optimizers={"disc_a": {"learning_rate": 1e-4}})


def test_checkpoint_without_step_counter_resumes_exactly(tiny_config, tmp_path):
    """A checkpoint as written before the counter existed (the model and its optimizers,
    no ``step``) resumes at the first optimizer's iterations and trains on exactly."""
    common = {"train.deterministic": "true", "train.checkpoint_every": 2, "model.pool_size": 2}
    old = Trainer(tiny_config(**common, **{"train.max_steps": 2}), tmp_path / "old", verbose=0)
    old.run()
    prefix = latest_checkpoint(tmp_path / "old")
    # The old format (the model and its optimizers, saved by a CheckpointManager), same files.
    tf.train.CheckpointManager(checkpoint_for(old.model, without=("step",)), str(tmp_path / "old" / "checkpoints"),
                               max_to_keep=3).save(checkpoint_number=2)
    assert not any(name.startswith("step/") for name, _ in tf.train.list_variables(prefix))
    resumed = Trainer(tiny_config(**common, **{"train.max_steps": 4}), tmp_path / "old", resume=True, verbose=0)
    assert resumed.run().step == 4
    reference = Trainer(tiny_config(**common, **{"train.max_steps": 4}), tmp_path / "ref", verbose=0)
    reference.run()
    for a, b in zip(resumed.model.weights, reference.model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert int(resumed.model.step.numpy()) == 4


class _Record(keras.callbacks.Callback):
    def __init__(self, variables):
        super().__init__()
        self.variables, self.seen = variables, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append([np.asarray(v) for v in self.variables])


def _fixed_batches(n, batch, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (n * batch, 32, 32, 3)).astype("float32")
    b = rng.uniform(-1, 1, (n * batch, 32, 32, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((a, b)).batch(batch)


def test_ema_follows_the_generator_and_is_used_by_samples_and_load_run(tiny_config, tmp_path):
    cfg = tiny_config(**{"train.ema_decay": 0.5})
    model = build_model(cfg.model, 32, ema_decay=0.5)
    model.compile(1e-3, 0.5, 0.999)
    variables = model.ema_variables()
    assert len(variables) == len(model.gen_a2b.trainable_variables) + len(model.gen_b2a.trainable_variables)
    record = _Record(variables)
    model.fit(_fixed_batches(3, 2), epochs=1, verbose=0, callbacks=[record])
    w1, w2, w3 = record.seen
    expected = [0.5 * (0.5 * a + 0.5 * b) + 0.5 * c for a, b, c in zip(w1, w2, w3)]  # step 1 copies
    shadows = model.checkpoint_state()["ema"].shadows
    for e, s in zip(expected, shadows):
        np.testing.assert_allclose(np.asarray(s), e, rtol=1e-5, atol=1e-7)
    x = np.zeros((1, 32, 32, 3), "float32")
    live = np.asarray(model.gen_a2b(x))
    with model.ema_weights():
        assert all(np.array_equal(np.asarray(v), np.asarray(s)) for v, s in zip(variables, shadows))
        averaged = np.asarray(model.gen_a2b(x))
    np.testing.assert_array_equal(np.asarray(model.gen_a2b(x)), live)  # put back
    assert not np.allclose(averaged, live)

    run = tmp_path / "run"
    trainer = Trainer(tiny_config(**{"train.ema_decay": 0.5, "train.max_steps": 2}), run, verbose=0)
    trainer.run()
    names = {name for name, _ in tf.train.list_variables(latest_checkpoint(run))}
    assert any(n.startswith("ema/shadows/") for n in names) and any(n.startswith("step/") for n in names)
    _, loaded = load_run(run)
    ema = trainer.model.checkpoint_state()["ema"].shadows
    for v, s in zip(loaded.ema_variables(), ema):  # translators() of a loaded run use the EMA weights
        np.testing.assert_array_equal(np.asarray(v), np.asarray(s))


def test_ema_start_copies_the_generator_before_it_and_resumes_exactly(tiny_config, tmp_path):
    """train.ema_start 3 (BigGAN-PyTorch's ema_start, steps counted from 1): after steps 1
    and 2 the EMA is the generator; from step 3 it averages. A run resumed at step 2
    ends with the uninterrupted run's EMA, bit for bit."""
    with pytest.raises(ConfigError, match="train.ema_start: 3 needs an EMA; set train.ema_decay"):
        tiny_config(**{"train.ema_start": 3})

    def fresh():
        keras.utils.set_random_seed(0)
        net = build_model(tiny_config().model, 32, ema_decay=0.5, ema_start=3)
        net.compile(1e-3, 0.5, 0.999)
        return net

    class SaveAtTwo(keras.callbacks.Callback):  # the checkpoint the trainer would write after step 2
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.prefix = checkpoint_for(self.model).save(str(tmp_path / "ckpt"))
                self.shadows = [np.asarray(s) for s in self.model.checkpoint_state()["ema"].shadows]

    batches = _fixed_batches(4, 2)
    model = fresh()
    record, saved = _Record(model.ema_variables()), SaveAtTwo()
    model.fit(batches, epochs=1, verbose=0, callbacks=[record, saved])
    w1, w2, w3, w4 = record.seen
    shadows = [np.asarray(s) for s in model.checkpoint_state()["ema"].shadows]
    for a, b in zip(w2, saved.shadows):  # steps 1 and 2: a copy of the generator
        np.testing.assert_array_equal(a, b)
    for a, b, c, s in zip(w2, w3, w4, shadows):
        np.testing.assert_allclose(s, 0.5 * (0.5 * a + 0.5 * b) + 0.5 * c, rtol=1e-5, atol=1e-7)

    # Resumed at step 2 (that checkpoint restored into a fresh model, as the trainer's
    # --resume does): steps 3 and 4 average from the checkpointed step on, bit for bit.
    resumed = fresh()
    checkpoint_for(resumed).restore(saved.prefix).assert_existing_objects_matched()
    assert int(resumed.step.numpy()) == 2
    resumed.fit(batches.skip(2), epochs=1, verbose=0)
    again = [np.asarray(s) for s in resumed.checkpoint_state()["ema"].shadows]
    assert shadows and len(shadows) == len(again)
    for a, b in zip(shadows, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(saved.shadows, shadows))


def _accumulated_weights(tiny_config, accumulate, strategy, batches):
    cfg = tiny_config(**{"model.norm": "none", "model.pool_size": 2})
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = build_model(cfg.model, 32, seed=3)
        model.compile(1e-3, 0.5, 0.999, accumulate=accumulate)
    model.fit(batches, epochs=1, verbose=0)
    assert int(model.step.numpy()) == 1
    return [np.asarray(v) for v in model.weights]


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_accumulation_equals_the_large_batch(tiny_config, strategy):
    """An update at a batch of 4 (per replica) accumulated over 2 micro-batches of 2 equals
    the update at batch 4 in one piece (weights, image pools, moments)."""
    from keras_i2i.training.strategy import make_strategy  # a fresh collective key base per strategy

    replicas = 2 if strategy == "mirrored" else 1
    batches = _fixed_batches(1, 4 * replicas)
    whole = _accumulated_weights(tiny_config, 1, make_strategy(strategy), batches)
    split = _accumulated_weights(tiny_config, 2, make_strategy(strategy), batches)
    assert len(whole) == len(split) > 20
    for a, b in zip(whole, split):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


class _Embedded(TranslationModel):
    """One player: ``keras.layers.Embedding`` (a gather: IndexedSlices gradients) and a dense head."""

    players = ("gen",)
    accumulates = True
    num_domains = None
    registered_name = "test_embedded"

    def __init__(self):
        super().__init__(None, image_size=4, domains=("a", "b"))
        self.embed = keras.layers.Embedding(6, 3, embeddings_initializer=keras.initializers.RandomNormal(seed=1))
        self.head = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(seed=2))
        self.head(self.embed(np.zeros((1,), "int32")))

    def variables_for(self, optimizer_name):
        return [*self.embed.trainable_variables, *self.head.trainable_variables]

    def losses(self, ids, targets):
        return {"loss": tf.reduce_mean(tf.square(self.head(self.embed(ids))[:, 0] - targets))}


def test_accumulation_sums_embedding_gradients():
    """An embedding's IndexedSlices gradients (repeated ids included) accumulate: 2 micro-batches
    of 2 give the update of the batch of 4."""
    ids, targets = np.array([0, 3, 3, 5], "int32"), np.array([1.0, -1.0, 0.5, 2.0], "float32")
    probe = _Embedded()
    with tf.GradientTape() as tape:
        loss = probe.losses(ids, targets)["loss"]
    assert isinstance(tape.gradient(loss, probe.embed.embeddings), tf.IndexedSlices)
    weights = {}
    for k in (1, 2):
        model = _Embedded()
        model.compile(1e-2, 0.5, 0.999, accumulate=k)
        out = tf.function(lambda: model.update("gen", model.losses, ids, targets))()
        assert np.isfinite(float(out["loss"]))
        weights[k] = [np.asarray(v) for v in model.variables_for("gen")]
    for a, b in zip(weights[1], weights[2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not np.allclose(weights[1][0][3], probe.embed.embeddings.numpy()[3])


def test_accumulation_needs_a_model_that_splits(tmp_path):
    from keras_i2i.config import load_config

    cfg = load_config("xgan/quickstart", overrides=["train.accumulate=2"])
    model = build_model(cfg.model, 64)
    with pytest.raises(ConfigError, match="train.accumulate"):
        model.compile(accumulate=2)
