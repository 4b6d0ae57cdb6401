"""``keras-i2i webcam`` headless on a synthetic video and fake cameras, with a tiny exported model:
the written video is the runtime's translation of every input frame, cameras keep only the
newest frame, errors are clear and leave a valid video, keys work, stats are right."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from keras_i2i.cli import main
from tests.apps.conftest import FPS, FRAMES, HEIGHT, WIDTH, read_video, synthetic_frames, write_video


def _translate_like_webcam(translator, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(input box, translated box) in BGR, computed here with the runtime's translator."""
    import cv2

    top, left, h, w = translator.crop_box(*frame.shape[:2])
    box = frame[top:top + h, left:left + w]
    return box, cv2.cvtColor(translator(cv2.cvtColor(box, cv2.COLOR_BGR2RGB)), cv2.COLOR_RGB2BGR)


def _invoke(*args):
    return CliRunner().invoke(main, ["webcam", *map(str, args)])


def test_video_is_translated_frame_by_frame(webcam_model, synthetic_video, tmp_path):
    from keras_i2i.runtime import load

    model = webcam_model["tflite"]
    out, stats_path = tmp_path / "out.avi", tmp_path / "stats" / "stats.json"
    result = _invoke("--model", model, "--video", synthetic_video, "--headless", "--output", out, "--fourcc", "FFV1",
                     "--threads", 1, "--json", stats_path)
    assert result.exit_code == 0, result.output
    assert "16 frame(s) translated, 16 captured, 0 dropped" in result.output and "inference (litert) p50" in result.output

    inputs = read_video(synthetic_video)
    assert len(inputs) == FRAMES
    written = read_video(out)
    assert len(written) == FRAMES
    assert all(f.shape == (HEIGHT, HEIGHT, 3) for f in written)  # the centered 48x48 box (square model)
    translator = load(model, num_threads=1, resize="crop")
    for frame, got in zip(inputs, written):
        box, expected = _translate_like_webcam(translator, frame)
        np.testing.assert_array_equal(got, expected)  # FFV1 is lossless: exactly the runtime's output
        assert np.abs(got.astype(int) - box.astype(int)).mean() > 10  # and it is a translation, not the input

    stats = json.loads(stats_path.read_text())
    assert stats["schema"] == "keras_i2i.webcam/1"
    assert (stats["frames"], stats["captured"], stats["dropped"]) == (FRAMES, FRAMES, 0)
    assert stats["backend"] == "litert" and stats["threads"] == 1 and stats["resize"] == "crop"
    assert stats["input_size"] == [32, 32] and stats["frame_size"] == [HEIGHT, HEIGHT]
    assert stats["source"] == {"kind": "video", "name": str(synthetic_video), "live": False, "fps": FPS,
                               "size": [WIDTH, HEIGHT]}
    assert stats["output"] == str(out) and stats["stopped_by"] == "end of video" and stats["error"] is None
    inference = stats["inference"]
    assert 0 < inference["min_ms"] <= inference["p50_ms"] <= inference["p95_ms"]
    assert stats["capture_fps"] > 0 and stats["end_to_end_fps"] > 0
    # End to end cannot beat the model: 16 frames need at least 16 inference minimums.
    assert stats["end_to_end_fps"] <= 1000.0 / inference["min_ms"]
    assert stats["latency"]["p50_ms"] >= inference["min_ms"]
    assert stats["duration_s"] * stats["end_to_end_fps"] >= FRAMES * 0.99  # the rate is over the whole run


def test_mp4_side_by_side_stretch_onnx(webcam_model, synthetic_video, tmp_path):
    from keras_i2i.runtime import load

    model = webcam_model["onnx"]
    out = tmp_path / "out.mp4"
    result = _invoke("--model", model, "--video", synthetic_video, "--headless", "--output", out, "--side-by-side",
                     "--resize", "stretch", "--backend", "onnx", "--max-frames", 10)
    assert result.exit_code == 0, result.output
    written = read_video(out)
    assert len(written) == 10 and all(f.shape == (HEIGHT, 2 * WIDTH, 3) for f in written)
    translator = load(model, resize="stretch")
    for frame, got in zip(read_video(synthetic_video), written):
        box, expected = _translate_like_webcam(translator, frame)
        assert box.shape == frame.shape
        # mp4v is lossy: close to input | translation, and far from input | input.
        left, right = got[:, :WIDTH].astype(int), got[:, WIDTH:].astype(int)
        error = np.abs(right - expected).mean()
        assert np.abs(left - box).mean() < 6 and error < 10, error
        assert np.abs(right - box).mean() > 2 * error  # nearer the translation than the input


def test_run_directory_runs_the_keras_translator(webcam_model, synthetic_video, tmp_path):
    from keras_i2i.runtime import load

    out = tmp_path / "keras.avi"
    result = _invoke("--model", webcam_model["run"], "--video", synthetic_video, "--headless", "--output", out,
                     "--fourcc", "FFV1", "--max-frames", 3, "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s.json").read_text())["backend"] == "keras"
    translator = load(webcam_model["tflite"], resize="crop")
    written = read_video(out)
    assert len(written) == 3
    for frame, got in zip(read_video(synthetic_video), written):
        _, expected = _translate_like_webcam(translator, frame)
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 2  # Keras vs its fp32 export


def _live_source(frames, period: float, stop_after: int | None = None, hang: threading.Event | None = None):
    """A fake camera: ``frames`` one every ``period`` s; then read() fails, or blocks on ``hang``."""
    from keras_i2i.apps.webcam import FrameSource

    class Capture:
        def __init__(self):
            self.i = 1

        def get(self, prop):
            return 0.0

        def read(self):
            time.sleep(period)
            if self.i >= (stop_after or len(frames)):
                if hang is not None:
                    hang.wait(30)
                return False, None
            self.i += 1
            return True, frames[self.i - 1].copy()

        def release(self):
            pass

    return FrameSource(Capture(), "camera", "fake", frames[0].copy(), live=True)


def _indexed_frames(count):
    """Frames whose left half encodes their index as a gray level (survives a lossless codec)."""
    frames = synthetic_frames(count)
    for i, frame in enumerate(frames):
        frame[:, :WIDTH // 2] = 4 * i
    return frames


class _Slow:
    """A translator whose model takes at least ``seconds`` per call."""

    def __init__(self, translator, seconds):
        self._translator, self._seconds = translator, seconds

    def __getattr__(self, name):
        return getattr(self._translator, name)

    def run_raw(self, x):
        time.sleep(self._seconds)
        return self._translator.run_raw(x)


def test_camera_keeps_only_the_newest_frame(webcam_model, tmp_path):
    from keras_i2i.apps.webcam import WebcamError, run
    from keras_i2i.runtime import load

    translator = _Slow(load(webcam_model["tflite"], resize="stretch"), 0.04)
    frames = _indexed_frames(60)
    out = tmp_path / "live.avi"
    with pytest.raises(WebcamError, match="stopped delivering frames") as info:  # the fake camera ends after 60
        run(translator, _live_source(frames, 0.005), output=out, fourcc="FFV1", side_by_side=True)
    stats = info.value.stats
    written = read_video(out)
    indices = [int(round(f[:, :WIDTH // 4].mean() / 4)) for f in written]
    assert len(written) == stats["frames"] and stats["captured"] == 60
    assert stats["dropped"] > 0 and stats["frames"] + stats["dropped"] <= 60
    assert indices == sorted(set(indices))  # never an older frame after a newer one
    assert max(np.diff(indices)) > 1  # frames were skipped, not queued


def test_camera_that_stops_mid_stream_leaves_a_valid_video(webcam_model, tmp_path):
    from keras_i2i.apps.webcam import WebcamError, run
    from keras_i2i.runtime import load

    translator = load(webcam_model["tflite"])
    out, stats_path = tmp_path / "partial.mp4", tmp_path / "stats.json"
    source = _live_source(synthetic_frames(), 0.01, stop_after=6)
    with pytest.raises(WebcamError, match="Camera fake stopped delivering frames .* after 6 frame"):
        try:
            run(translator, source, output=out, json_path=stats_path)
        except WebcamError as err:
            assert err.stats["captured"] == 6 and err.stats["frames"] >= 1
            frames_before = err.stats["frames"]
            raise
    written = read_video(out)
    assert len(written) == frames_before and written[0].shape == (HEIGHT, WIDTH, 3)  # stretch: whole frame
    stats = json.loads(stats_path.read_text())
    assert stats["stopped_by"] == "error" and "stopped delivering frames" in stats["error"]


def test_camera_that_hangs_times_out(webcam_model, tmp_path):
    from keras_i2i.apps.webcam import WebcamError, run
    from keras_i2i.runtime import load

    hang = threading.Event()
    try:
        source = _live_source(synthetic_frames(), 0.01, stop_after=3, hang=hang)
        start = time.perf_counter()
        with pytest.raises(WebcamError, match=r"none for 1 s after 3 frame"):
            run(load(webcam_model["tflite"]), source, output=tmp_path / "o.avi", frame_timeout=1.0)
        assert time.perf_counter() - start < 10
        assert len(read_video(tmp_path / "o.avi")) == 3
    finally:
        hang.set()


class _ScriptedDisplay:
    """A window stand-in: records what is shown and presses keys at given shown frames;
    space at shown frame ``pause_at`` is released after ``pause_polls`` polls."""

    def __init__(self, keys: dict, pause_polls: int = 5):
        self.keys, self.pause_polls = keys, pause_polls
        self.shown, self.polls_while_paused, self.paused, self.closed_called = [], 0, False, False

    def show(self, image):
        self.shown.append(image)
        key = self.keys.get(len(self.shown), -1)
        if key == ord(" "):
            self.paused = True
        return key

    def poll(self, wait_ms=10):
        if self.paused:
            self.polls_while_paused += 1
            if self.polls_while_paused == self.pause_polls:
                self.paused = False
                return ord(" ")
        return -1

    def closed(self):
        return False

    def close(self):
        self.closed_called = True


def test_keys_overlay_snapshot_pause_and_quit(webcam_model, synthetic_video, tmp_path):
    import cv2

    from keras_i2i.apps.webcam import open_video, run
    from keras_i2i.runtime import load

    translator = load(webcam_model["tflite"], num_threads=1, resize="crop")
    display = _ScriptedDisplay({1: ord("v"), 2: ord("s"), 3: ord(" "), 7: ord("q")})
    lines = []
    stats = run(translator, open_video(synthetic_video), display=display, output=tmp_path / "o.avi", fourcc="FFV1",
                snapshot_dir=tmp_path / "snaps", echo=lines.append)
    assert stats["stopped_by"] == "key" and stats["frames"] == 6 and display.closed_called
    assert display.polls_while_paused == display.pause_polls  # shown nothing new until space again
    widths = [image.shape[1] for image in display.shown]
    assert widths == [HEIGHT] + [2 * HEIGHT] * 6  # v: input | output in the window from frame 2
    written = read_video(tmp_path / "o.avi")
    assert len(written) == 6 and all(f.shape == (HEIGHT, HEIGHT, 3) for f in written)  # the file keeps its layout
    # Space showed the same frame again with a third overlay line (PAUSED): a taller overlay.
    raw = np.hstack([_translate_like_webcam(translator, read_video(synthetic_video)[2])[0], written[2]])
    overlay_rows = [np.nonzero(np.any(display.shown[i] != raw, axis=2))[0].max() for i in (2, 3)]
    assert overlay_rows[1] > overlay_rows[0]
    # The overlay covers the top-left corner only; elsewhere the window shows the output.
    first = display.shown[0]
    changed = np.any(first != written[0], axis=2)
    rows, cols = np.nonzero(changed)
    assert rows.min() == 0 and cols.min() == 0 and rows.max() < HEIGHT - 4
    # s saved the view without overlay: input box | output box of frame 2.
    assert len(stats["snapshots"]) == 1 and lines == [f"Snapshot: {stats['snapshots'][0]}"]
    snapshot = cv2.imread(stats["snapshots"][0])
    box, _ = _translate_like_webcam(translator, read_video(synthetic_video)[1])
    np.testing.assert_array_equal(snapshot, np.hstack([box, written[1]]))


def test_errors_are_clear(webcam_model, synthetic_video, tmp_path, monkeypatch):
    from keras_i2i.apps import webcam as app

    tflite = webcam_model["tflite"]
    cases = []
    result = _invoke("--model", tflite, "--camera", 97, "--headless")
    cases.append((result, "No camera at index 97"))
    junk_video = tmp_path / "junk.mp4"
    junk_video.write_bytes(b"not a video" * 100)
    result = _invoke("--model", tflite, "--video", junk_video, "--headless")
    cases.append((result, f"Cannot read video {junk_video}"))
    result = _invoke("--model", tflite, "--video", tmp_path / "missing.avi", "--headless")
    cases.append((result, "does not exist"))
    stranger = tmp_path / "model.tflite"
    stranger.write_bytes(b"\x00" * 64)
    result = _invoke("--model", stranger, "--video", synthetic_video, "--headless")
    cases.append((result, "No model.json next to"))
    text = tmp_path / "weights.h5"
    text.write_bytes(b"x")
    result = _invoke("--model", text, "--video", synthetic_video, "--headless")
    cases.append((result, "unknown model file type '.h5'"))
    result = _invoke("--model", tmp_path, "--video", synthetic_video, "--headless")
    cases.append((result, "not a run directory (no config.yaml)"))
    result = _invoke("--model", tflite, "--backend", "onnx", "--video", synthetic_video, "--headless")
    cases.append((result, "runs on litert, not onnx"))
    result = _invoke("--model", tflite, "--video", synthetic_video, "--headless", "--output", tmp_path / "o.xyz")
    cases.append((result, "Cannot tell the video format of o.xyz"))
    monkeypatch.setattr(app.display, "_gui_backend", lambda: "NONE")
    result = _invoke("--model", tflite, "--video", synthetic_video)
    cases.append((result, "no GUI support"))
    for result, message in cases:
        assert result.exit_code == 1 and message in result.output, (message, result.output)
    assert "--headless" in result.output
    assert not (tmp_path / "o.xyz").exists()
    result = _invoke("--model", tflite, "--video", synthetic_video, "--camera", 0, "--headless")
    assert result.exit_code == 2 and "not both" in result.output


def test_headless_opencv_is_detected():
    from importlib import metadata

    from keras_i2i.apps.webcam import gui_available

    try:
        metadata.version("opencv-python-headless")
        headless = True
    except metadata.PackageNotFoundError:
        headless = False
    if headless:
        assert gui_available() is False


def test_runs_without_tensorflow(webcam_model, synthetic_video, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from keras_i2i.apps.webcam import webcam
        stats = webcam({str(webcam_model['tflite'])!r}, video={str(synthetic_video)!r}, headless=True,
                       output={str(tmp_path / 'o.mp4')!r}, max_frames=4)
        assert stats["frames"] == 4, stats
        leaked = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
        assert not leaked, leaked
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
    assert len(read_video(tmp_path / "o.mp4")) == 4


def test_realtime_video_is_paced_like_a_camera(webcam_model, tmp_path):
    video = write_video(tmp_path / "fast.avi", synthetic_frames(12), fps=60)
    result = _invoke("--model", webcam_model["tflite"], "--video", video, "--headless", "--realtime",
                     "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["source"]["live"] is True and stats["captured"] == 12
    assert stats["frames"] + stats["dropped"] <= 12
    assert stats["duration_s"] >= 11 / 60  # read at the file's 60 FPS, not as fast as it decodes


def test_sigterm_stops_cleanly_with_a_valid_video(webcam_model, tmp_path):
    video = write_video(tmp_path / "long.avi", synthetic_frames(90), fps=30)  # 3 s in real time
    out, stats_path = tmp_path / "o.mp4", tmp_path / "s.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_i2i.cli", "webcam", "--model", str(webcam_model["tflite"]), "--video", str(video),
         "--realtime", "--headless", "--output", str(out), "--json", str(stats_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    assert stats["stopped_by"] == "SIGTERM" and 0 < stats["frames"] < 90 and "(SIGTERM" in stdout
    assert len(read_video(out)) == stats["frames"]  # the mp4 was finalized


def test_backend_choice_with_a_run_directory(webcam_model, synthetic_video, tmp_path):
    run = webcam_model["run"]
    for backend, file in (("litert", "a2b.fp32.tflite"), ("onnx", "a2b.onnx")):
        result = _invoke("--model", run, "--backend", backend, "--video", synthetic_video, "--headless",
                         "--max-frames", 2, "--json", tmp_path / f"{backend}.json")
        assert result.exit_code == 0, result.output
        stats = json.loads((tmp_path / f"{backend}.json").read_text())
        assert stats["backend"] == backend and stats["model"] == str(run / "export" / file) and stats["frames"] == 2
    result = _invoke("--model", webcam_model["tflite"], "--backend", "keras", "--video", synthetic_video, "--headless")
    assert result.exit_code == 1 and "--backend keras needs a run directory" in result.output
    (tmp_path / "bare_run").mkdir()
    (tmp_path / "bare_run" / "config.yaml").write_text((run / "config.yaml").read_text())
    result = _invoke("--model", tmp_path / "bare_run", "--backend", "litert", "--video", synthetic_video, "--headless")
    assert result.exit_code == 1 and "has no exported .tflite file" in result.output
    result = _invoke("--model", tmp_path / "bare_run", "--backend", "onnx", "--direction", "b2a", "--video",
                     synthetic_video, "--headless")
    assert result.exit_code == 1 and "has no exported .onnx file for b2a" in result.output
    result = _invoke("--model", run, "--backend", "onnx", "--direction", "b2a", "--video", synthetic_video, "--headless")
    assert result.exit_code == 1 and "no model for direction 'b2a'" in result.output and "declares: a2b" in result.output


def test_window_path_with_a_stand_in_gui(webcam_model, synthetic_video, monkeypatch):
    """The real Window class over stand-ins for OpenCV's GUI calls (this OpenCV has none)."""
    import cv2

    from keras_i2i.apps import webcam as app

    calls = {"imshow": [], "destroyed": 0}
    monkeypatch.setattr(app.display, "_gui_backend", lambda: "GTK+ 3.x")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "namedWindow", lambda title, flags=0: calls.setdefault("named", title))
    monkeypatch.setattr(cv2, "imshow", lambda title, image: calls["imshow"].append((title, image.shape)))
    # q (with a modifier bit set: key codes are masked to 8 bits) while the third frame is shown
    monkeypatch.setattr(cv2, "waitKey", lambda ms=0: 0x10071 if len(calls["imshow"]) == 3 else -1)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda title, prop: 1.0)
    monkeypatch.setattr(cv2, "destroyWindow", lambda title: calls.__setitem__("destroyed", calls["destroyed"] + 1))
    stats = app.webcam(webcam_model["tflite"], video=synthetic_video, side_by_side=True)
    assert stats["stopped_by"] == "key" and stats["frames"] == 3
    assert calls["named"] == app.WINDOW_TITLE and calls["destroyed"] == 1
    assert calls["imshow"] == [(app.WINDOW_TITLE, (HEIGHT, 2 * HEIGHT, 3))] * 3

    calls["imshow"].clear()
    monkeypatch.setattr(cv2, "waitKey", lambda ms=0: -1)
    # The user closes the window while the third frame is shown.
    monkeypatch.setattr(cv2, "getWindowProperty", lambda title, prop: 0.0 if len(calls["imshow"]) >= 3 else 1.0)
    stats = app.webcam(webcam_model["tflite"], video=synthetic_video)
    assert stats["stopped_by"] == "window closed" and stats["frames"] == 3 and len(calls["imshow"]) == 3
