"""Bring PyTorch CycleGAN-family generators into keras-i2i (``keras-i2i import-torch``).

A generator checkpoint of the CycleGAN/pix2pix reference (``latest_net_G_A.pth``, the
published ``horse2zebra.pth`` ...) or of CUT/FastCUT is read as a state dict (never by
unpickling arbitrary objects), every tensor is mapped onto the matching keras-i2i
generator, and a run directory is written that ``translate``, ``export``, ``evaluate``
and ``webcam`` accept like a trained one.

The mapping is by name: for each architecture :func:`plan` lists the reference's module
paths (``model.1``, ``model.10.conv_block.5``, ``model.model.1.model.3.model.1`` ...)
and the keras-i2i layer each one becomes. Layouts: convolutions OIHW -> HWIO;
transposed convolutions (in, out, kh, kw) -> (kh, kw, out, in); batch norm
weight/bias/running_mean/running_var -> gamma/beta/moving_mean/moving_variance.
Instance norm has no parameters (old checkpoints' running statistics are ignored, as
the reference does); CUT's fixed blur filters are checked, not loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.layers.blur import binomial_filter
from keras_i2i.models.imported import IMPORTABLE_GENERATORS

logger = logging.getLogger(__name__)

ARCHITECTURES = IMPORTABLE_GENERATORS
NORMS = ("instance", "batch", "none")
# Wrappers seen around generator state dicts (training checkpoints, EMA copies ...).
WRAPPER_KEYS = ("state_dict", "model", "netG_A", "netG", "G_A", "generator", "G", "params_ema", "params")


class TorchImportError(ValueError):
    """The checkpoint cannot be imported; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One reference module with parameters and the keras-i2i layer it becomes.

    ``kind``: ``conv``, ``deconv``, ``norm`` or ``filt`` (a fixed blur buffer).
    ``bias``: whether the module has a bias; ``None`` follows the reference's rule
    (convolutions before instance norm have one, before batch norm or none not).
    """

    prefix: str
    layer: Optional[str]
    kind: str
    bias: Optional[bool] = None


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What a checkpoint was detected or declared to be."""

    arch: str
    norm: str
    ngf: int
    dropout: bool = False

    def describe(self) -> str:
        return f"{self.arch} (ngf {self.ngf}, norm {self.norm}{', dropout' if self.dropout else ''})"

    def flags(self) -> str:
        return f"--arch {self.arch} --norm {self.norm} --ngf {self.ngf}" + (" --dropout" if self.dropout else "")


# ----------------------------------------------------------------------------- key plans


def _resnet_plan(n_blocks: int, dropout: bool, antialias: bool) -> list[Entry]:
    # The reference's ``ResnetGenerator.model`` is one nn.Sequential: pad, conv, norm,
    # ReLU, then 3 modules per downsampling (4 with CUT's blur), the blocks, 3 (4) per
    # upsampling, pad, conv, tanh. Norm modules keep their index even when "none"
    # (nn.Identity), so indices do not depend on the norm.
    plan = [Entry("model.1", "stem_conv", "conv"), Entry("model.2", "stem_norm", "norm")]
    step = 4 if antialias else 3
    i = 4
    for d in range(2):
        plan += [Entry(f"model.{i}", f"down{d}_conv", "conv"), Entry(f"model.{i + 1}", f"down{d}_norm", "norm")]
        if antialias:
            plan.append(Entry(f"model.{i + 3}", None, "filt"))
        i += step
    for b in range(n_blocks):
        base = f"model.{i + b}.conv_block"
        second = 6 if dropout else 5  # nn.Dropout after the first ReLU shifts the second half by one
        plan += [
            Entry(f"{base}.1", f"block{b}_conv1", "conv"), Entry(f"{base}.2", f"block{b}_norm1", "norm"),
            Entry(f"{base}.{second}", f"block{b}_conv2", "conv"),
            Entry(f"{base}.{second + 1}", f"block{b}_norm2", "norm"),
        ]
    i += n_blocks
    for u in range(2):
        if antialias:
            plan += [Entry(f"model.{i}", None, "filt"), Entry(f"model.{i + 1}", f"up{u}_conv", "conv"),
                     Entry(f"model.{i + 2}", f"up{u}_norm", "norm")]
        else:
            plan += [Entry(f"model.{i}", f"up{u}_deconv", "deconv"), Entry(f"model.{i + 1}", f"up{u}_norm", "norm")]
        i += step
    plan.append(Entry(f"model.{i + 1}", "head_conv", "conv", bias=True))
    return plan


def _unet_plan(num_downs: int) -> list[Entry]:
    # Nested UnetSkipConnectionBlocks, outermost first, each a ``.model`` nn.Sequential:
    # outermost [downconv, submodule, ReLU, upconv, tanh]; middle [LeakyReLU, downconv,
    # downnorm, submodule, ReLU, upconv, upnorm(, dropout)]; innermost [LeakyReLU,
    # downconv, ReLU, upconv, upnorm].
    plan = []
    prefix = "model.model."
    for level in range(num_downs):
        if level == 0:
            plan += [Entry(prefix + "0", "down0_conv", "conv"), Entry(prefix + "3", "up0_deconv", "deconv", bias=True)]
            prefix += "1.model."
        elif level < num_downs - 1:
            plan += [
                Entry(prefix + "1", f"down{level}_conv", "conv"), Entry(prefix + "2", f"down{level}_norm", "norm"),
                Entry(prefix + "5", f"up{level}_deconv", "deconv"), Entry(prefix + "6", f"up{level}_norm", "norm"),
            ]
            prefix += "3.model."
        else:
            plan += [
                Entry(prefix + "1", f"down{level}_conv", "conv"), Entry(prefix + "3", f"up{level}_deconv", "deconv"),
                Entry(prefix + "4", f"up{level}_norm", "norm"),
            ]
    return plan


def plan(arch: str, dropout: bool = False) -> list[Entry]:
    """The reference modules with parameters of ``arch``, in forward order."""
    if arch == "resnet_9blocks":
        return _resnet_plan(9, dropout, antialias=False)
    if arch == "resnet_6blocks":
        return _resnet_plan(6, dropout, antialias=False)
    if arch == "cut_resnet":
        return _resnet_plan(9, dropout, antialias=True)
    if arch == "unet_256":
        return _unet_plan(8)
    if arch == "unet_128":
        return _unet_plan(7)
    raise TorchImportError(f"Unknown architecture {arch!r}. Known: {', '.join(ARCHITECTURES)}")


def _has_bias(entry: Entry, norm: str) -> bool:
    return entry.bias if entry.bias is not None else norm == "instance"


def expected_keys(entries: list[Entry], norm: str) -> tuple[set[str], set[str]]:
    """(required, optional) state-dict keys of a plan under ``norm``."""
    required, optional = set(), set()
    for e in entries:
        if e.kind in ("conv", "deconv"):
            required.add(f"{e.prefix}.weight")
            if _has_bias(e, norm):
                required.add(f"{e.prefix}.bias")
        elif e.kind == "filt":
            required.add(f"{e.prefix}.filt")
        elif norm == "batch":
            required.update(f"{e.prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var"))
            optional.add(f"{e.prefix}.num_batches_tracked")
        elif norm == "instance":  # checkpoints from torch < 0.4 stored instance-norm statistics
            optional.update(f"{e.prefix}.{k}" for k in ("running_mean", "running_var", "num_batches_tracked"))
    return required, optional


# ----------------------------------------------------------------------------- reading


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_state_dict(obj, torch) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def read_state_dict(path, key: Optional[str] = None) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch checkpoint as float32 numpy arrays, by name.

    Loaded with ``torch.load(weights_only=True)``: only tensors and plain containers,
    never arbitrary pickled objects. A state dict wrapped in a training checkpoint
    (``{"state_dict": ...}``, ``{"netG_A": ...}`` ...) is unwrapped (``key`` picks the
    entry when the wrapper holds several), and a ``module.`` prefix (DataParallel) is
    dropped.
    """
    import pickle

    from keras_i2i.extras import require

    # The CPU-only wheel also works: pip install torch --index-url https://download.pytorch.org/whl/cpu
    torch = require("torch", "torch", "keras-i2i import-torch")

    path = Path(path)
    if not path.is_file():
        raise TorchImportError(f"{path} is not a file.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        if found is None:  # the weights-only unpickler met bytes that are no pickle at all
            raise TorchImportError(f"{path} is not a PyTorch checkpoint that torch.load can read.") from None
        raise TorchImportError(
            f"{path} holds pickled Python objects ({found.group(1)}; for example a whole model saved with "
            "torch.save(model)), which keras-i2i refuses to unpickle because unpickling can run arbitrary code. "
            "If you trust the file, re-save only its weights in Python: "
            "torch.save(torch.load(PATH, weights_only=False).state_dict(), 'weights.pth'), then import weights.pth."
        ) from None
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, EOFError, zipfile errors ...
        raise TorchImportError(
            f"{path} is not a PyTorch checkpoint that torch.load can read ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no details'})."
        ) from None

    if not _is_state_dict(obj, torch):
        if not isinstance(obj, dict):
            raise TorchImportError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors.")
        nested = {k: v for k, v in obj.items() if _is_state_dict(v, torch)}
        if key is not None:
            if key not in nested:
                raise TorchImportError(f"{path} has no state dict under {key!r}; it has: {', '.join(nested) or 'none'}.")
            chosen = key
        elif len(nested) == 1:
            chosen = next(iter(nested))
        else:
            preferred = [k for k in WRAPPER_KEYS if k in nested]
            if not preferred:
                raise TorchImportError(
                    f"{path} holds no state dict of tensors at its top level"
                    + (f"; it wraps several ({', '.join(nested)}): pick one with --key." if nested else ".")
                )
            chosen = preferred[0]
            if len(nested) > 1:
                logger.warning("%s wraps several state dicts (%s); importing %r (choose with --key).", path,
                               ", ".join(nested), chosen)
        logger.info("Using the state dict under %r of %s", chosen, path.name)
        obj = nested[chosen]
    tensors = {}
    for name, tensor in obj.items():
        if name.startswith("module."):
            name = name[len("module."):]
        tensors[name] = tensor.detach().to(torch.float32).cpu().numpy() if tensor.is_floating_point() \
            else tensor.detach().cpu().numpy()
    return tensors


# ----------------------------------------------------------------------------- matching


def _ngf(arch: str, tensors: dict[str, np.ndarray]) -> Optional[int]:
    first = plan(arch)[0]
    weight = tensors.get(f"{first.prefix}.weight")
    return None if weight is None or weight.ndim != 4 else int(weight.shape[0])


def detect(tensors: dict[str, np.ndarray]) -> list[Architecture]:
    """Every architecture whose key set the checkpoint has exactly (ngf read from its first convolution)."""
    keys = set(tensors)
    found = []
    for arch in ARCHITECTURES:
        for dropout in ((False, True) if "resnet" in arch else (False,)):
            entries = plan(arch, dropout)
            for norm in NORMS:
                required, optional = expected_keys(entries, norm)
                if required <= keys <= required | optional:
                    found.append(Architecture(arch, norm, _ngf(arch, tensors), dropout))
    return found


def _closest(arch: str, tensors) -> tuple[str, bool, set, set]:
    """(norm, dropout, missing, unexpected) of the variant of ``arch`` nearest the checkpoint."""
    keys = set(tensors)
    best = None
    for dropout in ((False, True) if "resnet" in arch else (False,)):
        for norm in NORMS:
            required, optional = expected_keys(plan(arch, dropout), norm)
            missing, unexpected = required - keys, keys - required - optional
            score = len(missing) + len(unexpected)
            if best is None or score < best[0]:
                best = (score, norm, dropout, missing, unexpected)
    return best[1:]


def _listing(keys, limit: int = 8) -> str:
    keys = sorted(keys, key=_natural)
    shown = ", ".join(keys[:limit])
    return shown + (f" ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _natural(key: str):
    return [int(p) if p.isdigit() else p for p in key.split(".")]


def resolve_architecture(tensors: dict[str, np.ndarray], source: str, arch: Optional[str] = None,
                         norm: Optional[str] = None, ngf: Optional[int] = None,
                         dropout: Optional[bool] = None) -> Architecture:
    """The architecture of a checkpoint: detected, or the declared one after checking that it fits."""
    candidates = detect(tensors)
    fitting = [c for c in candidates if (arch is None or c.arch == arch) and (norm is None or c.norm == norm)
               and (dropout is None or c.dropout == dropout)]
    if fitting:
        chosen = fitting[0]
        if ngf is not None and ngf != chosen.ngf:
            raise TorchImportError(f"{source} was trained with ngf {chosen.ngf} (its first convolution has "
                                   f"{chosen.ngf} filters), not {ngf}: drop --ngf or pass --ngf {chosen.ngf}.")
        if len(fitting) > 1:
            logger.warning("%s fits %s; using %s.", source, ", ".join(c.describe() for c in fitting),
                           chosen.describe())
        return chosen
    maybe = ("It looks like " + " or ".join(f"{c.describe()} ({c.flags()})" for c in candidates) + "."
             if candidates else
             f"It matches none of the architectures keras-i2i imports ({', '.join(ARCHITECTURES)}); is it a "
             "generator checkpoint (G_A / G_B), not a discriminator or a whole training state?")
    if arch is None:
        raise TorchImportError(f"{source}: {maybe}")
    want_norm, want_dropout, missing, unexpected = _closest(arch, tensors)
    if norm is not None or dropout is not None:
        entries = plan(arch, bool(dropout) if dropout is not None else want_dropout)
        required, optional = expected_keys(entries, norm or want_norm)
        keys = set(tensors)
        missing, unexpected = required - keys, keys - required - optional
    parts = [f"{source} does not fit {arch}" + (f" with norm {norm}" if norm else "") + ":"]
    if missing:
        parts.append(f"{len(missing)} missing key(s): {_listing(missing)};")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): {_listing(unexpected)}.")
    parts.append(maybe)
    raise TorchImportError(" ".join(parts))


def _convert(entry: Entry, name: str, array: np.ndarray) -> np.ndarray:
    if name == "weight" and entry.kind in ("conv", "deconv"):
        if array.ndim != 4:
            raise TorchImportError(f"{entry.prefix}.weight has {array.ndim} dimensions; a convolution has 4.")
        return array.transpose(2, 3, 1, 0)  # (O, I, kh, kw) -> (kh, kw, I, O); (I, O, kh, kw) -> (kh, kw, O, I)
    return array


def _check_filter(entry: Entry, array: np.ndarray) -> None:
    size = array.shape[-1]
    scale = 4.0 if size == 4 else 1.0  # CUT's upsampling filter is the [1, 3, 3, 1] kernel times stride**2
    expected = binomial_filter(size) * scale
    if array.ndim != 4 or not np.allclose(array, expected[None, None], atol=1e-6):
        raise TorchImportError(f"{entry.prefix}.filt is not CUT's fixed binomial filter; this generator is not the "
                               "standard anti-aliased CUT ResNet and cannot be imported as cut_resnet.")


def load_weights(generator, tensors: dict[str, np.ndarray], architecture: Architecture, source: str) -> int:
    """Copy ``tensors`` into the keras-i2i ``generator`` built for ``architecture``. Returns the tensors used."""
    used = 0
    mismatches = []
    for entry in plan(architecture.arch, architecture.dropout):
        if entry.kind == "filt":
            _check_filter(entry, tensors[f"{entry.prefix}.filt"])
            used += 1
            continue
        if entry.kind == "norm" and architecture.norm != "batch":
            continue
        layer = generator.get_layer(entry.layer)
        if entry.kind == "norm":
            names = ("weight", "bias", "running_mean", "running_var")
        else:
            names = ("weight", "bias") if _has_bias(entry, architecture.norm) else ("weight",)
        current = layer.get_weights()
        values = [_convert(entry, n, tensors[f"{entry.prefix}.{n}"]) for n in names]
        if len(values) != len(current):
            mismatches.append(f"{entry.prefix}: {len(values)} tensors for {len(current)} weights of {entry.layer}")
            continue
        bad = [f"{entry.prefix}.{n} {tensors[f'{entry.prefix}.{n}'].shape}" for n, v, c in zip(names, values, current)
               if v.shape != c.shape]
        if bad:
            mismatches.extend(bad)
            continue
        layer.set_weights([v.astype(c.dtype) for v, c in zip(values, current)])
        used += len(values)
    if mismatches:
        raise TorchImportError(f"{source}: tensor shapes do not fit {architecture.describe()}: "
                               f"{_listing(mismatches)}. Check --ngf (and that the images are RGB).")
    return used


# ----------------------------------------------------------------------------- run directory


@dataclasses.dataclass
class ImportReport:
    out: Path
    architecture: Architecture
    size: int
    sources: dict  # direction -> {"path", "sha256", "tensors", "ignored"}

    def as_dict(self) -> dict:
        return {"out": str(self.out), "architecture": dataclasses.asdict(self.architecture), "size": self.size,
                "sources": self.sources}


def import_checkpoints(checkpoints: dict[str, str | os.PathLike], out, *, arch: Optional[str] = None,
                       norm: Optional[str] = None, ngf: Optional[int] = None, dropout: Optional[bool] = None,
                       size: int = 256, key: Optional[str] = None, force: bool = False) -> ImportReport:
    """Import generator checkpoints (``{"a2b": path, "b2a": path}``, one or both) into a new run directory.

    Every checkpoint must be of the same architecture. The run directory is built
    beside ``out`` and renamed into place when complete. ``out`` must not hold (or be) a
    checkpoint, as replacing it would delete it, and must be creatable: else
    :class:`keras_i2i.outputs.OutputError` before anything is read.
    """
    from keras_i2i.outputs import check_not_input, check_writable_dir

    check_not_input(out, checkpoints.values(), what="--out", folder=True, replaces=True)
    check_writable_dir(Path(os.path.abspath(out)).parent if os.path.exists(out) else out, "--out")
    import keras

    from keras_i2i.config import Config, DataConfig, TrainConfig
    from keras_i2i.models import build_model
    from keras_i2i.models.imported import ImportedConfig

    if not checkpoints:
        raise TorchImportError("Give at least one checkpoint to import.")
    unknown = sorted(set(checkpoints) - {"a2b", "b2a"})
    if unknown:
        raise TorchImportError(f"Unknown direction(s) {', '.join(unknown)}; use a2b and/or b2a.")
    out = Path(out)
    if out.exists() and not force:
        raise TorchImportError(f"{out} already exists; choose another --out or pass --force to replace it.")

    loaded, architecture = {}, None
    for direction, path in checkpoints.items():
        tensors = read_state_dict(path, key=key)
        found = resolve_architecture(tensors, str(path), arch=arch, norm=norm, ngf=ngf, dropout=dropout)
        if architecture is not None and found != architecture:
            raise TorchImportError(f"The checkpoints differ: {architecture.describe()} and {found.describe()}; "
                                   "both directions of a run must share one architecture.")
        architecture = found
        loaded[direction] = (Path(path), tensors)
    from keras_i2i.networks.registry import GENERATORS, input_side_rule

    multiple, _ = input_side_rule(GENERATORS.get(architecture.arch))  # the side the generator takes
    if size < multiple or size % multiple:
        raise TorchImportError(f"--size {size} does not fit {architecture.arch}: use a multiple of {multiple}.")

    first = plan(architecture.arch, architecture.dropout)[0]
    for direction, (path, tensors) in loaded.items():
        channels = tensors[f"{first.prefix}.weight"].shape[1]
        if channels != 3:
            raise TorchImportError(f"{path} takes {channels}-channel images; keras-i2i translates RGB (3 channels).")

    sources = {d: {"path": str(p.resolve()), "sha256": _sha256(p)} for d, (p, _) in loaded.items()}
    model_cfg = ImportedConfig(
        generator=architecture.arch, ngf=architecture.ngf, norm=architecture.norm, dropout=architecture.dropout,
        directions=tuple(sorted(loaded)),
        source="; ".join(f"{d}: {Path(s['path']).name} sha256:{s['sha256']}" for d, s in sorted(sources.items())),
    )
    cfg = Config(name=out.name, data=DataConfig(load_size=size, crop_size=size, flip=False), model=model_cfg,
                 train=TrainConfig())
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(cfg.model, image_size=size)
    translators = model.translators()
    for direction, (path, tensors) in loaded.items():
        used = load_weights(translators[direction], tensors, architecture, str(path))
        ignored = sorted(set(tensors) - expected_keys(plan(architecture.arch, architecture.dropout),
                                                      architecture.norm)[0], key=_natural)
        sources[direction].update(tensors=used, ignored=ignored)
        probe = np.asarray(translators[direction](np.zeros((1, size, size, 3), np.float32), training=False))
        if not np.all(np.isfinite(probe)):
            raise TorchImportError(f"{path}: the imported generator outputs NaN or Inf; the checkpoint is damaged.")
        logger.info("%s: %s, %d tensors mapped%s", direction, architecture.describe(), used,
                    f", {len(ignored)} ignored ({_listing(ignored, 4)})" if ignored else "")

    report = ImportReport(out=out, architecture=architecture, size=size, sources=sources)
    write_imported_run(cfg, model, report.as_dict(), out)
    return report


def write_imported_run(cfg, model, report: dict, out: Path) -> None:
    """Write an imported run to ``out`` whole or not at all: ``config.yaml``, checkpoint 0
    and ``import_report.json`` go into a staging folder beside it that then replaces ``out``."""
    import tensorflow as tf

    from keras_i2i.config import dump_config
    from keras_i2i.outputs import make_dir
    from keras_i2i.runs import CHECKPOINT_DIR
    from keras_i2i.utils import atomic_write_text, replace_dir

    make_dir(out.parent, "--out")
    staging = out.parent / f".{out.name}.importing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        dump_config(cfg, staging / "config.yaml")
        manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(staging / CHECKPOINT_DIR),
                                             max_to_keep=1)
        manager.save(checkpoint_number=0)
        atomic_write_text(staging / "import_report.json", json.dumps(report, indent=2) + "\n")
        replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
