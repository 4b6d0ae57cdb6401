import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_i2i.layers import Blur2D, Crop2D, InstanceNormalization, ReflectionPadding2D
from keras_i2i.layers.normalization import _normalize


def _x(shape=(2, 8, 6, 3), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_instance_norm_matches_numpy_and_group_norm():
    x = _x()
    y = np.asarray(InstanceNormalization()(x))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), atol=1e-5)
    group = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False)
    np.testing.assert_allclose(y, np.asarray(group(x)), atol=1e-4)


def test_instance_norm_affine_has_weights():
    layer = InstanceNormalization(affine=True)
    layer.build((None, 4, 4, 5))
    assert [w.shape for w in layer.trainable_weights] == [(5,), (5,)]
    assert not InstanceNormalization().trainable_weights


def test_instance_norm_keeps_rank_4_only():
    with pytest.raises(ValueError):
        InstanceNormalization()(np.zeros((2, 3, 4), "float32"))


def test_instance_norm_mixed_precision_output_dtype():
    layer = InstanceNormalization(dtype="mixed_bfloat16")
    assert layer(_x()).dtype == "bfloat16"


@pytest.mark.parametrize("padding", [1, 3, (2, 1), ((1, 2), (3, 0))])
def test_reflection_padding_matches_numpy(padding):
    x = _x((2, 7, 9, 3))
    layer = ReflectionPadding2D(padding)
    (t, b), (l, r) = layer.padding
    expected = np.pad(x, [(0, 0), (t, b), (l, r), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    np.testing.assert_array_equal(np.asarray(ReflectionPadding2D(padding, implementation="pad")(x)), expected)
    assert layer.compute_output_shape((2, 7, 9, 3)) == expected.shape


def test_reflection_padding_rejects_unknown_implementation():
    with pytest.raises(ValueError, match="slices"):
        ReflectionPadding2D(1, implementation="mirror")


LAYERS = [
    lambda: InstanceNormalization(affine=True, epsilon=1e-3),
    lambda: InstanceNormalization(),
    lambda: ReflectionPadding2D(((1, 2), (3, 1))),
    lambda: ReflectionPadding2D(2, implementation="pad"),
    lambda: Blur2D(3, stride=2),
    lambda: Crop2D(((1, 0), (2, 1))),
]


def _value_and_input_gradient(fn, x, weights):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * weights)
    return y.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("layer", [
    InstanceNormalization(), InstanceNormalization(affine=True, epsilon=1e-3),
    ReflectionPadding2D(((1, 2), (3, 1))), ReflectionPadding2D(3), Crop2D(((1, 0), (1, 0))), Crop2D(((2, 1), (0, 3))),
], ids=lambda layer: type(layer).__name__)
def test_training_graph_has_the_inference_values_and_gradients(layer):
    """training=True swaps in ops with cheaper gradients (closed-form instance-norm
    backward, MIRROR_PAD, Slice); values and input gradients stay those of the export graph."""
    x = _x((2, 9, 7, 4), seed=3) * 0.5 + 0.2
    weights = np.random.default_rng(4).normal(size=layer.compute_output_shape(x.shape)).astype("float32")
    y_train, g_train = _value_and_input_gradient(lambda t: layer(t, training=True), x, weights)
    y_infer, g_infer = _value_and_input_gradient(lambda t: layer(t, training=False), x, weights)
    np.testing.assert_allclose(y_train, y_infer, rtol=0, atol=1e-6)
    np.testing.assert_allclose(g_train, g_infer, rtol=1e-5, atol=1e-5)
    if not isinstance(layer, InstanceNormalization):  # pure data movement: the same values
        np.testing.assert_array_equal(y_train, y_infer)
    if isinstance(layer, Crop2D):  # and the same gradient (padding's border sums may add in another order)
        np.testing.assert_array_equal(g_train, g_infer)


def test_instance_norm_closed_form_gradient_is_differentiable_again():
    """Second-order terms (an R1 penalty through a normalized network) match autodiff."""
    x0 = tf.constant(_x((1, 6, 5, 3), seed=5))
    weights = tf.constant(_x((1, 6, 5, 3), seed=6))

    def grad_norm(fn):
        x = tf.identity(x0)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                loss = tf.reduce_sum(tf.tanh(fn(x)) * weights)
            penalty = tf.reduce_sum(tf.square(inner.gradient(loss, x)))
        return outer.gradient(penalty, x).numpy()

    closed_form = grad_norm(lambda t: InstanceNormalization()(t, training=True))
    autodiff = grad_norm(lambda t: _normalize(t, 1e-5)[0])
    np.testing.assert_allclose(closed_form, autodiff, rtol=1e-4, atol=1e-4)


def test_crop_matches_cropping2d():
    x = _x((2, 9, 7, 3))
    for cropping in (1, (2, 1), ((1, 0), (1, 0)), ((0, 3), (2, 2))):
        want = np.asarray(keras.layers.Cropping2D(cropping)(x))
        layer = Crop2D(cropping)
        np.testing.assert_array_equal(np.asarray(layer(x)), want)
        np.testing.assert_array_equal(np.asarray(layer(x, training=True)), want)
        assert layer.compute_output_shape(x.shape) == want.shape
    inputs = keras.Input((None, None, 3))  # dynamic height and width, both paths
    model = keras.Model(inputs, [Crop2D(((1, 2), (0, 3)))(inputs), Crop2D(((1, 2), (0, 3)))(inputs, training=True)])
    for got in model(x):
        np.testing.assert_array_equal(np.asarray(got), x[:, 1:-2, 0:-3])


def test_blur_is_a_strided_binomial_filter():
    x = np.random.default_rng(1).normal(size=(1, 7, 9, 2)).astype("float32")
    got = np.asarray(Blur2D(3, stride=2)(x))
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    expected = np.zeros((1, 3, 4, 2), "float32")
    for i in range(3):
        for j in range(4):
            expected[0, i, j] = np.einsum("hwc,hw->c", x[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3], k)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert Blur2D(3).compute_output_shape((1, 7, 9, 2)) == (1, 3, 4, 2)
    with pytest.raises(ValueError, match="between 1 and 7"):
        Blur2D(9)


@pytest.mark.parametrize("make", LAYERS)
def test_layer_config_and_keras_file_round_trip(make, tmp_path):
    layer = make()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, layer(inputs))
    if layer.trainable_weights:
        for w in layer.trainable_weights:
            w.assign(np.random.default_rng(1).normal(size=w.shape))
    path = tmp_path / "layer.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _x((2, 8, 8, 3))
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
