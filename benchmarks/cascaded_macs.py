"""Parameters and MACs of the cascaded model's translator (one direction, image in, image
out: VGG encoder -> cascade -> decoder) at 64, 128 and 256 px, for the bundled configs.

    python benchmarks/cascaded_macs.py [--out benchmarks/results/cascaded_macs.json]

MACs follow :mod:`keras_i2i.macs` (convolutions and dense layers, batch 1). The VGG is
built with random weights (the counts do not depend on them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

CONFIGS = ("cascaded/quickstart", "cascaded/apple2orange")
SIZES = (64, 128, 256)


def measure(config: str, size: int) -> dict:
    from keras_i2i.config import load_config
    from keras_i2i.macs import count_macs, gmac
    from keras_i2i.models import build_model

    cfg = load_config(config, overrides=[f"data.load_size={size}", f"data.crop_size={size}", "model.vgg_weights=none"])
    model = build_model(cfg.model, image_size=size)
    translator = next(iter(model.translators().values()))
    vgg = model.vgg.network
    return {
        "config": config, "size": size, "vgg": cfg.model.vgg, "levels": list(cfg.model.levels),
        "params": int(translator.count_params()), "params_vgg": int(vgg.count_params()),
        "gmac": gmac(count_macs(translator, size)), "gmac_vgg": gmac(count_macs(vgg, size)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = [measure(c, s) for c in CONFIGS for s in SIZES]
    for r in rows:
        print(f"{r['config']:24s} {r['size']:4d} px  params {r['params'] / 1e6:7.2f} M (VGG {r['params_vgg'] / 1e6:5.2f} M)"
              f"  {r['gmac']:8.2f} GMAC (VGG {r['gmac_vgg']:6.2f})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
