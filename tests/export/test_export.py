"""export_run on a tiny trained run: every mode exports, runs in its real runtime and
matches Keras; model.json, atomic writes, refusals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.export.conftest import TRAIN_IMAGES

TFLITE_MODES = ("fp32", "fp16", "dynamic", "int8", "int16x8")
FLOORS = {"fp32": 60.0, "fp16": 45.0, "dynamic": 35.0, "int16x8": 40.0, "int8": 28.0}


@pytest.fixture(scope="module")
def full_export(trained_run, tmp_path_factory):
    """a2b in every TFLite mode, ONNX fp32 and ONNX int8 (one export, shared)."""
    from keras_i2i.export import export_run

    out = tmp_path_factory.mktemp("export_all")
    report = export_run(trained_run, formats=["tflite", "onnx"], modes="all", directions="a2b", out=out,
                        onnx_quantize=True)
    return report, out


def _parity_images(run_dir, count=4):
    from keras_i2i.data.images import read_image, resize

    files = sorted((run_dir.parent / "data" / "testA").glob("*.png"))[:count]
    return np.stack([resize(read_image(f), 32, 32) for f in files])


def _run_litert(path, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def test_every_tflite_mode_exports_and_passes_parity(full_export, trained_run):
    report, out = full_export
    images = _parity_images(trained_run)
    for mode in TFLITE_MODES:
        result = report.result(f"a2b.{mode}.tflite")
        assert result["status"] == "ok", result.get("reason")
        assert result["parity"]["psnr_db"] >= FLOORS[mode]
        assert result["min_psnr_db"] == FLOORS[mode]
        assert result["parity"]["images"] == 8 and result["parity"]["source"].endswith("testA")
        assert result["checks"]["problems"] == []
        path = out / f"a2b.{mode}.tflite"
        y = _run_litert(path, images[:1])  # uint8 pixels in, uint8 pixels out
        assert y.dtype == np.uint8 and y.shape == (1, 32, 32, 3)
    assert not list(out.glob("*.rejected"))
    assert report.ok


def test_int8_network_is_integer_and_io_is_plain_pixels(full_export):
    from keras_i2i.export.tflite import io_details

    report, out = full_export
    result = report.result("a2b.int8.tflite")
    # Only the pixel conversions at the edges and the instance norms compute in float;
    # convolutions are int8.
    float_ops = result["checks"]["float_ops"]
    assert set(float_ops) <= {"ADD", "SUB", "MUL", "MINIMUM", "MAXIMUM", "RELU", "ROUND", "MEAN", "RSQRT"}
    assert float_ops["RSQRT"] == 17  # one per instance norm of the ResNet-6 generator (1 + 2 + 6 * 2 + 2)
    assert result["checks"]["ops"]["CONV_2D"] > 0 and "CONV_2D" not in float_ops
    inp, outp = io_details((out / "a2b.int8.tflite").read_bytes())
    assert inp["dtype"] == outp["dtype"] == "uint8"
    assert inp["quantization"] is None and outp["quantization"] is None  # no scale/zero point to apply
    assert result["calibration"]["images"] == TRAIN_IMAGES  # fewer than the 100 asked: all of them
    assert result["calibration"]["requested"] == 100
    assert result["calibration"]["source"].endswith("trainA")


def test_onnx_exports_and_passes_parity(full_export, trained_run):
    import onnxruntime as ort

    report, out = full_export
    for name, floor in (("a2b.onnx", 60.0), ("a2b.int8.onnx", 28.0)):
        result = report.result(name)
        assert result["status"] == "ok", result.get("reason")
        assert result["runtime"] == "onnx" and result["io"] == "float"
        assert result["parity"]["psnr_db"] >= floor
        session = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].shape == [1, 32, 32, 3]
        x = _parity_images(trained_run, 1).astype(np.float32) / 127.5 - 1.0
        y = session.run(None, {session.get_inputs()[0].name: x})[0]
        assert y.shape == (1, 32, 32, 3) and np.all(np.abs(y) <= 1.0)
    assert "QuantizeLinear" in report.result("a2b.int8.onnx")["checks"]["ops"]


def test_onnx_int8_keeps_the_first_and_last_convolution_float(full_export):
    """Every convolution's weights come through a DequantizeLinear except the first
    (reading the image) and the last (writing it)."""
    import onnx

    _, out = full_export
    graph = onnx.load(str(out / "a2b.int8.onnx")).graph
    producers = {o: n for n in graph.node for o in n.output}
    convs = [n for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]

    def int8_weights(conv):
        node = producers.get(conv.input[1])
        return node is not None and node.op_type == "DequantizeLinear"

    assert len(convs) > 2
    assert [int8_weights(c) for c in convs] == [False] + [True] * (len(convs) - 2) + [False]


def test_model_json_describes_every_file(full_export):
    report, out = full_export
    data = json.loads((out / "model.json").read_text())
    entries = {e["file"]: e for e in data["models"]}
    assert set(entries) == {f"a2b.{m}.tflite" for m in TFLITE_MODES} | {"a2b.onnx", "a2b.int8.onnx"}
    for name, entry in entries.items():
        content = (out / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["direction"] == "a2b" and entry["source_domain"] == "a" and entry["target_domain"] == "b"
        assert entry["name"] == "quickstart" and entry["model"] == "cyclegan"
        assert Path(entry["source_checkpoint"] + ".index").is_file()
        assert entry["keras_i2i_version"] and entry["created"].endswith("Z")
        for side in ("input", "output"):
            spec = entry[side]
            assert spec["shape"] == [1, 32, 32, 3] and spec["layout"] == "NHWC" and spec["color"] == "RGB"
            if entry["io"] == "uint8":
                assert spec["dtype"] == "uint8" and spec["range"] == [0, 255]
            else:
                assert spec["dtype"] == "float32" and spec["range"] == [-1, 1]
        assert entry["runtime"] == ("litert" if name.endswith(".tflite") else "onnx")
        assert entry["parity"]["psnr_db"] >= entry["parity"]["min_psnr_db"]
    assert entries["a2b.int8.tflite"]["quantization"]["calibration"]["images"] == TRAIN_IMAGES
    assert entries["a2b.fp32.tflite"]["quantization"]["calibration"] is None
    assert "float" in entries["a2b.int8.tflite"]["quantization"]["io"]
    saved = json.loads((out / "export_report.json").read_text())
    assert [r["file"] for r in saved["results"]] == [r["file"] for r in report.results] and saved["ok"]
    table = report.table()
    assert all(r["file"] in table for r in report.results)


def test_uint8_io_matches_float_io(trained_run, full_export, tmp_path):
    from keras_i2i.export import export_run

    _, out = full_export
    report = export_run(trained_run, modes="fp32", directions="a2b", io="float", out=tmp_path)
    assert report.ok and report.result("a2b.fp32.tflite")["io"] == "float"
    images = _parity_images(trained_run)
    for image in images:
        pixels = _run_litert(out / "a2b.fp32.tflite", image[None]).astype(np.int32)
        y = _run_litert(tmp_path / "a2b.fp32.tflite", image[None].astype(np.float32) / 127.5 - 1.0)
        expected = np.clip(np.round((y + 1.0) * 127.5), 0, 255).astype(np.int32)
        assert np.abs(pixels - expected).max() <= 1


def test_model_json_merges_and_existing_files_need_force(trained_run, tmp_path):
    from keras_i2i.export import ExportError, export_run

    export_run(trained_run, directions="a2b", out=tmp_path)
    export_run(trained_run, directions="b2a", out=tmp_path)
    files = [e["file"] for e in json.loads((tmp_path / "model.json").read_text())["models"]]
    assert files == ["a2b.fp32.tflite", "b2a.fp32.tflite"]
    assert not (tmp_path / ".model.json.lock").exists()  # model.json's lock is the folder itself

    before = (tmp_path / "a2b.fp32.tflite").stat().st_mtime_ns
    with pytest.raises(ExportError, match=r"a2b\.fp32\.tflite already exists.*--force"):
        export_run(trained_run, directions="a2b", out=tmp_path)
    assert (tmp_path / "a2b.fp32.tflite").stat().st_mtime_ns == before

    report = export_run(trained_run, directions="a2b", out=tmp_path, force=True)
    assert report.ok
    files = [e["file"] for e in json.loads((tmp_path / "model.json").read_text())["models"]]
    assert files == ["a2b.fp32.tflite", "b2a.fp32.tflite"]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "export_report.json")  # no lock file either


def test_failed_conversion_leaves_no_file(trained_run, tmp_path, monkeypatch):
    import tensorflow as tf

    from keras_i2i.export import export_run

    def broken(self):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "convert", broken)
    report = export_run(trained_run, directions="a2b", out=tmp_path)
    result = report.result("a2b.fp32.tflite")
    assert not report.ok and result["status"] == "error" and "converter exploded" in result["reason"]
    assert _leftovers(tmp_path) == []
    assert json.loads((tmp_path / "export_report.json").read_text())["results"][0]["status"] == "error"


def test_failed_write_leaves_no_partial_file(trained_run, tmp_path, monkeypatch):
    import keras_i2i.export.common as common
    from keras_i2i.export import export_run

    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".tflite"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(common.os, "replace", replace)
    report = export_run(trained_run, directions="a2b", out=tmp_path)
    result = report.result("a2b.fp32.tflite")
    assert result["status"] == "error" and "disk full" in result["reason"]
    assert _leftovers(tmp_path) == []  # neither the model nor its temporary file


def test_parity_failure_moves_the_file_aside(trained_run, tmp_path):
    from keras_i2i.export import export_run

    report = export_run(trained_run, directions="a2b", out=tmp_path, min_psnr={"fp32": 101})
    result = report.result("a2b.fp32.tflite")
    assert not report.ok and result["status"] == "rejected" and "101 dB" in result["reason"]
    assert (tmp_path / "a2b.fp32.tflite.rejected").is_file()
    assert not (tmp_path / "a2b.fp32.tflite").exists()
    assert not (tmp_path / "model.json").exists()
    assert json.loads((tmp_path / "export_report.json").read_text())["ok"] is False


def test_int8_without_calibration_images_is_a_clear_error(trained_run, tmp_path):
    from keras_i2i.export import ExportError, export_run

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ExportError, match="No readable calibration images.*--calibration"):
        export_run(trained_run, modes="int8", directions="a2b", calibration=empty, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_requests_are_clear_errors(trained_run, tmp_path):
    from keras_i2i.export import ExportError, export_run
    from keras_i2i.translate import RunError

    with pytest.raises(ExportError, match=r"cannot take 30x30.*28 and 32"):
        export_run(trained_run, size=30, out=tmp_path)
    with pytest.raises(ExportError, match=r"no direction 'c2d'.*a2b, b2a"):
        export_run(trained_run, directions="c2d", out=tmp_path)
    with pytest.raises(ExportError, match=r"Unknown quantization mode 'int4'.*int16x8"):
        export_run(trained_run, modes="int4", out=tmp_path)
    with pytest.raises(ExportError, match="--min-psnr: unknown mode 'int9'"):
        export_run(trained_run, min_psnr={"int9": 3}, out=tmp_path)
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(trained_run / "config.yaml", untrained / "config.yaml")
    with pytest.raises(RunError, match="no checkpoint"):
        export_run(untrained, out=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["untrained"]


def test_int8_can_quantize_the_instance_norms_too(trained_run):
    from keras_i2i.export.checks import inspect_tflite
    from keras_i2i.export.tflite import convert_tflite
    from keras_i2i.translate import load_run

    _, model = load_run(trained_run)
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    content = convert_tflite(model.translators()["a2b"], 32, "int8", "uint8", images, float_norms=False)
    assert "RSQRT" not in inspect_tflite(content).float_ops
