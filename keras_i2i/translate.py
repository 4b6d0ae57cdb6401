"""Translate image files with a translator of a trained run (loaded by :func:`keras_i2i.runs.load_run`)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from keras_i2i.data.images import DataError, list_image_files, read_image, resize
from keras_i2i.outputs import OutputError, check_writable_dir, make_dir, write_error
from keras_i2i.runs import RunError, load_run  # noqa: F401  (load_run and RunError live in keras_i2i.runs)
from keras_i2i.utils import atomic_write_bytes, pixels_to_unit, unit_to_pixels

logger = logging.getLogger(__name__)


def translate_array(translator, image: np.ndarray, size: int) -> np.ndarray:
    """Translate one uint8 RGB image of any size: resized to ``size``, translated,
    resized back to its own size."""
    h, w = image.shape[:2]
    x = pixels_to_unit(resize(image, size, size))[None]
    y = np.asarray(translator(x, training=False))[0]
    y = unit_to_pixels(y)
    return resize(y, w, h)


def collect_inputs(path) -> tuple[list[Path], Path]:
    """Image files of a file or folder, and the base their output names are relative to."""
    path = Path(path)
    if path.is_file():
        return [path], path.parent
    if path.is_dir():
        files, _ = list_image_files(path)
        if not files:
            raise DataError(f"{path} holds no image files.")
        return files, path
    raise DataError(f"{path} does not exist.")


#: The PNG text chunk that marks a file as written by :func:`translate_files`: only such
#: files are overwritten when translating into a folder again (unless ``force``).
MARK = ("Software", "keras-i2i translate")


def written_by_translate(path) -> bool:
    """Whether ``path`` is a PNG that :func:`translate_files` wrote (it carries :data:`MARK`)."""
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get(MARK[0]) == MARK[1]
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def output_names(files, base: Path | None = None) -> dict[Path, Path]:
    """The PNG each input is written to, relative to the output folder.

    An input's name is its path relative to ``base`` (its file name without ``base``)
    with the suffix ``.png``. When several inputs would get the same name (``cat.jpg`` and
    ``cat.png``; compared ignoring case, as some file systems do), the one already named
    so keeps it and the others keep their own suffix: ``cat.png`` and ``cat.jpg.png``.

    Raises:
        OutputError: names that still collide (e.g. ``cat.jpg``, ``cat.png`` and
            ``cat.jpg.png`` in one folder), before anything is written.
    """
    relative = {Path(p): (Path(p).relative_to(base) if base is not None else Path(Path(p).name)) for p in files}
    names = {p: rel.with_suffix(".png") for p, rel in relative.items()}
    groups: dict[str, list[Path]] = {}
    for p, name in names.items():
        groups.setdefault(str(name).casefold(), []).append(p)
    for group in groups.values():
        if len(group) > 1:
            for p in group:
                if relative[p] != names[p]:
                    names[p] = relative[p].with_name(relative[p].name + ".png")
    seen: dict[str, Path] = {}
    for p, name in names.items():
        other = seen.setdefault(str(name).casefold(), p)
        if other != p:
            raise OutputError(f"{other} and {p} would both be written as {name}; rename one of them.")
    return names


def plan_outputs(files, output_dir, base: Path | None = None, force: bool = False) -> dict[Path, Path]:
    """Check where :func:`translate_files` would write ``files``, before anything runs;
    returns input path -> output path (:func:`output_names` under ``output_dir``).

    An existing file is overwritten only when translate wrote it (a PNG marked with
    :data:`MARK`), so translating into the same folder again works; any other file is
    refused unless ``force``. An output that is an input is refused even with ``force``.

    Raises:
        OutputError: ``output_dir`` cannot be created or written, an output would be an
            input or a folder, or would replace a file translate did not write.
    """
    check_writable_dir(output_dir, "--output")
    output_dir = Path(output_dir)
    plan = {p: output_dir / name for p, name in output_names(files, base).items()}
    inputs = {Path(p).resolve(): p for p in plan}
    foreign = []
    for source, target in plan.items():
        if target.resolve() in inputs:
            raise OutputError(f"The output {target} of {source} would overwrite the input {inputs[target.resolve()]}; "
                              f"choose an --output folder that holds no inputs.")
        if target.is_dir():
            raise OutputError(f"The output {target} of {source} is a folder; choose another --output.")
        if target.exists() and not force and not written_by_translate(target):
            foreign.append(target)
    if foreign:
        shown = ", ".join(str(p) for p in foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(f"{output_dir} already holds {len(foreign)} file(s) of the output names that keras-i2i "
                          f"translate did not write ({shown}); choose another --output, or pass --force to "
                          f"overwrite them.")
    return plan


def translate_files(translator, files, output_dir, size: int, base: Path | None = None, force: bool = False):
    """Translate ``files`` into PNGs under ``output_dir`` (keeping sub-folders relative
    to ``base``). Unreadable files are skipped and reported. Returns (written, skipped).

    The outputs are checked first (:func:`plan_outputs`): two inputs never get the same
    name, an input is never overwritten, and an existing file is replaced only when
    translate wrote it (or with ``force``). Each PNG is written atomically and marked
    with :data:`MARK`.

    Raises:
        OutputError: from :func:`plan_outputs` before anything is written, or when a file
            cannot be written (disk full, permission); those written before it are whole.
    """
    from PIL.PngImagePlugin import PngInfo

    plan = plan_outputs(files, output_dir, base=base, force=force)
    written, skipped = 0, []
    for path, target in plan.items():
        try:
            image = read_image(path)
        except DataError as err:
            skipped.append((path, str(err)))
            logger.warning("Skipping %s: %s", path, err)
            continue
        result = translate_array(translator, image, size)
        buffer = io.BytesIO()
        info = PngInfo()
        info.add_text(*MARK)
        Image.fromarray(result).save(buffer, format="PNG", pnginfo=info)
        try:
            make_dir(target.parent, "--output")
            atomic_write_bytes(target, buffer.getvalue())
        except OSError as err:
            raise write_error(target, err, f"the {written} image(s) written before it are complete") from None
        written += 1
    if skipped:
        logger.warning("Skipped %d unreadable file(s).", len(skipped))
    return written, skipped
