"""Live translation of a camera or a video file with OpenCV (``keras-i2i webcam``).

Three threads, so that reading frames, running the model and showing/writing results
overlap (OpenCV and the runtimes release the GIL while they work):

1. **capture** reads a frame and prepares the model input: the centered box with the
   model's aspect ratio (``resize="crop"``; ``"stretch"`` takes the whole frame), BGR to
   RGB, resized to the model input (the runtime's INTER_AREA/INTER_CUBIC) and
   :meth:`Translator.preprocess`. A *live* source (a camera) goes into a one-frame
   mailbox that keeps only the newest frame: a frame the model had no time for is
   replaced and counted as dropped, so the picture never lags behind the camera
   (OpenCV's own buffer is set to one frame where the driver allows it). A *video file*
   is not live: by default every frame goes through a short FIFO and the reader waits
   for the model, so the output has exactly one frame per input frame and runs are
   reproducible. ``realtime=True`` (``--realtime``) makes a file behave like a camera:
   read at its own frame rate, newest frame only.
2. **inference** runs only the model (:meth:`Translator.run_raw`), so that the model is
   the only work on its thread.
3. **main** (the caller's thread, as OpenCV's GUI requires) turns the output back into
   pixels at the box's size (:meth:`Translator.postprocess`, resize, RGB to BGR; the
   same result as ``translator(box)``), writes every translated frame to ``output``,
   shows it with an overlay (end-to-end FPS, inference latency) and handles the keys:
   ``q``/``Esc`` quit, ``s`` saves a PNG snapshot of the view, space pauses, ``v``
   toggles side by side (input | output) in the window.

The translated stream written to ``output`` is the translated box (or input | output
with ``side_by_side``), at the box's size and the source's frame rate, without the
overlay; the ``v`` key changes only the window. The writer is released in a ``finally``,
so a stream that fails midway (camera unplugged, Ctrl-C, SIGTERM) leaves a valid video
of the frames written so far.

Stats (returned, printed by the CLI, saved as JSON with ``json_path``): ``frames``
(translated and written/shown), ``captured``, ``dropped`` (replaced before the model got
to them), ``capture_fps`` (frames read per second between the first and the last read),
``inference`` (p50/p95/mean/min ms of the model call), ``read`` (decoding or waiting
for a frame), ``preprocess`` and ``postprocess`` (the pixel work around the model),
``end_to_end_fps`` (frames / seconds from the first frame's capture to the last frame's
output), ``latency`` (capture to output, per frame, ms).

Imports neither TensorFlow nor Keras unless the model is a run directory (the Keras
translator, for comparison with the exported files).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from keras_i2i.extras import require
from keras_i2i.runtime import RuntimeLoadError, Translator, load
from keras_i2i.runtime.backends import Backend, backend_for
from keras_i2i.runtime.benchmark import latency_stats
from keras_i2i.runtime.imaging import resize as resize_image
from keras_i2i.runtime.metadata import TensorSpec
from keras_i2i.outputs import (OutputError, check_not_input, check_writable_dir, check_writable_file, make_dir,
                                model_inputs, write_error)
from keras_i2i.utils import atomic_write_bytes, atomic_write_text

cv2 = require("cv2", "edge", "keras-i2i webcam")

SCHEMA = "keras_i2i.webcam/1"
BACKEND_NAMES = ("litert", "onnx", "keras")
#: Default FourCC per output suffix (``fourcc=`` overrides it).
FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}
#: Keys of the window (``cv2.waitKey`` codes) and what they do.
KEYS = {ord("q"): "quit", 27: "quit", ord("s"): "snapshot", ord(" "): "pause", ord("v"): "side-by-side"}
WINDOW_TITLE = "keras-i2i webcam"
NO_GUI = ("This OpenCV build has no GUI support ({why}), so it cannot show a window. Run with --headless "
          "(and --output FILE to keep the translated video), or install OpenCV with GUI support: "
          "pip uninstall opencv-python-headless && pip install opencv-python.")


class WebcamError(ValueError):
    """A camera, video, output or model problem; the message says what and what to do.

    ``stats`` holds the run's stats when the error happened mid-stream (else ``None``)."""

    def __init__(self, message: str, stats: Optional[dict] = None):
        super().__init__(message)
        self.stats = stats


# ------------------------------------------------------------------------------ models
class KerasBackend(Backend):
    """A Keras translator (``tf.function`` with a fixed ``(1, S, S, 3)`` float signature)
    behind the runtime's backend interface, so that :class:`Translator` does its pixels."""

    name = "keras"

    def __init__(self, fn: Callable, shape: tuple):
        self._fn = fn
        self.input_shape = self.output_shape = tuple(shape)
        self.input_dtype = self.output_dtype = "float32"

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x))

    def versions(self) -> dict:
        from importlib import metadata

        return {name: metadata.version(name) for name in ("tensorflow", "keras")}


def _keras_translator(run_dir: Path, direction: str, threads: Optional[int], resize: str) -> Translator:
    import tensorflow as tf

    from keras_i2i.translate import load_run

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already started (e.g. in tests): keep its pools
            pass
    cfg, model = load_run(run_dir)
    translators = model.translators()
    if direction not in translators:
        raise WebcamError(f"{run_dir}'s model has no direction {direction!r}; it has {', '.join(translators)}.")
    net = translators[direction]
    size = int(cfg.data.crop_size)
    shape = (1, size, size, 3)
    fn = tf.function(lambda x: net(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)])
    spec_in = TensorSpec("input", shape, "float32", (-1.0, 1.0))
    spec_out = TensorSpec("output", shape, "float32", (-1.0, 1.0))
    entry = {"file": run_dir.name, "format": "keras", "direction": direction,
             "source_checkpoint": str(getattr(model, "restored_from", ""))}
    return Translator(run_dir, KerasBackend(fn, shape), entry, spec_in, spec_out, resize=resize, num_threads=threads)


def _exported_file(run_dir: Path, backend: str, direction: str) -> Path:
    """The run's exported file for ``backend`` (``<dir>.fp32.tflite`` / ``<dir>.onnx``
    preferred, else the only one there is)."""
    export = run_dir / "export"
    suffix = ".tflite" if backend == "litert" else ".onnx"
    preferred = export / (f"{direction}.fp32.tflite" if backend == "litert" else f"{direction}.onnx")
    if preferred.is_file():
        return preferred
    found = sorted(export.glob(f"{direction}.*{suffix}")) if export.is_dir() else []
    if len(found) == 1:
        return found[0]
    if found:
        raise WebcamError(f"{export} has several {backend} files for {direction} ({', '.join(p.name for p in found)}); "
                          f"pass the one to run as --model.")
    flag = "--tflite" if backend == "litert" else "--onnx"
    raise WebcamError(f"{run_dir} has no exported {suffix} file for {direction} in {export}; export one with "
                      f"`keras-i2i export --run {run_dir} {flag}`, or use --backend keras.")


def load_translator(model: str | os.PathLike, backend: Optional[str] = None, threads: Optional[int] = None,
                    resize: str = "crop", direction: str = "a2b") -> Translator:
    """The translator for ``model``: a ``.tflite``/``.onnx`` file written by ``keras-i2i
    export`` (LiteRT / ONNX Runtime), or a run directory (its Keras translator; with
    ``backend="litert"``/``"onnx"`` its exported file in ``<run>/export/`` instead).

    Raises:
        WebcamError: the path is neither, or ``backend`` does not fit it.
        RuntimeLoadError: the model file is not a usable keras-i2i export.
    """
    path = Path(model)
    if backend is not None and backend not in BACKEND_NAMES:
        raise WebcamError(f"Unknown backend {backend!r}; choose from {', '.join(BACKEND_NAMES)}.")
    if not path.exists():
        raise WebcamError(f"Model {path} does not exist; pass a .tflite or .onnx file written by `keras-i2i export`, "
                          f"or a run directory.")
    if path.is_dir():
        if not (path / "config.yaml").is_file():
            files = sorted(p.name for p in path.iterdir() if p.suffix in (".tflite", ".onnx"))
            hint = f" (it holds {', '.join(files)}: pass one of them)" if files else ""
            raise WebcamError(f"{path} is a folder but not a run directory (no config.yaml){hint}; --model takes a "
                              f".tflite or .onnx file written by `keras-i2i export`, or a run directory.")
        if backend in (None, "keras"):
            return _keras_translator(path, direction, threads, resize)
        path = _exported_file(path, backend, direction)
    elif backend == "keras":
        raise WebcamError(f"--backend keras needs a run directory as --model (the Keras translator is rebuilt from "
                          f"its config.yaml and checkpoint); {path} is a file.")
    file_backend = backend_for(path).name
    if backend is not None and backend != file_backend:
        raise WebcamError(f"{path.name} is a {path.suffix} file, which runs on {file_backend}, not {backend} "
                          f"(.tflite: litert, .onnx: onnx); pass the matching file or --backend {file_backend}.")
    return load(path, num_threads=threads, resize=resize)


# ----------------------------------------------------------------------------- sources
class FrameSource:
    """A ``cv2.VideoCapture`` whose first frame has been read (to check it works).

    Attributes:
        kind: ``"camera"`` or ``"video"``.
        name: camera index or file path, as text.
        live: frames arrive on their own (a camera); a video file is read on demand.
        fps: the frame rate the source reports (0 when unknown).
        size: ``(width, height)`` of the frames.
    """

    def __init__(self, capture, kind: str, name: str, first: np.ndarray, live: bool):
        self.capture = capture
        self.kind, self.name, self.live = kind, name, live
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else 0.0
        self.size = (int(first.shape[1]), int(first.shape[0]))
        self._first: Optional[np.ndarray] = first

    def read(self) -> tuple[bool, Optional[np.ndarray]]:
        if self._first is not None:
            frame, self._first = self._first, None
            return True, frame
        return self.capture.read()

    def release(self) -> None:
        self.capture.release()

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "live": self.live, "fps": round(self.fps, 3),
                "size": list(self.size)}


def open_camera(index: int) -> FrameSource:
    """Camera ``index`` (``cv2.VideoCapture(index)``), checked to deliver a frame."""
    capture = cv2.VideoCapture(int(index))
    if not capture.isOpened():
        capture.release()
        raise WebcamError(f"No camera at index {index}: OpenCV could not open it. Check that a camera is connected and "
                          f"not used by another program (Linux: ls /dev/video*), try another --camera index, or "
                          f"use --video FILE.")
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep only the newest frame where the driver allows it
    ok, frame = capture.read()
    if not ok or frame is None:
        capture.release()
        raise WebcamError(f"Camera {index} opened but delivered no frame; it may be in use by another program or "
                          f"not be a capture device. Try another --camera index.")
    return FrameSource(capture, "camera", str(index), frame, live=True)


def open_video(path: str | os.PathLike, realtime: bool = False) -> FrameSource:
    """Video file ``path``, checked to decode; ``realtime`` makes it a live source (read
    at its own frame rate, newest frame only)."""
    path = Path(path)
    if not path.is_file():
        raise WebcamError(f"Video {path} does not exist." if not path.exists() else f"Video {path} is not a file.")
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read() if capture.isOpened() else (False, None)
    if not ok or frame is None:
        capture.release()
        raise WebcamError(f"Cannot read video {path}: OpenCV (FFmpeg) could not decode a frame of it. It is not a "
                          f"video, is truncated or corrupt, or uses a codec this OpenCV build lacks.")
    return FrameSource(capture, "video", str(path), frame, live=realtime)


# --------------------------------------------------------------------------- mailboxes
_END = object()  # end of stream


class _Newest:
    """One-item mailbox: ``put`` replaces an unread item (and says so)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item, self._full, self._closed = None, False, False

    def put(self, item, stop: threading.Event) -> bool:
        with self._cond:
            replaced = self._full
            self._item, self._full = item, True
            self._cond.notify_all()
            return replaced

    def get(self, timeout: float):
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                raise queue.Empty
            if not self._full:
                return _END
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _Fifo:
    """Bounded FIFO: ``put`` waits for room (until ``stop``), nothing is ever dropped."""

    def __init__(self, size: int):
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._closed = threading.Event()

    def put(self, item, stop: threading.Event) -> bool:
        while not stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return False
            except queue.Full:
                continue
        return False

    def get(self, timeout: float):
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            if self._closed.is_set() and self._queue.empty():
                return _END
            raise

    def close(self) -> None:
        self._closed.set()


# ----------------------------------------------------------------------------- display
class Window:
    """An OpenCV window (``cv2.imshow`` / ``cv2.waitKey``) on the main thread."""

    def __init__(self, title: str = WINDOW_TITLE):
        self.title = title
        if _gui_backend() == "NONE":
            raise WebcamError(NO_GUI.format(why="its build information says GUI: NONE; opencv-python-headless is "
                                                "built that way"))
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise WebcamError(NO_GUI.replace("This OpenCV build has no GUI support", "There is no display")
                              .format(why="neither DISPLAY nor WAYLAND_DISPLAY is set"))
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as err:
            why = str(err).strip().splitlines()[-1][:200] if str(err).strip() else "cv2.namedWindow failed"
            raise WebcamError(NO_GUI.format(why=why)) from None

    def show(self, image: np.ndarray) -> int:
        cv2.imshow(self.title, image)
        return self.poll(1)

    def poll(self, wait_ms: int = 10) -> int:
        key = cv2.waitKey(wait_ms)
        return -1 if key < 0 else key & 0xFF

    def closed(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


def _gui_backend() -> Optional[str]:
    """The ``GUI:`` line of OpenCV's build information (``"NONE"`` in headless builds)."""
    for line in cv2.getBuildInformation().splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name.strip() == "GUI":
            return value.strip() or None
    return None


def gui_available() -> bool:
    """Whether this OpenCV build can open windows (``opencv-python-headless`` cannot)."""
    if _gui_backend() == "NONE":
        return False
    try:
        cv2.namedWindow("keras-i2i probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("keras-i2i probe")
        return True
    except cv2.error:
        return False


def draw_overlay(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy of ``image`` with ``lines`` of white text on a dark box at the top left."""
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.35, min(1.0, width / 900))
    thickness = 1 if scale < 0.7 else 2
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness) for line in lines]
    line_h = max(h + base for (w, h), base in sizes) + 4
    box_w = min(width, max(w for (w, h), base in sizes) + 8)
    box_h = min(height, line_h * len(lines) + 4)
    region = out[:box_h, :box_w]
    region[:] = (region.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken to 40%
    for i, line in enumerate(lines):
        y = 2 + line_h * (i + 1) - sizes[i][1] - 2
        cv2.putText(out, line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


# ---------------------------------------------------------------------------- pipeline
@dataclass
class _Frame:
    index: int
    box: np.ndarray  # BGR, the part of the frame that is translated
    x: np.ndarray  # the model input batch
    captured_at: float
    read_s: float
    prepare_s: float


class FrameTranslator:
    """A :class:`Translator`'s pixel pipeline on BGR frames, split for the pipeline's
    threads: :meth:`prepare` (crop, BGR to RGB, resize, preprocess), :meth:`infer` (the
    model), :meth:`finish` (postprocess, resize back, RGB to BGR). Calling it does all
    three: ``(input box, translated box)``, equal to ``translator(box)`` in BGR."""

    def __init__(self, translator: Translator):
        self.translator = translator

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top, left, box_h, box_w = self.translator.crop_box(*frame.shape[:2])
        box = frame[top:top + box_h, left:left + box_w]
        model_h, model_w = self.translator.input_size
        rgb = cv2.cvtColor(box, cv2.COLOR_BGR2RGB)
        return box, self.translator.preprocess(resize_image(rgb, model_w, model_h))

    def infer(self, x: np.ndarray) -> np.ndarray:
        return self.translator.run_raw(x)

    def finish(self, raw: np.ndarray, box: np.ndarray) -> np.ndarray:
        y = resize_image(self.translator.postprocess(raw), box.shape[1], box.shape[0])
        return cv2.cvtColor(y, cv2.COLOR_RGB2BGR)

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        box, x = self.prepare(frame)
        return box, self.finish(self.infer(x), box)


class _Capture(threading.Thread):
    """Reads the source into ``mailbox`` until the source ends or ``stop`` is set."""

    def __init__(self, source: FrameSource, stages: FrameTranslator, mailbox, stop: threading.Event,
                 paused: threading.Event, pace: float):
        super().__init__(name="webcam-capture", daemon=True)
        self.source, self.stages, self.mailbox, self.stop, self.paused, self.pace = (source, stages, mailbox, stop,
                                                                                      paused, pace)
        self.captured = self.dropped = 0
        self.first_at: Optional[float] = None
        self.last_at: Optional[float] = None
        self.ended = False  # the source returned no frame
        self.error: Optional[BaseException] = None

    def run(self):
        try:
            start = time.perf_counter()
            while not self.stop.is_set():
                if self.pace > 0:  # a file played in real time: read frame i at start + i / fps
                    delay = start + self.captured * self.pace - time.perf_counter()
                    if delay > 0 and self.stop.wait(delay):
                        break
                read_start = time.perf_counter()
                ok, image = self.source.read()
                now = time.perf_counter()
                if not ok or image is None:
                    self.ended = True
                    break
                if self.first_at is None:
                    self.first_at = now
                self.last_at = now
                box, x = self.stages.prepare(image)
                frame = _Frame(self.captured, box, x, now, now - read_start, time.perf_counter() - now)
                self.captured += 1
                if self.mailbox.put(frame, self.stop) and not self.paused.is_set():
                    self.dropped += 1
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            self.error = err
        finally:
            self.mailbox.close()


class _Inference(threading.Thread):
    """Runs the model on frames from ``frames`` into ``results`` as ``(frame, raw output, seconds)``."""

    def __init__(self, infer: Callable[[np.ndarray], np.ndarray], frames, results, stop: threading.Event,
                 paused: threading.Event):
        super().__init__(name="webcam-inference", daemon=True)
        self.infer, self.frames, self.results, self.stop, self.paused = infer, frames, results, stop, paused
        self.error: Optional[BaseException] = None

    def run(self):
        try:
            while not self.stop.is_set():
                if self.paused.is_set():
                    time.sleep(0.01)
                    continue
                try:
                    frame = self.frames.get(timeout=0.05)
                except queue.Empty:
                    continue
                if frame is _END:
                    break
                start = time.perf_counter()
                raw = self.infer(frame.x)
                self.results.put((frame, raw, time.perf_counter() - start), self.stop)
        except BaseException as err:  # noqa: BLE001
            self.error = err
        finally:
            self.results.close()


def _open_writer(path: Path, fourcc: Optional[str], fps: float, size: tuple[int, int]):
    suffix = path.suffix.lower()
    code = fourcc or FOURCC_BY_SUFFIX.get(suffix)
    if code is None:
        raise WebcamError(f"Cannot tell the video format of {path.name}: use an output name ending in "
                          f"{', '.join(FOURCC_BY_SUFFIX)}, or give --fourcc.")
    if len(code) != 4:
        raise WebcamError(f"--fourcc must be 4 characters (e.g. mp4v, MJPG, FFV1), got {code!r}.")
    make_dir(path.parent, "--output")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*code), fps, size)
    if not writer.isOpened():
        writer.release()
        raise WebcamError(f"Cannot write {path} with codec {code!r}: this OpenCV build cannot encode it into "
                          f"{suffix or 'a file without suffix'}, or the folder is not writable. Try .mp4 (mp4v) or "
                          f".avi (MJPG).")
    return writer


def _rate(count: int, first: Optional[float], last: Optional[float]) -> Optional[float]:
    if count < 2 or first is None or last is None or last <= first:
        return None
    return round((count - 1) / (last - first), 3)


class _Rolling:
    """End-to-end FPS and inference latency over the last ``n`` frames, for the overlay."""

    def __init__(self, n: int = 30):
        self.times = collections.deque(maxlen=n)
        self.infer = collections.deque(maxlen=n)

    def add(self, now: float, seconds: float) -> None:
        self.times.append(now)
        self.infer.append(seconds)

    def lines(self, backend: str, paused: bool) -> list[str]:
        fps = (len(self.times) - 1) / (self.times[-1] - self.times[0]) if len(self.times) > 1 and \
            self.times[-1] > self.times[0] else 0.0
        ms = 1000.0 * float(np.median(self.infer)) if self.infer else 0.0
        lines = [f"{fps:5.1f} FPS", f"model {ms:.1f} ms ({backend})"]
        return lines + ["PAUSED (space)"] if paused else lines


def run(translator: Translator, source: FrameSource, *, output: Optional[str | os.PathLike] = None,
        fourcc: Optional[str] = None, display=None, side_by_side: bool = False, max_frames: Optional[int] = None,
        json_path: Optional[str | os.PathLike] = None, snapshot_dir: str | os.PathLike = ".",
        frame_timeout: float = 5.0, echo: Optional[Callable[[str], None]] = None) -> dict:
    """Translate ``source`` live until it ends, ``max_frames`` frames were translated, the
    user quits (``q``/``Esc``, closing the window, Ctrl-C, SIGTERM) or it fails.

    Args:
        translator: from :func:`load_translator` (or :func:`keras_i2i.runtime.load`).
        source: from :func:`open_camera` or :func:`open_video`; released at the end.
        output: video file for the translated stream (FourCC from the suffix, or ``fourcc``).
        display: a :class:`Window` (or an object with ``show(image) -> key``,
            ``poll() -> key``, ``closed()``, ``close()``); ``None``: headless.
        side_by_side: write (and first show) input | output instead of the output alone.
        max_frames: stop after this many translated frames.
        json_path: write the stats here as JSON (atomically), also after a failure.
        snapshot_dir: folder for the ``s`` key's PNGs.
        frame_timeout: a live source that delivers no frame for this many seconds has
            stopped: :class:`WebcamError`.
        echo: called with a line for each saved snapshot.

    Returns:
        The stats (see the module docstring).

    Raises:
        WebcamError: the output cannot be written, or a live source stopped delivering
            frames; its ``stats`` are those of the frames before (also in ``json_path``),
            and ``output`` holds those frames as a valid video.
    """
    stages = FrameTranslator(translator)
    top, left, box_h, box_w = translator.crop_box(source.size[1], source.size[0])
    frame_size = (box_w * (2 if side_by_side else 1), box_h)
    fps = source.fps or 30.0
    output = Path(output) if output is not None else None
    try:
        writer = _open_writer(output, fourcc, fps, frame_size) if output is not None else None
    except BaseException:
        source.release()
        if display is not None:
            display.close()
        raise

    stop, paused = threading.Event(), threading.Event()
    frames = _Newest() if source.live else _Fifo(4)
    results = _Fifo(2)
    pace = 1.0 / fps if source.live and source.kind == "video" else 0.0
    capture = _Capture(source, stages, frames, stop, paused, pace)
    worker = _Inference(stages.infer, frames, results, stop, paused)
    show_both = side_by_side
    rolling = _Rolling()
    infer_s, latency_s, read_s, prepare_s, finish_s, snapshots = [], [], [], [], [], []
    written = 0
    last_out = None
    stopped_by, error = None, None
    old_term = None
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, frame_):
            nonlocal stopped_by
            stopped_by = "SIGTERM"
            stop.set()
        old_term = signal.signal(signal.SIGTERM, on_term)

    def act(key: int, view: Optional[np.ndarray]) -> bool:
        """Handle a key; True: quit."""
        nonlocal show_both, stopped_by
        what = KEYS.get(key)
        if what == "quit":
            stopped_by = "key"
            return True
        if what == "pause":
            if paused.is_set():
                paused.clear()
            else:
                paused.set()
                if view is not None:  # say so on the frozen view
                    display.show(draw_overlay(view, rolling.lines(translator.backend, True)))
        elif what == "side-by-side":
            show_both = not show_both
        elif what == "snapshot" and view is not None:
            path = Path(snapshot_dir) / f"keras-i2i-{time.strftime('%Y%m%d-%H%M%S')}-{written:06d}.png"
            ok, png = cv2.imencode(".png", view)
            if ok:
                try:
                    atomic_write_bytes(path, png.tobytes())
                except OSError as err:  # a failed snapshot does not stop the stream
                    if echo:
                        echo(f"Snapshot not saved: {write_error(path, err)}")
                    return False
                snapshots.append(str(path))
                if echo:
                    echo(f"Snapshot: {path}")
        return False

    start = time.perf_counter()
    view = None
    capture.start()
    worker.start()
    try:
        while not stop.is_set():
            for thread in (capture, worker):
                if thread.error is not None:
                    raise thread.error
            if paused.is_set() and display is not None:  # keep the last view; only keys count
                if act(display.poll(), view):
                    break
                if display.closed():
                    stopped_by = "window closed"
                    break
                continue
            try:
                item = results.get(timeout=0.02 if display is not None else 0.1)
            except queue.Empty:
                if display is not None:
                    if act(display.poll(), view):
                        break
                    if view is not None and display.closed():  # (not visible before its first image)
                        stopped_by = "window closed"
                        break
                if source.live and not paused.is_set():
                    last = capture.last_at or start
                    if time.perf_counter() - last > frame_timeout:
                        raise WebcamError(f"{source.kind.capitalize()} {source.name} stopped delivering frames: none "
                                          f"for {frame_timeout:g} s after {capture.captured} frame(s).")
                continue
            if item is _END:
                break
            frame, raw, seconds = item
            box, finish_start = frame.box, time.perf_counter()
            out = stages.finish(raw, box)
            finish_s.append(time.perf_counter() - finish_start)
            prepare_s.append(frame.prepare_s)
            read_s.append(frame.read_s)
            produced = np.hstack([box, out]) if side_by_side else out
            if writer is not None:
                writer.write(produced)
            now = time.perf_counter()
            written += 1
            last_out = now
            infer_s.append(seconds)
            latency_s.append(now - frame.captured_at)
            rolling.add(now, seconds)
            if display is not None:
                view = np.hstack([box, out]) if show_both else out
                key = display.show(draw_overlay(view, rolling.lines(translator.backend, paused.is_set())))
                if act(key, view):
                    break
                if display.closed():
                    stopped_by = "window closed"
                    break
            if max_frames is not None and written >= max_frames:
                stopped_by = "max-frames"
                break
        else:
            stopped_by = stopped_by or "stopped"
        for thread in (capture, worker):
            if thread.error is not None:
                raise thread.error
        if stopped_by is None and source.live and capture.ended and source.kind == "camera":
            raise WebcamError(f"Camera {source.name} stopped delivering frames (a read failed) after "
                              f"{capture.captured} frame(s); it was unplugged or taken by another program.")
        stopped_by = stopped_by or "end of video"
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    except BaseException as err:
        error = err
        stopped_by = "error"
    finally:
        stop.set()
        worker.join(timeout=5)
        capture.join(timeout=1)
        if writer is not None:
            writer.release()
        if not capture.is_alive():  # a read still blocked in the driver keeps the capture
            source.release()
        if display is not None:
            display.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)

    stats = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": str(translator.path),
        "backend": translator.backend,
        "input_size": list(translator.input_size),
        "resize": translator.resize,
        "threads": translator.num_threads,
        "source": source.describe(),
        "output": str(output) if output is not None else None,
        "frame_size": list(frame_size),
        "side_by_side": side_by_side,
        "frames": written,
        "captured": capture.captured,
        "dropped": capture.dropped,
        "capture_fps": _rate(capture.captured, capture.first_at, capture.last_at),
        "end_to_end_fps": (round(written / (last_out - capture.first_at), 3)
                           if written and capture.first_at is not None and last_out > capture.first_at else None),
        "inference": latency_stats(infer_s) if infer_s else None,
        "read": latency_stats(read_s) if read_s else None,
        "preprocess": latency_stats(prepare_s) if prepare_s else None,
        "postprocess": latency_stats(finish_s) if finish_s else None,
        "latency": latency_stats(latency_s) if latency_s else None,
        "duration_s": round(time.perf_counter() - start, 3),
        "stopped_by": stopped_by,
        "error": f"{error}" if error is not None else None,
        "snapshots": snapshots,
    }
    if json_path is not None:
        try:
            atomic_write_text(json_path, json.dumps(stats, indent=2) + "\n")
        except OSError as err:
            if error is None:
                raise write_error(json_path, err) from None
            if echo:  # the stream's own error is the one to report
                echo(f"Stats not saved: {write_error(json_path, err)}")
    if error is not None:
        if isinstance(error, WebcamError):
            error.stats = stats
        raise error
    return stats


def format_stats(stats: dict) -> str:
    """Two lines for the terminal."""

    def num(value, fmt="{:.1f}"):
        return "n/a" if value is None else fmt.format(value)

    inference = stats.get("inference") or {}
    latency = stats.get("latency") or {}
    return (
        f"{stats['frames']} frame(s) translated, {stats['captured']} captured, {stats['dropped']} dropped "
        f"({stats['stopped_by']}, {stats['duration_s']:.1f} s)\n"
        f"capture {num(stats['capture_fps'])} FPS, end to end {num(stats['end_to_end_fps'])} FPS; inference "
        f"({stats['backend']}) p50 {num(inference.get('p50_ms'))} ms, p95 {num(inference.get('p95_ms'))} ms; "
        f"capture-to-output p50 {num(latency.get('p50_ms'))} ms"
    )


def check_outputs(model, video=None, output=None, json_path=None, snapshot_dir=None) -> None:
    """Refuse outputs that would overwrite the model files or the video, or each other,
    or that cannot be written, before anything is opened.

    Raises:
        OutputError: the first such output, with what to do.
    """
    inputs = [*model_inputs(model), video]
    if output is not None:
        check_not_input(output, inputs, what="--output")
        check_writable_file(output, "--output")
    if json_path is not None:
        if output is not None and Path(json_path).resolve() == Path(output).resolve():
            raise OutputError(f"--json {json_path} is also --output; give them different file names.")
        check_not_input(json_path, inputs, what="--json")
        check_writable_file(json_path, "--json")
    if snapshot_dir is not None:
        check_writable_dir(snapshot_dir, "--snapshot-dir")


def webcam(model: str | os.PathLike, *, camera: Optional[int] = None, video: Optional[str | os.PathLike] = None,
           realtime: bool = False, backend: Optional[str] = None, threads: Optional[int] = None,
           resize: str = "crop", direction: str = "a2b", headless: bool = False, **run_kwargs) -> dict:
    """Open the display (unless ``headless``), the model and the source, then :func:`run`.

    ``camera`` (default 0) or ``video``; the rest as in :func:`run`. Outputs that would
    overwrite an input or cannot be written (:func:`check_outputs`), then a missing GUI,
    fail first, before any model or camera is opened."""
    if camera is not None and video is not None:
        raise WebcamError("Give either a camera index or a video file, not both.")
    check_outputs(model, video, run_kwargs.get("output"), run_kwargs.get("json_path"),
                  None if headless else run_kwargs.get("snapshot_dir", "."))  # (snapshots need the window)
    display = None if headless else Window()
    try:
        translator = load_translator(model, backend=backend, threads=threads, resize=resize, direction=direction)
        translator(np.zeros((*translator.input_size, 3), np.uint8))  # warm-up (and Keras' tracing), untimed
        source = open_video(video, realtime=realtime) if video is not None else open_camera(camera or 0)
    except BaseException:
        if display is not None:
            display.close()
        raise
    return run(translator, source, display=display, **run_kwargs)


__all__ = ["webcam", "run", "load_translator", "open_camera", "open_video", "FrameSource", "Window", "WebcamError",
           "RuntimeLoadError", "draw_overlay", "format_stats", "gui_available", "FrameTranslator", "SCHEMA"]
