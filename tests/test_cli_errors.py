"""Every user mistake is one clear line: each CLI command with a bad argument of each kind
exits non-zero, prints one line on stderr naming the problem (``Error: ...`` or click's
usage error) and no traceback, and leaves nothing behind.

Add a case: append a :class:`Case` to ``CASES`` (a function of the test's ``Env`` that
returns the arguments), with the text the error line must contain. Cases run in process
through click's CliRunner and fail before any training or conversion, so each takes
well under a second once TensorFlow is loaded; ``needs_run`` cases share one tiny
trained run (the session fixture ``trained_run``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from keras_i2i.cli import main
from tests.conftest import tiny_overrides


@dataclass
class Env:
    """What a case's arguments may point at."""

    tmp: Path
    data: Path  # a tiny dataset root (emoji_root)
    run: Path | None = None  # a trained run (only for cases with needs_run)

    def sets(self, **overrides) -> list[str]:
        """``--set`` arguments of the tiny quickstart config with ``overrides``."""
        return [a for o in tiny_overrides(self.data, **overrides) for a in ("--set", o)]

    def file(self, name: str, content: bytes = b"not a model") -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path


@dataclass
class Case:
    """A command line (``args(env)``) that must fail with one line containing ``expect``.

    ``missing``: modules made unimportable (``sys.modules[name] = None``) during the run.
    ``exit_code``: the status expected (1 for ``Error:``, 2 for click's usage errors).
    ``notes``: beginnings of log lines allowed before the error (e.g. skipped files).
    """

    id: str
    args: Callable[[Env], list[str]]
    expect: tuple[str, ...]
    missing: tuple[str, ...] = ()
    needs_run: bool = False
    exit_code: int = 1
    notes: tuple[str, ...] = ()
    untouched: Callable[[Env], list[Path]] = field(default=lambda env: [])


def bad_config(key: str, value, *expect: str, **extra) -> Case:
    """``train --dry-run`` with ``--set key=value`` on the tiny config."""
    return Case(f"config-{key}={value}", lambda env: ["train", "--dry-run", *env.sets(**{key: value, **extra})],
                (key, *expect))


CASES = [
    # -- config values, caught when the config is loaded (so --dry-run too)
    bad_config("train.batch_size", 0, "0", ">= 1"),
    bad_config("train.batch_size", -2, "-2", ">= 1"),
    bad_config("train.max_steps", 0, ">= 1"),
    bad_config("train.max_steps", -5, "-5", ">= 1"),
    bad_config("train.checkpoint_every", 0, ">= 1"),
    bad_config("train.keep_checkpoints", 0, ">= 1"),
    bad_config("train.log_every", -1, ">= 1"),
    bad_config("train.lr", 0, "> 0"),
    bad_config("train.lr", -0.001, "> 0"),
    bad_config("train.beta1", 1.5, "< 1"),
    bad_config("train.n_epochs", -1, ">= 0"),
    bad_config("data.load_size", 0, ">= 1"),
    bad_config("data.crop_size", 0, ">= 1"),
    bad_config("data.crop_size", -32, ">= 1"),
    bad_config("data.load_size", 30, "less than data.crop_size", "32"),
    bad_config("data.max_images", 0, ">= 1"),
    bad_config("data.crop_size", 63, "multiple of 4", "resnet_6blocks", **{"data.load_size": 70}),
    bad_config("data.crop_size", 8, "at least 12", "patchgan", **{"data.load_size": 8}),
    bad_config("model.generator", "unet_256", "data.crop_size", "multiple of 256"),
    Case("config-no-epochs", lambda env: ["train", "--dry-run", *env.sets(**{
        "train.max_steps": "null", "train.n_epochs": 0, "train.n_epochs_decay": 0})], ("train.n_epochs",)),
    Case("config-xgan-crop", lambda env: ["train", "--dry-run", "--config", "xgan/quickstart", "--set",
                                          "data.crop_size=40", "--set", "data.load_size=40"],
         ("data.crop_size", "40", "multiple of 16")),
    # Not a dry run: the bad value stops train before a run directory exists.
    Case("config-no-run-dir", lambda env: ["train", "--run-dir", str(env.tmp / "new_run"),
                                           *env.sets(**{"train.batch_size": -1})],
         ("train.batch_size",), untouched=lambda env: [env.tmp / "new_run"]),
    Case("config-eval-metric", lambda env: ["train", "--dry-run", *env.sets(**{
        "train.eval_every": 1, "train.eval_metrics": "fid,zzz"})], ("train.eval_metrics", "zzz")),
    Case("config-keep-best", lambda env: ["train", "--dry-run", *env.sets(**{"train.keep_best": "fid"})],
         ("train.keep_best", "train.eval_every")),
    Case("config-unknown-file", lambda env: ["train", "--dry-run", "--config", str(env.tmp / "nope.yaml")],
         ("No config file",)),
    Case("config-unknown-key", lambda env: ["train", "--dry-run", "--set", "train.batchsize=2"], ("train.batchsize",)),
    # -- model.init_from / model.frozen: sources checked before anything is built, names and shapes before step 0
    # (after the trainer's line on the data)
    Case("init-from-missing-file", lambda env: ["train", "--run-dir", str(env.tmp / "new_run"), *env.sets(**{
        "model.init_from.gen_a2b": env.tmp / "nope.weights.h5"})], ("model.init_from.gen_a2b", "does not exist"),
         untouched=lambda env: [env.tmp / "new_run"]),
    Case("init-from-unknown-name", lambda env: ["train", "--run-dir", str(env.tmp / "new_run"), *env.sets(**{
        "model.init_from.gen_ab": env.run})], ("model.init_from", "gen_ab", "disc_a, disc_b, gen_a2b, gen_b2a"),
         needs_run=True, notes=("quickstart:",), untouched=lambda env: [env.tmp / "new_run"]),
    Case("init-from-shapes", lambda env: ["train", "--run-dir", str(env.tmp / "new_run"), *env.sets(**{
        "model.init_from.gen_a2b": env.run, "model.ngf": 8})],
         ("model.init_from.gen_a2b", "stem_conv/kernel", "(7, 7, 3, 4) there and (7, 7, 3, 8) here"),
         needs_run=True, notes=("quickstart:",), untouched=lambda env: [env.tmp / "new_run"]),
    Case("frozen-unknown-name", lambda env: ["train", "--run-dir", str(env.tmp / "new_run"), *env.sets(**{
        "model.frozen": "gen"})], ("model.frozen", "'gen'", "gen_a2b, gen_b2a"), notes=("quickstart:",),
         untouched=lambda env: [env.tmp / "new_run"]),
    Case("xgan-teacher-file", lambda env: ["train", "--dry-run", "--config", "xgan/quickstart", "--set",
                                           "model.teacher=face.keras"], ("model.teacher", "init_from.teacher")),
    # -- missing optional packages, named with the pip command, before any work
    Case("extra-export-onnx", lambda env: ["export", "--run", str(env.tmp), "--onnx"],
         ("tf2onnx", 'pip install "keras-i2i[export]"'), missing=("tf2onnx",)),
    Case("extra-export-onnxruntime", lambda env: ["export", "--run", str(env.tmp), "--onnx"],
         ("onnxruntime", 'pip install "keras-i2i[export]"'), missing=("onnxruntime",)),
    Case("extra-export-tflite", lambda env: ["export", "--run", str(env.tmp), "--tflite"],
         ("ai-edge-litert", 'pip install "keras-i2i[export]"'), missing=("ai_edge_litert",)),
    Case("extra-benchmark-litert", lambda env: ["benchmark", str(env.file("m/a2b.fp32.tflite"))],
         ("ai-edge-litert", 'pip install "keras-i2i[edge]"'), missing=("ai_edge_litert", "tflite_runtime")),
    Case("extra-benchmark-onnxruntime", lambda env: ["benchmark", str(env.file("m/a2b.onnx"))],
         ("onnxruntime", 'pip install "keras-i2i[edge]"'), missing=("onnxruntime",)),
    Case("extra-evaluate-model", lambda env: ["evaluate", "--model", str(env.file("m/a2b.onnx"))],
         ("onnxruntime", 'pip install "keras-i2i[edge]"'), missing=("onnxruntime",)),
    Case("extra-webcam-opencv", lambda env: ["webcam", "--model", str(env.file("m/a2b.onnx")), "--headless"],
         ("opencv", 'pip install "keras-i2i[edge]"'), missing=("cv2",)),
    Case("extra-import-torch", lambda env: ["import-torch", str(env.file("g.pth")), "--out", str(env.tmp / "imp")],
         ("torch", 'pip install "keras-i2i[torch]"'), missing=("torch",)),
    # -- model files that are not what the runtime needs
    Case("evaluate-model-no-model-json", lambda env: ["evaluate", "--model", str(env.file("m/a2b.onnx"))],
         ("model.json",)),
    Case("benchmark-no-model-json", lambda env: ["benchmark", str(env.file("m/a2b.fp32.tflite"))], ("model.json",)),
    Case("benchmark-nonexistent", lambda env: ["benchmark", str(env.tmp / "none.tflite")], ("does not exist",)),
    Case("benchmark-unknown-type", lambda env: ["benchmark", str(env.file("m/a2b.pb"))], ("unknown model file type",)),
    Case("evaluate-neither", lambda env: ["evaluate"], ("--run", "--model"), exit_code=2),
    # -- files and folders that are not there, or not what they should be
    Case("translate-no-input", lambda env: ["translate", "--run", str(env.tmp), "--input", str(env.tmp / "none"),
                                            "--output", str(env.tmp / "out")], ("--input",), exit_code=2),
    Case("translate-not-a-run", lambda env: ["translate", "--run", str(env.data), "--input", str(env.data / "testA"),
                                             "--output", str(env.tmp / "out")], ("config.yaml",)),
    Case("export-not-a-run", lambda env: ["export", "--run", str(env.data)], ("config.yaml",)),
    Case("export-bad-mode", lambda env: ["export", "--run", str(env.tmp), "--quantize", "int3"], ("int3",)),
    Case("import-torch-not-torch", lambda env: ["import-torch", str(env.file("g.pth")), "--out", str(env.tmp / "imp")],
         ("g.pth",)),
    Case("datasets-unknown", lambda env: ["datasets", "download", "no_such_dataset"], ("no_such_dataset",)),
    Case("webcam-no-model-json", lambda env: ["webcam", "--model", str(env.file("m/a2b.onnx")), "--headless"],
         ("model.json",)),
    # -- a trained run and inputs it cannot use
    Case("translate-all-unreadable", lambda env: [
        "translate", "--run", str(env.run), "--input", str(_unreadable(env)), "--output", str(env.tmp / "out")],
         ("None of the 2 input image(s) could be read",), needs_run=True, notes=("Skipping", "Skipped")),
]


def _unreadable(env: Env) -> Path:
    folder = env.tmp / "broken"
    folder.mkdir(exist_ok=True)
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "b.jpg").write_bytes(b"")
    return folder


def assert_one_line_error(result, expect, exit_code=1, notes=()):
    """Non-zero exit, no traceback, one ``Error:`` line (after click's usage lines, or
    log lines that begin with one of ``notes``)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == exit_code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    if exit_code == 1:  # ClickException: that line is the whole of stderr, but for the allowed notes
        lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(notes or "\0")]
        assert lines == errors, result.stderr
    for text in expect:
        assert text in errors[0], (text, errors[0])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_error_is_one_line(case, emoji_root, tmp_path, monkeypatch, request):
    env = Env(tmp=tmp_path, data=emoji_root, run=request.getfixturevalue("trained_run") if case.needs_run else None)
    for module in case.missing:
        monkeypatch.setitem(sys.modules, module, None)
        monkeypatch.setitem(sys.modules, f"{module}.interpreter", None)
    if "cv2" in case.missing:  # the webcam app imports OpenCV when it is first imported
        import keras_i2i.apps

        for name in [m for m in sys.modules if m == "keras_i2i.apps.webcam" or m.startswith("keras_i2i.apps.webcam.")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.delattr(keras_i2i.apps, "webcam", raising=False)
    args = case.args(env)
    before = {p: p.exists() for p in case.untouched(env)}
    files = _contents(tmp_path)
    result = CliRunner().invoke(main, args)
    assert_one_line_error(result, case.expect, case.exit_code, case.notes)
    for path, existed in before.items():
        assert path.exists() == existed, path
    if not case.needs_run:  # nothing was written, moved or changed next to the arguments
        assert _contents(tmp_path) == files


def _contents(folder: Path) -> dict:
    return {p: p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def test_bad_config_in_a_fresh_process_prints_only_the_error(tmp_path):
    """A real process (TensorFlow's start-up log is written before anything can
    capture it in process): stderr is the one error line, no TensorFlow noise."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "keras_i2i.cli", "train", "--run-dir", str(tmp_path / "run"),
                           "--set", "train.batch_size=0"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: train.batch_size: 0 is not allowed; it must be >= 1.", proc.stderr
    assert not (tmp_path / "run").exists()
