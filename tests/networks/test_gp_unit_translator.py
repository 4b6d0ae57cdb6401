"""GP-UNIT stage II networks: shapes, the dynamic skip's gates on hand-made weights, configs."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_i2i.networks.gp_unit_translator import (
    AdaptiveInstanceNorm, AdaResBlock, DynamicSkip, GPUnitDiscriminator, GPUnitGenerator, build_style_encoder,
    gated_mix, generator_widths,
)

SIZE = 32


def content_shapes(size=SIZE, ch=4):
    """The official content encoder's outputs, shallow to deep: H/2 .. H/32, then the 1-channel code."""
    return [(size // 2, ch), (size // 4, 2 * ch), (size // 8, 4 * ch), (size // 16, 8 * ch), (size // 32, 8 * ch),
            (size // 32, 1)]


def fake_content(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, s, s, c)).astype("float32") for s, c in content_shapes()]


def test_generator_widths_follow_the_official_ngf_multiples():
    assert generator_widths(64, 5) == (512, 512, 256, 128, 64, 64)
    assert generator_widths(8, 3) == (32, 16, 8, 8)


def test_shapes():
    images = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    style_encoder = build_style_encoder(SIZE, ch=4, style_dim=32, compress=8)
    style = style_encoder(images)
    assert tuple(style.shape) == (2, 32) and float(ops.min(style)) >= 0.0
    gen = GPUnitGenerator(SIZE, content_shapes(), ch=4, style_dim=32)
    image, masks = gen(fake_content(), style)
    assert tuple(image.shape) == (2, SIZE, SIZE, 3)
    assert float(ops.max(ops.abs(image))) <= 1.0
    # skips at the first two up-sampled sides (2 and 4 px), widths 8 ch and 4 ch
    assert [tuple(m.shape) for m in masks] == [(2, 2, 2, 32), (2, 4, 4, 16)]
    assert gen.skip_sources == [3, 2]
    image_noskip, none = gen(fake_content(), style, use_skip=False)
    assert none == [] and tuple(image_noskip.shape) == (2, SIZE, SIZE, 3)
    disc = GPUnitDiscriminator(SIZE, num_domains=3, ch=4, style_blocks=3)
    logits, feat = disc(images)
    assert tuple(logits.shape) == (2, 3) and tuple(feat.shape) == (2, 32)
    picked = GPUnitDiscriminator.pick(logits, np.array([2, 0]))
    np.testing.assert_allclose(np.asarray(picked), np.asarray(logits)[[0, 1], [2, 0]], rtol=1e-6)


def test_generator_refuses_a_content_encoder_without_the_skip_sides():
    with pytest.raises(ValueError, match="no feature of side"):
        GPUnitGenerator(SIZE, [(16, 4), (1, 1)], ch=4, style_dim=8)


def _skip_with_hand_made_weights(mask_bias, reset_bias, filters=3, enc=2, state_ch=4):
    """A DynamicSkip whose mask and reset gates are constants (zero kernels, given bias), its
    transition the identity-like sum and its update kernel random."""
    skip = DynamicSkip(filters, seed=1)
    skip.build([(None, 4, 4, filters), (None, 4, 4, enc), (None, 2, 2, state_ch)])
    for gate, bias in (("mask", mask_bias), ("reset", reset_bias)):
        conv = getattr(skip, gate)
        conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))
        conv.bias.assign(np.full(conv.bias.shape, bias, "float32"))
    return skip


def _inputs(filters=3, enc=2, state_ch=4):
    rng = np.random.default_rng(3)
    return (rng.standard_normal((1, 4, 4, filters)).astype("float32"),
            rng.standard_normal((1, 4, 4, enc)).astype("float32"),
            rng.standard_normal((1, 2, 2, state_ch)).astype("float32"))


def _conv_reflect(conv, x):
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    return np.asarray(conv(padded))


def test_dynamic_skip_closed_gate_keeps_the_generator_features():
    fdec, fenc, state = _inputs()
    skip = _skip_with_hand_made_weights(mask_bias=-5.0, reset_bias=0.0)
    out, new_state, mask = skip([fdec, fenc, state])
    np.testing.assert_array_equal(np.asarray(mask), 0.0)  # tanh(relu(-5)) = 0
    np.testing.assert_allclose(np.asarray(out), fdec, atol=0)


def test_dynamic_skip_open_gate_takes_the_updated_encoder_features():
    fdec, fenc, state = _inputs()
    skip = _skip_with_hand_made_weights(mask_bias=30.0, reset_bias=-100.0)  # m = tanh(30) = 1, r = 0
    out, new_state, mask = skip([fdec, fenc, state])
    np.testing.assert_allclose(np.asarray(mask), 1.0)
    np.testing.assert_allclose(np.asarray(new_state), 0.0, atol=1e-30)  # the reset gate shut the state
    # with h' = 0: f_E^ = W_E * [0, f_E]
    expected = _conv_reflect(skip.update, np.concatenate([np.zeros((1, 4, 4, 3), "float32"), fenc], axis=-1))
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-5)


def test_dynamic_skip_state_and_half_open_gate():
    fdec, fenc, state = _inputs()
    skip = _skip_with_hand_made_weights(mask_bias=float(np.arctanh(0.5)), reset_bias=100.0)  # m = 0.5, r = 1
    out, new_state, mask = skip([fdec, fenc, state])
    np.testing.assert_allclose(np.asarray(mask), 0.5, rtol=1e-6)
    up = np.repeat(np.repeat(state, 2, axis=1), 2, axis=2)
    h = _conv_reflect(skip.trans, up)
    h = np.where(h > 0, h, 0.2 * h)  # h^ = lrelu(W_h * up(h)); r = 1 keeps it
    np.testing.assert_allclose(np.asarray(new_state), h, rtol=1e-5, atol=1e-5)
    f_e = _conv_reflect(skip.update, np.concatenate([h, fenc], axis=-1))
    np.testing.assert_allclose(np.asarray(out), 0.5 * fdec + 0.5 * f_e, rtol=1e-5, atol=1e-5)


def test_gated_mix():
    a, b = np.full((1, 2), 2.0, "float32"), np.full((1, 2), 6.0, "float32")
    for m, want in ((0.0, 2.0), (1.0, 6.0), (0.25, 3.0)):
        np.testing.assert_allclose(np.asarray(gated_mix(a, b, np.full((1, 2), m, "float32"))), want)


def test_adain_applies_the_style_scale_and_shift():
    norm = AdaptiveInstanceNorm(gamma_bias=1.0)
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 2)).astype("float32") * 3 + 1
    s = np.zeros((1, 5), "float32")
    y = np.asarray(norm([x, s]))  # zero style: gamma = bias 1, beta 0 -> plain instance norm
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


def test_layer_configs_round_trip():
    for layer in (AdaptiveInstanceNorm(gamma_bias=1.0, seed=3), AdaResBlock(6, seed=2), DynamicSkip(5, seed=4)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    gen = GPUnitGenerator(SIZE, content_shapes(), ch=2, style_dim=8, seed=5)
    clone = GPUnitGenerator.from_config(gen.get_config())
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in gen.weights]
    disc = GPUnitDiscriminator(SIZE, 2, ch=2, seed=6)
    clone = GPUnitDiscriminator.from_config(disc.get_config())
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in disc.weights]


def test_keras_files_round_trip(tmp_path):
    """Generator, discriminator (spectral-norm vectors included) and style encoder saved as
    ``.keras`` and loaded give the same outputs."""
    images = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    style = np.ones((2, 8), "float32")
    gen = GPUnitGenerator(SIZE, content_shapes(), ch=2, style_dim=8, seed=1)
    disc = GPUnitDiscriminator(SIZE, 2, ch=2, seed=2)
    disc(images, training=True)  # move the power iteration's vectors off their initial values
    encoder = build_style_encoder(SIZE, ch=2, style_dim=8, compress=4)
    for name, net, run in (("gen", gen, lambda n: n(fake_content(), style)[0]), ("disc", disc, lambda n: n(images)[0]),
                           ("style", encoder, lambda n: n(images))):
        net.save(tmp_path / f"{name}.keras")
        loaded = keras.models.load_model(tmp_path / f"{name}.keras")
        np.testing.assert_array_equal(np.asarray(run(loaded)), np.asarray(run(net)), err_msg=name)
