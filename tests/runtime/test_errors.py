"""Clear errors (RuntimeLoadError) for missing, foreign, corrupt or inconsistent files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from keras_i2i.runtime import RuntimeLoadError, load


def _copy(src_dir, dst_dir, *names):
    dst_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(src_dir / name, dst_dir / name)
    return dst_dir


def _entries(folder) -> dict:
    return {e["file"]: e for e in json.loads((folder / "model.json").read_text())["models"]}


def _write_entries(folder, entries) -> None:
    (folder / "model.json").write_text(json.dumps({"schema": "keras_i2i.export/1", "models": list(entries)}))


def test_is_a_value_error():
    assert issubclass(RuntimeLoadError, ValueError)


@pytest.mark.parametrize("name", ["a2b.fp32.tflite", "a2b.onnx"])
def test_random_bytes_with_a_model_json_entry(exports, tmp_path, name):
    folder = _copy(exports["uint8"], tmp_path / "m", "model.json")
    original = (exports["uint8"] / name).read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, len(original), dtype=np.uint8).tobytes()
    (folder / name).write_bytes(noise)
    # The entry's size and sha256 catch it first ...
    with pytest.raises(RuntimeLoadError, match="sha256.*corrupted after export.*keras-i2i export"):
        load(folder / name)
    (folder / name).write_bytes(noise[:100])
    with pytest.raises(RuntimeLoadError, match="has 100 bytes but its model.json entry says"):
        load(folder / name)
    # ... and without that check the runtime's own refusal is turned into the same kind of error.
    runtime = "LiteRT" if name.endswith(".tflite") else "ONNX Runtime"
    with pytest.raises(RuntimeLoadError, match=f"could not be loaded by {runtime}.*corrupt.*keras-i2i export"):
        load(folder / name, verify=False)


def test_missing_model_json(exports, tmp_path):
    folder = _copy(exports["uint8"], tmp_path / "m", "a2b.fp32.tflite")
    with pytest.raises(RuntimeLoadError, match="No model.json next to .*a2b.fp32.tflite.*keras-i2i export"):
        load(folder / "a2b.fp32.tflite")


def test_file_not_in_model_json(exports, tmp_path):
    """A foreign .tflite (or ours, renamed) in an export folder."""
    folder = _copy(exports["uint8"], tmp_path / "m", "model.json")
    shutil.copy(exports["uint8"] / "a2b.fp32.tflite", folder / "foreign.tflite")
    with pytest.raises(RuntimeLoadError, match=r"has no entry for 'foreign.tflite' \(it lists: a2b.fp32.tflite, "
                                               r"a2b.int8.tflite, a2b.onnx\).*keras-i2i export"):
        load(folder / "foreign.tflite")


def test_unknown_suffix_and_rejected_files(exports, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(RuntimeLoadError, match=r"unknown model file type '.pt'.*\.onnx \(onnx\), \.tflite \(litert\)"):
        load(tmp_path / "model.pt")
    (tmp_path / "a2b.fp32.tflite.rejected").write_bytes(b"x")
    with pytest.raises(RuntimeLoadError, match="failed keras-i2i export's checks"):
        load(tmp_path / "a2b.fp32.tflite.rejected")


def test_missing_file_and_folder(exports, tmp_path):
    with pytest.raises(RuntimeLoadError, match="does not exist"):
        load(tmp_path / "a2b.fp32.tflite")
    with pytest.raises(RuntimeLoadError, match="several files for a2b: .*a2b.fp32.tflite.*format= and mode="):
        load(exports["uint8"])


def test_broken_model_json(exports, tmp_path):
    folder = _copy(exports["uint8"], tmp_path / "m", "a2b.fp32.tflite")
    (folder / "model.json").write_text("{not json")
    with pytest.raises(RuntimeLoadError, match="not valid JSON"):
        load(folder / "a2b.fp32.tflite")
    (folder / "model.json").write_text("[]")
    with pytest.raises(RuntimeLoadError, match="not a keras-i2i model.json"):
        load(folder / "a2b.fp32.tflite")


def test_model_json_that_does_not_describe_the_file(exports, tmp_path):
    folder = _copy(exports["uint8"], tmp_path / "m", "a2b.fp32.tflite", "model.json")
    entry = _entries(folder)["a2b.fp32.tflite"]
    _write_entries(folder, [{**entry, "input": {**entry["input"], "shape": [1, 64, 64, 3]}}])
    with pytest.raises(RuntimeLoadError, match=r"does not match its model.json entry: input shape \[1, 32, 32, 3\] "
                                               r"\(model.json: \[1, 64, 64, 3\]\)"):
        load(folder / "a2b.fp32.tflite")
    _write_entries(folder, [{**entry, "output": {**entry["output"], "dtype": "float32", "range": [-1, 1]}}])
    with pytest.raises(RuntimeLoadError, match=r"output dtype uint8 \(model.json: float32\)"):
        load(folder / "a2b.fp32.tflite")
    _write_entries(folder, [{**entry, "input": {**entry["input"], "shape": [1, 32, 32]}}])
    with pytest.raises(RuntimeLoadError, match=r"'input' block .* not \[1, H, W, 3\]"):
        load(folder / "a2b.fp32.tflite")
    _write_entries(folder, [{k: v for k, v in entry.items() if k != "output"}])
    with pytest.raises(RuntimeLoadError, match="'output' block .* is missing"):
        load(folder / "a2b.fp32.tflite")
    _write_entries(folder, [{**entry, "format": "onnx"}])
    with pytest.raises(RuntimeLoadError, match="says a2b.fp32.tflite is a onnx file"):
        load(folder / "a2b.fp32.tflite")


def test_tflite_runtime_is_the_fallback_and_missing_runtimes_are_named(exports, monkeypatch):
    """Without ai_edge_litert, tflite_runtime's Interpreter is used; without either, the
    error says what to install."""
    import sys
    import types

    from ai_edge_litert.interpreter import Interpreter

    fake = types.ModuleType("tflite_runtime")
    fake.interpreter = types.ModuleType("tflite_runtime.interpreter")
    fake.interpreter.Interpreter = Interpreter
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    monkeypatch.setitem(sys.modules, "tflite_runtime", fake)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake.interpreter)
    translator = load(exports["uint8"] / "a2b.fp32.tflite")
    assert translator.backend == "litert" and translator._backend.package == "tflite-runtime"
    assert translator(np.zeros((8, 8, 3), np.uint8)).shape == (8, 8, 3)

    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(RuntimeLoadError, match=r'ai-edge-litert.*pip install "keras-i2i\[edge\]"'):
        load(exports["uint8"] / "a2b.fp32.tflite")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(RuntimeLoadError, match=r'onnxruntime.*pip install "keras-i2i\[edge\]"'):
        load(exports["uint8"] / "a2b.onnx")
