"""XGAN: gradient reversal, the embedding losses, learning on real images, the trainer
(distributed, resumable), round trips and export. Tiny widths at 16x16 or 32x32."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_i2i.config import dump_config, load_config
from keras_i2i.layers import GradientReversal
from keras_i2i.models import build_model
from keras_i2i.models.xgan import XGAN, XGANConfig, cosine_distance
from keras_i2i.networks.xgan import domain_classifier, xgan_autoencoders, xgan_decoder, xgan_discriminator, xgan_encoder
from tests.conftest import EMOJI

TINY = dict(ngf=4, embedding_dim=16, ndf=4, classifier_units=8)


def tiny_xgan_overrides(root, **extra) -> list[str]:
    values = {
        "data.dataset": "null", "data.root": str(root), "data.load_size": 36, "data.crop_size": 32,
        "model.ngf": 4, "model.embedding_dim": 16, "model.ndf": 4, "model.classifier_units": 8,
        "train.batch_size": 2, "train.max_steps": 4, "train.checkpoint_every": 2, "train.log_every": 2,
        "train.num_samples": 2, "train.translate_test": "false", "train.strategy": "default",
        "train.lr_policy": "constant",
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def real_images(domain: str, count: int, size: int = 32) -> np.ndarray:
    from keras_i2i.data.pipeline import load_test_image

    files = sorted((EMOJI / f"train{domain}").glob("*.png"))[:count]
    return np.stack([load_test_image(f, size) for f in files])


# ----------------------------------------------------------------------------- gradient reversal


def test_gradient_reversal_flips_the_gradient_sign():
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 5)).astype("float32"))
    w = tf.constant(np.random.default_rng(1).normal(size=(3, 5)).astype("float32"))

    def grad(layer, in_function):
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x) if layer is not None else x
                loss = tf.reduce_sum(tf.square(y) * w)
            return y, tape.gradient(loss, x)

        return (tf.function(run) if in_function else run)(x)

    _, plain = grad(None, False)
    for scale in (1.0, 0.5):
        for in_function in (False, True):
            y, reversed_ = grad(GradientReversal(scale), in_function)
            np.testing.assert_array_equal(np.asarray(y), np.asarray(x))  # identity forward
            np.testing.assert_allclose(np.asarray(reversed_), -scale * np.asarray(plain), rtol=1e-6)
    assert np.abs(np.asarray(plain)).min() > 0  # the comparison above is not 0 == -0


def test_gradient_reversal_config_and_keras_round_trip(tmp_path):
    layer = GradientReversal(0.25, name="grl")
    clone = GradientReversal.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.scale == 0.25
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    model.save(tmp_path / "grl.keras")
    loaded = keras.models.load_model(tmp_path / "grl.keras")
    assert isinstance(loaded.get_layer("grl"), GradientReversal) and loaded.get_layer("grl").scale == 0.25
    x = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


# ----------------------------------------------------------------------------- networks


NETWORKS = [
    ("encoder", lambda: xgan_encoder(32, ngf=4, embedding_dim=16), (32, 32, 3)),
    ("encoder_shared_part", lambda: xgan_encoder(32, ngf=4, embedding_dim=16, first=2, norm="batch"), (8, 8, 8)),
    ("decoder", lambda: xgan_decoder(32, ngf=4, embedding_dim=16), (16,)),
    ("decoder_specific_part", lambda: xgan_decoder(32, ngf=4, embedding_dim=16, first=2), (4, 4, 32)),
    ("discriminator", lambda: xgan_discriminator(ndf=4, input_shape=(32, 32, 3)), (32, 32, 3)),
    ("classifier", lambda: domain_classifier(16, 8), (16,)),
]


@pytest.mark.parametrize("name, make, shape", NETWORKS, ids=[n[0] for n in NETWORKS])
def test_network_config_and_keras_round_trips(name, make, shape, tmp_path):
    net = make()
    rng = np.random.default_rng(0)
    for w in net.weights:  # non-trivial values, including norm statistics
        w.assign(rng.normal(0.5 if "variance" in w.path else 0.0, 0.2, size=w.shape).astype("float32"))
    x = rng.uniform(-1, 1, (2, *shape)).astype("float32")
    expected = np.asarray(net(x, training=False))
    clone = keras.Model.from_config(net.get_config())
    clone.set_weights(net.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x, training=False)), expected, atol=1e-5)
    net.save(tmp_path / f"{name}.keras")
    loaded = keras.models.load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), expected, atol=1e-5)


def test_paper_widths_and_sharing():
    parts = xgan_autoencoders(64, ngf=32, embedding_dim=1024, sharing="partial")
    convs = [layer.filters for p in ("enc_a", "enc_shared") for layer in parts[p].layers
             if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [32, 64, 128, 256]
    assert [layer.units for layer in parts["enc_shared"].layers if isinstance(layer, keras.layers.Dense)] == [1024, 1024]
    deconvs = [layer.filters for p in ("dec_shared", "dec_a") for layer in parts[p].layers
               if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert deconvs == [512, 256, 128, 64, 3]
    assert tuple(parts["dec_shared"].inputs[0].shape) == (None, 1024)
    assert tuple(parts["dec_a"].outputs[0].shape) == (None, 64, 64, 3)
    assert "enc_shared" not in xgan_autoencoders(32, 4, 16, sharing="none")
    full = xgan_autoencoders(32, 4, 16, sharing="full")
    assert len([x for x in full["enc_a"].layers if isinstance(x, keras.layers.Conv2D)]) == 1
    with pytest.raises(ValueError, match="multiple of 16"):
        xgan_encoder(40)


def test_embedding_norm_fixes_the_embedding_scale():
    """With ``embedding_norm: layer`` every embedding has mean 0 and variance 1 whatever
    the scale of the layers before it, so no loss can be lowered by shrinking or growing
    the embedding (the decoder's first norm would ignore its scale); ``none`` keeps the
    raw output."""
    x = real_images("A", 3, 32)
    for kind in ("layer", "none"):
        encoder = xgan_encoder(32, ngf=4, embedding_dim=16, embedding_norm=kind)
        fc1 = encoder.get_layer("fc1")
        fc1.kernel.assign(fc1.kernel * 100.0)  # raw variance well above the norm's epsilon
        emb = np.asarray(encoder(x))
        fc1.kernel.assign(fc1.kernel * 10.0)
        fc1.bias.assign(fc1.bias * 10.0)
        scaled = np.asarray(encoder(x))
        if kind == "layer":
            np.testing.assert_allclose(emb.mean(axis=1), 0.0, atol=1e-5)
            np.testing.assert_allclose(emb.std(axis=1), 1.0, atol=1e-3)
            np.testing.assert_allclose(scaled, emb, atol=1e-3)
        else:
            np.testing.assert_allclose(scaled, 10.0 * emb, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="embedding_norm"):
        xgan_encoder(32, ngf=4, embedding_dim=16, embedding_norm="batch")


def test_fixed_semantic_target_drops_only_the_pull_on_the_source_embedding():
    """``semantic_target: fixed`` makes the source embedding a constant target: the
    semantic loss still trains the translate-and-re-encode path (which starts at the
    source embedding too), but no longer pulls the source embedding toward its
    translation's, which is how every embedding collapsed to one point on the emoji
    quickstart. With L1 the dropped term is exactly sign(e_a - e_fake_b) / size."""
    real_a, real_b = real_images("A", 2), real_images("B", 2)
    grads, embs = {}, {}
    fixed = XGAN(XGANConfig(semantic_target="fixed", **TINY), image_size=32)
    trained = XGAN(XGANConfig(semantic_target="trained", **TINY), image_size=32)
    trained.set_weights(fixed.get_weights())
    for name, model in (("fixed", fixed), ("trained", trained)):
        with tf.GradientTape() as tape:
            out = model.forward(real_a, real_b, training=True)
            loss = model.generator_losses(real_a, real_b, out)["loss_sem_a"]
        grads[name] = np.asarray(tape.gradient(loss, out["emb_a"]))
        embs[name] = (np.asarray(out["emb_a"]), np.asarray(out["emb_fake_b"]))
    np.testing.assert_allclose(embs["fixed"][0], embs["trained"][0], atol=1e-6)
    e_a, e_fake_b = embs["fixed"]
    dropped = np.sign(e_a - e_fake_b) / e_a.size * fixed.config.lambda_sem
    assert np.abs(grads["fixed"]).max() > 0  # the translation path still learns
    np.testing.assert_allclose(grads["trained"] - grads["fixed"], dropped, atol=1e-7)


@pytest.mark.parametrize("sharing", ["partial", "full", "none"])
def test_sharing_decides_which_weights_the_domains_share(sharing):
    model = XGAN(XGANConfig(sharing=sharing, **TINY), image_size=32)
    ids_a = {id(v) for v in model.encoder_a.trainable_variables + model.decoder_a.trainable_variables}
    ids_b = {id(v) for v in model.encoder_b.trainable_variables + model.decoder_b.trainable_variables}
    shared = ids_a & ids_b
    if sharing == "none":
        assert not shared and model.enc_shared is None and model.dec_shared is None
    else:
        middle = model.enc_shared.trainable_variables + model.dec_shared.trainable_variables
        assert shared == {id(v) for v in middle} and ids_a - ids_b
        # partial: conv2, conv3, fc0, fc1, deconv0, deconv1; full adds conv1, deconv2, deconv3
        # (a convolution: kernel and its batch norm's gamma and beta; a dense layer: kernel, bias)
        assert len(shared) == {"partial": 16, "full": 25}[sharing]
    gen = model.variables_for("gen")
    assert len({id(v) for v in gen}) == len(gen)  # every shared variable counted once


# ----------------------------------------------------------------------------- losses


def _identity_setup(distance: str):
    """16x16 images whose embedding is the flattened image and whose decoders reshape it
    back: translating is the identity, so the translation's embedding is the source's."""
    size, dim = 16, 16 * 16 * 3
    model = XGAN(XGANConfig(semantic_distance=distance, **{**TINY, "embedding_dim": dim}), image_size=size)

    def flatten(name):
        x = keras.Input((size, size, 3))
        return keras.Model(x, keras.layers.Flatten()(x), name=name)

    def unflatten(name, scale=1.0, offset=0.0):
        z = keras.Input((dim,))
        y = keras.layers.Reshape((size, size, 3))(z)
        if scale != 1.0 or offset:
            y = keras.layers.Lambda(lambda t: t * scale + offset)(y)
        return keras.Model(z, y, name=name)

    model.encoder_a, model.encoder_b = flatten("ea"), flatten("eb")
    model.decoder_a, model.decoder_b = unflatten("da"), unflatten("db")
    return model, unflatten


@pytest.mark.parametrize("distance", ["cosine", "l1"])
def test_semantic_consistency_is_zero_for_an_identity_setup(distance):
    model, unflatten = _identity_setup(distance)
    real_a, real_b = real_images("A", 2, 16), real_images("B", 2, 16)
    losses = model.generator_losses(real_a, real_b, model.forward(real_a, real_b, training=False), training=False)
    assert float(losses["loss_sem_a"]) == pytest.approx(0.0, abs=1e-6)
    assert float(losses["loss_sem_b"]) == pytest.approx(0.0, abs=1e-6)
    assert float(losses["loss_rec_a"]) == pytest.approx(0.0, abs=1e-6)

    # A decoder that changes the image breaks the consistency, and the loss says so.
    model.decoder_b = unflatten("db2", scale=-1.0, offset=0.2)
    losses = model.generator_losses(real_a, real_b, model.forward(real_a, real_b, training=False), training=False)
    assert float(losses["loss_sem_a"]) > 0.05
    assert float(losses["loss_sem_b"]) == pytest.approx(0.0, abs=1e-6)


def test_cosine_distance_ignores_length_only():
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 8)).astype("float32"))
    assert float(cosine_distance(x, 3.0 * x)) == pytest.approx(0.0, abs=1e-6)
    assert float(cosine_distance(x, -x)) == pytest.approx(2.0, abs=1e-6)


def test_teacher_is_a_frozen_network_filled_by_init_from(tmp_path):
    """The teacher is a network XGAN builds (``model.teacher: xgan_encoder``), frozen; its
    weights come through the trainer's init_from (here a weights file); a step trains
    toward it without changing it."""
    from keras_i2i.config import ConfigError
    from keras_i2i.training.init_from import apply_init_from

    size = 32
    source = xgan_encoder(size, TINY["ngf"], TINY["embedding_dim"], norm="batch", name="teacher")
    source.save_weights(tmp_path / "teacher.weights.h5")
    model = XGAN(XGANConfig(teacher="xgan_encoder", init_from={"teacher": str(tmp_path / "teacher.weights.h5")},
                            **TINY), image_size=size)
    apply_init_from(model, model.config.init_from)
    expected = [np.asarray(w) for w in source.weights]
    for w, b in zip(model.teacher.weights, expected):
        np.testing.assert_array_equal(np.asarray(w), b)
    model.compile(1e-3)
    real_a, real_b = real_images("A", 2), real_images("B", 2)
    logs = model.train_step((tf.constant(real_a), tf.constant(real_b)))
    assert float(logs["loss_teach"]) > 0
    for w, b in zip(model.teacher.weights, expected):
        np.testing.assert_array_equal(np.asarray(w), b)
    assert not any(w is v for w in model.teacher.weights for v in model.variables_for("gen"))

    # another XGAN's encoder_a (saved whole, as a run's would be restored) teaches the same embedding
    other = XGAN(XGANConfig(**TINY), image_size=size)
    other.encoder_a.save(tmp_path / "encoder_a.keras")
    apply_init_from(model, {"teacher": str(tmp_path / "encoder_a.keras")})
    np.testing.assert_array_equal(np.asarray(model.teacher(real_a)), np.asarray(other.encoder_a(real_a)))

    # the old spelling (a file in model.teacher) and a teacher without weights are config errors
    with pytest.raises(ConfigError, match="model.teacher: 'face.keras' is not a teacher network.*init_from.teacher"):
        load_config("xgan/quickstart", overrides=["model.teacher=face.keras"])
    with pytest.raises(ConfigError, match="model.teacher: xgan_encoder needs its weights: set model.init_from.teacher"):
        load_config("xgan/quickstart", overrides=["model.teacher=xgan_encoder"])
    cfg = load_config("xgan/quickstart", overrides=["model.teacher=xgan_encoder",
                                                    f"model.init_from.teacher={tmp_path / 'teacher.weights.h5'}"])
    assert cfg.model.teacher == "xgan_encoder"


def test_steps_reduce_reconstruction_loss_on_real_images():
    """40 steps on 8 real emoji per domain with every loss on: each autoencoder
    reconstructs clearly better (about 0.56 -> 0.33 mean absolute error)."""
    keras.utils.set_random_seed(0)
    real_a, real_b = real_images("A", 8), real_images("B", 8)
    model = XGAN(XGANConfig(ngf=8, embedding_dim=32, ndf=4, classifier_units=8, d_accuracy_gate=1.01), image_size=32)
    model.compile(1e-3)

    def rec(encoder, decoder, x):
        return float(np.mean(np.abs(np.asarray(decoder(encoder(x))) - x)))

    before = rec(model.encoder_a, model.decoder_a, real_a), rec(model.encoder_b, model.decoder_b, real_b)
    disc_before = [np.asarray(w) for w in model.disc_a.weights]
    data = tf.data.Dataset.from_tensor_slices((real_a, real_b)).repeat().batch(4)
    history = model.fit(data, steps_per_epoch=40, epochs=1, verbose=0)
    after = rec(model.encoder_a, model.decoder_a, real_a), rec(model.encoder_b, model.decoder_b, real_b)
    assert after[0] < 0.7 * before[0] and after[1] < 0.7 * before[1], (before, after)
    # a gate above 1 never stops the discriminators
    assert history.history["trained_d_a"][-1] == 1.0 and int(model.opt_disc_a.iterations.numpy()) == 40
    assert any(np.abs(np.asarray(w) - b).max() > 0 for w, b in zip(model.disc_a.weights, disc_before))


# ----------------------------------------------------------------------------- configs and files


def test_configs_load_and_round_trip(tmp_path):
    for name in ("xgan/quickstart", "xgan/faces2cartoon"):
        cfg = load_config(name)
        assert isinstance(cfg.model, XGANConfig)
        dump_config(cfg, tmp_path / "c.yaml")
        assert load_config(tmp_path / "c.yaml") == dataclasses.replace(cfg, name=cfg.name)
    cfg = load_config("xgan/faces2cartoon")
    assert (cfg.model.lambda_rec, cfg.model.lambda_dann, cfg.model.lambda_sem, cfg.model.lambda_gan,
            cfg.model.lambda_teach) == (1.0, 0.1, 0.1, 0.1, 0.1)
    assert (cfg.model.norm, cfg.model.embedding_norm, cfg.model.semantic_target) == ("batch", "layer", "fixed")
    assert load_config("xgan/quickstart").model == dataclasses.replace(cfg.model, teacher=None)
    assert cfg.data.b == "cartoonset10k" and cfg.data.crop_size == 64
    from keras_i2i.config import ConfigError

    with pytest.raises(ConfigError, match="model.generator"):
        load_config("xgan/quickstart", overrides=["model.generator=resnet_9blocks"])
    with pytest.raises(ConfigError, match="sharing"):
        load_config("xgan/quickstart", overrides=["model.sharing=most"])


def test_model_config_and_keras_file_round_trip(tmp_path):
    model = XGAN(XGANConfig(sharing="partial", **TINY), image_size=32)
    x = real_images("A", 2)
    expected = {k: np.asarray(t(x)) for k, t in model.translators().items()}
    clone = XGAN.from_config(model.get_config())
    assert clone.config == model.config and clone.image_size == 32
    model.save(tmp_path / "xgan.keras")
    loaded = keras.models.load_model(tmp_path / "xgan.keras")
    assert isinstance(loaded, XGAN)
    for k, t in loaded.translators().items():
        np.testing.assert_allclose(np.asarray(t(x)), expected[k], atol=1e-5)


# ----------------------------------------------------------------------------- trainer and export


@pytest.fixture(scope="module")
def xgan_run(tmp_path_factory):
    """A 4-step tiny XGAN trained by the trainer on real emoji (40 + 8 images per domain)."""
    from keras_i2i.training.trainer import train
    from tests.conftest import copy_emoji

    base = tmp_path_factory.mktemp("xgan")
    root = base / "data"
    for domain in "AB":
        copy_emoji(root / f"train{domain}", domain, 40)
        copy_emoji(root / f"test{domain}", domain, 8, split="test")
    cfg = load_config("xgan/quickstart", overrides=tiny_xgan_overrides(root, **{"train.deterministic": "true"}))
    train(cfg, base / "run", verbose=0)
    return base / "run", root


def _values(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


def test_trainer_resume_equals_uninterrupted(xgan_run, tmp_path):
    from keras_i2i.training.trainer import latest_checkpoint, train

    run, root = xgan_run
    assert (run / "samples").is_dir() and "loss_sem_a" in (run / "metrics.jsonl").read_text()
    first = load_config("xgan/quickstart", overrides=tiny_xgan_overrides(
        root, **{"train.deterministic": "true", "train.max_steps": 2}))
    train(first, tmp_path / "run", verbose=0)
    resumed = load_config("xgan/quickstart", overrides=tiny_xgan_overrides(root, **{"train.deterministic": "true"}))
    result = train(resumed, tmp_path / "run", resume=True, verbose=0)
    assert result.step == 4
    expected, got = _values(latest_checkpoint(run)), _values(latest_checkpoint(tmp_path / "run"))
    assert expected.keys() == got.keys() and len(expected) > 50
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-6, err_msg=name)


def test_mirrored_two_replicas_with_discriminator_gate(emoji_root, tmp_path):
    """Two replicas through the same trainer; a gate of 0 (accuracy is never below 0)
    must leave both discriminators and their optimizers untouched on every replica."""
    from keras_i2i.training.trainer import Trainer

    cfg = load_config("xgan/quickstart", overrides=tiny_xgan_overrides(
        emoji_root, **{"train.batch_size": 1, "train.max_steps": 2, "model.d_accuracy_gate": 0.0}))
    keras.utils.set_random_seed(cfg.train.seed)
    initial = build_model(cfg.model, 32, cfg.train.seed)
    trainer = Trainer(cfg, tmp_path / "run", strategy="mirrored", verbose=0)
    assert trainer.strategy.num_replicas_in_sync == 2
    result = trainer.run()
    model = trainer.model
    assert result.step == 2
    assert int(model.opt_disc_a.iterations.numpy()) == 0 and int(model.opt_disc_b.iterations.numpy()) == 0
    for net in ("disc_a", "disc_b"):
        for w, w0 in zip(getattr(model, net).weights, getattr(initial, net).weights):
            for replica in getattr(w.value, "values", [w.value]):
                np.testing.assert_array_equal(np.asarray(replica), np.asarray(w0), err_msg=w.path)
    moved = [np.abs(np.asarray(w) - np.asarray(w0)).max() for w, w0 in zip(model.enc_a.weights, initial.enc_a.weights)]
    assert max(moved) > 0


def test_export_tflite_and_onnx_pass_parity(xgan_run, tmp_path):
    from keras_i2i.export import export_run

    run, _ = xgan_run
    report = export_run(run, formats=["tflite", "onnx"], modes=["fp32", "int8"], directions="all", out=tmp_path)
    for result in report.results:
        assert result["status"] == "ok", (result["file"], result.get("reason"))
        assert result["checks"]["problems"] == []
    files = sorted(r["file"] for r in report.results)
    assert files == ["a2b.fp32.tflite", "a2b.int8.tflite", "a2b.onnx", "b2a.fp32.tflite", "b2a.int8.tflite",
                     "b2a.onnx"]
    assert report.result("a2b.fp32.tflite")["parity"]["psnr_db"] >= 60
