"""Outputs never overwrite inputs or each other, and an unwritable output is one clear line.

Each refusal happens before the work starts (most before TensorFlow or a model loads),
leaves the inputs byte-identical, and ends with exit status 1 and one ``Error:`` line on
stderr, no traceback. The tests run as root, for whom permission bits do not apply:
"permission denied" is simulated by patching ``os.access``; "a path under a file" is real.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from keras_i2i.cli import main
from keras_i2i.outputs import OutputError, check_not_input, check_writable_dir, run_inputs
from keras_i2i.translate import MARK, output_names, written_by_translate
from tests.conftest import EMOJI, copy_emoji


def snapshot(*roots) -> dict:
    """Path -> bytes of every file under ``roots`` (files or folders)."""
    files = {}
    for root in map(Path, roots):
        for path in ([root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())):
            files[path] = path.read_bytes()
    return files


def refused(result, *words):
    """Exit 1, one ``Error:`` line on stderr that contains ``words``, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def images(tmp_path) -> Path:
    """A folder of 3 emoji with a sub-folder, and a non-image file."""
    folder = copy_emoji(tmp_path / "images", "A", 2)
    copy_emoji(folder / "sub", "A", 1)
    (folder / "notes.txt").write_text("keep me")
    return folder


def deny_writes(monkeypatch, denied: Path):
    """Make ``os.access`` say no for writes under ``denied`` (as for a user without permission)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        inside = Path(os.path.abspath(path)) == denied or denied in Path(os.path.abspath(path)).parents
        return False if inside and mode & os.W_OK else real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# ------------------------------------------------------------------ output over input
def test_translate_refuses_output_over_input(tmp_path, images):
    # No trained run is needed: every one of these is refused before the run loads.
    before = snapshot(images)
    for output in (images, images / "translated", images / "sub"):
        refused(invoke("translate", "--run", tmp_path, "--input", images, "--output", output), "--output", "input")
    # Through a symbolic link to the input folder, and as the folder of a single input PNG.
    (tmp_path / "link").symlink_to(images)
    refused(invoke("translate", "--run", tmp_path, "--input", images, "--output", tmp_path / "link"), "input")
    single = sorted(images.glob("*.png"))[0]
    refused(invoke("translate", "--run", tmp_path, "--input", single, "--output", images), "overwrite the input")
    assert snapshot(images) == before
    assert not (images / "translated").exists()


def test_webcam_refuses_output_over_input(tmp_path):
    from tests.apps.conftest import synthetic_frames, write_video

    video = write_video(tmp_path / "in.avi", synthetic_frames(4))
    model = tmp_path / "export" / "a2b.onnx"  # never loaded: the outputs are checked first
    model.parent.mkdir()
    model.write_bytes(b"model bytes")
    (model.parent / "model.json").write_text("{}")
    before = snapshot(video, model.parent)
    args = ["webcam", "--model", model, "--video", video, "--headless"]
    refused(invoke(*args, "--output", video), "--output", "in.avi")
    (tmp_path / "video_link.avi").symlink_to(video)
    refused(invoke(*args, "--output", tmp_path / "video_link.avi"), "--output", "input")
    refused(invoke(*args, "--output", tmp_path / "out.mkv", "--json", model.parent / "model.json"), "--json", "model.json")
    refused(invoke(*args, "--json", model), "--json", "a2b.onnx")
    refused(invoke(*args, "--output", tmp_path / "out.avi", "--json", tmp_path / "out.avi"), "--json", "--output")
    assert snapshot(video, model.parent) == before
    assert not (tmp_path / "out.avi").exists() and not (tmp_path / "out.mkv").exists()


def test_other_commands_refuse_outputs_over_their_inputs(tmp_path):
    run = tmp_path / "run"  # the files of a run; none of these commands gets as far as loading it
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint").write_text("model_checkpoint_path: 'ckpt-1'\n")
    (run / "config.yaml").write_text("name: quickstart\n")
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    model = tmp_path / "export" / "a2b.fp32.tflite"
    model.parent.mkdir()
    model.write_bytes(b"tflite bytes")
    (model.parent / "model.json").write_text("{}")
    before = snapshot(run, model.parent)
    refused(invoke("evaluate", "--run", run, "--json", run / "config.yaml"), "--json", "config.yaml")
    refused(invoke("evaluate", "--run", run, "--json", run / "metrics.jsonl"), "--json", "metrics.jsonl")
    refused(invoke("evaluate", "--model", model, "--json", model.parent / "model.json"), "--json", "model.json")
    refused(invoke("benchmark", model, "--json", model.parent / "model.json"), "--json", "model.json")
    refused(invoke("export", "--run", run, "--out", run / "checkpoints"), "--out", "checkpoints")
    refused(invoke("export", "--run", run, "--out", run / "checkpoints" / "export"), "--out", "checkpoints")
    # import-torch --force replaces --out: never a folder that holds the checkpoint (nor the checkpoint's own path).
    pth = tmp_path / "torch" / "latest_net_G_A.pth"
    pth.parent.mkdir()
    pth.write_bytes(b"torch bytes")
    refused(invoke("import-torch", pth, "--out", pth.parent, "--force"), "--out", "latest_net_G_A.pth")
    refused(invoke("import-torch", pth, "--out", tmp_path, "--force"), "--out", "latest_net_G_A.pth")
    assert snapshot(run, model.parent, pth) == {**before, pth: b"torch bytes"}


def test_check_not_input_rules(tmp_path):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "a.png").write_bytes(b"a")
    check_not_input(tmp_path / "out", [inputs], folder=True)  # a sibling folder is fine
    check_not_input(tmp_path, [inputs], folder=True)  # so is a folder that holds the input (not replaced)
    with pytest.raises(OutputError, match="holds the input"):
        check_not_input(tmp_path, [inputs], folder=True, replaces=True)
    with pytest.raises(OutputError, match="inside the input folder"):
        check_not_input(inputs / "sub" / "deeper", [inputs], folder=True)
    with pytest.raises(OutputError, match="is the input"):
        check_not_input(inputs / "a.png", [inputs / "a.png"])
    os.link(inputs / "a.png", tmp_path / "hard.png")
    with pytest.raises(OutputError, match="is the input"):
        check_not_input(tmp_path / "hard.png", [inputs / "a.png"])
    check_not_input(tmp_path / "a.png", [inputs / "a.png", None, tmp_path / "missing"])
    assert run_inputs(tmp_path)[1].name == __import__("keras_i2i.training.trainer").training.trainer.CHECKPOINT_DIR


# ------------------------------------------------------------------ output collisions
def test_output_names_keep_the_suffix_on_collisions(tmp_path):
    base = tmp_path
    files = [base / n for n in ("cat.jpg", "cat.png", "dog.JPG", "Dog.webp", "sub/cat.jpg", "bird.bmp")]
    names = {str(p.relative_to(base)): str(n) for p, n in output_names(files, base).items()}
    assert names == {"cat.jpg": "cat.jpg.png", "cat.png": "cat.png", "dog.JPG": "dog.JPG.png",
                     "Dog.webp": "Dog.webp.png", "sub/cat.jpg": "sub/cat.png", "bird.bmp": "bird.png"}
    with pytest.raises(OutputError, match="would both be written as cat.jpg.png"):
        output_names([base / "cat.jpg", base / "cat.png", base / "cat.jpg.png"], base)


def test_translate_collisions_reruns_and_foreign_files(trained_run, tmp_path):
    source = sorted((EMOJI / "trainA").glob("*.png"))[:2]
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(source[0], inputs / "cat.png")
    Image.open(source[1]).convert("RGB").save(inputs / "cat.jpg", quality=95)  # another image, the same stem
    out = tmp_path / "out"
    args = ["translate", "--run", trained_run, "--input", inputs, "--output", out]
    before = snapshot(inputs)

    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["cat.jpg.png", "cat.png"]
    assert all(written_by_translate(p) for p in out.iterdir())
    assert Image.open(out / "cat.png").info.get(MARK[0]) == MARK[1]
    first = snapshot(out)
    assert first[out / "cat.png"] != first[out / "cat.jpg.png"]

    result = invoke(*args)  # again into the same folder: replaces its own outputs
    assert result.exit_code == 0, result.output
    assert snapshot(out) == first

    # A file translate did not write is never replaced without --force, and nothing else is written.
    (out / "cat.png").unlink()
    shutil.copy(source[1], out / "cat.png")
    mine = snapshot(out)
    refused(invoke(*args), "--force", "cat.png")
    assert snapshot(out) == mine
    result = invoke(*args, "--force")
    assert result.exit_code == 0, result.output
    assert snapshot(out) == first
    assert snapshot(inputs) == before


# ------------------------------------------------------------------ unwritable outputs
def test_unwritable_outputs_under_a_file(tmp_path):
    from tests.apps.conftest import synthetic_frames, write_video

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    under = blocker / "out"
    images = copy_emoji(tmp_path / "images", "A", 1)
    video = write_video(tmp_path / "in.avi", synthetic_frames(2))
    model = tmp_path / "a2b.onnx"
    model.write_bytes(b"model bytes")
    run = tmp_path / "run"
    run.mkdir()
    pth = tmp_path / "g.pth"
    pth.write_bytes(b"torch bytes")
    before = snapshot(tmp_path)

    refused(invoke("translate", "--run", run, "--input", images, "--output", under), "a_file is a file")
    webcam = ["webcam", "--model", model, "--video", video, "--headless"]
    refused(invoke(*webcam, "--output", under / "out.avi"), "--output", "a_file is a file")
    refused(invoke(*webcam, "--json", under / "stats.json"), "--json", "a_file is a file")
    refused(invoke("webcam", "--model", model, "--video", video, "--snapshot-dir", under), "--snapshot-dir",
            "a_file is a file")
    refused(invoke("export", "--run", run, "--out", under), "--out", "a_file is a file")
    refused(invoke("evaluate", "--run", run, "--json", under / "r.json"), "--json", "a_file is a file")
    refused(invoke("evaluate", "--model", model, "--json", under / "r.json"), "--json", "a_file is a file")
    refused(invoke("benchmark", model, "--json", under / "b.json"), "--json", "a_file is a file")
    refused(invoke("import-torch", pth, "--out", under / "run"), "--out", "a_file is a file")
    refused(invoke("train", "--run-dir", under / "run", "--set", "train.max_steps=1"), "--run-dir", "a_file is a file")
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a2b.onnx", "a_file", "g.pth", "images", "in.avi", "run"]


def test_unwritable_outputs_permission_denied(tmp_path, monkeypatch):
    from tests.apps.conftest import synthetic_frames, write_video

    locked = tmp_path / "locked"
    locked.mkdir()
    deny_writes(monkeypatch, locked)
    images = copy_emoji(tmp_path / "images", "A", 1)
    video = write_video(tmp_path / "in.avi", synthetic_frames(2))
    model = tmp_path / "a2b.tflite"
    model.write_bytes(b"model bytes")
    run = tmp_path / "run"
    run.mkdir()
    pth = tmp_path / "g.pth"
    pth.write_bytes(b"torch bytes")
    with pytest.raises(OutputError, match="permission denied"):
        check_writable_dir(locked / "new" / "deeper")

    refused(invoke("translate", "--run", run, "--input", images, "--output", locked / "o"), "permission denied")
    refused(invoke("webcam", "--model", model, "--video", video, "--headless", "--output", locked / "o.avi"),
            "--output", "permission denied")
    refused(invoke("export", "--run", run, "--out", locked), "--out", "permission denied")
    refused(invoke("evaluate", "--run", locked, "--metrics", "psnr"), "permission denied")
    refused(invoke("benchmark", model, "--json", locked / "b.json"), "--json", "permission denied")
    refused(invoke("import-torch", pth, "--out", locked / "run"), "--out", "permission denied")
    refused(invoke("train", "--run-dir", locked / "run", "--set", "train.max_steps=1"), "--run-dir",
            "permission denied")
    assert list(locked.iterdir()) == []
