"""Bring BigGAN-PyTorch generators and discriminators into keras-i2i
(``keras-i2i import-torch --arch biggan``).

Reads the state dicts that BigGAN-PyTorch saves (``G.pth``, ``G_ema.pth``, ``D.pth``;
``torch.load(weights_only=True)``, never unpickling objects), reads the architecture off
their keys and shapes (resolution from the number of blocks, ``ch``, ``dim_z``,
``shared_dim``, classes, attention), and writes a ``biggan`` run whose networks compute
what PyTorch computes in ``eval()`` mode (stored batch-norm statistics; each spectral
norm one power-iteration step from the stored ``u0``, not stored back).

Key mapping (``layers.SN`` state: ``weight`` unnormalized, ``u0`` (1, outputs), ``sv0``):
convolution ``weight`` (O, I, kh, kw) -> ``kernel`` (kh, kw, I, O); linear ``weight``
(O, I) -> ``kernel`` (I, O); embedding ``weight`` stays; ``u0`` -> ``u``; ``sv0`` -> ``sv``;
``stored_mean``/``stored_var`` and ``gain``/``bias`` by name. G: ``shared``, ``linear``,
``blocks.i.0`` (``conv1``, ``conv2``, ``conv_sc``, ``bn1``/``bn2`` with ``gain``/``bias``
linear maps), ``blocks.i.1`` (attention ``theta``, ``phi``, ``g``, ``o``, ``gamma``),
``output_layer.0`` (batch norm) and ``output_layer.2`` (convolution). D: ``blocks.i.0``,
``blocks.i.1``, ``linear``, ``embed``.

Checkpoints of the same networks made with ``torch.nn.utils.spectral_norm`` instead
(``weight_orig``, ``weight_u`` (outputs,), ``weight_v`` (inputs,)) are imported too, as a
run with ``model.sn_inference: stored``: ``weight_orig`` -> ``kernel``, ``weight_u`` -> ``u``,
``weight_v`` -> ``v`` (a convolution's reordered from PyTorch's ``(I, kh, kw)`` to the Keras
kernel's ``(kh, kw, I)``), ``sv`` = ``u W v``. PyTorch's ``eval()`` runs no power iteration
and divides by ``u W v`` from the stored vectors; those layers do the same (one step of
BigGAN-PyTorch's iteration from ``u`` would not: the vectors saved after an optimizer step
lag the weight).

The published ImageNet checkpoints (BigGAN-PyTorch's 128 px ``138k`` release) cannot be
downloaded on this machine; the mapping is tested against a small reference written for
the tests (``tests/torch_biggan.py``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.networks.biggan import D_ARCH, G_ARCH
from keras_i2i.torch_import import TorchImportError, _listing, _sha256, read_state_dict, write_imported_run


@dataclasses.dataclass(frozen=True)
class BigGANArchitecture:
    """What a BigGAN-PyTorch generator (and discriminator) checkpoint holds."""

    resolution: int
    num_classes: int
    g_ch: int
    dim_z: int
    shared_dim: int
    g_attention: tuple[int, ...]
    d_ch: Optional[int] = None
    d_attention: tuple[int, ...] = ()

    def describe(self) -> str:
        d = f", D ch {self.d_ch}" if self.d_ch else ", no D"
        return (f"BigGAN {self.resolution} px ({self.num_classes} classes, G ch {self.g_ch}, dim_z {self.dim_z}, "
                f"shared_dim {self.shared_dim}{d})")


def _blocks(tensors) -> dict[int, set]:
    found: dict[int, set] = {}
    for key in tensors:
        m = re.match(r"blocks\.(\d+)\.(\d+)\.", key)
        if m:
            found.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    return found


def from_torch_spectral_norm(tensors, source: str):
    """A state dict saved with ``torch.nn.utils.spectral_norm`` in BigGAN-PyTorch's layout
    (``X.weight_orig``, ``X.weight_u``, ``X.weight_v``) rewritten with ``X.weight``, ``X.u0``
    (1, outputs), ``X.sv0`` (``u W v``, what PyTorch divides by in ``eval()``) and ``X.v``
    (1, inputs; PyTorch's order); returns ``(tensors, "stored")``, or the state dict as it
    is and ``"power_iteration"`` when it has no ``weight_orig``."""
    prefixes = [k[:-len(".weight_orig")] for k in tensors if k.endswith(".weight_orig")]
    if not prefixes:
        return tensors, "power_iteration"
    if any(k.endswith(".u0") for k in tensors):
        raise TorchImportError(f"{source} mixes torch.nn.utils.spectral_norm (weight_orig) and BigGAN-PyTorch's "
                               "layers.SN (u0) layers; keras-i2i imports one kind per checkpoint.")
    out = dict(tensors)
    for p in prefixes:
        weight, u, v = out.pop(f"{p}.weight_orig"), out.pop(f"{p}.weight_u", None), out.pop(f"{p}.weight_v", None)
        if u is None or v is None:
            raise TorchImportError(f"{source} has {p}.weight_orig but not {p}.weight_u and {p}.weight_v; save the "
                                   "state dict of the module with its spectral norm applied.")
        matrix = weight.reshape(weight.shape[0], -1).astype(np.float64)
        out[f"{p}.weight"], out[f"{p}.u0"], out[f"{p}.v"] = weight, u.reshape(1, -1), v.reshape(1, -1)
        out[f"{p}.sv0"] = np.array([u.astype(np.float64) @ matrix @ v.astype(np.float64)], np.float32)
    return out, "stored"


def _shape(tensors, key, source, ndim):
    if key not in tensors:
        raise TorchImportError(f"{source} has no {key}: it is not a BigGAN-PyTorch checkpoint of this kind.")
    if tensors[key].ndim != ndim:
        raise TorchImportError(f"{source}: {key} has {tensors[key].ndim} dimensions, expected {ndim}.")
    return tensors[key].shape


def detect_generator(tensors, source: str) -> BigGANArchitecture:
    """The architecture of a BigGAN-PyTorch generator state dict (hierarchical z, shared embedding)."""
    if "embed.weight" in tensors and "shared.weight" not in tensors:
        raise TorchImportError(f"{source} is a BigGAN discriminator (it has embed.weight); give the generator "
                               "(G.pth or G_ema.pth) as CHECKPOINT and this file as --discriminator.")
    blocks = _blocks(tensors)
    n = len(blocks)
    resolution = 4 * 2 ** n
    if resolution not in G_ARCH or sorted(blocks) != list(range(n)):
        raise TorchImportError(f"{source} has {n} generator block(s); BigGAN-PyTorch's G_arch has 3 (32 px), 4 (64), "
                               "5 (128) or 6 (256).")
    num_classes, shared_dim = _shape(tensors, "shared.weight", source, 2)
    out0, chunk = _shape(tensors, "linear.weight", source, 2)
    ins, outs, resolutions = G_ARCH[resolution]
    ch = _shape(tensors, "blocks.0.0.conv1.weight", source, 4)[0] // outs[0]
    if out0 != ch * ins[0] * 16:
        raise TorchImportError(f"{source}: linear.weight has {out0} outputs; {resolution} px with ch {ch} needs "
                               f"{ch * ins[0] * 16}.")
    cond = _shape(tensors, "blocks.0.0.bn1.gain.weight", source, 2)[1]
    if cond != shared_dim + chunk:
        raise TorchImportError(f"{source}: the conditional batch norms take {cond} inputs, not shared_dim + z chunk "
                               f"({shared_dim} + {chunk}); only hierarchical (--hier) generators with a shared "
                               "embedding (--G_shared) are imported.")
    attention = tuple(r for i, r in enumerate(resolutions) if 1 in blocks[i])
    return BigGANArchitecture(resolution, int(num_classes), int(ch), int(chunk) * (n + 1), int(shared_dim), attention)


def detect_discriminator(tensors, source: str, generator: BigGANArchitecture) -> BigGANArchitecture:
    """``generator`` completed with the discriminator's ``ch`` and attention (checked to fit)."""
    if "shared.weight" in tensors:
        raise TorchImportError(f"{source} is a BigGAN generator (it has shared.weight); --discriminator takes D.pth.")
    blocks = _blocks(tensors)
    ins, outs, downs, resolutions = D_ARCH[generator.resolution]
    if len(blocks) != len(outs):
        raise TorchImportError(f"{source} has {len(blocks)} discriminator block(s); a {generator.resolution} px "
                               f"BigGAN discriminator has {len(outs)}.")
    ch = _shape(tensors, "blocks.0.0.conv1.weight", source, 4)[0] // outs[0]
    classes = _shape(tensors, "embed.weight", source, 2)[0]
    if classes != generator.num_classes:
        raise TorchImportError(f"{source} has {classes} classes; the generator has {generator.num_classes}.")
    with_attention = {i for i, parts in blocks.items() if 1 in parts}
    attention = tuple(sorted({resolutions[i] for i in with_attention}))
    if {i for i, r in enumerate(resolutions) if r in attention} != with_attention:
        raise TorchImportError(f"{source}: attention after blocks {sorted(with_attention)} does not follow "
                               f"D_arch[{generator.resolution}]'s resolutions {resolutions}.")
    return dataclasses.replace(generator, d_ch=int(ch), d_attention=attention)


# ----------------------------------------------------------------------------- copying


class _Copier:
    def __init__(self, tensors, source):
        self.tensors, self.source, self.used = tensors, source, set()

    def take(self, key):
        if key not in self.tensors:
            raise TorchImportError(f"{self.source} has no {key}.")
        self.used.add(key)
        return self.tensors[key]

    def assign(self, variable, value, key):
        if tuple(variable.shape) != tuple(value.shape):
            raise TorchImportError(f"{self.source}: {key} has shape {tuple(value.shape)}; the Keras weight needs "
                                   f"{tuple(variable.shape)}.")
        variable.assign(value.astype(np.float32))

    def sn(self, layer, prefix, kind):
        weight = self.take(f"{prefix}.weight")
        if kind == "conv":
            weight = weight.transpose(2, 3, 1, 0)
        elif kind == "linear":
            weight = weight.T
        target = layer.embeddings if kind == "embedding" else layer.kernel
        self.assign(target, weight, f"{prefix}.weight")
        if getattr(layer, "use_bias", False):
            self.assign(layer.bias, self.take(f"{prefix}.bias"), f"{prefix}.bias")
        self.assign(layer.u, self.take(f"{prefix}.u0").reshape(1, -1), f"{prefix}.u0")
        self.assign(layer.sv, self.take(f"{prefix}.sv0").reshape(1), f"{prefix}.sv0")
        if layer.sn_inference == "stored":  # torch.nn.utils.spectral_norm's v, rows in the Keras kernel's order
            v = self.take(f"{prefix}.v")
            if kind == "conv":
                _, cin, kh, kw = self.tensors[f"{prefix}.weight"].shape
                v = v.reshape(cin, kh, kw).transpose(1, 2, 0)
            self.assign(layer.v, v.reshape(1, -1), f"{prefix}.weight_v")

    def stats(self, layer, prefix):
        self.assign(layer.stored_mean, self.take(f"{prefix}.stored_mean"), f"{prefix}.stored_mean")
        self.assign(layer.stored_var, self.take(f"{prefix}.stored_var"), f"{prefix}.stored_var")

    def attention(self, layer, prefix):
        for name in ("theta", "phi", "g", "o"):
            self.sn(getattr(layer, name), f"{prefix}.{name}", "conv")
        self.assign(layer.gamma, self.take(f"{prefix}.gamma").reshape(()), f"{prefix}.gamma")

    def unused(self):
        return sorted(set(self.tensors) - self.used)


def load_generator(generator, tensors, source: str) -> list[str]:
    """Copy a BigGAN-PyTorch G state dict into a :class:`BigGANGenerator`; returns the keys left unused."""
    c = _Copier(tensors, source)
    c.assign(generator.shared.embeddings, c.take("shared.weight"), "shared.weight")
    c.sn(generator.linear, "linear", "linear")
    for i, (block, attention) in enumerate(zip(generator.blocks, generator.attentions)):
        p = f"blocks.{i}.0"
        for conv in ("conv1", "conv2", "conv_sc"):
            c.sn(getattr(block, conv), f"{p}.{conv}", "conv")
        for bn in ("bn1", "bn2"):
            layer = getattr(block, bn)
            c.sn(layer.gain, f"{p}.{bn}.gain", "linear")
            c.sn(layer.bias, f"{p}.{bn}.bias", "linear")
            c.stats(layer, f"{p}.{bn}")
        if attention is not None:
            c.attention(attention, f"blocks.{i}.1")
    c.assign(generator.output_bn.gain, c.take("output_layer.0.gain"), "output_layer.0.gain")
    c.assign(generator.output_bn.bias, c.take("output_layer.0.bias"), "output_layer.0.bias")
    c.stats(generator.output_bn, "output_layer.0")
    c.sn(generator.output_conv, "output_layer.2", "conv")
    return c.unused()


def load_discriminator(discriminator, tensors, source: str) -> list[str]:
    """Copy a BigGAN-PyTorch D state dict into a :class:`BigGANDiscriminator`; returns the keys left unused."""
    c = _Copier(tensors, source)
    for i, (block, attention) in enumerate(zip(discriminator.blocks, discriminator.attentions)):
        for conv in ("conv1", "conv2", "conv_sc"):
            if getattr(block, conv) is not None:
                c.sn(getattr(block, conv), f"blocks.{i}.0.{conv}", "conv")
        if attention is not None:
            c.attention(attention, f"blocks.{i}.1")
    c.sn(discriminator.linear, "linear", "linear")
    c.sn(discriminator.embed, "embed", "embedding")
    return c.unused()


# ----------------------------------------------------------------------------- run directory


def import_biggan(generator_path, out, *, discriminator_path=None, classes=None, key: Optional[str] = None,
                  sn_epsilon: float = 1e-6, bn_epsilon: float = 1e-5, force: bool = False) -> dict:
    """Import a BigGAN-PyTorch generator (and optionally its discriminator) as a ``biggan`` run.

    Args:
        generator_path: ``G.pth`` or ``G_ema.pth`` (a state dict).
        out: the run directory to create (built beside it, renamed into place).
        discriminator_path: ``D.pth``; without it the run's discriminator is freshly initialized.
        classes: the class (domain) names in label order; default ``class0`` ... .
        key: entry of a wrapping checkpoint dict that holds the state dict.
        sn_epsilon, bn_epsilon: the epsilons the checkpoint was trained with (not stored in it).
        force: replace ``out`` if it exists.

    Returns the import report (also written as ``import_report.json``).
    """
    from keras_i2i.outputs import check_not_input, check_writable_dir

    inputs = [p for p in (generator_path, discriminator_path) if p is not None]
    check_not_input(out, inputs, what="--out", folder=True, replaces=True)
    check_writable_dir(Path(os.path.abspath(out)).parent if os.path.exists(out) else out, "--out")
    out = Path(out)
    if out.exists() and not force:
        raise TorchImportError(f"{out} already exists; choose another --out or pass --force to replace it.")
    g_tensors, sn_inference = from_torch_spectral_norm(read_state_dict(generator_path, key=key), str(generator_path))
    arch = detect_generator(g_tensors, str(generator_path))
    d_tensors = None
    if discriminator_path is not None:
        d_tensors, d_inference = from_torch_spectral_norm(read_state_dict(discriminator_path, key=key),
                                                          str(discriminator_path))
        if d_inference != sn_inference:
            kinds = {"stored": "torch.nn.utils.spectral_norm", "power_iteration": "BigGAN-PyTorch's layers.SN"}
            raise TorchImportError(f"{discriminator_path} uses {kinds[d_inference]}, the generator "
                                   f"{kinds[sn_inference]}; give a generator and discriminator of one kind.")
        arch = detect_discriminator(d_tensors, str(discriminator_path), arch)
    if classes is None:
        classes = tuple(f"class{i}" for i in range(arch.num_classes))
    classes = tuple(classes)
    if len(classes) != arch.num_classes or len(set(classes)) != len(classes):
        raise TorchImportError(f"--classes: give {arch.num_classes} different names (the checkpoint has "
                               f"{arch.num_classes} classes); got {len(classes)}.")

    import keras

    from keras_i2i.config import Config, DataConfig, TrainConfig
    from keras_i2i.models import build_model
    from keras_i2i.models.biggan import BigGANConfig

    sources = {"generator": {"path": str(Path(generator_path).resolve()), "sha256": _sha256(Path(generator_path))}}
    if discriminator_path is not None:
        sources["discriminator"] = {"path": str(Path(discriminator_path).resolve()),
                                    "sha256": _sha256(Path(discriminator_path))}
    model_cfg = BigGANConfig(g_ch=arch.g_ch, d_ch=arch.d_ch or arch.g_ch, dim_z=arch.dim_z,
                             shared_dim=arch.shared_dim, g_attention=arch.g_attention,
                             d_attention=arch.d_attention if arch.d_ch else arch.g_attention,
                             sn_epsilon=sn_epsilon, bn_epsilon=bn_epsilon, sn_inference=sn_inference)
    cfg = Config(name=out.name, data=DataConfig(load_size=arch.resolution, crop_size=arch.resolution, flip=False,
                                                domain_names=classes),
                 model=model_cfg, train=TrainConfig())
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(cfg.model, image_size=arch.resolution, domains=classes)
    unused = {"generator": load_generator(model.generator, g_tensors, str(generator_path))}
    if d_tensors is not None:
        unused["discriminator"] = load_discriminator(model.discriminator, d_tensors, str(discriminator_path))
    for part, keys in unused.items():
        if keys:
            raise TorchImportError(f"{sources[part]['path']} has {len(keys)} key(s) that {arch.describe()} does not "
                                   f"have: {_listing(keys)}.")
    for part, tensors in (("generator", g_tensors), ("discriminator", d_tensors)):
        if tensors is not None:
            sources[part]["tensors"] = len(tensors)
    probe = np.asarray(model.generate(np.zeros((1, arch.dim_z), np.float32), np.zeros((1,), np.int32)))
    if not np.all(np.isfinite(probe)):
        raise TorchImportError(f"{generator_path}: the imported generator outputs NaN or Inf; the checkpoint is "
                               "damaged.")
    report = {"out": str(out), "architecture": dataclasses.asdict(arch), "classes": list(classes),
              "sources": sources, "sn_epsilon": sn_epsilon, "bn_epsilon": bn_epsilon, "sn_inference": sn_inference}
    write_imported_run(cfg, model, report, out)
    report["description"] = arch.describe()
    return report


__all__ = ["BigGANArchitecture", "detect_discriminator", "detect_generator", "from_torch_spectral_norm", "import_biggan",
           "load_discriminator", "load_generator"]
