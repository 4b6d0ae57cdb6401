"""Speed and MACs of a distilled student against its ResNet-9 teacher at 256x256, on this machine.

Goals (issue 19; reported, not enforced): the student has at most 1/20 of the teacher's
MACs, and runs at 30 FPS or more (p50 <= 33.3 ms) at 256x256 in TFLite on 2 cores (fp32
or int8).

In one process, 2 threads for everyone (TF intra-op pool, LiteRT ``num_threads``):

1. the teacher: the CycleGAN ResNet-9 generator (ngf 64) and the student: the mobile ResNet
   generator of ``configs/distill/resnet9_256.yaml`` (ngf 16, 9 blocks), both with their
   random initializations (speed does not depend on the weights);
2. the teacher in Keras (``model(x, training=False)`` in a ``tf.function``) and as TFLite
   fp32; the student as TFLite fp32 and int8 (calibrated on the bundled emoji ``trainA``
   resized to 256, instance norms kept float as ``keras-i2i export`` does), all converted
   with keras-i2i's own converters and uint8 pixel I/O (the export default);
3. after a warm-up, the timed runs are interleaved round-robin (one call per contender per
   round) so that every contender sees the same background load on a shared machine;
   p50/p95 of the wall times per call. The load average is recorded before and after.

MACs on :mod:`keras_i2i.macs`'s convention (convolution and dense multiply-accumulates per
image), counted on the Keras model and on each TFLite file.

Usage::

    python benchmarks/distill_speed.py       # writes benchmarks/results/distill_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
EMOJI = ROOT / "keras_i2i" / "data" / "bundled" / "emoji"
GOAL_RATIO, GOAL_FPS = 20.0, 30.0


def load_average():
    return [round(v, 2) for v in os.getloadavg()]


def stats(times_s) -> dict:
    ms = np.asarray(times_s) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "min_ms": round(float(ms.min()), 2), "runs": len(ms)}


def calibration_images(size: int, count: int) -> np.ndarray:
    from keras_i2i.data.images import read_image, resize

    files = sorted((EMOJI / "trainA").glob("*.png"))[:count]
    return np.stack([resize(read_image(f), size, size) for f in files])


def litert_runner(content: bytes):
    from ai_edge_litert.interpreter import Interpreter

    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(content)
    interpreter = Interpreter(model_path=f.name, num_threads=THREADS)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    x = np.random.default_rng(0).integers(0, 256, inp["shape"]).astype(inp["dtype"])

    def run():
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=15, help="Timed calls per contender (round-robin).")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "distill_speed.json")
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from keras_i2i.export.tflite import convert_tflite
    from keras_i2i.macs import CONVENTION, count_macs, gmac, tflite_macs
    from keras_i2i.networks import GENERATORS
    from keras_i2i.networks.mobile_resnet import mobile_resnet_generator

    load_before = load_average()
    size = args.size
    keras.utils.set_random_seed(0)
    teacher = GENERATORS.get("resnet_9blocks")(ngf=64, name="teacher")
    student = mobile_resnet_generator(ngf=16, n_blocks=9, name="student")
    calibration = calibration_images(size, 100)
    contents = {
        "teacher_tflite_fp32": convert_tflite(teacher, size, "fp32"),
        "student_tflite_fp32": convert_tflite(student, size, "fp32"),
        "student_tflite_int8": convert_tflite(student, size, "int8", calibration=calibration),
    }
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype("float32"))
    teacher_fn = tf.function(lambda t: teacher(t, training=False))
    contenders = {"teacher_keras": lambda: teacher_fn(x).numpy(),
                  **{name: litert_runner(content) for name, content in contents.items()}}
    macs = {"teacher_keras": count_macs(teacher, size),
            **{name: tflite_macs(content) for name, content in contents.items()}}
    for fn in contenders.values():
        for _ in range(args.warmup):
            fn()
    times = {name: [] for name in contenders}
    order = list(contenders)
    for r in range(args.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    load_after = load_average()

    results = {}
    for name in contenders:
        s = stats(times[name])
        results[name] = {**s, "fps_p50": round(1000.0 / s["p50_ms"], 1), "macs": macs[name], "gmac": gmac(macs[name]),
                         "size_bytes": len(contents[name]) if name in contents else None}
    ratio = macs["teacher_keras"] / macs["student_tflite_fp32"]
    best = min(results["student_tflite_fp32"]["p50_ms"], results["student_tflite_int8"]["p50_ms"])
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "what": "ResNet-9 CycleGAN generator (ngf 64) vs the distill/resnet9_256 student (mobile ResNet, ngf 16, "
                "9 blocks), random weights, uint8 pixel I/O for TFLite",
        "size": size, "threads": THREADS, "rounds": args.rounds, "warmup": args.warmup,
        "macs_convention": CONVENTION,
        "load_average_before": load_before, "load_average_after": load_after, "cpu_count": os.cpu_count(),
        "results": results,
        "goals": {
            "mac_ratio": {"goal": f"teacher/student >= {GOAL_RATIO:g}", "value": round(ratio, 1),
                          "met": ratio >= GOAL_RATIO},
            "student_fps": {"goal": f">= {GOAL_FPS:g} FPS (p50, TFLite fp32 or int8, {THREADS} threads)",
                            "value": round(1000.0 / best, 1), "met": 1000.0 / best >= GOAL_FPS},
        },
        "speedup_p50_tflite_fp32": round(results["teacher_tflite_fp32"]["p50_ms"]
                                         / results["student_tflite_fp32"]["p50_ms"], 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, r in results.items():
        print(f"{name:22s} p50 {r['p50_ms']:9.2f} ms  p95 {r['p95_ms']:9.2f} ms  {r['fps_p50']:7.1f} FPS  "
              f"{r['gmac']:8.3f} GMAC")
    print(f"MAC ratio {ratio:.1f}x; load average {load_before} -> {load_after}; wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
