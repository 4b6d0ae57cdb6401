"""``keras-i2i benchmark`` through click's CliRunner, and the runtime without TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from keras_i2i.cli import main


def test_benchmark_command_prints_a_table_and_writes_json(exports, tmp_path):
    files = [str(exports["uint8"] / "a2b.fp32.tflite"), str(exports["uint8"] / "a2b.int8.tflite"),
             str(exports["float"] / "a2b.onnx")]
    out = tmp_path / "results" / "bench.json"
    result = CliRunner().invoke(main, ["benchmark", *files, "--runs", "3", "--warmup", "1", "--threads", "1",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("file"))
    assert "model p50" in lines[header] and "e2e p50" in lines[header] and "img/s" in lines[header]
    rows = lines[header + 1:header + 4]
    assert [r.split()[:3] for r in rows] == [["a2b.fp32.tflite", "litert", "fp32"], ["a2b.int8.tflite", "litert", "int8"],
                                            ["a2b.onnx", "onnx", "fp32"]]
    report = json.loads(out.read_text())
    assert report["settings"] == {"threads": 1, "runs": 3, "warmup": 1, "frame": [640, 480], "resize": "stretch",
                                  "resizer": "opencv", "threads_note": "null: each runtime's default"}
    assert [r["file"] for r in report["results"]] == ["a2b.fp32.tflite", "a2b.int8.tflite", "a2b.onnx"]
    for r in report["results"]:
        assert r["input_size"] == [32, 32] and r["size_bytes"] > 0 and r["threads"] == 1
        for part in ("model", "end_to_end"):
            stats = r[part]
            assert stats["runs"] == 3 and 0 < stats["min_ms"] <= stats["p50_ms"] <= stats["p95_ms"]
            assert stats["throughput_ips"] > 0
    assert report["results"][2]["io"] == "float" and report["results"][0]["io"] == "uint8"
    assert "ai-edge-litert" in report["machine"]["versions"]


def test_benchmark_command_errors(exports, tmp_path):
    (tmp_path / "x.tflite").write_bytes(b"junk")
    result = CliRunner().invoke(main, ["benchmark", str(exports["uint8"] / "a2b.onnx"), str(tmp_path / "x.tflite")])
    assert result.exit_code == 1 and "No model.json next to" in result.output
    result = CliRunner().invoke(main, ["benchmark", str(exports["uint8"] / "a2b.onnx"), "--runs", "0"])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["benchmark", str(exports["uint8"] / "a2b.onnx"), "--frame", "640"])
    assert result.exit_code == 2 and "WIDTHxHEIGHT" in result.output


def test_runtime_and_benchmark_import_neither_tensorflow_nor_keras(exports, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import keras_i2i.runtime
        from keras_i2i.runtime import load
        image = np.zeros((48, 64, 3), np.uint8)
        for path in {[str(exports["uint8"] / "a2b.int8.tflite"), str(exports["float"] / "a2b.onnx")]!r}:
            assert load(path, num_threads=1)(image).shape == image.shape
        from keras_i2i.cli import main
        main(["benchmark", {str(exports["uint8"] / "a2b.fp32.tflite")!r}, "--runs", "1", "--warmup", "0"],
             standalone_mode=False)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        print("HEAVY", heavy)
        assert not heavy, heavy
    """)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "HEAVY []" in proc.stdout
