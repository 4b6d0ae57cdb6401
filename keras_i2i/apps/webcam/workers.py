"""The capture and inference threads, the mailboxes between them and the per-frame pixel
pipeline they share (:class:`FrameTranslator`); see :mod:`keras_i2i.apps.webcam.loop` for
how they overlap."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from keras_i2i.apps.webcam.opencv import cv2
from keras_i2i.apps.webcam.sources import FrameSource
from keras_i2i.runtime import Translator
from keras_i2i.runtime.imaging import resize as resize_image

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
