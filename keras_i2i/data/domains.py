"""Named domains: which folders a dataset's domains are, under which names and ids.

A dataset is a list of named domains. Three layouts are accepted:

- ``root/trainA``, ``root/trainB`` (+ ``testA``, ``testB``), or ``data.a``/``data.b``:
  two domains named ``a`` and ``b`` (the CycleGAN reference layout);
- ``root/train/<domain>/`` (+ ``root/test/<domain>/``): a folder per domain, as AFHQ
  and animal-faces style datasets ship;
- ``data.domains: {name: folder, ...}`` in YAML (or ``--set data.domains.NAME=PATH``):
  each folder holds the domain's training images, or ``train/`` and ``test/`` folders;
  a value may also name a one-domain dataset of the download catalogue, or one domain of a
  bundled or derived dataset as ``DATASET/DOMAIN`` (``emoji4_categories/smileys``).

Domain names match ``[a-z0-9_]+``; domains are sorted by name and numbered from 0 in
that order, so a domain's integer id (the label multi-domain models take) is stable
for a given set of names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from keras_i2i.data.images import DataError

DOMAIN_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class Domain:
    """One domain of a dataset.

    Args:
        name: the domain's name (``a``, ``noto``, ``cat`` ...).
        id: its integer label, the index of ``name`` in the sorted names.
        train: folder of its training images.
        test: folder of its test images, or None when the dataset has no test split.
    """

    name: str
    id: int
    train: Path
    test: Optional[Path] = None


def check_domain_name(name: str) -> str:
    """``name`` if it is a valid domain name, else a ``DataError`` saying what is allowed."""
    if not isinstance(name, str) or not DOMAIN_NAME.match(name):
        raise DataError(
            f"Domain name {name!r} is not allowed: use lower-case letters, digits and underscores "
            "(e.g. noto, fluent_3d)."
        )
    return name


def make_domains(folders: dict[str, tuple[Path, Optional[Path]]]) -> list[Domain]:
    """Domains from ``{name: (train, test)}``: names checked, sorted and numbered; two
    domains may not read the same folder."""
    if not folders:
        raise DataError("The dataset has no domains.")
    seen: dict[Path, str] = {}
    domains = []
    for i, name in enumerate(sorted(folders)):
        check_domain_name(name)
        train, test = folders[name]
        key = Path(train).expanduser().resolve()
        if key in seen:
            raise DataError(
                f"Domains {seen[key]!r} and {name!r} both point at {train}: each domain needs its own folder."
            )
        seen[key] = name
        domains.append(Domain(name, i, Path(train), Path(test) if test is not None else None))
    return domains


def per_domain_layout(root: Path) -> Optional[dict[str, tuple[Path, Optional[Path]]]]:
    """``root/train/<domain>/`` (+ ``root/test/<domain>/``), or None when ``root`` is not laid out so."""
    train = root / "train"
    if not train.is_dir() or (root / "trainA").is_dir():
        return None
    names = sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        return None
    test = root / "test"
    return {name: (train / name, test / name if (test / name).is_dir() else None) for name in names}


def _folder_domain(value: str, download: bool) -> tuple[Path, Optional[Path]]:
    """Train and test folders of one ``data.domains`` value."""
    from keras_i2i.data.pipeline import _domain_source

    path, test = _domain_source(value, download)
    if not path.exists():
        named = _dataset_domain(value)
        if named is not None:
            return named
    if path.is_dir() and (path / "train").is_dir():
        return path / "train", path / "test" if (path / "test").is_dir() else None
    if not path.is_dir():
        raise DataError(f"The domain folder {path} does not exist or is not a folder. Check data.domains.")
    return path, test


def _dataset_domain(value: str) -> Optional[tuple[Path, Optional[Path]]]:
    """``DATASET/DOMAIN`` (e.g. ``emoji4_categories/smileys``): that domain's train and test
    folders of a bundled or derived dataset with a folder per domain, or None."""
    from keras_i2i.data.pipeline import bundled_root

    head, _, name = str(value).partition("/")
    if not name or "/" in name:
        return None
    root = bundled_root(head)
    layout = per_domain_layout(root) if root is not None and root.is_dir() else None
    if layout is None:
        return None
    if name not in layout:
        raise DataError(f"Dataset {head!r} has no domain {name!r}; its domains are {', '.join(layout)}.")
    return layout[name]


def resolve_domains(data) -> list[Domain]:
    """The domains of a ``DataConfig`` (see the module docstring for the layouts)."""
    mapping = getattr(data, "domains", None)
    if mapping:
        if data.a or data.b or data.root:
            raise DataError("Set data.domains or data.root/data.a/data.b, not both.")
        return make_domains({str(name): _folder_domain(str(value), data.download) for name, value in mapping.items()})
    root = None
    if data.root and not (data.a or data.b):
        root = Path(data.root).expanduser()
    elif data.dataset and not (data.a or data.b):
        from keras_i2i.data.pipeline import bundled_root

        root = bundled_root(data.dataset)
        from keras_i2i.data.datasets import MULTIDOMAIN_DATASETS, multidomain_root

        if root is None and data.dataset in MULTIDOMAIN_DATASETS:  # afhq: downloaded (with data.download)
            root = multidomain_root(data.dataset, data.download)
    if root is not None and root.is_dir():
        per_domain = per_domain_layout(root)
        if per_domain is not None:
            return make_domains(per_domain)
    from keras_i2i.data.pipeline import resolve_paths

    paths = resolve_paths(data)
    return make_domains({"a": (paths.train_a, paths.test_a), "b": (paths.train_b, paths.test_b)})


def domain_by_name(domains: list[Domain], name: str) -> Domain:
    """The domain called ``name``; an unknown name lists the dataset's domains."""
    for domain in domains:
        if domain.name == name:
            return domain
    raise DataError(f"No domain {name!r} in this dataset; its domains are {', '.join(d.name for d in domains)}.")
