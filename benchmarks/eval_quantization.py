"""What export and quantization cost in translation quality: a run's Keras translators,
its exported files (one row per mode: fp32, int8 ...) and the identity mapping, evaluated
on the same images with the same feature network in one process (so the real images'
features are computed once), written as JSON.

    python benchmarks/eval_quantization.py --run runs/quickstart --inception-weights none \\
        --out runs/quickstart/eval/quantization.json

Modes are found in RUN_DIR/export/model.json; a mode is evaluated when it has a file for
every direction the run has. All evaluation goes through keras_i2i.metrics (exported files
through keras_i2i.runtime).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from keras_i2i.data.pipeline import resolve_paths
from keras_i2i.metrics import evaluate, identity_translator, inception_v3, keras_translator, runtime_translator
from keras_i2i.metrics.evaluate import ImageStore, format_table, jsonable
from keras_i2i.runtime import load
from keras_i2i.translate import load_run
from keras_i2i.utils import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, type=Path)
    parser.add_argument("--export-dir", type=Path, default=None, help="default: RUN/export")
    parser.add_argument("--metrics", default="fid,kid,psnr,ssim")
    parser.add_argument("--inception-weights", default="imagenet")
    parser.add_argument("--feature-size", type=int, default=299)
    parser.add_argument("--kid-subset-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    cfg, model = load_run(args.run)
    size = cfg.data.crop_size
    paths = resolve_paths(cfg.data)
    directions = list(model.translators())
    export_dir = args.export_dir or args.run / "export"
    entries = json.loads((export_dir / "model.json").read_text())["models"]
    modes: dict[str, dict] = {}
    for e in entries:
        mode = f"{e['format']}:{(e.get('quantization') or {}).get('mode', 'fp32')}"
        modes.setdefault(mode, {})[e["direction"]] = export_dir / e["file"]

    features = inception_v3(args.inception_weights, args.feature_size)
    images = ImageStore(size)
    options = dict(features=features, images=images, kid_subset_size=args.kid_subset_size)
    candidates = {"keras": {d: keras_translator(t) for d, t in model.translators().items()},
                  "identity": {d: identity_translator for d in directions}}
    for mode, files in sorted(modes.items()):
        if set(files) >= set(directions):
            candidates[mode] = {d: runtime_translator(load(files[d], num_threads=args.threads)) for d in directions}
        else:
            print(f"skipping {mode}: no file for {', '.join(sorted(set(directions) - set(files)))}", file=sys.stderr)
    results, protocol = {}, None
    for name, translators in candidates.items():
        start = time.perf_counter()
        report = evaluate(translators, paths, size, args.metrics, **options)
        results[name] = {"results": report.results, "seconds": round(time.perf_counter() - start, 1),
                         "files": {d: str(modes[name][d]) for d in directions} if name in modes else None}
        protocol = report.protocol
        print(f"== {name}\n{format_table(report.results)}", flush=True)
    out = {"run": str(args.run), "checkpoint": str(model.restored_from), "metrics": args.metrics,
           "protocol": protocol, "candidates": results}
    atomic_write_text(args.out, json.dumps(jsonable(out), indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
