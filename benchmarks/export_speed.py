"""Inference speed of the exported CycleGAN generator against PyTorch and Keras, on this machine.

Goals (reported, not enforced):

- TFLite fp32 no slower than PyTorch eager (latency ratio tflite/torch <= 1.0);
- TFLite int8 at most 0.6x the PyTorch latency, with parity >= 30 dB against Keras.

Per config (default: the paper's ResNet generators, 9 blocks at 256x256 and 6 blocks at
128x128, ngf=64), in one process:

1. the PyTorch reference generator (``benchmarks/torch_cyclegan.py`` ``define_G``) with its
   own random initialization (N(0, 0.02), ``torch.manual_seed(0)``): **random weights, not
   a trained model**; the same weights are copied into the keras-i2i generator, so every
   row computes the same function;
2. the Keras generator is exported with keras-i2i's own converters
   (:func:`keras_i2i.export.tflite.convert_tflite`, :func:`keras_i2i.export.onnx.convert_onnx`):
   TFLite fp32, fp16, dynamic and int8 with uint8 pixel I/O (the ``keras-i2i export``
   default for TFLite; int8 calibrated on real images, the bundled emoji ``trainA`` resized
   bicubic to the model size), ONNX fp32 with float I/O, and ONNX int8 (``--onnx-quantize``:
   static QDQ, the same calibration images);
3. each is timed on one fixed image: PyTorch eager (``torch.inference_mode``), Keras
   ``model(x, training=False)``, the same in a ``tf.function`` (and with XLA,
   ``jit_compile=True``), the TFLite files in LiteRT (XNNPACK) and the ONNX file in ONNX
   Runtime (CPU EP), the last two through :meth:`keras_i2i.runtime.Translator.run_raw`
   (the model alone, no resizing);
4. parity: PSNR in dB of each against the Keras output on real held-out images (emoji
   ``testA``), outputs rounded to pixels on both sides (:mod:`keras_i2i.export.parity`).

Timing: 2 threads for everyone (torch ``set_num_threads``, TF intra-op pool, LiteRT
``num_threads``, ORT ``intra_op_num_threads``; BLAS env vars). After each backend's
warm-up, the timed runs are interleaved round-robin (one call per backend per round,
order reversed every other round, 10 ms pause between calls) so that every backend sees
the same background load on a shared machine; p50/p95 of the wall times per call.

Physical floor: the generator's multiply-accumulates (counted from the Keras model's
Conv2D / Conv2DTranspose layers) divided by this machine's measured float32 matmul rate
(2048x2048 sgemm, 2 threads, with whichever of numpy and torch.mm was faster at start-up).
The sgemm is timed once per round among the contenders, so ``floor_ms`` uses its p50 rate
under the same background load as the p50 latencies; ``floor_ms_best`` uses the best
rate seen.

Usage::

    python benchmarks/export_speed.py                  # writes benchmarks/results/export_speed.json
    python benchmarks/export_speed.py --configs resnet_6blocks@128 --runs 20 --no-xla
    python benchmarks/export_speed.py --profile        # also: which TFLite ops XNNPACK does not take
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

THREADS_DEFAULT = 2


def _preset_threads(argv) -> int:
    """Thread env vars must be set before numpy/torch/TF start their pools."""
    threads = THREADS_DEFAULT
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    # libgomp's default (active) spin-waiting made PyTorch 50-100x slower whenever another
    # process held a core (each of the ~50 parallel regions of a forward pass waited for a
    # descheduled thread); passive waiting keeps it robust on a shared machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return threads


_preset_threads(sys.argv[1:])

import numpy as np  # noqa: E402

from keras_i2i.utils import pixels_to_unit  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EMOJI = ROOT / "keras_i2i" / "data" / "bundled" / "emoji"
GOALS = {
    "tflite_fp32": "TFLite fp32 p50 no slower than PyTorch eager (ratio <= 1.0)",
    "tflite_int8": "TFLite int8 p50 at most 0.6x PyTorch eager, parity >= 30 dB against Keras",
}
TFLITE_MODES = ("fp32", "fp16", "dynamic", "int8")


# ----------------------------------------------------------------------------- helpers
def machine_info() -> dict:
    cpu_model, flags = platform.processor(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu_model:
                cpu_model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma", "amx")) or "vnni" in f]
    except OSError:
        pass
    versions = {}
    for pkg in ("tensorflow", "keras", "torch", "numpy", "ai-edge-litert", "onnxruntime", "tf2onnx", "onnx",
                "opencv-python-headless", "keras-i2i"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu_model": cpu_model, "cpu_flags": flags, "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(), "python": platform.python_version(), "versions": versions,
    }


def load_average():
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def stats(times_s: list[float]) -> dict:
    ms = np.asarray(times_s) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "mean_ms": round(float(ms.mean()), 2), "min_ms": round(float(ms.min()), 2), "runs": len(ms)}


def matmul_probe(n: int = 2048, library: str = "numpy"):
    """A zero-argument n x n float32 matmul (its MACs: n**3)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if library == "torch":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: torch.mm(ta, tb)
    return lambda: a @ b


def matmul_rate(threads: int, n: int = 2048, repeats: int = 5) -> dict:
    """Best float32 matmul rate (MAC/s) of torch.mm and numpy on n x n matrices."""
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    out = {}
    for name, fn in (("torch", lambda: torch.mm(ta, tb)), ("numpy", lambda: a @ b)):
        fn()
        best = min(_timed(fn) for _ in range(repeats))
        out[name] = {"seconds": round(best, 4), "gmacs_per_s": round(n**3 / best / 1e9, 2),
                     "gflops_per_s": round(2 * n**3 / best / 1e9, 2)}
    best_name = max(out, key=lambda k: out[k]["gmacs_per_s"])
    return {"n": n, "threads": threads, "by_library": out, "best": best_name,
            "gmacs_per_s": out[best_name]["gmacs_per_s"]}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def conv_macs(model) -> dict:
    """Multiply-accumulates of the Conv2D and Conv2DTranspose layers of a Keras model with a
    static input shape (the rest: norms, pads, adds, are a few percent at most)."""
    import keras

    total, by_kind = 0, {"conv": 0, "transposed_conv": 0}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, cin = layer.input.shape
            kh, kw = layer.kernel_size
            macs = h * w * cin * kh * kw * layer.filters  # every input pixel scatters a kh x kw x filters patch
            by_kind["transposed_conv"] += macs
        elif isinstance(layer, keras.layers.Conv2D):
            _, oh, ow, cout = layer.output.shape
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            macs = oh * ow * cout * kh * kw * cin // layer.groups
            by_kind["conv"] += macs
        else:
            continue
        total += macs
    return {"total": int(total), "gmacs": round(total / 1e9, 3), **{k: int(v) for k, v in by_kind.items()}}


def copy_torch_weights(torch_net, keras_net) -> None:
    """The reference's weights into the Keras generator (as tests/networks/test_torch_parity.py)."""
    import keras
    import torch

    t_layers = [m for m in torch_net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    k_layers = [la for la in keras_net.layers if isinstance(la, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    assert len(t_layers) == len(k_layers), (len(t_layers), len(k_layers))
    for t, k in zip(t_layers, k_layers):
        weights = [t.weight.detach().numpy().transpose(2, 3, 1, 0)]
        if t.bias is not None:
            weights.append(t.bias.detach().numpy())
        k.set_weights(weights)


def write_model_files(folder: Path, files: dict) -> None:
    """Write exported bytes and a minimal model.json (what keras_i2i.runtime reads)."""
    from keras_i2i.export import metadata as md
    from keras_i2i.export import onnx as onnx_export
    from keras_i2i.export import tflite as tflite_export

    entries = []
    for name, (content, io, mode) in files.items():
        (folder / name).write_bytes(content)
        fmt = "tflite" if name.endswith(".tflite") else "onnx"
        inp, out = (tflite_export.io_details if fmt == "tflite" else onnx_export.io_details)(content)
        entries.append({
            "name": "export_speed", "direction": "a2b", "file": name, "format": fmt, "runtime": md.RUNTIMES[fmt],
            "io": io, "input": md.tensor_entry(inp, io), "output": md.tensor_entry(out, io),
            "quantization": {"mode": mode}, **md.file_digest(content),
        })
    md.update_model_json(folder, entries)


# ----------------------------------------------------------------------------- profiling
def xnnpack_report(path: Path, threads: int, runs: int = 3) -> dict:
    """Which ops of a .tflite file XNNPACK leaves to the builtin kernels, and the latency with
    and without the XNNPACK delegate (LiteRT has no Python op profiler; this answers the
    question the profiler would: what runs outside XNNPACK and what it costs)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from keras_i2i.export.checks import inspect_tflite

    content = path.read_bytes()
    ops = inspect_tflite(content).ops
    result = {"file": path.name, "ops": ops}
    for label, kind in (("xnnpack", OpResolverType.AUTO), ("builtin_only", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)):
        interpreter = Interpreter(model_content=content, num_threads=threads, experimental_op_resolver_type=kind)
        interpreter.allocate_tensors()
        inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
        interpreter.invoke()
        times = [_timed(interpreter.invoke) for _ in range(runs)]
        result[f"{label}_p50_ms"] = round(statistics.median(times) * 1000, 2)
        if label == "xnnpack":
            try:
                result["outside_xnnpack"], result["xnnpack_partitions"] = _undelegated_ops(interpreter)
            except Exception as err:  # noqa: BLE001 - private API, best effort
                result["outside_xnnpack"] = f"unavailable ({err})"
    return result


def _undelegated_ops(interpreter) -> tuple[dict, int]:
    """Op name -> count of the nodes XNNPACK did not take, and the number of XNNPACK
    partitions. The interpreter lists the original nodes plus one DELEGATE node per
    partition (with the partition's boundary tensors); a node is delegated when it lies
    between some partition's outputs and inputs."""
    ops = interpreter._get_ops_details()  # noqa: SLF001
    by_index = {o["index"]: o for o in ops}
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    regular = [o for o in ops if o["op_name"] != "DELEGATE"]
    producer = {int(t): o["index"] for o in regular for t in o["outputs"]}
    delegated: set = set()
    for d in delegates:
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        while stack:
            t = stack.pop()
            if t in boundary or t not in producer or producer[t] in delegated:
                continue
            delegated.add(producer[t])
            stack.extend(int(i) for i in by_index[producer[t]]["inputs"] if i >= 0)
    outside: dict = {}
    for o in regular:
        if o["index"] not in delegated:
            outside[o["op_name"]] = outside.get(o["op_name"], 0) + 1
    return outside, len(delegates)


# ----------------------------------------------------------------------------- one config
def run_config(generator: str, size: int, args, workdir: Path) -> dict:
    import keras
    import tensorflow as tf
    import torch

    sys.path.insert(0, str(HERE))
    from torch_cyclegan import count_parameters, define_G

    from keras_i2i.export import onnx as onnx_export
    from keras_i2i.export import parity
    from keras_i2i.export import tflite as tflite_export
    from keras_i2i.export.images import load_images
    from keras_i2i.networks import GENERATORS
    from keras_i2i.runtime import load

    label = f"{generator}@{size}"
    log = lambda msg: print(f"[{label}] {msg}", flush=True)  # noqa: E731
    t_config = time.perf_counter()

    # 1. The same random weights in PyTorch and Keras.
    torch.manual_seed(args.seed)
    t_net = define_G(generator, ngf=args.ngf).eval()
    keras.utils.set_random_seed(args.seed)
    k_net = GENERATORS.get(generator)(ngf=args.ngf, input_shape=(size, size, 3))
    copy_torch_weights(t_net, k_net)
    macs = conv_macs(k_net)
    log(f"{count_parameters(t_net):,} parameters, {macs['gmacs']} GMACs in convolutions")

    calib = load_images(EMOJI / "trainA", size, args.calibration_count)
    held_out = load_images(EMOJI / "testA", size, args.parity_count)
    images = held_out.images
    reference = parity.reference_pixels(k_net, images)

    # 2. Export with keras-i2i's converters.
    folder = workdir / label.replace("@", "_")
    folder.mkdir(parents=True)
    files, conversion_s = {}, {}
    for mode in TFLITE_MODES:
        start = time.perf_counter()
        content = tflite_export.convert_tflite(k_net, size, mode, "uint8", calib.images if mode == "int8" else None)
        conversion_s[f"tflite_{mode}"] = round(time.perf_counter() - start, 1)
        files[f"a2b.{mode}.tflite"] = (content, "uint8", mode)
        log(f"TFLite {mode}: {len(content) / 1e6:.1f} MB in {conversion_s[f'tflite_{mode}']} s")
    # int8 with the instance norms quantized too (keras-i2i keeps them in float by default).
    start = time.perf_counter()
    content = tflite_export.convert_tflite(k_net, size, "int8", "uint8", calib.images, float_norms=False)
    conversion_s["tflite_int8_int8norms"] = round(time.perf_counter() - start, 1)
    files["a2b.int8-int8norms.tflite"] = (content, "uint8", "int8-int8norms")
    start = time.perf_counter()
    files["a2b.onnx"] = (onnx_export.convert_onnx(k_net, size, "float"), "float", "fp32")
    conversion_s["onnx_fp32"] = round(time.perf_counter() - start, 1)
    log(f"ONNX fp32 in {conversion_s['onnx_fp32']} s")
    # `--onnx-quantize`: static QDQ int8 on the same calibration images.
    start = time.perf_counter()
    files["a2b.int8.onnx"] = (onnx_export.quantize_onnx(files["a2b.onnx"][0], calib.images, "float"), "float", "int8")
    conversion_s["onnx_int8"] = round(time.perf_counter() - start, 1)
    log(f"ONNX int8 (QDQ) in {conversion_s['onnx_int8']} s")
    write_model_files(folder, files)

    # 3. The contenders, each a zero-argument call on one fixed real image.
    pixels = images[0]
    x = pixels_to_unit(pixels[None])
    x_torch = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    x_tf = tf.constant(x)
    spec = [tf.TensorSpec((1, size, size, 3), tf.float32)]
    graph_fn = tf.function(lambda t: k_net(t, training=False), input_signature=spec)
    xla_fn = tf.function(lambda t: k_net(t, training=False), input_signature=spec, jit_compile=True)

    def torch_call(t=x_torch):
        with torch.inference_mode():
            return t_net(t)

    rows = [
        {"name": "pytorch eager", "framework": "torch", "mode": "fp32", "call": torch_call,
         "pixels": lambda im: _torch_pixels(t_net, im)},
        {"name": "keras model(x)", "framework": "keras", "mode": "fp32",
         "call": lambda: np.asarray(k_net(x, training=False)), "pixels": None},
        {"name": "keras tf.function", "framework": "keras", "mode": "fp32",
         "call": lambda: graph_fn(x_tf).numpy(), "pixels": lambda im: _tf_pixels(graph_fn, im)},
    ]
    if not args.no_xla:
        rows.append({"name": "keras tf.function xla", "framework": "keras", "mode": "fp32",
                     "call": lambda: xla_fn(x_tf).numpy(), "pixels": lambda im: _tf_pixels(xla_fn, im)})
    for name, (content, io, mode) in files.items():
        translator = load(folder / name, num_threads=args.threads)
        raw_input = translator.preprocess(pixels)
        rows.append({
            "name": f"{'tflite' if name.endswith('.tflite') else 'onnxruntime'} {mode}", "framework": translator.backend,
            "mode": mode, "io": io, "file": name, "size_bytes": len(content),
            "call": (lambda t=translator, r=raw_input: t.run_raw(r)), "pixels": translator,
        })

    # 4. Warm-up (first call timed separately: tracing, XLA compilation, allocation) ...
    for row in rows:
        row["first_call_ms"] = round(_timed(row["call"]) * 1000, 1)
        for _ in range(max(0, args.warmup - 1)):
            row["call"]()
    log("warm: " + ", ".join(f"{r['name']} first {r['first_call_ms']:.0f} ms" for r in rows))
    # ... then interleaved timed rounds.
    runs = args.runs if args.runs else (args.runs_256 if size >= 256 else args.runs_small)
    times = {r["name"]: [] for r in rows}
    sgemm, probe_times = matmul_probe(args.matmul["n"], args.matmul["best"]), []
    load_before = load_average()
    for i in range(runs):
        for row in (rows if i % 2 == 0 else rows[::-1]):
            time.sleep(0.01)
            times[row["name"]].append(_timed(row["call"]))
        time.sleep(0.01)
        probe_times.append(_timed(sgemm))
    load_after = load_average()

    # 5. Parity against Keras on the held-out real images.
    for row in rows:
        if row["pixels"] is None:  # the reference itself
            row["psnr_db"], row["reference"] = parity.PSNR_CAP, True
            continue
        ours = np.stack([row["pixels"](im) for im in images])
        row["psnr_db"] = round(parity.psnr(ours, reference), 2)
        row["max_abs_error"] = float(np.abs(ours.astype(np.float64) - reference).max())

    results = []
    for row in rows:
        entry = {k: v for k, v in row.items() if k not in ("call", "pixels")}
        entry.update(stats(times[row["name"]]))
        results.append(entry)
    torch_p50 = next(r["p50_ms"] for r in results if r["framework"] == "torch")
    for r in results:
        r["ratio_vs_torch"] = round(r["p50_ms"] / torch_p50, 3)

    n = args.matmul["n"]
    probe = {"p50_gmacs_per_s": round(n**3 / statistics.median(probe_times) / 1e9, 2),
             "best_gmacs_per_s": round(n**3 / min(probe_times) / 1e9, 2), "library": args.matmul["best"], "n": n,
             "runs": len(probe_times)}
    floor_ms = macs["total"] / (probe["p50_gmacs_per_s"] * 1e9) * 1000
    floor_best_ms = macs["total"] / (max(probe["best_gmacs_per_s"], args.matmul["gmacs_per_s"]) * 1e9) * 1000
    for r in results:
        r["floor_fraction"] = round(floor_ms / r["p50_ms"], 3)  # p50 floor / p50 latency
    fp32 = next(r for r in results if r["name"] == "tflite fp32")
    int8 = next(r for r in results if r["name"] == "tflite int8")
    goals = {
        "tflite_fp32": {"goal": GOALS["tflite_fp32"], "ratio": fp32["ratio_vs_torch"], "met": fp32["ratio_vs_torch"] <= 1.0},
        "tflite_int8": {"goal": GOALS["tflite_int8"], "ratio": int8["ratio_vs_torch"], "psnr_db": int8["psnr_db"],
                        "met": int8["ratio_vs_torch"] <= 0.6 and int8["psnr_db"] >= 30.0},
    }
    out = {
        "generator": generator, "size": size, "ngf": args.ngf, "parameters": count_parameters(t_net),
        "weights": f"random: the PyTorch reference's init N(0, 0.02), torch.manual_seed({args.seed}), copied into Keras",
        "macs": macs, "floor_ms": round(floor_ms, 2), "floor_ms_best": round(floor_best_ms, 2), "matmul_probe": probe,
        "floor_note": "conv MACs / fp32 sgemm rate (2 threads): floor_ms at the p50 rate of the sgemm timed in the "
                      "same interleaved rounds, floor_ms_best at the best rate seen; int8 arithmetic can go below it",
        "calibration": calib.describe(), "parity_images": held_out.describe(), "runs": runs, "warmup": args.warmup,
        "load_average_before": load_before, "load_average_after": load_after, "conversion_s": conversion_s,
        "results": results, "goals": goals,
    }
    if args.profile:
        out["xnnpack"] = [xnnpack_report(folder / f"a2b.{m}.tflite", args.threads) for m in ("fp32", "int8")]
    out["seconds"] = round(time.perf_counter() - t_config, 1)
    log(f"done in {out['seconds']} s")
    return out


def _torch_pixels(net, image):
    import torch

    from keras_i2i.export.parity import to_pixels

    x = torch.from_numpy(np.ascontiguousarray(pixels_to_unit(image[None]).transpose(0, 3, 1, 2)))
    with torch.inference_mode():
        y = net(x).numpy().transpose(0, 2, 3, 1)
    return to_pixels(y[0], "float")


def _tf_pixels(fn, image):
    import tensorflow as tf

    from keras_i2i.export.parity import to_pixels

    return to_pixels(fn(tf.constant(pixels_to_unit(image[None]))).numpy()[0], "float")


# ----------------------------------------------------------------------------- report
def format_table(config: dict) -> str:
    header = ("", "p50 ms", "p95 ms", "x torch", "PSNR dB", "MB", "first ms")
    lines = [header]
    for r in config["results"]:
        lines.append((
            r["name"], f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['ratio_vs_torch']:.2f}",
            "ref" if r.get("reference") else f"{r['psnr_db']:.1f}",
            f"{r['size_bytes'] / 1e6:.1f}" if "size_bytes" in r else "-", f"{r['first_call_ms']:.0f}",
        ))
    probe = config["matmul_probe"]
    lines.append((f"floor: {config['macs']['gmacs']} GMAC / {probe['p50_gmacs_per_s']} GMAC/s",
                  f"{config['floor_ms']:.1f}", "", f"{config['floor_ms'] / config['results'][0]['p50_ms']:.2f}",
                  "", "", ""))
    lines.append(("floor at best sgemm rate", f"{config['floor_ms_best']:.1f}", "", "", "", "", ""))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    body = "\n".join("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                               for i, (v, w) in enumerate(zip(line, widths))).rstrip() for line in lines)
    title = (f"{config['generator']} @ {config['size']}x{config['size']} (ngf {config['ngf']}, "
             f"{config['parameters']:,} params, random weights), {config['runs']} interleaved runs, "
             f"load avg {config['load_average_before']} -> {config['load_average_after']}")
    goals = "\n".join(f"  goal {k}: {'MET' if g['met'] else 'not met'} ({g['goal']}; ratio {g['ratio']:.2f}"
                      + (f", {g['psnr_db']:.1f} dB" if "psnr_db" in g else "") + ")" for k, g in config["goals"].items())
    return f"{title}\n{body}\n{goals}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="resnet_9blocks@256,resnet_6blocks@128",
                        help="Comma-separated GENERATOR@SIZE.")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT, help="Threads for every framework.")
    parser.add_argument("--runs", type=int, default=0, help="Timed runs for every config (0: --runs-256/--runs-small).")
    parser.add_argument("--runs-256", dest="runs_256", type=int, default=5, help="Timed runs at 256 and above.")
    parser.add_argument("--runs-small", dest="runs_small", type=int, default=20, help="Timed runs below 256.")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--calibration-count", type=int, default=32, help="int8 calibration images (emoji trainA).")
    parser.add_argument("--parity-count", type=int, default=3, help="Held-out images for parity (emoji testA).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-xla", action="store_true", help="Skip the XLA-compiled Keras row.")
    parser.add_argument("--profile", action="store_true",
                        help="Also report the ops XNNPACK leaves out and the latency without XNNPACK.")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "export_speed.json")
    args = parser.parse_args(argv)

    import tensorflow as tf
    import torch

    torch.set_num_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    started = time.perf_counter()
    info = machine_info()
    print(f"{info['cpu_model']} ({info['cpus_usable']} usable CPUs, {' '.join(info['cpu_flags'])}), "
          f"{args.threads} threads for every framework; load average {load_average()}", flush=True)
    args.matmul = matmul_rate(args.threads)
    print(f"fp32 matmul: {args.matmul['gmacs_per_s']} GMAC/s ({args.matmul['best']}, 2048^3)", flush=True)

    configs = []
    with tempfile.TemporaryDirectory(prefix="export_speed_") as tmp:
        for item in args.configs.split(","):
            generator, _, size = item.strip().partition("@")
            configs.append(run_config(generator, int(size), args, Path(tmp)))
            print(format_table(configs[-1]), flush=True)

    report = {
        "goals": GOALS,
        "command": "python benchmarks/" + Path(__file__).name + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "machine": info,
        "settings": {
            "threads": args.threads,
            "threads_note": "every framework: torch.set_num_threads, TF intra/inter-op pools, LiteRT num_threads, "
                            "ORT intra_op_num_threads (inter 1), OMP/OpenBLAS/MKL env vars",
            "timing": "after warm-up, interleaved round-robin (order reversed every other round, 10 ms pause), "
                      "wall time per call; TFLite/ONNX: Translator.run_raw (the model alone)",
            "tflite_io": "uint8 pixels in/out (pixel conversions inside the graph), the export default",
            "onnx_io": "float32 in [-1, 1]",
            "calibration": "emoji trainA resized bicubic to the model size",
            "parity": "PSNR against the Keras model(x) output on emoji testA, both rounded to pixels",
        },
        "matmul": args.matmul,
        "configs": configs,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"Results: {args.out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
