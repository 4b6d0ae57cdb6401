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
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from keras_i2i.apps.webcam.display import KEYS, draw_overlay
from keras_i2i.apps.webcam.errors import WebcamError
from keras_i2i.apps.webcam.opencv import cv2
from keras_i2i.apps.webcam.sources import FrameSource
from keras_i2i.apps.webcam.workers import _END, FrameTranslator, _Capture, _Fifo, _Inference, _Newest
from keras_i2i.outputs import make_dir, write_error
from keras_i2i.runtime import Translator
from keras_i2i.runtime.benchmark import latency_stats
from keras_i2i.utils import atomic_write_bytes, atomic_write_text, utc_now

SCHEMA = "keras_i2i.webcam/1"
#: Default FourCC per output suffix (``fourcc=`` overrides it).
FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}


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
        "created": utc_now(),
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
