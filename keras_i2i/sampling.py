"""Draw images from a run of a generative model (``keras-i2i sample``; BigGAN)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from keras_i2i.outputs import OutputError, check_not_input, check_writable_dir, make_dir, run_inputs, write_error
from keras_i2i.runs import RunError

#: The PNG text chunk that marks a file as written by :func:`sample_run`: only such files
#: are overwritten when sampling into a folder again (unless ``force``).
MARK = ("Software", "keras-i2i sample")


def _written_by_sample(path) -> bool:
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get(MARK[0]) == MARK[1]
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def output_files(out_dir, domain: str, n: int, seed: int) -> list[Path]:
    """The files :func:`sample_run` writes: ``<domain>_s<seed>_<i>.png``."""
    return [Path(out_dir) / f"{domain}_s{seed}_{i:04d}.png" for i in range(n)]


def check_outputs(run_dir, out_dir, domain: str, n: int, seed: int, force: bool = False) -> list[Path]:
    """Refuse, before anything loads, an ``out_dir`` that is or holds part of the run, that
    cannot be written, or that holds a file of an output name that sample did not write
    (unless ``force``). Returns the output files."""
    check_not_input(out_dir, run_inputs(run_dir), what="--out", folder=True)
    check_writable_dir(out_dir, "--out")
    files = output_files(out_dir, domain, n, seed)
    for path in files:
        if path.is_dir():
            raise OutputError(f"--out: {path} is a folder; choose another --out.")
    foreign = [p for p in files if p.exists() and not force and not _written_by_sample(p)]
    if foreign:
        raise OutputError(f"{out_dir} already holds {len(foreign)} file(s) of the output names that keras-i2i sample "
                          f"did not write (e.g. {foreign[0]}); choose another --out, or pass --force to overwrite "
                          "them.")
    return files


def draw(model, label: int, n: int, seed: int, batch_size: int = 16) -> np.ndarray:
    """``n`` uint8 images of class ``label`` from latents drawn with ``seed``
    (``N(0, I)``; the same seed gives the same images)."""
    import tensorflow as tf

    z = tf.random.stateless_normal((n, model.generator.dim_z), seed=tf.constant([int(seed), 0x5A4D], tf.int64))
    out = []
    for start in range(0, n, batch_size):
        zb = z[start:start + batch_size]
        labels = tf.fill((tf.shape(zb)[0],), tf.constant(label, tf.int32))
        out.append(np.asarray(model.generate(zb, labels)))
    images = np.concatenate(out, axis=0)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _check_domain(run_dir, domain: str) -> None:
    import yaml

    from keras_i2i.runs import CONFIG_FILE

    try:
        raw = yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text()) or {}
        names = (raw.get("data") or {}).get("domain_names")
    except (OSError, yaml.YAMLError, AttributeError):
        return  # load_run says what is wrong with the run
    if names and domain not in names:
        raise RunError(f"{run_dir} has no domain {domain!r}; its domains are: {', '.join(map(str, names))}.")


def sample_run(run_dir, domain: str, out_dir, n: int = 16, seed: int = 0, checkpoint=None,
               force: bool = False) -> list[Path]:
    """Write ``n`` PNGs of ``domain`` drawn by the run's generator (EMA weights where the run
    has them) into ``out_dir``; returns their paths.

    Raises:
        RunError: the run is not a generative model, or has no domain ``domain``.
        OutputError: from :func:`check_outputs` before the model loads, or when a file
            cannot be written (those written before it are whole).
    """
    from PIL.PngImagePlugin import PngInfo

    from keras_i2i.runs import load_run
    from keras_i2i.utils import atomic_write_bytes

    files = check_outputs(run_dir, out_dir, domain, n, seed, force=force)
    _check_domain(run_dir, domain)  # before TensorFlow loads, where config.yaml says
    cfg, model = load_run(run_dir, checkpoint)
    if not hasattr(model, "generate"):
        raise RunError(f"{run_dir} is a {cfg.model.name} run, which translates images rather than drawing them; "
                       "use keras-i2i translate.")
    if domain not in model.domains:
        raise RunError(f"{run_dir} has no domain {domain!r}; its domains are: {', '.join(model.domains)}.")
    images = draw(model, model.domains.index(domain), n, seed)
    info = PngInfo()
    info.add_text(*MARK)
    make_dir(out_dir, "--out")
    for i, (image, path) in enumerate(zip(images, files)):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", pnginfo=info)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError as err:
            raise write_error(path, err, f"the {i} image(s) written before it are complete") from None
    return files


__all__ = ["MARK", "check_outputs", "draw", "output_files", "sample_run"]
