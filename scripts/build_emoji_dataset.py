#!/usr/bin/env python3
"""Build the bundled emoji datasets: ``emoji`` (Noto -> Twemoji) and ``emoji4`` (four styles).

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

``--dataset emoji4`` builds the four-domain set instead (default output
``keras_i2i/data/bundled/emoji4``), folder per domain::

    <out-dir>/train/<domain>/<unified>.png   64x64 RGBA
    <out-dir>/test/<domain>/<unified>.png
    <out-dir>/manifest.json                  packages, counts, and every emoji

with the domains ``noto`` and ``twemoji`` (the same emoji-datasource images
as above), ``fluent3d`` (Microsoft Fluent Emoji 3D, 256x256 RGBA WebP from
``@lobehub/fluent-emoji-3d``, downscaled with Lanczos on premultiplied alpha)
and ``fluentflat`` (Microsoft Fluent Emoji flat, SVG from the Iconify set
``@iconify-json/fluent-emoji-flat``, rasterized at 64x64 with resvg through
the PyPI package ``resvg-py``). It keeps exactly the emoji of the two-domain
set, with the same split, that all four packages have (others are listed as
``dropped`` in the manifest). Images keep their alpha channel (fully
transparent pixels are stored as transparent black); keras-i2i's readers
composite them on white.

Every tarball is checked against the registry's integrity hash pinned below
(``PACKAGES``) when its version is the pinned one.

Needs Pillow (and ``resvg-py`` for emoji4); otherwise the standard library
(and ``npm`` on PATH unless the tarballs are given with --google-tgz /
--twitter-tgz / --fluent3d-tgz / --fluentflat-tgz).

Usage::

    python scripts/build_emoji_dataset.py
    python scripts/build_emoji_dataset.py --google-tgz g.tgz --twitter-tgz t.tgz
    pip install resvg-py==0.5.0 && python scripts/build_emoji_dataset.py --dataset emoji4
"""

from __future__ import annotations

import argparse
import base64
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
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "keras_i2i" / "data" / "bundled"
DEFAULT_OUT_DIR = BUNDLED_DIR / "emoji"

# Pinned npm packages: name, version and the registry's dist.integrity (sha512 of the .tgz).
PACKAGES = {
    "google": ("emoji-datasource-google", PACKAGE_VERSION,
               "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A=="),
    "twitter": ("emoji-datasource-twitter", PACKAGE_VERSION,
                "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ=="),
    "fluent3d": ("@lobehub/fluent-emoji-3d", "1.1.0",
                 "sha512-Wlq2lVStTnr8BDpIJ0pEnTKO4LuDxxqTEhTvRtD1DLRF0me7ogeRQjKoehDHXuVJ2Qaecgl5wRBv60lUAG3h7g=="),
    "fluentflat": ("@iconify-json/fluent-emoji-flat", "1.2.6",
                   "sha512-RY47RgPb47fYUiyrA64sIOL0+UU02s29sXpNBbIQRBUlPlfNFTKUmZDERGuxDs/7yNGWqQYvuaSYM1M4fRXlUw=="),
}
# emoji4: domain -> package key of PACKAGES, in this order.
DOMAINS4 = {"noto": "google", "twemoji": "twitter", "fluent3d": "fluent3d", "fluentflat": "fluentflat"}
SPLITS4 = ("train", "test")


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


def integrity_of(tgz: Path) -> str:
    """npm's ``dist.integrity`` of a tarball: ``sha512-`` + base64 of its SHA-512."""
    digest = hashlib.sha512(tgz.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def check_integrity(tgz: Path, key: str, version: str) -> str:
    """Compare ``tgz`` with the pinned integrity of ``PACKAGES[key]`` (when ``version``
    is the pinned one); return its integrity."""
    name, pinned_version, pinned = PACKAGES[key]
    integrity = integrity_of(tgz)
    if version == pinned_version and integrity != pinned:
        raise RuntimeError(
            f"{tgz}: integrity {integrity} is not the pinned {pinned} of {name}@{version}"
        )
    return integrity


def code_key(unified: str) -> str:
    """Code point sequence as a lookup key: lower case, U+FE0F (emoji presentation
    selector) dropped, as the Fluent packages spell file and character names."""
    return "-".join(p for p in unified.lower().split("-") if p != "fe0f")


def check_package_json(tgz: Path, package_json: dict | None, key: str) -> None:
    name, version, _ = PACKAGES[key]
    if package_json is None or (package_json.get("name"), package_json.get("version")) != (name, version):
        got = package_json and f"{package_json.get('name')}@{package_json.get('version')}"
        raise RuntimeError(f"{tgz}: is {got}, expected {name}@{version}")


def read_fluent3d(tgz: Path) -> dict[str, tuple[str, bytes]]:
    """``{code_key: (asset file name, webp bytes)}`` of ``@lobehub/fluent-emoji-3d``."""
    prefix = "package/assets/"
    package_json = None
    images: dict[str, tuple[str, bytes]] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            if member.name == "package/package.json":
                package_json = json.load(tar.extractfile(member))
            elif member.name.startswith(prefix) and member.name.endswith(".webp"):
                file_name = member.name[len(prefix):]
                images[code_key(file_name[: -len(".webp")])] = (file_name, tar.extractfile(member).read())
    check_package_json(tgz, package_json, "fluent3d")
    if not images:
        raise RuntimeError(f"{tgz}: no images under {prefix}")
    return images


def read_iconify(tgz: Path) -> tuple[dict, dict[str, str]]:
    """``(icons.json, {code_key: icon name})`` of ``@iconify-json/fluent-emoji-flat``."""
    files = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name in (
                "package/package.json", "package/icons.json", "package/chars.json", "package/info.json"
            ):
                files[member.name[len("package/"):]] = json.load(tar.extractfile(member))
    check_package_json(tgz, files.get("package.json"), "fluentflat")
    missing = {"icons.json", "chars.json", "info.json"} - set(files)
    if missing:
        raise RuntimeError(f"{tgz}: {', '.join(sorted(missing))} missing")
    if files["info.json"].get("license", {}).get("spdx") != "MIT":
        raise RuntimeError(f"{tgz}: icon set licence is {files['info.json'].get('license')}, expected MIT")
    chars = {code_key(k): v for k, v in files["chars.json"].items()}
    return files["icons.json"], chars


def iconify_svg(icon_set: dict, name: str, size: int) -> str:
    """One icon of an Iconify JSON set as a standalone ``size`` x ``size`` SVG document
    (aliases resolved; flips and quarter turns as Iconify's ``iconToSVG`` applies them)."""
    icons, aliases = icon_set["icons"], icon_set.get("aliases", {})
    props: dict = {}
    h_flip = v_flip = False
    rotate = 0
    seen = set()
    while name not in icons:
        if name in seen or name not in aliases:
            raise KeyError(f"icon {name!r} not in the icon set")
        seen.add(name)
        alias = aliases[name]
        h_flip ^= bool(alias.get("hFlip"))
        v_flip ^= bool(alias.get("vFlip"))
        rotate += int(alias.get("rotate", 0))
        for k in ("left", "top", "width", "height"):
            props.setdefault(k, alias.get(k))
        name = alias["parent"]
    icon = icons[name]
    h_flip ^= bool(icon.get("hFlip"))
    v_flip ^= bool(icon.get("vFlip"))
    rotate += int(icon.get("rotate", 0))
    box = {}
    for k, default in (("left", 0), ("top", 0), ("width", 16), ("height", 16)):
        value = props.get(k)
        box[k] = value if value is not None else icon.get(k, icon_set.get(k, default))
    left, top, width, height = box["left"], box["top"], box["width"], box["height"]
    transforms = []
    if h_flip and v_flip:
        rotate += 2
    elif h_flip:
        transforms.append(f"translate({width + left} {-top}) scale(-1 1)")
        left = top = 0
    elif v_flip:
        transforms.append(f"translate({-left} {height + top}) scale(1 -1)")
        left = top = 0
    rotate %= 4
    if rotate == 1:
        c = height / 2 + top
        transforms.insert(0, f"rotate(90 {c} {c})")
    elif rotate == 2:
        transforms.insert(0, f"rotate(180 {width / 2 + left} {height / 2 + top})")
    elif rotate == 3:
        c = width / 2 + left
        transforms.insert(0, f"rotate(-90 {c} {c})")
    if rotate % 2:
        left, top, width, height = top, left, height, width
    body = icon["body"]
    if transforms:
        body = f'<g transform="{" ".join(transforms)}">{body}</g>'
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{size}" height="{size}" viewBox="{left} {top} {width} {height}">{body}</svg>'
    )


def rasterize_svg(svg: str) -> Image.Image:
    """An SVG document rendered by resvg (PyPI ``resvg-py``) as an RGBA image."""
    try:
        import resvg_py
    except ImportError:
        raise SystemExit(
            "The emoji4 build rasterizes SVG with resvg: pip install resvg-py==0.5.0"
        ) from None
    png = resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True)
    im = Image.open(io.BytesIO(bytes(png)))
    im.load()
    return im.convert("RGBA")


def clean_rgba(im: Image.Image) -> Image.Image:
    """``im`` as a 64x64 RGBA image whose fully transparent pixels are transparent black
    (their colour is invisible; zeroing it makes the PNG deterministic and smaller)."""
    rgba = im.convert("RGBA")
    if rgba.size != (IMAGE_SIZE, IMAGE_SIZE):
        rgba = rgba.resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS)  # premultiplied by Pillow
    transparent = rgba.getchannel("A").point(lambda a: 255 if a == 0 else 0)
    rgba.paste((0, 0, 0, 0), mask=transparent)
    return rgba


def four_domain_images(e: dict, datasource: dict, fluent3d: dict, icon_set: dict,
                       chars: dict) -> dict[str, Image.Image]:
    """The four 64x64 RGBA images of emoji ``e``, by domain."""
    key = code_key(e["unified"])
    images = {}
    for domain, vendor in (("noto", "google"), ("twemoji", "twitter")):
        im = Image.open(io.BytesIO(datasource[vendor][e["image"]]))
        im.load()
        if im.size != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"{vendor} {e['image']}: unexpected image size {im.size}")
        images[domain] = clean_rgba(im)
    im = Image.open(io.BytesIO(fluent3d[key][1]))
    im.load()
    images["fluent3d"] = clean_rgba(im)
    images["fluentflat"] = clean_rgba(rasterize_svg(iconify_svg(icon_set, chars[key], IMAGE_SIZE)))
    return images


def build_four(tgzs: dict[str, Path], out_dir: Path, subset_mod: int) -> dict:
    """Write the emoji4 dataset to ``out_dir`` from the four tarballs; return the manifest."""
    emoji_json, datasource = {}, {}
    for vendor in ("google", "twitter"):
        pkg, emoji_json[vendor], datasource[vendor] = read_package(tgzs[vendor], vendor)
        check_package_json(tgzs[vendor], pkg, vendor)
    fluent3d = read_fluent3d(tgzs["fluent3d"])
    icon_set, chars = read_iconify(tgzs["fluentflat"])

    chosen = select(emoji_json["google"], emoji_json["twitter"], datasource, subset_mod)
    kept, dropped = [], []
    for e in chosen:
        missing = [d for d, have in (("fluent3d", fluent3d), ("fluentflat", chars))
                   if code_key(e["unified"]) not in have]
        (dropped if missing else kept).append((e, missing))
    if not kept:
        raise RuntimeError("no emoji selected")

    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS4:
        shutil.rmtree(out_dir / split, ignore_errors=True)
        for domain in DOMAINS4:
            (out_dir / split / domain).mkdir(parents=True)

    counts = {split: 0 for split in SPLITS4}
    entries = []
    for e, _ in kept:
        u = e["unified"]
        split = split_of(u)
        for domain, im in four_domain_images(e, datasource, fluent3d, icon_set, chars).items():
            (out_dir / split / domain / f"{u}.png").write_bytes(encode_png(im))
        counts[split] += 1
        key = code_key(u)
        entries.append({
            "unified": u, "name": e.get("name"), "category": e.get("category"), "split": split,
            "fluent3d": fluent3d[key][0], "fluentflat": chars[key],
        })
    manifest = {
        "dataset": "emoji4",
        "image_size": IMAGE_SIZE,
        "image_mode": "RGBA",
        "domains": list(DOMAINS4),
        "packages": {
            domain: {"name": PACKAGES[key][0], "version": PACKAGES[key][1],
                     "integrity": integrity_of(tgzs[key])}
            for domain, key in DOMAINS4.items()
        },
        "counts": {split: {domain: counts[split] for domain in DOMAINS4} for split in SPLITS4},
        "emoji": entries,
        "dropped": [{"unified": e["unified"], "name": e.get("name"), "split": split_of(e["unified"]),
                     "missing": missing} for e, missing in dropped],
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("emoji", "emoji4"), default="emoji",
                   help="emoji: Noto -> Twemoji (trainA/trainB); emoji4: noto, twemoji, "
                        "fluent3d, fluentflat in train/<domain>/ (default: %(default)s)")
    p.add_argument("--google-tgz", type=Path,
                   help="emoji-datasource-google tarball (default: npm pack it)")
    p.add_argument("--twitter-tgz", type=Path,
                   help="emoji-datasource-twitter tarball (default: npm pack it)")
    p.add_argument("--fluent3d-tgz", type=Path,
                   help="@lobehub/fluent-emoji-3d tarball, emoji4 only (default: npm pack it)")
    p.add_argument("--fluentflat-tgz", type=Path,
                   help="@iconify-json/fluent-emoji-flat tarball, emoji4 only (default: npm pack it)")
    p.add_argument("--version", default=PACKAGE_VERSION,
                   help="emoji-datasource-* version, emoji only (default: %(default)s)")
    p.add_argument("--out-dir", type=Path,
                   help="output folder (default: keras_i2i/data/bundled/<dataset>)")
    p.add_argument("--subset-mod", type=int, default=DEFAULT_SUBSET_MOD,
                   help="keep emojis with sha256(unified) %% N == 0; 1 keeps all "
                        "(default: %(default)s)")
    p.add_argument("--npm", default="npm", help="npm executable (default: npm)")
    args = p.parse_args(argv)
    if args.subset_mod < 1:
        p.error("--subset-mod must be >= 1")
    if args.dataset == "emoji4" and args.version != PACKAGE_VERSION:
        p.error(f"emoji4 is built from the pinned emoji-datasource {PACKAGE_VERSION}; drop --version")
    out_dir = args.out_dir or BUNDLED_DIR / args.dataset

    keys = ("google", "twitter") + (("fluent3d", "fluentflat") if args.dataset == "emoji4" else ())
    with tempfile.TemporaryDirectory(prefix="emoji-dataset-") as tmp:
        tgz = {key: getattr(args, f"{key}_tgz") for key in keys}
        for key in keys:
            name, version, _ = PACKAGES[key]
            if key in ("google", "twitter"):
                version = args.version
            if tgz[key] is None:
                tgz[key] = npm_pack(name, version, Path(tmp) / key, npm=args.npm)
            integrity = check_integrity(tgz[key], key, version)
            print(f"{name}@{version} {integrity}", file=sys.stderr)
        if args.dataset == "emoji":
            counts = build(tgz["google"], tgz["twitter"], out_dir,
                           args.subset_mod, args.version)
            for d in SPLIT_DIRS:
                print(f"{d}: {counts[d]}")
            print(f"wrote {sum(counts.values())} images to {out_dir}")
            return 0
        manifest = build_four(tgz, out_dir, args.subset_mod)

    for split, by_domain in manifest["counts"].items():
        print(f"{split}: " + ", ".join(f"{d} {n}" for d, n in by_domain.items()))
    print(f"dropped {len(manifest['dropped'])} emoji missing from a Fluent package")
    total = sum(n for by_domain in manifest["counts"].values() for n in by_domain.values())
    print(f"wrote {total} images to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
