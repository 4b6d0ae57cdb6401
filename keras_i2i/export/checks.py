"""Graph checks on exported files: what the edge runtimes need, checked on the flatbuffer.

A ``.tflite`` file passes when it has

- only builtin ops: no custom ops, in particular no ``Flex*`` ops (``SELECT_TF_OPS``),
  which the LiteRT runtime on Android does not have;
- no resource-variable ops (``VAR_HANDLE``, ``READ_VARIABLE``, ``ASSIGN_VARIABLE``,
  ``CALL_ONCE``): a translator is a pure function, variables mean the weights were not
  frozen (see DESIGN.md, ``from_concrete_functions`` with a trackable);
- static input and output shapes (no ``-1`` in their ``shape_signature``);
- no tensor of rank above 4 (the GPU delegate rejects them, e.g. GroupNormalization's
  5-D lowering).

The flatbuffer is read with the schema bundled in ``ai_edge_litert``, so a model with
Flex ops (which the interpreter cannot even allocate) is still inspected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from keras_i2i.export.common import GraphCheckError

VARIABLE_OPS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE")
MAX_RANK = 4


@dataclass
class GraphSummary:
    """What the checks found in one file.

    Args:
        ops: op name -> count over all subgraphs (custom ops by their custom code).
        problems: one sentence per broken rule, naming the op or tensor.
        float_ops: ops computing in float32 in a quantized model (``None`` if not counted).
    """

    ops: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    float_ops: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        data = {"ops": self.ops, "problems": self.problems}
        if self.float_ops is not None:
            data["float_ops"] = self.float_ops
        return data


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _tensor_type_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_") and isinstance(v, int)}


def _decode(name) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def inspect_tflite(content: bytes) -> GraphSummary:
    """Read the ops and tensors of a ``.tflite`` flatbuffer and apply the rules above."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(content), 0)
    builtins, types = _builtin_names(), _tensor_type_names()
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if number == schema.BuiltinOperator.CUSTOM:
            codes.append(("custom", _decode(code.CustomCode())))
        else:
            codes.append(("builtin", builtins.get(number, f"BUILTIN_{number}")))

    ops, float_ops, problems = Counter(), Counter(), []
    custom, variables, high_rank, dynamic = {}, Counter(), [], []
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)

        def tensor_name(index: int) -> str:
            return _decode(graph.Tensors(index).Name())

        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            kind, name = codes[op.OpcodeIndex()]
            ops[name] += 1
            outputs = [op.Outputs(k) for k in range(op.OutputsLength()) if op.Outputs(k) >= 0]
            if kind == "custom":
                custom.setdefault(name, (tensor_name(outputs[0]) if outputs else "?", s, o))
            elif name in VARIABLE_OPS:
                variables[name] += 1
            if kind == "builtin" and name not in ("QUANTIZE", "DEQUANTIZE", "CAST") and outputs:
                if types.get(graph.Tensors(outputs[0]).Type()) == "FLOAT32":
                    float_ops[name] += 1

        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            if tensor.ShapeLength() > MAX_RANK:
                high_rank.append(f"{tensor_name(t)!r} {[int(d) for d in tensor.ShapeAsNumpy()]}")

        if s == 0:
            for role, count, get in (("input", graph.InputsLength(), graph.Inputs), ("output", graph.OutputsLength(), graph.Outputs)):
                for k in range(count):
                    tensor = graph.Tensors(get(k))
                    signature = [int(d) for d in tensor.ShapeSignatureAsNumpy()] if tensor.ShapeSignatureLength() else []
                    if any(d < 0 for d in signature):
                        dynamic.append(f"{role} {_decode(tensor.Name())!r} {signature}")

    for name, (output, s, o) in custom.items():
        where = f"operator #{o}" + (f" of subgraph {s}" if s else "") + f", output {output!r}"
        if name.startswith("Flex"):
            problems.append(
                f"Flex op {name} ({where}, {ops[name]} in all): it needs SELECT_TF_OPS, which the LiteRT runtime on "
                "Android lacks. Replace the TensorFlow op it comes from with builtin ops."
            )
        else:
            problems.append(f"custom op {name} ({where}): only builtin ops are allowed.")
    if variables:
        listed = ", ".join(f"{n} x{c}" for n, c in variables.items())
        problems.append(
            f"variable ops ({listed}): the weights were not frozen into constants. Convert with "
            "TFLiteConverter.from_concrete_functions([fn]) without the trackable argument."
        )
    if high_rank:
        shown = ", ".join(high_rank[:6]) + (f" and {len(high_rank) - 6} more" if len(high_rank) > 6 else "")
        problems.append(
            f"{len(high_rank)} tensor(s) of rank > {MAX_RANK}: {shown}. The GPU delegate takes rank <= {MAX_RANK}; "
            "rewrite the layer that makes them with 4-D ops (e.g. the 4-D InstanceNormalization instead of "
            "GroupNormalization)."
        )
    if dynamic:
        problems.append(f"dynamic shapes: {', '.join(dynamic)}. Export with a fixed input signature (batch 1, fixed size).")
    return GraphSummary(ops=dict(sorted(ops.items())), problems=problems, float_ops=dict(sorted(float_ops.items())))


def check_tflite(content: bytes, file: str = "model.tflite") -> GraphSummary:
    """:func:`inspect_tflite`, raising :class:`GraphCheckError` naming every problem."""
    summary = inspect_tflite(content)
    if summary.problems:
        raise GraphCheckError(file, summary.problems)
    return summary


def inspect_onnx(content: bytes) -> GraphSummary:
    """ONNX rules: a valid model (``onnx.checker``), standard op domains only, static
    input/output shapes."""
    import onnx

    model = onnx.load_from_string(content)
    problems = []
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        problems.append(f"onnx.checker: {str(err).splitlines()[0]}")
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in model.graph.node)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx", "com.microsoft"):
            problems.append(f"op {node.op_type} of domain {node.domain!r} (node {node.name!r}) needs a custom runtime.")
    for role, values in (("input", model.graph.input), ("output", model.graph.output)):
        for value in values:
            dims = value.type.tensor_type.shape.dim
            if not dims or any(not d.HasField("dim_value") or d.dim_value <= 0 for d in dims):
                shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
                problems.append(f"{role} {value.name!r} has a dynamic shape {shape}: export with a fixed input signature.")
    return GraphSummary(ops=dict(sorted(ops.items())), problems=problems)


def check_onnx(content: bytes, file: str = "model.onnx") -> GraphSummary:
    summary = inspect_onnx(content)
    if summary.problems:
        raise GraphCheckError(file, summary.problems)
    return summary
