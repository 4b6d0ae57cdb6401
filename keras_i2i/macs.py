"""Multiply-accumulate counts (MACs) of translators: Keras models and exported files.

One convention everywhere: the multiply-accumulates of convolution and dense layers,
per image (batch 1) at the given input size. Counted are standard, grouped and
depthwise convolutions (``N*Ho*Wo*kh*kw*Cin_per_group*Cout``), transposed convolutions counted as the
convolution over the stride-upsampled input they equal (``N*(Hi*s)*(Wi*s)*kh*kw*Cin*Cout``,
the count of thop and of GAN Compression's tables) and dense layers or matrix products
(``M*K*N``). Not counted: bias adds, normalizations, activations,
padding, resizes, element-wise ops. On this convention the CycleGAN ResNet-9 generator
is 56.8 GMAC at 256x256 (the figure GAN Compression reports).

A Keras model is counted from the graph TensorFlow traces for one fixed-size input; a
``.tflite`` file from its operators and tensor shapes (``ai_edge_litert``, no
TensorFlow); an ``.onnx`` file from its graph after ONNX shape inference. The three
agree on the same network (tested).

    count_macs(model, (256, 256))          # a keras.Model: int
    file_macs("export/a2b.fp32.tflite")    # an exported file: int (its fixed input size)
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

CONVENTION = "multiply-accumulates of convolution (incl. depthwise, transposed) and dense layers, per image"


def gmac(macs: Optional[int]) -> Optional[float]:
    """MACs in GMAC (10^9), rounded to 4 decimals; None stays None."""
    return None if macs is None else round(macs / 1e9, 4)


# ----------------------------------------------------------------------------- Keras


def count_macs(model, input_size: Sequence[int], channels: Optional[int] = None) -> int:
    """MACs of one call of ``model`` (a Keras model or any callable of one NHWC image
    batch) on a ``(height, width)`` image, batch 1, in inference mode.

    Args:
        model: the network.
        input_size: ``(height, width)`` (or an int for a square).
        channels: input channels. [default: the model's input's last dimension, else 3]
    """
    import tensorflow as tf

    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    if channels is None:
        shape = getattr(model, "input_shape", None)
        channels = shape[-1] if isinstance(shape, tuple) and shape and isinstance(shape[-1], int) else 3
    spec = tf.TensorSpec((1, int(input_size[0]), int(input_size[1]), int(channels)), tf.float32)
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec).graph
    return graph_macs(graph)


def _dims(tensor) -> list[int]:
    shape = tensor.shape
    if shape.rank is None or any(d is None for d in shape.as_list()):
        raise ValueError(f"MACs need static shapes; {tensor.name} has shape {shape}.")
    return shape.as_list()


def _graph_op_macs(op) -> int:
    kind = op.type
    if kind == "Conv2D":
        out, kernel = _dims(op.outputs[0]), _dims(op.inputs[1])
        if op.get_attr("data_format") == b"NCHW":
            out = [out[0], out[2], out[3], out[1]]
        return int(np.prod(out[:3])) * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    if kind == "DepthwiseConv2dNative":
        out, kernel = _dims(op.outputs[0]), _dims(op.inputs[1])
        if op.get_attr("data_format") == b"NCHW":
            out = [out[0], out[2], out[3], out[1]]
        return int(np.prod(out[:3])) * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    if kind == "Conv2DBackpropInput":  # a transposed convolution: inputs (output_shape, kernel, input)
        x, kernel, strides = _dims(op.inputs[2]), _dims(op.inputs[1]), list(op.get_attr("strides"))
        if op.get_attr("data_format") == b"NCHW":
            x, strides = [x[0], x[2], x[3], x[1]], [strides[0], strides[2], strides[3], strides[1]]
        return int(np.prod(x[:3])) * strides[1] * strides[2] * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    if kind == "MatMul":
        a = _dims(op.inputs[0])
        k = a[0] if op.get_attr("transpose_a") else a[1]
        return int(np.prod(_dims(op.outputs[0]))) * k
    if kind in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a = _dims(op.inputs[0])
        k = a[-2] if op.get_attr("adj_x") else a[-1]
        return int(np.prod(_dims(op.outputs[0]))) * k
    return 0


def graph_macs(graph) -> int:
    """MACs of the convolution and matrix-product ops of a TensorFlow graph (and of the
    functions it calls)."""
    total, seen = 0, set()

    def walk(g):
        nonlocal total
        for op in g.get_operations():
            total += _graph_op_macs(op)
        for name, function in getattr(g, "_functions", {}).items():
            if name not in seen:
                seen.add(name)
                inner = getattr(function, "graph", None)
                if inner is not None:
                    walk(inner)

    walk(graph)
    return total


# ----------------------------------------------------------------------------- files


def tflite_macs(content: bytes) -> int:
    """MACs of a ``.tflite`` model (its bytes) from its operators' tensor shapes."""
    from keras_i2i.runtime.backends import _litert_interpreter_class

    interpreter_class, _ = _litert_interpreter_class()
    interpreter = interpreter_class(model_content=content)
    shapes = {t["index"]: [int(d) for d in t["shape"]] for t in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():  # noqa: SLF001 (the only way to read the operator list)
        name, inputs, outputs = op["op_name"], list(op["inputs"]), list(op["outputs"])
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            out, kernel = shapes[outputs[0]], shapes[inputs[1]]  # kernel: (Cout, kh, kw, Cin) / (1, kh, kw, Cout)
            cin = kernel[3] if name == "CONV_2D" else 1
            total += int(np.prod(out)) * kernel[1] * kernel[2] * cin
        elif name == "TRANSPOSE_CONV":  # inputs: output shape, kernel (Cout, kh, kw, Cin), input
            x, kernel, out = shapes[inputs[2]], shapes[inputs[1]], shapes[outputs[0]]
            stride = [max(1, out[1] // x[1]), max(1, out[2] // x[2])]  # out = s*in (+ k - s with valid padding)
            total += int(np.prod(x[:3])) * stride[0] * stride[1] * int(np.prod(kernel))
        elif name == "FULLY_CONNECTED":
            out, kernel = shapes[outputs[0]], shapes[inputs[1]]  # kernel: (units, K)
            total += int(np.prod(out)) * kernel[1]
        elif name == "BATCH_MATMUL":
            a = shapes[inputs[0]]
            total += int(np.prod(shapes[outputs[0]])) * a[-1]
    return total


def onnx_macs(content: bytes) -> int:
    """MACs of an ``.onnx`` model (its bytes) after ONNX shape inference."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load_from_string(content))
    graph = model.graph
    shapes = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    for node in graph.node:  # constants folded into Constant nodes
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = list(numpy_helper.to_array(attr.t).shape)

    def known(name):
        dims = shapes.get(name)
        if dims is None or any(d is None for d in dims):
            raise ValueError(f"MACs need static shapes; {name} has shape {dims}.")
        return dims

    total = 0
    for node in graph.node:
        if node.op_type == "Conv":  # weight (Cout, Cin/groups, kh, kw), output NCHW
            out, w = known(node.output[0]), known(node.input[1])
            total += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type == "ConvTranspose":  # weight (Cin, Cout/groups, kh, kw), input NCHW
            x, w = known(node.input[0]), known(node.input[1])
            strides = next((list(attr.ints) for attr in node.attribute if attr.name == "strides"), [1, 1])
            total += x[0] * int(np.prod(x[2:])) * int(np.prod(strides)) * int(np.prod(w))
        elif node.op_type == "Gemm":
            a = known(node.input[0])
            trans_a = next((attr.i for attr in node.attribute if attr.name == "transA"), 0)
            total += int(np.prod(known(node.output[0]))) * (a[0] if trans_a else a[1])
        elif node.op_type == "MatMul":
            total += int(np.prod(known(node.output[0]))) * known(node.input[0])[-1]
    return total


def file_macs(path) -> int:
    """MACs of an exported ``.tflite`` or ``.onnx`` file at its fixed input size."""
    path = Path(path)
    content = path.read_bytes()
    if path.suffix == ".tflite":
        return tflite_macs(content)
    if path.suffix == ".onnx":
        return onnx_macs(content)
    raise ValueError(f"{path}: MACs are counted for .tflite and .onnx files only.")


__all__ = ["CONVENTION", "count_macs", "file_macs", "gmac", "graph_macs", "onnx_macs", "tflite_macs"]
