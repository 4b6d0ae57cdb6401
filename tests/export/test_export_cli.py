"""``keras-i2i export`` through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from keras_i2i.cli import main


def test_export_command_writes_every_direction(trained_run, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", "--run", str(trained_run), "--tflite", "--onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = {"a2b.fp32.tflite", "b2a.fp32.tflite", "a2b.onnx", "b2a.onnx"}
    assert expected <= {p.name for p in out.iterdir()}
    assert {e["file"] for e in json.loads((out / "model.json").read_text())["models"]} == expected
    for name in expected:  # the parity table
        assert name in result.output
    assert "PSNR dB" in result.output

    again = CliRunner().invoke(main, ["export", "--run", str(trained_run), "--direction", "a2b", "--out", str(out)])
    assert again.exit_code == 1 and "a2b.fp32.tflite already exists" in again.output and "--force" in again.output


def test_export_command_errors(trained_run, tmp_path):
    runner = CliRunner()
    out = str(tmp_path / "out")
    result = runner.invoke(main, ["export", "--run", str(trained_run), "--direction", "c2d", "--out", out])
    assert result.exit_code == 1 and "no direction 'c2d'" in result.output
    result = runner.invoke(main, ["export", "--run", str(trained_run), "--min-psnr", "int8", "--out", out])
    assert result.exit_code == 2 and "MODE=DB" in result.output
    result = runner.invoke(main, ["export", "--run", str(trained_run), "--direction", "a2b", "--out", out,
                                  "--min-psnr", "fp32=101"])
    assert result.exit_code == 3 and "rejected" in result.output
    assert (tmp_path / "out" / "a2b.fp32.tflite.rejected").is_file()
