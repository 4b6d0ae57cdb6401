#!/usr/bin/env python3
"""Build the bundled quickstart emoji dataset (Noto Emoji -> Twemoji).

Domain A is Noto Emoji (Google, Apache-2.0), domain B is Twemoji (Twitter,
CC-BY-4.0). The 64x64 PNGs come from the npm packages
``emoji-datasource-google`` and ``emoji-datasource-twitter`` (by Iamcal / Cal
Henderson, MIT), whose ``emoji.json`` supplies the metadata.

Output (reference CycleGAN layout)::

    <out-dir>/trainA/<unified>.png   Noto Emoji
    <out-dir>/trainB/<unified>.png   Twemoji
    <out-dir>/testA/<unified>.png
    <out-dir>/testB/<unified>.png
    <out-dir>/manifest.json          [{unified, name, category, split}, ...]

The same file name in A and B is the same emoji (code point sequence). That
pairing is only meant for evaluation; training stays unpaired.

Selection: top-level (base) entries of emoji.json that have an image for both
vendors, excluding the "Component" category; skin-tone variations are never
used. To keep the bundled folder small, only emojis whose
``int(sha256(unified).hexdigest(), 16) % subset_mod == 0`` are kept
(``--subset-mod 1`` keeps everything). Split: ``test`` when
``int(sha1(unified).hexdigest(), 16) % 10 == 0``, else ``train``.

Every image is converted to RGBA, alpha-composited onto white, converted to
RGB and saved as PNG with ``optimize=True``. The output is deterministic:
running the script twice gives byte-identical files.

Needs Pillow; otherwise the standard library (and ``npm`` on PATH unless the
tarballs are given with --google-tgz / --twitter-tgz).

Usage::

    python scripts/build_emoji_dataset.py
    python scripts/build_emoji_dataset.py --google-tgz g.tgz --twitter-tgz t.tgz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from PIL import Image

PACKAGE_VERSION = "16.0.0"
VENDORS = {"A": "google", "B": "twitter"}  # domain -> vendor
IMAGE_SIZE = 64
SPLIT_DIRS = ("trainA", "trainB", "testA", "testB")
DEFAULT_SUBSET_MOD = 3
DEFAULT_OUT_DIR = (
    Path(__file__).resolve().parents[1] / "keras_i2i" / "data" / "bundled" / "emoji"
)


def npm_pack(package: str, version: str, dest: Path, npm: str = "npm") -> Path:
    """Download ``package@version`` with ``npm pack`` into ``dest``; return the .tgz."""
    dest.mkdir(parents=True, exist_ok=True)
    spec = f"{package}@{version}"
    print(f"npm pack {spec} ...", file=sys.stderr)
    subprocess.run(
        [npm, "pack", spec, "--silent"],
        cwd=dest,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tgzs = sorted(dest.glob("*.tgz"))
    if len(tgzs) != 1:
        raise RuntimeError(f"expected one tarball in {dest}, found {tgzs}")
    return tgzs[0]


def read_package(tgz: Path, vendor: str) -> tuple[dict, list, dict[str, bytes]]:
    """Return (package.json, emoji.json, {image file name: png bytes}) of a tarball."""
    prefix = f"package/img/{vendor}/{IMAGE_SIZE}/"
    package_json = emoji_json = None
    images: dict[str, bytes] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name
            if name == "package/package.json":
                package_json = json.load(tar.extractfile(member))
            elif name == "package/emoji.json":
                emoji_json = json.load(tar.extractfile(member))
            elif name.startswith(prefix) and name.endswith(".png"):
                images[name[len(prefix):]] = tar.extractfile(member).read()
    if package_json is None or emoji_json is None:
        raise RuntimeError(f"{tgz}: package.json or emoji.json missing")
    if not images:
        raise RuntimeError(f"{tgz}: no images under {prefix}")
    return package_json, emoji_json, images


def hash_int(algorithm: str, text: str) -> int:
    return int(hashlib.new(algorithm, text.encode("ascii")).hexdigest(), 16)


def split_of(unified: str) -> str:
    return "test" if hash_int("sha1", unified) % 10 == 0 else "train"


def in_subset(unified: str, subset_mod: int) -> bool:
    return hash_int("sha256", unified) % subset_mod == 0


def to_rgb_on_white(png: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(png))
    im.load()
    if im.size != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"unexpected image size {im.size}")
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def encode_png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def select(emoji_a: list, emoji_b: list, images: dict, subset_mod: int) -> list[dict]:
    by_unified_b = {e["unified"]: e for e in emoji_b}
    chosen = []
    for e in emoji_a:
        u = e["unified"]
        e_b = by_unified_b.get(u)
        if e.get("category") == "Component" or e_b is None:
            continue
        # Both packages must agree that both vendors have an image.
        if not all(x.get(f"has_img_{v}") for x in (e, e_b) for v in VENDORS.values()):
            continue
        if not all(e["image"] in images[v] for v in VENDORS.values()):
            continue
        if not in_subset(u, subset_mod):
            continue
        chosen.append(e)
    chosen.sort(key=lambda e: e["unified"])
    return chosen


def build(google_tgz: Path, twitter_tgz: Path, out_dir: Path, subset_mod: int,
          version: str) -> dict[str, int]:
    packages = {}
    images = {}
    for vendor, tgz in (("google", google_tgz), ("twitter", twitter_tgz)):
        pkg, emoji, imgs = read_package(tgz, vendor)
        expected = f"emoji-datasource-{vendor}"
        if pkg.get("name") != expected or pkg.get("version") != version:
            raise RuntimeError(
                f"{tgz}: is {pkg.get('name')}@{pkg.get('version')}, "
                f"expected {expected}@{version}"
            )
        packages[vendor] = emoji
        images[vendor] = imgs

    chosen = select(packages["google"], packages["twitter"], images, subset_mod)
    if not chosen:
        raise RuntimeError("no emoji selected")

    out_dir.mkdir(parents=True, exist_ok=True)
    for d in SPLIT_DIRS:
        shutil.rmtree(out_dir / d, ignore_errors=True)
        (out_dir / d).mkdir()

    manifest = []
    counts = {d: 0 for d in SPLIT_DIRS}
    for e in chosen:
        u = e["unified"]
        split = split_of(u)
        for domain, vendor in VENDORS.items():
            png = encode_png(to_rgb_on_white(images[vendor][e["image"]]))
            (out_dir / f"{split}{domain}" / f"{u}.png").write_bytes(png)
            counts[f"{split}{domain}"] += 1
        manifest.append(
            {"unified": u, "name": e.get("name"), "category": e.get("category"),
             "split": split}
        )
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--google-tgz", type=Path,
                   help="emoji-datasource-google tarball (default: npm pack it)")
    p.add_argument("--twitter-tgz", type=Path,
                   help="emoji-datasource-twitter tarball (default: npm pack it)")
    p.add_argument("--version", default=PACKAGE_VERSION,
                   help="emoji-datasource-* version (default: %(default)s)")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                   help="output folder (default: keras_i2i/data/bundled/emoji)")
    p.add_argument("--subset-mod", type=int, default=DEFAULT_SUBSET_MOD,
                   help="keep emojis with sha256(unified) %% N == 0; 1 keeps all "
                        "(default: %(default)s)")
    p.add_argument("--npm", default="npm", help="npm executable (default: npm)")
    args = p.parse_args(argv)
    if args.subset_mod < 1:
        p.error("--subset-mod must be >= 1")

    with tempfile.TemporaryDirectory(prefix="emoji-dataset-") as tmp:
        tgz = {"google": args.google_tgz, "twitter": args.twitter_tgz}
        for vendor in tgz:
            if tgz[vendor] is None:
                tgz[vendor] = npm_pack(f"emoji-datasource-{vendor}", args.version,
                                       Path(tmp) / vendor, npm=args.npm)
        counts = build(tgz["google"], tgz["twitter"], args.out_dir,
                       args.subset_mod, args.version)

    for d in SPLIT_DIRS:
        print(f"{d}: {counts[d]}")
    print(f"wrote {sum(counts.values())} images to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
