"""CycleGAN training speed: keras-i2i against the PyTorch reference, on this machine.

Goal: a keras-i2i training step is no slower than the reference's
(junyanz/pytorch-CycleGAN-and-pix2pix, re-implemented in ``torch_cyclegan.py``) on CPU.

What is timed, per config (generator @ image size, batch 1 by default):

- keras-i2i: ``model.fit`` on ``tf.data.Dataset.from_tensors((a, b)).repeat()``, what
  users get from the trainer; a callback records the time at every
  ``on_train_batch_end`` (it is not async-safe, so Keras calls it synchronously after
  converting the step's logs to Python floats, i.e. after the step finished).
- torch: ``TorchCycleGAN.optimize_parameters`` in a Python loop (the reference's
  iteration: forward, G step with D frozen, D step with pooled fakes), eager, as the
  reference runs.

The first ``--warmup`` steps (Keras: tracing and graph optimization) are excluded;
steps/s = timed steps / their wall time. Both frameworks get the same batch (one
fixed random batch in [-1, 1]; NHWC for Keras, its NCHW transpose for torch).

Isolation: each (framework, config) runs in its own Python subprocess, one after the
other, so the two runtimes' thread pools (TF/Eigen/oneDNN and torch's OpenMP) never
coexist or compete.

Every (generator, size) runs at every ``--batches`` and every ``--threads`` count: torch
gets ``torch.set_num_threads(N)``, TensorFlow intra- and inter-op pools of N threads (its
own default on an N-core machine) unless ``--tf-threads INTRA,INTER`` overrides them.

Usage::

    python benchmarks/train_speed.py        # resnet_6blocks@128, resnet_9blocks@256; batch 1, 4; 2 and 1 threads
    python benchmarks/train_speed.py --sizes 128 --batches 1 --threads 2 --steps 10 --frameworks keras --xla
    python benchmarks/train_speed.py --generators resnet_6blocks,resnet_9blocks   # both at every size

``--generators auto`` (the default) uses the paper's generator per size: 6 blocks at
128, 9 at 256.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOAL = "Keras step no slower than PyTorch on CPU (keras/torch steps-per-second ratio >= 1.0)"
PAPER_GENERATOR = {128: "resnet_6blocks", 256: "resnet_9blocks"}
RESULT_TAG = "TRAIN_SPEED_RESULT "


# ----------------------------------------------------------------------------- workers
def _batch(size: int, batch: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.uniform(-1.0, 1.0, (batch, size, size, 3)).astype("float32")
    b = rng.uniform(-1.0, 1.0, (batch, size, size, 3)).astype("float32")
    return a, b


def _summary(step_times: list[float], warmup: int, first_step_s: float) -> dict:
    timed = step_times[warmup:]
    total = sum(timed)
    return {
        "steps_timed": len(timed),
        "warmup_steps": warmup,
        "steps_per_s": len(timed) / total,
        "mean_step_s": total / len(timed),
        "median_step_s": statistics.median(timed),
        "min_step_s": min(timed),
        "max_step_s": max(timed),
        "first_step_s": first_step_s,
    }


def worker_keras(args) -> dict:
    import keras
    import tensorflow as tf

    intra, inter = args.tf_threads or (args.threads, args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from keras_i2i.models import CycleGANConfig, build_model
    from keras_i2i.training.strategy import set_precision

    policy = set_precision(args.precision)
    keras.utils.set_random_seed(0)
    model = build_model(CycleGANConfig(generator=args.generator, padding=args.padding), image_size=args.size, seed=0)
    model.compile(2e-4, 0.5, 0.999, loss_scale=policy == "mixed_float16", jit_compile=args.xla)
    a, b = _batch(args.size, args.batch, args.seed)
    data = tf.data.Dataset.from_tensors((a, b)).repeat()

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    timer = StepTimer()
    n = args.warmup + args.steps
    history = model.fit(data, steps_per_epoch=n, epochs=1, verbose=0, callbacks=[timer])
    times = timer.times
    steps = [t1 - t0 for t0, t1 in zip(times, times[1:])]
    assert len(steps) == n, (len(steps), n)
    out = _summary(steps, args.warmup, steps[0])
    out.update(
        framework="keras",
        policy=policy,
        jit_compile=bool(args.xla),
        padding=args.padding,
        final_loss_g=float(history.history["loss_g"][-1]),
        versions={"tensorflow": tf.__version__, "keras": keras.__version__},
        tf_threads={
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 Linux)"),
    )
    return out


def worker_torch(args) -> dict:
    import torch

    sys.path.insert(0, str(HERE))
    from torch_cyclegan import TorchCycleGAN

    torch.set_num_threads(args.threads)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]
    model = TorchCycleGAN(args.generator, autocast_dtype=dtype, seed=0)
    a, b = _batch(args.size, args.batch, args.seed)
    real_a = torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()
    real_b = torch.from_numpy(b).permute(0, 3, 1, 2).contiguous()
    steps = []
    losses = {}
    for _ in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        losses = model.optimize_parameters(real_a, real_b)  # returns Python floats: synchronous
        steps.append(time.perf_counter() - t0)
    out = _summary(steps, args.warmup, steps[0])
    out.update(
        framework="torch",
        autocast=str(dtype) if dtype else None,
        mode="eager (as the reference)",
        final_loss_g=sum(losses[k] for k in ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")),
        versions={"torch": torch.__version__},
        torch_threads=torch.get_num_threads(),
        mkldnn=torch.backends.mkldnn.is_available(),
    )
    return out


# ----------------------------------------------------------------------------- driver
def run_worker(framework: str, generator: str, size: int, batch: int, threads: int, args) -> dict:
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--_worker", framework,
        "--generator", generator, "--size", str(size), "--batch", str(batch),
        "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(threads),
        "--precision", args.precision, "--padding", args.padding, "--seed", str(args.seed),
    ]
    if args.xla:
        cmd.append("--xla")
    if args.tf_threads:
        cmd += ["--tf-threads", ",".join(map(str, args.tf_threads))]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"framework": framework, "error": f"timed out after {args.timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
            result["process_wall_s"] = time.perf_counter() - t0
            # 1-minute load average before/after: other processes on the machine skew
            # both frameworks, torch's OpenMP pool far more (it spins at barriers).
            result["loadavg_1min_before_after"] = [load_before, os.getloadavg()[0] if load_before is not None else None]
            return result
    tail = (proc.stdout + proc.stderr)[-3000:]
    return {"framework": framework, "error": f"exit {proc.returncode}", "log_tail": tail}


def fmt_rate(r: dict | None) -> str:
    if not r:
        return "-"
    if "error" in r:
        return "ERROR"
    return f"{r['steps_per_s']:.3f} ({r['mean_step_s']:.2f} s)"


def print_table(rows: list[dict]) -> None:
    header = ("config", "keras steps/s (s/step)", "torch steps/s (s/step)", "keras/torch", "goal")
    lines = []
    for row in rows:
        ratio = row.get("ratio_keras_over_torch")
        lines.append((
            row["config"], fmt_rate(row.get("keras")), fmt_rate(row.get("torch")),
            "-" if ratio is None else f"{ratio:.2f}x",
            "-" if row.get("goal_met") is None else ("met" if row["goal_met"] else "NOT met"),
        ))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    for i, line in enumerate([header, *lines]):
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="128,256", help="image sizes, comma-separated (default 128,256)")
    p.add_argument("--generators", default="auto",
                   help="'auto': the paper's per size (resnet_6blocks@128, resnet_9blocks@256);\n"
                        "or a comma-separated list run at every size")
    p.add_argument("--steps", type=int, default=20, help="timed steps per config (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed first steps (default 3)")
    p.add_argument("--batches", default="1,4", help="batch sizes, comma-separated (default 1,4; the paper trains at 1)")
    p.add_argument("--threads", default=f"{os.cpu_count()},1",
                   help="thread counts, comma-separated: torch.set_num_threads and TF's intra- and inter-op\n"
                        "pools (default: the CPU count, then 1)")
    p.add_argument("--tf-threads", default=None,
                   help="INTRA,INTER: TF's pools for every row instead of the --threads count (e.g. 1,2)")
    p.add_argument("--json", default=str(HERE / "results" / "train_speed.json"), help="where to write results")
    p.add_argument("--xla", action="store_true", help="Keras: model.compile(jit_compile=True); torch stays eager")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="Keras dtype policy / torch CPU autocast dtype (default fp32)")
    p.add_argument("--padding", choices=("slices", "pad"), default="slices",
                   help="keras-i2i reflection padding implementation (default: the library default, slices)")
    p.add_argument("--frameworks", default="keras,torch", help="comma-separated subset of keras,torch")
    p.add_argument("--seed", type=int, default=0, help="seed of the input batch")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per worker process")
    # internal: one measurement in this process
    p.add_argument("--_worker", choices=("keras", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--generator", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        if args._worker:
            args.threads = int(args.threads)
        else:
            args.thread_counts = [int(t) for t in args.threads.split(",") if t]
            args.batch_sizes = [int(b) for b in args.batches.split(",") if b]
        if args.tf_threads:
            args.tf_threads = tuple(int(t) for t in args.tf_threads.split(","))
            if len(args.tf_threads) != 2:
                raise ValueError
    except ValueError:
        p.error("--threads and --batches take comma-separated integers, --tf-threads two (INTRA,INTER)")
    if not args._worker and (not args.thread_counts or min(args.thread_counts) < 1
                             or not args.batch_sizes or min(args.batch_sizes) < 1):
        p.error("--threads and --batches need at least one value, each >= 1")
    if args.steps < 1 or args.warmup < 1:
        p.error("--steps and --warmup must be >= 1 (the first step traces the Keras graph)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args._worker:
        result = (worker_keras if args._worker == "keras" else worker_torch)(args)
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0

    from keras_i2i.runtime.benchmark import machine_info

    sizes = [int(s) for s in args.sizes.split(",") if s]
    frameworks = [f for f in args.frameworks.split(",") if f]
    if set(frameworks) - {"keras", "torch"}:
        raise SystemExit(f"--frameworks: unknown {set(frameworks) - {'keras', 'torch'}}")
    if args.generators == "auto":
        configs = [(PAPER_GENERATOR.get(s, "resnet_9blocks"), s) for s in sizes]
    else:
        configs = [(g, s) for s in sizes for g in args.generators.split(",") if g]

    report = {
        "goal": GOAL,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(extra_packages=("tensorflow", "keras", "torch")),
        "settings": {
            "steps": args.steps, "warmup": args.warmup, "batches": args.batch_sizes, "threads": args.thread_counts,
            "threads_tf": ("intra,inter = " + ",".join(map(str, args.tf_threads))) if args.tf_threads
            else "intra = inter = the row's thread count",
            "precision": args.precision, "xla_keras": args.xla,
            "padding_keras": args.padding,
            "isolation": "each framework x config in its own subprocess, run sequentially",
            "timing": "wall time of steps after warmup; steps/s = timed steps / their total time",
        },
        "results": [],
    }
    started = time.perf_counter()
    rows = [(g, s, b, t) for g, s in configs for b in args.batch_sizes for t in args.thread_counts]
    for generator, size, batch, threads in rows:
        row = {"config": f"{generator}@{size} b{batch} t{threads}", "generator": generator, "size": size,
               "batch": batch, "threads": threads}
        for fw in frameworks:
            print(f"[{time.perf_counter() - started:6.0f} s] {fw}: {row['config']} ...", file=sys.stderr, flush=True)
            row[fw] = run_worker(fw, generator, size, batch, threads, args)
            if "error" in row[fw]:
                print(f"  {fw} failed: {row[fw]['error']}\n{row[fw].get('log_tail', '')}", file=sys.stderr)
            else:
                print(f"  {fmt_rate(row[fw])}", file=sys.stderr, flush=True)
        k, t = row.get("keras"), row.get("torch")
        if k and t and "error" not in k and "error" not in t:
            row["ratio_keras_over_torch"] = k["steps_per_s"] / t["steps_per_s"]
            row["goal_met"] = row["ratio_keras_over_torch"] >= 1.0
        report["results"].append(row)
    report["total_wall_s"] = time.perf_counter() - started

    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nGoal: {GOAL}")
    m = report["machine"]
    v = m["versions"]  # a package that is not installed is missing: printed as None
    print(f"{m['cpu_model']}, {m['cpu_count']} CPUs; tf {v.get('tensorflow')}, keras {v.get('keras')}, "
          f"torch {v.get('torch')}; precision {args.precision}, xla(keras) {args.xla}, "
          f"padding(keras) {args.padding}; {args.steps} timed + {args.warmup} warm-up steps; config = "
          f"generator@size b<batch> t<threads>\n")
    print_table(report["results"])
    loads = [r[fw]["loadavg_1min_before_after"] for r in report["results"] for fw in frameworks
             if "loadavg_1min_before_after" in r.get(fw, {})]
    if loads and max(max(x for x in pair if x is not None) for pair in loads) > 1.25 * (os.cpu_count() or 1):
        print("\nWARNING: the machine was busy (1-min load average up to "
              f"{max(max(pair) for pair in loads):.1f} on {os.cpu_count()} CPUs); other processes skew these numbers, "
              "torch's (OpenMP, spinning) more than TensorFlow's. Re-run on an idle machine for the verdict.")
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
