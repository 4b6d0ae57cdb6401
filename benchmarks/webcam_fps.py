"""End-to-end FPS of the ``keras-i2i webcam`` pipeline against the model's own rate.

Goal (reported, not enforced): on a video input, the threaded pipeline (decode, crop,
resize, convert, model, convert back, resize back, write) runs at >= 90% of
1 / (model p50 latency), the rate of the model alone on a fixed input.

For every model file, after ``--warmup`` untimed model calls, ``--repeats`` short rounds
of (each about a second on a small model, so that the three see the same background
load on a shared machine; each round's ratio pairs measurements taken seconds apart):

1. ``model``: :meth:`Translator.run_raw` on a fixed preprocessed input
   (:func:`keras_i2i.runtime.benchmark.time_calls`, ``--runs`` timed calls);
   ``model_fps = 1000 / p50_ms``;
2. ``pipeline``: :func:`keras_i2i.apps.webcam.run` headless on the video, every frame
   translated (a file is not a live source: nothing dropped), ``--output`` written when
   given; its stats' ``end_to_end_fps`` (frames / seconds from the first capture to the
   last output);
3. ``serial``: the same work in one plain loop (read, translate, write), for what the
   threads buy.

Reported per model: the median over rounds of each rate and of the per-round
``ratio = pipeline / model``, and ``goal_met = ratio >= 0.9``; every round is kept in
the JSON, with ``inference_busy`` (the share of the pipeline's time its inference
thread spent in the model: end-to-end FPS x mean model ms in the pipeline). The default
video is synthetic: ``--frames`` frames of 640x480 (a webcam's usual size) with moving
content, MJPG in .avi (what most USB webcams deliver).

Usage::

    python benchmarks/webcam_fps.py --model runs/quickstart/export/a2b.fp32.tflite \\
        --model runs/quickstart/export/a2b.int8.tflite --threads 2
    python benchmarks/webcam_fps.py --model ... --video my.mp4 --output /tmp/out.mp4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keras_i2i.apps.webcam import FrameTranslator, load_translator, open_video, run  # noqa: E402
from keras_i2i.runtime.benchmark import machine_info, time_calls  # noqa: E402
from keras_i2i.utils import atomic_write_text, utc_now  # noqa: E402

GOAL = 0.9


def synthetic_video(path: Path, frames: int, width: int = 640, height: int = 480, fps: float = 30.0) -> Path:
    """Smooth moving gradients and shapes with a little noise, MJPG."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise SystemExit(f"Cannot write {path} (MJPG)")
    for i in range(frames):
        t = i / fps
        frame = np.stack([
            127 + 120 * np.sin(x / 70 + t * 2), 127 + 120 * np.sin(y / 50 - t * 3), 127 + 120 * np.cos((x + y) / 90 + t),
        ], -1)
        frame += rng.normal(0, 6, frame.shape)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        cx, cy = int(width / 2 + width / 3 * np.sin(t)), int(height / 2 + height / 4 * np.cos(t * 1.3))
        cv2.circle(frame, (cx, cy), 60, (40, 220, 90), -1)
        writer.write(frame)
    writer.release()
    return path


def serial_fps(translator, video: Path, output: Path | None) -> float:
    """Read, translate, write in one loop: frames / seconds."""
    translate = FrameTranslator(translator)
    capture = cv2.VideoCapture(str(video))
    writer = None
    count = 0
    start = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        _, out = translate(frame)
        if output is not None:
            if writer is None:
                writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, out.shape[1::-1])
            writer.write(out)
        count += 1
    elapsed = time.perf_counter() - start
    capture.release()
    if writer is not None:
        writer.release()
    return count / elapsed


def bench_model(path: str, video: Path, args) -> dict:
    translator = load_translator(path, threads=args.threads, resize=args.resize)
    x = translator.example_input()
    translate = FrameTranslator(translator)
    first = cv2.VideoCapture(str(video)).read()[1]
    time_calls(lambda: translator.run_raw(x), 1, args.warmup)
    time_calls(lambda: translate(first), 1, args.warmup)
    rounds = []
    for r in range(args.repeats):
        model = time_calls(lambda: translator.run_raw(x), args.runs, 0)
        translate_ms = time_calls(lambda: translate(first), max(1, args.runs // 4), 0)
        out = None if args.output is None else Path(args.output).with_suffix(f".{r}.mp4")
        stats = run(translator, open_video(video), output=out)
        serial = serial_fps(translator, video, None if out is None else out.with_suffix(".serial.mp4"))
        model_fps = 1000.0 / model["p50_ms"]
        rounds.append({
            "model": model, "model_fps": round(model_fps, 2),
            "translate_call": translate_ms,
            "pipeline_fps": stats["end_to_end_fps"], "serial_fps": round(serial, 2),
            "ratio": round(stats["end_to_end_fps"] / model_fps, 4),
            "inference_busy": round(stats["end_to_end_fps"] * stats["inference"]["mean_ms"] / 1000.0, 4),
            # p50 ms of each thread's work per frame in the pipeline (capture: decode + prepare;
            # main: postprocess, without the writer): the slowest bounds the rate with a core each.
            "stages_p50_ms": {"capture": round(stats["read"]["p50_ms"] + stats["preprocess"]["p50_ms"], 3),
                              "inference": stats["inference"]["p50_ms"], "main": stats["postprocess"]["p50_ms"]},
            "pipeline": {k: stats[k] for k in ("frames", "captured", "dropped", "capture_fps", "inference", "latency",
                                               "read", "preprocess", "postprocess", "frame_size",
                                               "duration_s")},
        })
        stages = " ".join(f"{k} {v:.1f}" for k, v in rounds[-1]["stages_p50_ms"].items())
        print(f"  round {r + 1}: model {model['p50_ms']:.2f} ms p50 ({model_fps:.1f}/s), pipeline "
              f"{stats['end_to_end_fps']:.1f} FPS (ratio {rounds[-1]['ratio']:.3f}), serial {serial:.1f} FPS; "
              f"stages p50 ms: {stages}", flush=True)
    median = {key: round(statistics.median(r[key] for r in rounds), 3)
              for key in ("model_fps", "pipeline_fps", "serial_fps", "ratio", "inference_busy")}
    return {
        "file": Path(path).name, "path": str(Path(path).resolve()), "backend": translator.backend,
        "mode": (translator.metadata.get("quantization") or {}).get("mode"),
        "input_size": list(translator.input_size), "threads": args.threads, "resize": args.resize,
        **median, "goal_met": median["ratio"] >= GOAL, "rounds": rounds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="Exported .tflite/.onnx (repeatable).")
    parser.add_argument("--video", type=Path, default=None, help="Input video. [default: synthetic 640x480 MJPG]")
    parser.add_argument("--frames", type=int, default=90, help="Frames of the synthetic video.")
    parser.add_argument("--threads", type=int, default=None, help="Inference threads. [default: the runtime's]")
    parser.add_argument("--resize", choices=["crop", "stretch"], default="crop")
    parser.add_argument("--runs", type=int, default=100, help="Timed model calls per round.")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=10, help="Rounds per model (medians reported).")
    parser.add_argument("--output", default=None, help="Also write the translated video (path stem), as the CLI would.")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "webcam_fps.json")
    args = parser.parse_args(argv)

    load_start = list(os.getloadavg())  # other processes share the CPU: see the note in the JSON
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or synthetic_video(Path(tmp) / "synthetic.avi", args.frames)
        source = open_video(video)
        described = source.describe()
        source.release()
        print(f"Video {video}: {described['size'][0]}x{described['size'][1]}; threads {args.threads or 'default'}",
              flush=True)
        results = []
        for path in args.model:
            print(path, flush=True)
            results.append(bench_model(path, video, args))
    report = {
        "schema": "keras_i2i.bench.webcam_fps/1",
        "created": utc_now(),
        "goal": f"pipeline end-to-end FPS >= {GOAL:.0%} of 1 / model p50",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "video": {"path": str(args.video) if args.video else f"synthetic {args.frames} frames 640x480 MJPG",
                  "frames": None, "size": described["size"]},
        "settings": {"threads": args.threads, "resize": args.resize, "runs": args.runs, "warmup": args.warmup,
                     "repeats": args.repeats, "output": args.output},
        "machine": {**machine_info(), "loadavg_1_5_15_start": load_start, "loadavg_1_5_15_end": list(os.getloadavg())},
        "results": results,
    }
    report["video"]["frames"] = results[0]["rounds"][0]["pipeline"]["captured"] if results else None
    atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    print(f"\n{'file':22s} {'model/s':>8s} {'pipeline':>9s} {'ratio':>6s} {'busy':>5s} {'serial':>7s}  "
          f"goal >= {GOAL:.0%} (medians over rounds)")
    for r in results:
        print(f"{r['file']:22s} {r['model_fps']:8.1f} {r['pipeline_fps']:9.1f} {r['ratio']:6.3f} "
              f"{r['inference_busy']:5.2f} {r['serial_fps']:7.1f}  {'met' if r['goal_met'] else 'NOT met'}")
    print(f"Results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
