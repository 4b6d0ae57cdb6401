"""tf.data throughput: the training stream alone against what a training step consumes.

Goal: the stream delivers at least 10x the images per second that a CycleGAN training
step consumes at the same batch (16 by default), so the accelerator never waits for the
CPU.

What is timed:

- stream: ``UnpairedData.dataset()`` (the trainer's stream: stateless shuffle, cached
  decoded images, random crop and flip, parallel map, batch, prefetch) iterated on its
  own; ``--warmup`` batches are excluded. images/s counts pairs (an A and a B image),
  as the step's batch does. Scanning and decoding the folders (once per run, before the
  first step) is timed on its own (``scan_s``).
- step (``--step``): a keras-i2i CycleGAN ``model.fit`` step at the same batch and crop
  size, on one repeated batch (``gpu_check.worker_keras``: no data loading in it), on
  whatever device TensorFlow picks.
- ``--against gpu_check.json``: the keras rows of a GPU check instead (or as well).

Usage::

    python benchmarks/data_speed.py                          # emoji at 256 px, batch 16, stream only
    python benchmarks/data_speed.py --size 64 --step --ngf 16 --steps 3
    python benchmarks/data_speed.py --against benchmarks/results/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_RATIO = 10.0


def measure_stream(data: str, load_size: int, crop_size: int, batch: int, batches: int, warmup: int,
                   seed: int = 0, max_images: int | None = None) -> dict:
    """Images/s (pairs) of the trainer's unpaired stream over ``data`` (a dataset name or a
    folder with trainA/ and trainB/), ``max_images`` per domain (``data.max_images``)."""
    import tensorflow as tf

    from keras_i2i.config import DataConfig
    from keras_i2i.data.pipeline import UnpairedData

    where = {"root": data} if Path(data).expanduser().is_dir() else {"dataset": data}
    config = DataConfig(**where, load_size=load_size, crop_size=crop_size, max_images=max_images)
    t0 = time.perf_counter()
    stream = UnpairedData(config, global_batch=batch, seed=seed)
    scan_s = time.perf_counter() - t0
    iterator = iter(stream.dataset(0))
    times = [time.perf_counter()]
    shape = None
    for _ in range(warmup + batches):
        real_a, real_b = next(iterator)
        shape = real_a.shape.as_list()
        times.append(time.perf_counter())
    timed = times[-1] - times[warmup]  # the last `batches` batches
    return {
        "data": data, "load_size": load_size, "crop_size": crop_size, "batch": batch, "batch_shape": shape,
        "images_a": len(stream.a), "images_b": len(stream.b), "scan_s": scan_s,
        "batches_timed": batches, "warmup_batches": warmup, "first_batch_s": times[1] - times[0],
        "images_per_s": batches * batch / timed, "batches_per_s": batches / timed,
        "tf_data_autotune": True, "cpus_usable": len(os.sched_getaffinity(0)), "tensorflow": tf.__version__,
    }


def measure_step(size: int, batch: int, generator: str, ngf: int, steps: int, warmup: int, precision: str) -> dict:
    """A keras-i2i CycleGAN step at ``batch``, timed by ``gpu_check.worker_keras``."""
    sys.path.insert(0, str(HERE))
    from gpu_check import worker_keras

    row = {"framework": "keras", "precision": precision, "batch": batch, "strategy": "default"}
    settings = SimpleNamespace(generator=generator, size=size, ngf=ngf, steps=steps, warmup=warmup, seed=0,
                               require_gpu=False)
    return worker_keras(row, settings)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default="emoji", help="dataset name or folder with trainA/ trainB/ (default emoji)")
    p.add_argument("--size", type=int, default=256, help="crop size (default 256)")
    p.add_argument("--load-size", type=int, help="load size (default size * 286/256, as the reference)")
    p.add_argument("--batch", type=int, default=16, help="batch (default 16)")
    p.add_argument("--batches", type=int, default=100, help="timed batches of the stream (default 100)")
    p.add_argument("--warmup", type=int, default=20, help="untimed first batches of the stream (default 20)")
    p.add_argument("--step", action="store_true", help="also time a keras-i2i training step at the same batch")
    p.add_argument("--generator", default="resnet_9blocks", help="--step: generator (default resnet_9blocks)")
    p.add_argument("--ngf", type=int, default=64, help="--step: generator/discriminator width (default 64)")
    p.add_argument("--steps", type=int, default=5, help="--step: timed steps (default 5)")
    p.add_argument("--step-warmup", type=int, default=1, help="--step: untimed first steps (default 1)")
    p.add_argument("--precision", choices=("fp32", "bf16_xla"), default="fp32", help="--step: precision (default fp32)")
    p.add_argument("--against", help="a gpu_check JSON: compare with its keras rows' images/s")
    p.add_argument("--json", default=str(HERE / "results" / "data_speed.json"), help="where to write results")
    args = p.parse_args(argv)
    if args.load_size is None:
        args.load_size = round(args.size * 286 / 256)
    if min(args.batch, args.batches, args.warmup + 1, args.steps, args.step_warmup) < 1:
        p.error("--batch, --batches, --steps and --step-warmup must be >= 1 (--warmup >= 0)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_i2i.data.images import DataError
    from keras_i2i.runtime.benchmark import machine_info

    load = [os.getloadavg()[0]]
    try:
        stream = measure_stream(args.data, args.load_size, args.size, args.batch, args.batches, args.warmup)
    except DataError as err:
        print(f"data_speed: {err}", file=sys.stderr)
        return 2
    load.append(os.getloadavg()[0])
    consumers = []
    if args.step:
        step = measure_step(args.size, args.batch, args.generator, args.ngf, args.steps, args.step_warmup,
                            args.precision)
        load.append(os.getloadavg()[0])
        consumers.append({"source": f"keras {args.precision} step here, {args.generator} ngf {args.ngf}",
                          "batch": args.batch, "median_step_s": step["median_step_s"],
                          "images_per_s": step["global_batch"] / step["median_step_s"]})
    if args.against:
        gpu = json.loads(Path(args.against).read_text())
        for r in gpu.get("rows", []):
            res = r.get("result", {})
            if r.get("framework") == "keras" and "median_step_s" in res:
                consumers.append({"source": f"{args.against}: keras {r['precision']} {r['strategy']} b{r['batch']}",
                                  "batch": res["global_batch"], "median_step_s": res["median_step_s"],
                                  "images_per_s": res["global_batch"] / res["median_step_s"]})
    for c in consumers:
        c["stream_ratio"] = stream["images_per_s"] / c["images_per_s"]
        c["met"] = c["stream_ratio"] >= TARGET_RATIO
    report = {
        "goal": f"the tf.data stream alone delivers >= {TARGET_RATIO:.0f}x the images/s a training step consumes",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(extra_packages=("tensorflow", "keras")),
        "loadavg_1min": load,
        "stream": stream,
        "consumers": consumers,
        "met": all(c["met"] for c in consumers) if consumers else None,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"stream: {stream['images_per_s']:.1f} images/s (pairs) at batch {args.batch}, {args.size} px "
          f"(scan {stream['scan_s']:.1f} s, {stream['images_a']}+{stream['images_b']} images); "
          f"1-min load average {', '.join(f'{x:.1f}' for x in load)} on {os.cpu_count()} CPUs")
    for c in consumers:
        print(f"  vs {c['source']}: {c['images_per_s']:.2f} images/s -> {c['stream_ratio']:.1f}x "
              f"({'met' if c['met'] else 'NOT met'}, target {TARGET_RATIO:.0f}x)")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
