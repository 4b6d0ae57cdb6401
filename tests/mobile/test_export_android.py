"""``keras-i2i export --android DIR``: only the .tflite files and model.json the app reads,
and a clear refusal of what it cannot run."""

from __future__ import annotations

import json

from click.testing import CliRunner

from keras_i2i.cli import main


def test_export_android_writes_only_what_the_app_reads(trained_run, tmp_path):
    assets = tmp_path / "assets"
    args = ["export", "--run", str(trained_run), "--android", str(assets), "--direction", "a2b", "--parity-count", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in assets.iterdir()) == ["a2b.fp32.tflite", "model.json"]
    entries = json.loads((assets / "model.json").read_text())["models"]
    assert [e["file"] for e in entries] == ["a2b.fp32.tflite"]
    assert entries[0]["input"]["dtype"] == entries[0]["output"]["dtype"] == "uint8"
    assert entries[0]["input"]["shape"] == [1, 32, 32, 3]

    from keras_i2i.export.android import android_problems

    content = (assets / "a2b.fp32.tflite").read_bytes()
    assert android_problems(entries[0], content) == []
    bad = {**entries[0], "input": {**entries[0]["input"], "dtype": "int8"},
           "output": {**entries[0]["output"], "shape": [1, 1, 32, 32, 3]}}
    problems = android_problems(bad, content)
    assert any("int8, not uint8 or float32" in p for p in problems) and any("not [1, H, W, 3]" in p for p in problems)

    again = CliRunner().invoke(main, args)  # nothing the user has is replaced without --force
    assert again.exit_code == 1 and "already exists" in again.output and "--force" in again.output
    assert "Traceback" not in again.output
    mixed = CliRunner().invoke(main, [*args, "--onnx"])
    assert mixed.exit_code == 2 and "leave out --onnx" in mixed.output
