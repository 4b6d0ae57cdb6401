"""benchmarks/gpu_check.sh: its --dry-run (the GPU check's code path on CPU, tiny sizes) writes
the report the GPU run writes; its goal arithmetic; a missing dependency fails in one line."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.slow
def test_dry_run_writes_the_report(tmp_path):
    out = tmp_path / "gpu_check.json"
    frameworks = "keras,torch" if HAS_TORCH else "keras"  # torch is an optional extra
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--json", str(out),
                           "--frameworks", frameworks], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "goal b1:" in proc.stdout and "DRY RUN" in proc.stdout

    report = json.loads(out.read_text())
    assert report["dry_run"] is True
    assert {"text", "target_speedup", "per_batch", "valid", "met"} <= set(report["goal"])
    assert report["goal"]["valid"] is False  # a dry run is no verdict
    assert report["environment"]["machine"]["versions"]["tensorflow"]
    assert report["settings"]["xla"] is False and report["settings"]["size"] == 32
    rows = {(r["framework"], r["precision"], r["strategy"]): r["result"] for r in report["rows"]}
    expected = {("keras", "bf16_xla", "default"), ("keras", "bf16_xla", "mirrored"), ("tfdata", "-", "-")}
    if HAS_TORCH:
        expected |= {("torch", "fp32", "default"), ("torch", "amp_bf16", "default"), ("torch", "amp_fp16", "default")}
    assert set(rows) == expected
    for (framework, _, _), result in rows.items():
        if framework == "tfdata":
            assert result["images_per_s"] > 0 and result["batch_shape"] == [16, 32, 32, 3]
            continue
        assert result["steps_timed"] == 2 and result["warmup_steps"] == 1 and result["median_step_s"] > 0
        assert "peak_memory_bytes" in result and result["global_batch"] == 1
    assert rows[("keras", "bf16_xla", "default")]["policy"] == "mixed_bfloat16"
    assert rows[("keras", "bf16_xla", "mirrored")]["strategy"] == "MirroredStrategy"
    if HAS_TORCH:
        assert report["goal"]["per_batch"]["1"]["speedup"] > 0
        assert rows[("torch", "amp_fp16", "default")]["grad_scaler"] is True
    assert report["data_stream"]["stream_batch"] == 16 and report["data_stream"]["ratio"] > 0


def _row(framework, precision, batch, median, strategy="default", replicas=1):
    return {"framework": framework, "precision": precision, "batch": batch, "strategy": strategy,
            "result": {"median_step_s": median, "global_batch": batch * replicas, "replicas": replicas}}


def test_goal_arithmetic():
    rows = [_row("torch", "fp32", 1, 0.030), _row("keras", "bf16_xla", 1, 0.015),
            _row("torch", "fp32", 8, 0.200), _row("keras", "bf16_xla", 8, 0.160),
            _row("keras", "bf16_xla", 8, 0.170, "mirrored", replicas=2),
            {"framework": "tfdata", "precision": "-", "batch": 16, "strategy": "-", "result": {"images_per_s": 400.0}}]
    goal = gpu_check.summarize(rows, valid=True)
    assert goal["per_batch"]["1"]["speedup"] == pytest.approx(2.0) and goal["per_batch"]["1"]["met"] is True
    assert goal["per_batch"]["8"]["speedup"] == pytest.approx(1.25) and goal["per_batch"]["8"]["met"] is False
    assert goal["met"] is False
    assert rows[4]["speedup_vs_torch_fp32"] == pytest.approx(2 * 0.2 / 0.17)  # two GPUs' images/s against one
    stream = gpu_check.stream_verdict(rows)  # no keras row at batch 16: the fastest one (mirrored, 94 images/s)
    assert stream["step_row"] == "keras bf16_xla mirrored b8" and stream["ratio"] == pytest.approx(400 / (16 / 0.17))
    assert stream["met"] is False


def test_missing_dependency_fails_in_one_line(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert gpu_check.main(["--dry-run", "--json", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gpu_check: missing Python package(s) torch") and "\n" not in err
    monkeypatch.undo()
    monkeypatch.setattr(gpu_check.shutil, "which", lambda name: None)
    assert gpu_check.main(["--frameworks", "keras", "--json", str(tmp_path / "x.json")]) == 2
    assert "no NVIDIA GPU" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
