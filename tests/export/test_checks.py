"""The graph checks catch what the edge runtimes cannot run (tiny hand-made models)."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from keras_i2i.export.checks import check_onnx, check_tflite, inspect_tflite
from keras_i2i.export.common import GraphCheckError


def _convert(fn, shape=(1, 8, 8, 3), select_tf_ops=False, trackable=None):
    fn = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32, name="image")])
    args = [[fn.get_concrete_function()]] + ([trackable] if trackable is not None else [])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(*args)
    if select_tf_ops:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return converter.convert()


def _conv_model():
    inputs = keras.Input((8, 8, 3), batch_size=1)
    return keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs))


def test_a_clean_model_passes():
    model = _conv_model()
    summary = check_tflite(_convert(lambda x: model(x)))
    assert summary.ok and summary.ops == {"CONV_2D": 1}


def test_rank_5_tensor_is_named():
    inputs = keras.Input((8, 8, 3), batch_size=1)
    x = keras.layers.Reshape((8, 8, 3, 1), name="to5d")(inputs)
    x = keras.layers.Rescaling(2.0, name="scale5d")(x)
    model = keras.Model(inputs, keras.layers.Reshape((8, 8, 3), name="to4d")(x))
    with pytest.raises(GraphCheckError, match=r"rank > 4: '[^']*to5d[^']*' \[1, 8, 8, 3, 1\]") as info:
        check_tflite(_convert(lambda x: model(x)), "bad.tflite")
    assert "bad.tflite" in str(info.value)


def test_group_normalization_5d_lowering_is_caught():
    inputs = keras.Input((8, 8, 4), batch_size=1)
    model = keras.Model(inputs, keras.layers.GroupNormalization(groups=-1, name="instnorm5d")(inputs))
    problems = inspect_tflite(_convert(lambda x: model(x), shape=(1, 8, 8, 4))).problems
    assert len(problems) == 1
    assert "rank > 4" in problems[0] and "instnorm5d" in problems[0] and "GroupNormalization" in problems[0]


def test_flex_op_is_named():
    content = _convert(lambda x: tf.math.cumprod(x, axis=1), select_tf_ops=True)
    with pytest.raises(GraphCheckError, match="Flex op FlexCumprod.*SELECT_TF_OPS"):
        check_tflite(content)


def test_variable_ops_are_caught():
    # DESIGN.md's pitfall: from_concrete_functions with the trackable keeps VAR_HANDLE ops.
    model = _conv_model()
    with pytest.raises(GraphCheckError, match=r"variable ops \(VAR_HANDLE x\d"):
        check_tflite(_convert(lambda x: model(x), trackable=model))


def test_dynamic_shapes_are_caught():
    model = _conv_model()
    problems = inspect_tflite(_convert(lambda x: model(x), shape=(None, 8, 8, 3))).problems
    assert problems == [
        "dynamic shapes: input 'image' [-1, 8, 8, 3], output 'Identity' [-1, 8, 8, 3]. "
        "Export with a fixed input signature (batch 1, fixed size)."
    ]


def test_onnx_dynamic_batch_is_caught():
    import tf2onnx

    model = _conv_model()
    fn = tf.function(lambda x: model(x))
    spec = [tf.TensorSpec((None, 8, 8, 3), tf.float32, name="image")]
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=17)
    with pytest.raises(GraphCheckError, match="input 'image' has a dynamic shape"):
        check_onnx(proto.SerializeToString())
