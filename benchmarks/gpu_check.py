"""GPU check: keras-i2i's CycleGAN training step against the PyTorch reference on one machine's GPUs.

Goal: keras-i2i with mixed bfloat16 + XLA (``train.precision: bf16``,
``train.jit_compile: true``) takes a CycleGAN step at least 1.5x as fast as the PyTorch
reference step in float32 (``torch_cyclegan.py``, the junyanz/pytorch-CycleGAN-and-pix2pix
iteration) on the same GPU, for ResNet-9 at 256 px, batch 1 and batch 8.

What runs (each row in its own Python subprocess, one after the other, so that the two
frameworks never hold the GPU at the same time and each row's peak memory is its own):

- torch: ``TorchCycleGAN.optimize_parameters`` on ``cuda``, eager as the reference, in
  float32 and under AMP (``torch.autocast`` bfloat16, and float16 with a ``GradScaler``);
  ``cudnn.benchmark`` on. The losses come back as Python floats: every step is synchronous.
- keras: ``model.fit`` on one fixed batch repeated (what the trainer runs, minus data
  loading), float32 and mixed_bfloat16 + ``jit_compile``, with the default strategy (one
  GPU), and with ``MirroredStrategy`` over all visible GPUs at the same per-replica batch.
  A callback takes the time at every ``on_train_batch_end`` (Keras syncs before it).
- tfdata: the training ``tf.data`` stream alone (``data_speed.py``) at batch 16, against
  the images/s the fastest keras row consumes: the GPU must never wait for the CPU.

The first ``--warmup`` steps (tracing, XLA compilation, cuDNN autotuning) are excluded;
the goal compares median step times. Peak GPU memory is
``tf.config.experimental.get_memory_info(GPU:i)["peak"]`` (per GPU) and
``torch.cuda.max_memory_allocated()``. Rows run in order of importance (the goal's rows
first) and stop when ``--budget-s`` is spent, so the whole check ends in time; a row left
out is recorded as skipped.

Usage::

    bash benchmarks/gpu_check.sh                 # on a GPU machine: benchmarks/results/gpu_check.json
    bash benchmarks/gpu_check.sh --dry-run       # the same code on CPU at 32 px, ngf 8, 2 steps (seconds)
    python benchmarks/gpu_check.py --frameworks torch   # only the PyTorch rows (no TensorFlow needed)

``--dry-run`` runs each kind of row once, in this one process, on CPU (resnet_6blocks at
32 px, ngf 4, batch 1, 2 steps; XLA off: compiling the step for a CPU takes minutes; torch
on one thread) and writes ``gpu_check_dry_run.json``: it checks the code path, its figures
are no measurement.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from train_speed import _batch, _summary  # noqa: E402  (shared with the CPU benchmark)

GOAL_SPEEDUP = 1.5
GOAL = (f"keras-i2i bf16+XLA step at least {GOAL_SPEEDUP}x as fast as the PyTorch reference fp32 step "
        "(median step times, same GPU, same batch)")
RESULT_TAG = "GPU_CHECK_RESULT "
TORCH_AMP = {"fp32": None, "amp_bf16": "bfloat16", "amp_fp16": "float16"}
KERAS_PRECISIONS = ("fp32", "bf16_xla")
GIB = 2**30


class MissingDependency(RuntimeError):
    """A package or device the check needs is not there."""


# ----------------------------------------------------------------------------- rows
def plan_rows(args) -> list[dict]:
    """The rows to measure, most important first (the goal's rows, then the rest)."""
    frameworks = set(args.frameworks)
    rows = []

    def add(framework, precision, batch, strategy="default"):
        if framework in frameworks:
            rows.append({"framework": framework, "precision": precision, "batch": batch, "strategy": strategy})

    for batch in args.batches:
        add("torch", "fp32", batch)
        if "bf16_xla" in args.keras_precisions:
            add("keras", "bf16_xla", batch)
    for batch in args.batches:
        for amp in args.torch_amp:
            add("torch", amp, batch)
        if "fp32" in args.keras_precisions:
            add("keras", "fp32", batch)
    for batch in args.batches:
        add("keras", args.keras_precisions[-1], batch, "mirrored")
    if "keras" in frameworks and args.data_batch:
        rows.append({"framework": "tfdata", "precision": "-", "batch": args.data_batch, "strategy": "-"})
        if args.data_batch not in args.batches and not args.dry_run:  # what a step consumes at that batch
            add("keras", args.keras_precisions[-1], args.data_batch)
    return rows


def row_name(row: dict) -> str:
    if row["framework"] == "tfdata":
        return f"tf.data stream b{row['batch']}"
    strategy = "" if row["strategy"] == "default" else f" {row['strategy']}"
    return f"{row['framework']} {row['precision']}{strategy} b{row['batch']}"


# ----------------------------------------------------------------------------- workers
def worker_keras(row: dict, args) -> dict:
    """Time ``model.fit`` of a CycleGAN on one repeated batch (see the module docstring)."""
    import keras
    import tensorflow as tf

    from keras_i2i.models import CycleGANConfig, build_model
    from keras_i2i.training.strategy import make_strategy, set_precision

    gpus = tf.config.list_physical_devices("GPU")
    if args.require_gpu and not gpus:
        raise MissingDependency(
            f"TensorFlow {tf.__version__} sees no GPU (a CPU-only build, or CUDA libraries it cannot load): "
            "install pip install 'tensorflow[and-cuda]' on the GPU machine, or use --dry-run on CPU.")
    keras.backend.clear_session()
    strategy = make_strategy(row["strategy"])
    replicas = strategy.num_replicas_in_sync
    global_batch = row["batch"] * replicas
    bf16 = row["precision"] == "bf16_xla"
    xla = bf16 and args.xla
    policy = set_precision("bf16" if bf16 else "fp32")
    devices = [f"GPU:{i}" for i in range(len(gpus))]
    for device in devices:
        tf.config.experimental.reset_memory_stats(device)
    try:
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = build_model(CycleGANConfig(generator=args.generator, ngf=args.ngf, ndf=args.ngf),
                                image_size=args.size, seed=0)
            model.compile(2e-4, 0.5, 0.999, jit_compile=xla)
        a, b = _batch(args.size, global_batch, args.seed)
        data = tf.data.Dataset.from_tensors((a, b)).repeat()

        class StepTimer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times = [time.perf_counter()]

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter())

        timer = StepTimer()
        n = args.warmup + args.steps
        history = model.fit(data, steps_per_epoch=n, epochs=1, verbose=0, callbacks=[timer])
        steps = [t1 - t0 for t0, t1 in zip(timer.times, timer.times[1:])]
        peaks = [tf.config.experimental.get_memory_info(device)["peak"] for device in devices]
    finally:
        set_precision("fp32")  # the dtype policy is global: leave none behind (--dry-run runs in-process)
    out = _summary(steps, args.warmup, steps[0])
    out.update(
        replicas=replicas, global_batch=global_batch, policy=policy, jit_compile=xla,
        strategy=type(strategy).__name__, gpus_visible=len(gpus),
        gpu_names=[tf.config.experimental.get_device_details(g).get("device_name") for g in gpus],
        tf_build={k: v for k, v in tf.sysconfig.get_build_info().items() if k in ("cuda_version", "cudnn_version")},
        peak_memory_bytes=max(peaks) if peaks else None, peak_memory_bytes_per_gpu=peaks or None,
        final_loss_g=float(history.history["loss_g"][-1]),
    )
    return out


def worker_torch(row: dict, args) -> dict:
    """Time the reference's ``optimize_parameters`` on the GPU (see the module docstring)."""
    import torch

    from torch_cyclegan import TorchCycleGAN

    device = "cuda" if args.require_gpu else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise MissingDependency(f"torch {torch.__version__} sees no CUDA GPU (CPU-only build, or no driver); "
                                    "use --dry-run on CPU.")
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats()
    else:  # --dry-run: TensorFlow's thread pools live in the same process; torch's OpenMP would spin against them
        torch.set_num_threads(1)
    dtype = TORCH_AMP[row["precision"]]
    model = TorchCycleGAN(args.generator, ngf=args.ngf, ndf=args.ngf, seed=0, device=device,
                          autocast_dtype=getattr(torch, dtype) if dtype else None)
    a, b = _batch(args.size, row["batch"], args.seed)
    real_a = torch.from_numpy(a).permute(0, 3, 1, 2).contiguous().to(device)
    real_b = torch.from_numpy(b).permute(0, 3, 1, 2).contiguous().to(device)
    steps, losses = [], {}
    for _ in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        losses = model.optimize_parameters(real_a, real_b)  # Python floats: the step has finished
        steps.append(time.perf_counter() - t0)
    out = _summary(steps, args.warmup, steps[0])
    out.update(
        replicas=1, global_batch=row["batch"], autocast=dtype, grad_scaler=model.scaler is not None,
        mode="eager (as the reference)", device=device,
        device_name=torch.cuda.get_device_name(0) if device == "cuda" else "cpu", threads=torch.get_num_threads() if device == "cpu" else None,
        cudnn_benchmark=torch.backends.cudnn.benchmark, cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
        peak_memory_bytes=torch.cuda.max_memory_allocated() if device == "cuda" else None,
        peak_memory_reserved_bytes=torch.cuda.max_memory_reserved() if device == "cuda" else None,
        final_loss_g=sum(losses[k] for k in ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")),
    )
    return out


def worker_tfdata(row: dict, args) -> dict:
    """Images/s of the training stream alone (``data_speed.measure_stream``)."""
    from data_speed import measure_stream

    return measure_stream(args.data, load_size=args.load_size, crop_size=args.size, batch=row["batch"],
                          batches=args.data_batches, warmup=args.data_warmup, max_images=args.data_max_images)


WORKERS = {"keras": worker_keras, "torch": worker_torch, "tfdata": worker_tfdata}


def run_row(row: dict, args, timeout: float) -> dict:
    """One row: in this process with ``--dry-run``, else in a fresh subprocess."""
    t0 = time.perf_counter()
    load_before = os.getloadavg()[0]
    if args.dry_run:
        try:
            result = WORKERS[row["framework"]](row, args)
        except MissingDependency as err:
            return {"error": str(err)}
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), *args.argv, "--_worker", json.dumps(row)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s (the check's time budget)"}
        lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_TAG)]
        if not lines:
            return {"error": f"exit {proc.returncode}", "log_tail": (proc.stdout + proc.stderr)[-3000:]}
        result = json.loads(lines[-1][len(RESULT_TAG):])
    result["process_wall_s"] = time.perf_counter() - t0
    result["loadavg_1min_before_after"] = [load_before, os.getloadavg()[0]]
    return result


# ----------------------------------------------------------------------------- checks
def check_dependencies(args) -> None:
    """Fail before any row runs when a package or the GPU is missing."""
    need = {"keras": ("tensorflow", "keras"), "torch": ("torch",)}
    missing = [p for fw in args.frameworks for p in need[fw] if importlib.util.find_spec(p) is None]
    if missing:
        hint = (" Only the PyTorch rows: --frameworks torch." if "torch" not in missing and "torch" in args.frameworks
                else "")
        raise MissingDependency(
            f"missing Python package(s) {', '.join(missing)} for --frameworks {','.join(args.frameworks)}: "
            f"pip install -e . (tensorflow, keras) / pip install torch.{hint}")
    if not args.dry_run:
        if shutil.which("nvidia-smi") is None:
            raise MissingDependency("no nvidia-smi: this machine has no NVIDIA GPU (driver); run on a GPU machine, "
                                    "or use --dry-run on CPU.")
        if subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode != 0:
            raise MissingDependency("nvidia-smi finds no GPU; run on a GPU machine, or use --dry-run on CPU.")


def environment(args) -> dict:
    """GPU, driver, framework and CUDA versions, CPU and load."""
    from keras_i2i.runtime.benchmark import machine_info

    env = {"machine": machine_info(extra_packages=("tensorflow", "keras", "torch")),
           "loadavg": list(os.getloadavg())}
    if shutil.which("nvidia-smi") and not args.dry_run:
        query = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True)
        env["gpus"] = [dict(zip(("name", "driver", "memory", "compute_capability"),
                                (x.strip() for x in line.split(","))))
                       for line in query.stdout.splitlines() if line.strip()]
    if "torch" in args.frameworks:  # no torch.cuda call here: a CUDA context would hold GPU memory all along
        import torch

        env["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda,
                        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    return env


def summarize(rows: list[dict], valid: bool) -> dict:
    """Ratios to the torch fp32 row of the same batch, and the goal per batch; ``valid``:
    a GPU run with XLA on (else the verdict is computed but is no verdict)."""
    base = {r["batch"]: r["result"] for r in rows
            if r["framework"] == "torch" and r["precision"] == "fp32" and "median_step_s" in r.get("result", {})}
    for r in rows:
        res, ref = r.get("result", {}), base.get(r["batch"])
        if r["framework"] != "tfdata" and ref and "median_step_s" in res:
            # per-replica batch equal: images/s over all replicas against torch on one GPU
            r["speedup_vs_torch_fp32"] = (ref["median_step_s"] / res["median_step_s"]) * res["replicas"]
    per_batch = {}
    for r in rows:
        if r["framework"] == "keras" and r["precision"] == "bf16_xla" and r["strategy"] == "default":
            speedup = r.get("speedup_vs_torch_fp32")
            per_batch[str(r["batch"])] = {
                "keras_bf16_xla_median_step_s": r.get("result", {}).get("median_step_s"),
                "torch_fp32_median_step_s": (base.get(r["batch"]) or {}).get("median_step_s"),
                "speedup": speedup, "met": None if speedup is None else speedup >= GOAL_SPEEDUP,
            }
    verdicts = [v["met"] for v in per_batch.values()]
    return {"text": GOAL, "target_speedup": GOAL_SPEEDUP, "per_batch": per_batch, "valid": valid,
            "met": None if not verdicts or None in verdicts else all(verdicts)}


def stream_verdict(rows: list[dict]) -> dict | None:
    """The stream's images/s against what a keras step consumes (the goal: at least 10x):
    the fastest keras row at the stream's batch, else the fastest keras row."""
    stream = next((r for r in rows if r["framework"] == "tfdata" and "images_per_s" in r.get("result", {})), None)
    steps = [r for r in rows if r["framework"] == "keras" and "median_step_s" in r.get("result", {})]
    if stream is None or not steps:
        return None
    same_batch = [r for r in steps if r["result"]["global_batch"] == stream["batch"]]

    def rate(r):
        return r["result"]["global_batch"] / r["result"]["median_step_s"]

    step = max(same_batch or steps, key=rate)
    ratio = stream["result"]["images_per_s"] / rate(step)
    return {"stream_images_per_s": stream["result"]["images_per_s"], "stream_batch": stream["batch"],
            "step_row": row_name(step), "step_images_per_s": rate(step), "ratio": ratio, "target_ratio": 10.0,
            "met": ratio >= 10.0}


def print_table(report: dict) -> None:
    header = ("row", "median s/step", "images/s", "peak GiB", "vs torch fp32")
    lines = []
    for r in report["rows"]:
        res = r.get("result", {})
        if "error" in res or "skipped" in res:
            lines.append((row_name(r), "ERROR" if "error" in res else "skipped", "-", "-", "-"))
            continue
        if r["framework"] == "tfdata":
            lines.append((row_name(r), "-", f"{res['images_per_s']:.1f}", "-", "-"))
            continue
        peak = res.get("peak_memory_bytes")
        speedup = r.get("speedup_vs_torch_fp32")
        name = row_name(r).replace("bf16_xla", "bf16 (XLA off)") if res.get("jit_compile") is False else row_name(r)
        lines.append((name, f"{res['median_step_s'] * 1e3:.1f} ms",
                      f"{res['global_batch'] / res['median_step_s']:.1f}",
                      "-" if peak is None else f"{peak / GIB:.2f}", "-" if speedup is None else f"{speedup:.2f}x"))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    for i, line in enumerate([header, *lines]):
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    goal = report["goal"]
    if not goal["per_batch"]:
        print("goal: not measured (no keras bf16_xla row)")
    for batch, v in goal["per_batch"].items():
        print(f"goal b{batch}: " + ("not measured" if v["speedup"] is None else
                                     f"{v['speedup']:.2f}x ({'met' if v['met'] else 'NOT met'}, target {GOAL_SPEEDUP}x)")
              + ("" if goal["valid"] else "  [no verdict: dry run or XLA off]"))
    if report.get("data_stream"):
        d = report["data_stream"]
        print(f"tf.data stream: {d['ratio']:.1f}x the images/s of {d['step_row']} "
              f"({'met' if d['met'] else 'NOT met'}, target 10x)")


# ----------------------------------------------------------------------------- driver
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, in this process, tiny sizes (resnet_6blocks, 32 px, ngf 4, batch 1, 2 steps,\n"
                        "XLA off): checks the code path only, in about a minute")
    p.add_argument("--generator", help="generator (default resnet_9blocks; resnet_6blocks with --dry-run)")
    p.add_argument("--size", type=int, help="image size (default 256; 32 with --dry-run)")
    p.add_argument("--ngf", type=int, help="generator/discriminator width (default 64; 4 with --dry-run)")
    p.add_argument("--batches", help="per-replica batch sizes, comma-separated (default 1,8; 1 with --dry-run)")
    p.add_argument("--keras-precisions",
                   help="keras rows, comma-separated subset of fp32,bf16_xla; the mirrored rows use the last\n"
                        "(default fp32,bf16_xla; bf16_xla with --dry-run)")
    p.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                   help="jit_compile in the bf16_xla rows; auto: on, off with --dry-run (compiling the\n"
                        "step for the CPU takes minutes)")
    p.add_argument("--steps", type=int, help="timed steps per row (default 30; 2 with --dry-run)")
    p.add_argument("--warmup", type=int, help="untimed first steps per row (default 5; 1 with --dry-run)")
    p.add_argument("--frameworks", default="keras,torch", help="comma-separated subset of keras,torch")
    p.add_argument("--torch-amp", default="amp_bf16,amp_fp16",
                   help="PyTorch AMP rows, comma-separated subset of amp_bf16,amp_fp16 (default both)")
    p.add_argument("--data", default="emoji", help="dataset of the tf.data row (default the bundled emoji)")
    p.add_argument("--load-size", type=int, help="tf.data row: data.load_size (default size * 286/256)")
    p.add_argument("--data-batch", type=int, default=16, help="tf.data row's batch (default 16; 0: no row)")
    p.add_argument("--data-max-images", type=int, help="tf.data row: images per domain (default all; 32 with --dry-run)")
    p.add_argument("--data-batches", type=int, help="tf.data row: timed batches (default 100; 3 with --dry-run)")
    p.add_argument("--data-warmup", type=int, help="tf.data row: untimed batches (default 20; 1 with --dry-run)")
    p.add_argument("--budget-s", type=float, default=420,
                   help="seconds for all rows; rows not started by then are skipped (default 420)")
    p.add_argument("--seed", type=int, default=0, help="seed of the input batch")
    p.add_argument("--json", help="output (default benchmarks/results/gpu_check.json, _dry_run with --dry-run)")
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = [a for a in (sys.argv[1:] if argv is None else list(argv))]
    if args._worker:
        i = args.argv.index("--_worker")
        args.argv = args.argv[:i] + args.argv[i + 2:]
    tiny = args.dry_run
    defaults = {"generator": "resnet_6blocks" if tiny else "resnet_9blocks", "size": 32 if tiny else 256,
                "ngf": 4 if tiny else 64, "batches": "1" if tiny else "1,8", "steps": 2 if tiny else 30,
                "warmup": 1 if tiny else 5, "keras_precisions": "bf16_xla" if tiny else "fp32,bf16_xla",
                "data_batches": 3 if tiny else 100, "data_warmup": 1 if tiny else 20,
                "data_max_images": 32 if tiny else None}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.load_size is None:
        args.load_size = round(args.size * 286 / 256)
    args.require_gpu = not tiny
    args.xla = {"on": True, "off": False, "auto": not tiny}[args.xla]
    args.keras_precisions = [k for k in args.keras_precisions.split(",") if k]
    if not args.keras_precisions or set(args.keras_precisions) - set(KERAS_PRECISIONS):
        p.error(f"--keras-precisions: a comma-separated subset of {','.join(KERAS_PRECISIONS)}")
    args.batches = [int(b) for b in str(args.batches).split(",") if b]
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    args.torch_amp = [a for a in args.torch_amp.split(",") if a]
    if set(args.frameworks) - {"keras", "torch"} or not args.frameworks:
        p.error(f"--frameworks: a comma-separated subset of keras,torch, got {','.join(args.frameworks)!r}")
    if set(args.torch_amp) - {"amp_bf16", "amp_fp16"}:
        p.error(f"--torch-amp: a comma-separated subset of amp_bf16,amp_fp16, got {','.join(args.torch_amp)!r}")
    if args.steps < 1 or args.warmup < 1 or min(args.batches, default=0) < 1:
        p.error("--steps, --warmup and every --batches entry must be >= 1")
    if args.json is None:
        args.json = str(HERE / "results" / ("gpu_check_dry_run.json" if tiny else "gpu_check.json"))
    return args


def setup_dry_run() -> None:
    """CPU only (the mirrored rows mirror over the logical CPU devices: one unless the
    caller configured more; two replicas would double the step's graph and its tracing time)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args._worker:
        row = json.loads(args._worker)
        try:
            result = WORKERS[row["framework"]](row, args)
        except MissingDependency as err:
            result = {"error": str(err)}
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0
    try:
        check_dependencies(args)
    except MissingDependency as err:
        print(f"gpu_check: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        setup_dry_run()
    report = {
        "goal": None,
        "dry_run": args.dry_run,
        "note": "--dry-run: CPU, tiny sizes; the figures are no measurement" if args.dry_run else None,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "environment": environment(args),
        "settings": {
            "generator": args.generator, "size": args.size, "ngf": args.ngf, "ndf": args.ngf,
            "batches_per_replica": args.batches, "steps": args.steps, "warmup": args.warmup,
            "keras_precisions": args.keras_precisions, "xla": args.xla,
            "budget_s": args.budget_s, "isolation": "in-process (--dry-run)" if args.dry_run else
            "each row in its own subprocess, run one after the other",
            "timing": "wall time per step after warm-up; the goal uses median step times",
            "images_per_s": "global batch (pairs of an A and a B image) / median step time",
        },
        "rows": [],
    }
    started = time.perf_counter()
    for row in plan_rows(args):
        left = args.budget_s - (time.perf_counter() - started)
        if left < 15:
            row["result"] = {"skipped": f"time budget ({args.budget_s:.0f} s) spent"}
        else:
            print(f"[{time.perf_counter() - started:5.0f} s] {row_name(row)} ...", file=sys.stderr, flush=True)
            row["result"] = run_row(row, args, timeout=left)
            if "error" in row["result"]:
                print(f"  failed: {row['result']['error']}\n{row['result'].get('log_tail', '')}", file=sys.stderr)
        report["rows"].append(row)
    report["total_wall_s"] = time.perf_counter() - started
    report["goal"] = summarize(report["rows"], valid=not args.dry_run and args.xla)
    report["data_stream"] = stream_verdict(report["rows"])

    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    env = report["environment"]
    gpus = ", ".join(g["name"] for g in env.get("gpus", [])) or "no GPU (CPU)"
    versions = env["machine"]["versions"]
    print(f"\n{GOAL}\n{gpus}; tensorflow {versions.get('tensorflow')}, keras {versions.get('keras')}, "
          f"torch {versions.get('torch')}; {args.generator} @ {args.size} px, ngf {args.ngf}, "
          f"{args.steps} timed + {args.warmup} warm-up steps" + ("  [DRY RUN: no measurement]" if args.dry_run else "")
          + "\n")
    print_table(report)
    print(f"\nwritten: {path} ({report['total_wall_s']:.0f} s)")
    return 1 if any("error" in r["result"] for r in report["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
