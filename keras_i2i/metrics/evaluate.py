"""Evaluate translators: translate the held-out images, compute registered metrics, report.

A translator here is a function from a uint8 RGB batch ``(N, S, S, 3)`` at the model's
side ``S`` to a uint8 batch of the same shape: :func:`keras_translator` wraps a Keras
translator (``model.translators()[d]``), :func:`runtime_translator` an exported file
loaded with :func:`keras_i2i.runtime.load`, :func:`identity_translator` is the baseline
that changes nothing. Every image (sources, references, classifier training images) is
first resized to ``S`` x ``S`` the way the trainer prepares test images (Pillow bicubic,
antialiased), so a Keras model and its exported files see identical inputs and all
metrics compare images at the model's resolution.

    ev = Evaluation({"a2b": keras_translator(t)}, paths, size=64, features=inception_v3())
    report = run_metrics(ev, ["fid", "kid", "psnr"])
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from keras_i2i.data.domains import Domain, make_domains
from keras_i2i.data.images import DataError, ImageFolder, resize
from keras_i2i.directions import Direction, legacy_direction
from keras_i2i.metrics.base import MEAN, METRICS
from keras_i2i.metrics.features import FeatureExtractor
from keras_i2i.utils import atomic_write_text, pixels_to_unit, unit_to_pixels, utc_now

logger = logging.getLogger(__name__)

SCHEMA = "keras_i2i.metrics/1"
SPLITS = ("test", "train")
DEFAULT_METRICS = ("fid", "kid", "rc", "fc", "psnr", "ssim", "lpips")
CLASSIFIER_IMAGES = 500


def keras_translator(model, batch_size: int = 16) -> Callable[[np.ndarray], np.ndarray]:
    """A Keras translator (NHWC float in [-1, 1]) as uint8 batch -> uint8 batch."""

    def translate(images: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(images), batch_size):
            x = pixels_to_unit(images[start:start + batch_size])
            y = np.asarray(model(x, training=False), np.float32)
            out.append(unit_to_pixels(y))
        return np.concatenate(out)

    return translate


def runtime_translator(translator) -> Callable[[np.ndarray], np.ndarray]:
    """A :class:`keras_i2i.runtime.Translator` (an exported file) as uint8 batch -> uint8
    batch; the images are already at the model size, so the runtime does not resize."""

    def translate(images: np.ndarray) -> np.ndarray:
        return np.stack([translator(np.ascontiguousarray(image)) for image in images])

    return translate


def identity_translator(images: np.ndarray) -> np.ndarray:
    """The baseline: the source image itself, as if it were the translation."""
    return images


def as_domains(paths) -> list[Domain]:
    """The domains of ``paths``: a list of :class:`Domain` as is, or the two domains ``a``
    and ``b`` of a :class:`keras_i2i.data.pipeline.DomainPaths`."""
    if isinstance(paths, (list, tuple)):
        return list(paths)
    return make_domains({"a": (paths.train_a, paths.test_a), "b": (paths.train_b, paths.test_b)})


def as_directions(names: Iterable[str], directions: Optional[Mapping[str, Direction]]) -> dict[str, Direction]:
    """The :class:`Direction` of each translator name: from ``directions`` (the model's or
    model.json's), else the two-domain names ``a2b``/``b2a`` of older exports."""
    out = {}
    for name in names:
        direction = directions.get(name) if directions is not None else legacy_direction(name)
        if direction is None:
            known = ", ".join(directions) if directions is not None else "a2b, b2a"
            raise DataError(f"No source and target domain are known for direction {name!r} (known: {known}).")
        out[name] = direction
    return out


class ImageStore:
    """Real images by folder, read once, resized to ``size`` and kept (shared between a
    model's evaluation and its baseline's)."""

    def __init__(self, size: int, max_images: Optional[int] = None):
        self.size = int(size)
        self.max_images = max_images
        self._sets: dict[tuple, tuple[list[str], np.ndarray]] = {}

    def get(self, folder: Path, limit: Optional[int] = None) -> tuple[list[str], np.ndarray]:
        """(names relative to ``folder`` without extension, uint8 images); unreadable files
        are skipped and reported."""
        limit = limit if limit is not None else self.max_images
        key = (str(folder), limit)
        if key not in self._sets:
            size = self.size
            scanned = ImageFolder.scan(folder, prepare=lambda a: resize(a, size, size), max_images=limit)
            names = [str(p.relative_to(folder).with_suffix("")) for p in scanned.files]
            self._sets[key] = names, np.stack([scanned.get(i) for i in range(len(scanned))])
        return self._sets[key]


class Evaluation:
    """What the metrics see: translated and real image sets of one model and their features.

    Args:
        translators: direction name (``"a2b"``) -> uint8 batch translator (see module docstring).
        paths: the data's domains (a list of :class:`keras_i2i.data.domains.Domain`), or a
            :class:`keras_i2i.data.pipeline.DomainPaths` for domains ``a`` and ``b``.
        size: the model's input side; every image is resized to it.
        features: the feature extractor (its cache is shared by everyone using it); None
            when no metric needs one.
        split: the images translated and compared: ``"test"`` or ``"train"``.
        reference: a folder of target-domain images for FID/KID instead of the split's
            target folder (only with a single direction).
        classifier_images: at most this many train images per domain for RC/FC classifiers.
        max_images: at most this many images per evaluated folder (quick checks).
        kid_subset_size: KID subset size (default: min(1000, set sizes)).
        seed: KID subset draws.
        images: an :class:`ImageStore` to share.
        directions: the :class:`Direction` of each translator name (source and target
            domains); default: the two-domain names ``a2b`` and ``b2a``.
    """

    def __init__(self, translators: dict, paths, size: int, features: Optional[FeatureExtractor], split: str = "test",
                 reference: Optional[str | os.PathLike] = None, classifier_images: int = CLASSIFIER_IMAGES,
                 max_images: Optional[int] = None, kid_subset_size: Optional[int] = None, seed: int = 0,
                 images: Optional[ImageStore] = None, directions: Optional[Mapping[str, Direction]] = None):
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose from {', '.join(SPLITS)}.")
        if not translators:
            raise ValueError("Nothing to evaluate: no translators.")
        self.translators = dict(translators)
        self.directions = list(self.translators)
        self.direction_info = as_directions(self.directions, directions)
        self.data_domains = {domain.name: domain for domain in as_domains(paths)}
        self.size = int(size)
        self.split = split
        self.reference_dir = Path(reference) if reference is not None else None
        if self.reference_dir is not None and len(self.directions) != 1:
            raise DataError("A --reference folder is for one direction at a time; pick one with --direction.")
        self.classifier_images = int(classifier_images)
        self.seed = int(seed)
        self.options = {"kid_subset_size": kid_subset_size}
        self.features_of = features
        self.images = images or ImageStore(size, max_images)
        if self.images.size != self.size:
            raise ValueError("The image store holds images of another size.")
        self.domains = sorted({domain for d in self.directions for domain in (*self.sources(d), self.target(d))})
        self._fakes: dict[tuple, np.ndarray] = {}
        for domain in self.domains:
            self.folder(domain, split)

    # ------------------------------------------------------------------ images
    def source(self, direction: str) -> str:
        """The first source domain of ``direction``."""
        return self.direction_info[direction].primary_source

    def sources(self, direction: str) -> tuple[str, ...]:
        """Every source domain of ``direction``: one for a two-domain model, every other
        domain for a multi-domain model's ``to_<target>``; its translations are those of
        all their images."""
        return self.direction_info[direction].source

    @property
    def multi_domain(self) -> bool:
        """Whether the mean row is the multi-domain mean of DeepI2I's protocol (mFID, mKID):
        one direction per target domain, reached from several source domains."""
        targets = [self.target(d) for d in self.directions]
        return len(set(targets)) == len(targets) and any(len(self.sources(d)) > 1 for d in self.directions)

    def target(self, direction: str) -> str:
        return self.direction_info[direction].target

    def folder(self, domain: str, split: str) -> Path:
        if domain not in self.data_domains:
            raise DataError(f"The data has no domain {domain!r}; its domains are {', '.join(self.data_domains)}.")
        info = self.data_domains[domain]
        folder = info.train if split == "train" else info.test
        if folder is None:
            hint = " Use --split train, or give data with a test split." if split == "test" else ""
            raise DataError(f"The data has no {split} folder for domain {domain}.{hint}")
        return Path(folder)

    def real(self, domain: str, split: Optional[str] = None) -> np.ndarray:
        split = split or self.split
        limit = self.classifier_images if split == "train" and split != self.split else None
        return self.images.get(self.folder(domain, split), limit)[1]

    def names(self, domain: str) -> list[str]:
        return self.images.get(self.folder(domain, self.split))[0]

    def reference(self, direction: str) -> np.ndarray:
        if self.reference_dir is not None:
            return self.images.get(self.reference_dir)[1]
        return self.real(self.target(direction))

    def reference_folder(self, direction: str) -> Path:
        return self.reference_dir if self.reference_dir is not None else self.folder(self.target(direction), self.split)

    def fake(self, direction: str, split: Optional[str] = None) -> np.ndarray:
        """The translations of the source domains' images of ``split`` (default: the
        evaluated one), in the order of :meth:`sources`."""
        split = split or self.split
        key = (direction, split)
        if key not in self._fakes:
            source = np.concatenate([self.real(domain, split) for domain in self.sources(direction)])
            fake = np.asarray(self.translators[direction](source))
            if fake.shape != source.shape or fake.dtype != np.uint8:
                raise ValueError(f"Translator {direction} returned {fake.shape} {fake.dtype} for {source.shape} uint8.")
            self._fakes[key] = fake
        return self._fakes[key]

    def pairs(self, direction: str) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(translations, their true targets) for the source images (of every source
        domain) whose target-domain file of the same name exists; None when there are none."""
        source_names = [name for domain in self.sources(direction) for name in self.names(domain)]
        target_names = self.names(self.target(direction))
        index = {name: i for i, name in enumerate(target_names)}
        matched = [(i, index[name]) for i, name in enumerate(source_names) if name in index]
        if not matched:
            return None
        fake_idx, target_idx = map(list, zip(*matched))
        return self.fake(direction)[fake_idx], self.real(self.target(direction))[target_idx]

    # ------------------------------------------------------------------ features
    def features(self, kind: str, key: str) -> np.ndarray:
        """Features of: ``fake``/``reference`` (key: direction), ``fake_train`` (direction:
        translated train images), ``real_train``/``real_eval`` (key: domain)."""
        if kind == "fake":
            images = self.fake(key)
        elif kind == "fake_train":
            images = self.fake(key, "train")
        elif kind == "reference":
            images = self.reference(key)
        elif kind == "real_train":
            images = self.real(key, "train")
        elif kind == "real_eval":
            images = self.real(key)
        else:
            raise ValueError(f"Unknown feature set {kind!r}.")
        if self.features_of is None:
            raise ValueError("This evaluation has no feature network (no metric asked for one).")
        return self.features_of(images)

    def describe(self) -> dict:
        return {
            "split": self.split,
            "size": self.size,
            "directions": {
                d: {
                    "source_domain": self.source(d),
                    "source_domains": list(self.sources(d)),
                    "target_domain": self.target(d),
                    "source": ", ".join(str(self.folder(s, self.split)) for s in self.sources(d)),
                    "images": int(sum(len(self.real(s)) for s in self.sources(d))),
                    "reference": str(self.reference_folder(d)),
                    "reference_images": int(len(self.reference(d))),
                } for d in self.directions
            },
        }


def resolve_metrics(names: Iterable[str] | str) -> list[str]:
    """Metric names from a list or a comma-separated string, each checked against the registry."""
    import keras_i2i.metrics  # noqa: F401  (registers the metrics)

    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError(f"No metrics given. Known metrics: {', '.join(METRICS.names())}")
    for name in names:
        METRICS.get(name)
    return names


#: mean-row keys of a multi-domain evaluation (:attr:`Evaluation.multi_domain`): DeepI2I's
#: mFID and mKID, the per-target FID and KID averaged over the target domains
MULTI_DOMAIN_KEYS = {"fid": "mfid", "kid": "mkid"}


def run_metrics(ev: Evaluation, metrics: Sequence[str]) -> dict:
    """``{row: {key: value}}`` (rows: the directions and ``"mean"``) of the named metrics.
    In a multi-domain evaluation the mean row also has ``mfid``/``mkid`` (the same numbers
    as its ``fid``/``kid``, under the names the DeepI2I paper reports them by)."""
    rows: dict[str, dict] = {d: {} for d in ev.directions}
    rows[MEAN] = {}
    for name in resolve_metrics(metrics):
        start = time.perf_counter()
        for row, values in METRICS.get(name)(ev).items():
            rows.setdefault(row, {}).update(values)
        logger.debug("%s took %.1f s", name, time.perf_counter() - start)
    if ev.multi_domain:
        rows[MEAN].update({m: rows[MEAN][key] for key, m in MULTI_DOMAIN_KEYS.items() if key in rows[MEAN]})
    return rows


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def jsonable(obj):
    """``obj`` with numpy scalars as Python numbers and inf/nan as "inf"/None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        obj = obj.item()
    return _finite(obj)


class EvalReport:
    """Results of one evaluation (and optionally of the identity baseline), with the
    protocol that makes them comparable.

    Attributes:
        results: ``{row: {key: value}}``.
        baseline: the same for the identity mapping, or None.
        protocol: feature network, resize, image size, split, sets and their sizes.
        source: what was evaluated (run and checkpoint, or model files).
    """

    def __init__(self, results: dict, protocol: dict, source: dict, metrics: Sequence[str],
                 baseline: Optional[dict] = None):
        self.results = results
        self.protocol = protocol
        self.source = source
        self.metrics = list(metrics)
        self.baseline = baseline
        self.created = utc_now()

    def to_json(self) -> dict:
        out = {"schema": SCHEMA, "created": self.created, "source": self.source, "metrics": self.metrics,
               "protocol": self.protocol, "results": self.results}
        if self.baseline is not None:
            out["baseline"] = {"translator": "identity (the source image as its own translation)",
                               "results": self.baseline}
        return jsonable(out)

    def write_json(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    def flat(self) -> dict:
        """``{"a2b/fid": ..., "mean/fid": ..., "identity/a2b/fid": ...}`` (numbers only)."""
        out = {}
        for prefix, rows in (("", self.results), ("identity/", self.baseline or {})):
            for row, values in rows.items():
                for key, value in values.items():
                    if isinstance(value, (int, float)) and value is not None:
                        out[f"{prefix}{row}/{key}"] = _finite(float(value))
        return out

    def table(self) -> str:
        return format_table(self.results, self.baseline)


_COLUMNS = (  # (heading, key, format)
    ("FID", "fid", "{:.3f}"), ("KID x1e3", "kid", None), ("RC", "rc", "{:.3f}"), ("FC", "fc", "{:.3f}"),
    ("PSNR dB", "psnr", "{:.2f}"), ("SSIM", "ssim", "{:.4f}"), ("LPIPS", "lpips", "{:.4f}"),
)


def _cell(values: dict, key: str, fmt) -> str:
    value = values.get(key)
    if value is None:
        return "-"
    if key == "kid":
        std = values.get("kid_std")
        return f"{value * 1e3:.3f}" + (f" ± {std * 1e3:.3f}" if std is not None else "")
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)


def format_table(results: dict, baseline: Optional[dict] = None) -> str:
    """A text table: one line per direction and the mean, then the identity baseline's."""
    keys = {k for rows in (results, baseline or {}) for values in rows.values() for k in values}
    columns = [c for c in _COLUMNS if c[1] in keys]
    lines = [("", *[c[0] for c in columns])]
    for label, rows in (("", results), ("identity ", baseline or {})):
        for row, values in rows.items():
            named = [m for m in ("mfid", "mkid") if m in values]  # a multi-domain mean: say so
            name = f"{row} ({', '.join(m[0] + m[1:].upper() for m in named)})" if row == MEAN and named else row
            lines.append((f"{label}{name}", *[_cell(values, key, fmt) for _, key, fmt in columns]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(line, widths))).rstrip() for line in lines)


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line (one ``write`` of a whole line in append mode)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(jsonable(record)) + "\n")


def checkpoint_step(path: Optional[str]) -> Optional[int]:
    """The step of a checkpoint prefix ``.../ckpt-560`` (None when it has no number)."""
    if not path:
        return None
    tail = str(path).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def evaluate(translators: dict, paths, size: int, metrics: Sequence[str] | str = ("fid", "kid"),
             features: Optional[FeatureExtractor] = None, baseline: bool = False, source: Optional[dict] = None,
             inception_weights="imagenet", feature_size: Optional[int] = None, feature_network: str = "inception",
             **options) -> EvalReport:
    """Evaluate ``translators`` (see :class:`Evaluation` for ``options``), and the identity
    mapping on the same images when ``baseline``. Without ``features``, the registered
    ``feature_network`` (``"inception"`` with ``inception_weights``, or ``"vgg16"``, see
    :data:`~keras_i2i.metrics.features.FEATURES`) is built at ``feature_size`` (default: its
    own) when a metric needs it."""
    from keras_i2i.metrics.features import feature_extractor

    metrics = resolve_metrics(metrics)
    if not any(METRICS.get(name).needs_features for name in metrics):
        features = None
    elif features is None:
        weights = inception_weights if feature_network == "inception" else None
        features = feature_extractor(feature_network, weights, feature_size)
    images = options.pop("images", None) or ImageStore(size, options.get("max_images"))
    ev = Evaluation(translators, paths, size, features, images=images, **options)
    results = run_metrics(ev, metrics)
    baseline_rows = None
    if baseline:
        identity = Evaluation({d: identity_translator for d in ev.directions}, paths, size, features, images=images,
                              **options)
        baseline_rows = run_metrics(identity, metrics)
    protocol = {
        **ev.describe(),
        "features": dict(features.description) if features is not None else None,
        "kid": {"subsets": "100 (1 when a subset is all images of both sets)",
                "subset_size": "min(1000 or the requested size, set sizes)", "kernel": "(x.y/d + 1)^3"},
        "classifier": "softmax regression on standardized features (RC: trained on real train images; FC: on "
                      f"translated train images), at most {ev.classifier_images} images per domain",
        "pairs": "source and target files of the same name in the split's folders",
        "sources": "each direction translates the images of every one of its source domains (a multi-domain "
                   "model's to_<target>: all the other domains)",
        "mean": ("mFID/mKID (DeepI2I): per target domain, FID/KID of the translations of every other domain "
                 "against the target's real images, averaged over the targets (the mean row's fid/kid, also "
                 "as mfid/mkid)") if ev.multi_domain else "the average over the directions",
        "resize_to_model": "Pillow bicubic (antialiased) to the model's input side, before translation and for "
                           "all real images",
    }
    return EvalReport(results, protocol, source or {}, metrics, baseline_rows)
