"""The catalogue of downloadable datasets: what each is, where it lives, how it is laid out.

The eleven unpaired datasets published with CycleGAN (Zhu et al., 2017,
:data:`CYCLEGAN_DATASETS`) are zip archives on the Berkeley server, each holding
``trainA/``, ``trainB/``, ``testA/`` and ``testB/`` image folders. One-domain datasets
(:data:`DOMAIN_DATASETS`: Google's CartoonSet) hold the images of a single domain, to
pair with a folder of your own (``data.b: cartoonset10k``); they are ``.tgz`` archives,
laid out once unpacked as ``train/``, ``test/`` (every 20th image by file name) and
``attributes/`` (the per-image CSV files). Multi-domain datasets
(:data:`MULTIDOMAIN_DATASETS`: AFHQ) are zips of one folder per domain, laid out once
unpacked as ``train/<domain>/`` and ``test/<domain>/`` for ``data.dataset: afhq``.

Downloading them is :mod:`keras_i2i.data.datasets`; unpacking them safely is
:mod:`keras_i2i.data.archives`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the folder datasets are cached in.
ENV_DATA_DIR = "KERAS_I2I_DATA"
#: Environment variable replacing the download host (a mirror, a test server).
ENV_DATASET_URL = "KERAS_I2I_DATASET_URL"
#: Where the reference download script fetches the CycleGAN zips from.
DEFAULT_BASE_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"

#: Folders a dataset must have; ``testA``/``testB`` are optional.
REQUIRED_SUBDIRS = ("trainA", "trainB")
OPTIONAL_SUBDIRS = ("testA", "testB")


class DatasetError(RuntimeError):
    """A dataset could not be downloaded, verified, unpacked or found."""


class UnknownDatasetError(DatasetError, ValueError):
    """The dataset name is not one of :data:`CYCLEGAN_DATASETS`."""


@dataclass(frozen=True)
class DatasetInfo:
    """A downloadable dataset.

    Attributes:
        name: Dataset name, also the archive's base name (``{name}.zip``).
        url: Default download URL.
        sha256: Hex sha256 of the archive, or ``None`` when unknown (then the
            zip CRC-32s and the layout check are the integrity checks).
        description: One line for ``keras-i2i datasets list``.
        size_mb: Approximate archive size in MB (10**6 bytes), informational.
        kind: ``"unpaired"`` (a zip with ``trainA/``, ``trainB/`` ...),
            ``"domain"`` (a ``.tgz`` of one domain's images, see
            :data:`DOMAIN_DATASETS`) or ``"domains"`` (a zip with a folder per domain
            under ``train/`` and ``test/``, see :data:`MULTIDOMAIN_DATASETS`).
        renames: split folders renamed after unpacking, ``(("val", "test"),)`` for
            AFHQ, whose test split is ``val/``.
    """

    name: str
    url: str
    sha256: str | None
    description: str
    size_mb: float | None
    kind: str = "unpaired"
    renames: tuple[tuple[str, str], ...] = ()

    @property
    def file_name(self) -> str:
        """The archive's file name (the last part of its URL, without a query string)."""
        return self.url.split("?", 1)[0].rsplit("/", 1)[-1]


def _cyclegan(name: str, description: str, size_mb: float) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        url=f"{DEFAULT_BASE_URL}/{name}.zip",
        sha256=None,
        description=description,
        size_mb=size_mb,
    )


# Image counts from the CycleGAN datasets documentation; archive sizes are
# the byte counts TensorFlow Datasets records for the same zips, in MB.
CYCLEGAN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _cyclegan(
            "apple2orange",
            "996 apple / 1020 orange training images (ImageNet), 256x256",
            78.5,
        ),
        _cyclegan(
            "summer2winter_yosemite",
            "1273 summer / 854 winter Yosemite training images (Flickr), 256x256",
            132.6,
        ),
        _cyclegan(
            "horse2zebra",
            "939 horse / 1177 zebra training images (ImageNet), 256x256",
            116.9,
        ),
        _cyclegan(
            "monet2photo",
            "1074 Monet paintings (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            305.2,
        ),
        _cyclegan(
            "cezanne2photo",
            "584 Cezanne paintings (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            279.9,
        ),
        _cyclegan(
            "ukiyoe2photo",
            "1433 ukiyo-e prints (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            292.9,
        ),
        _cyclegan(
            "vangogh2photo",
            "401 Van Gogh paintings (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            306.6,
        ),
        _cyclegan(
            "maps",
            "1096 Google Maps map tiles / aerial photos, 256x256",
            1476.8,
        ),
        _cyclegan(
            "cityscapes",
            "2975 Cityscapes label maps / street photos, 256x256 "
            "(licence-restricted; the host may refuse it)",
            279.6,
        ),
        _cyclegan(
            "facades",
            "400 CMP Facades label maps / building photos, 256x256",
            35.1,
        ),
        _cyclegan(
            "iphone2dslr_flower",
            "1813 iPhone / 3316 DSLR flower photos (Flickr), shallow depth of field",
            340.0,
        ),
    )
}


# Google's CartoonSet (Royer et al., XGAN, 2017; CC-BY 4.0): 2D avatar faces,
# 500x500 PNGs, each with a CSV of its attributes. The project page
# https://google.github.io/cartoonset/ links the archives as
# https://storage.cloud.google.com/cartoonset_public_files/<name>.tgz, an address
# that asks a browser to sign in; storage.googleapis.com serves the same public
# objects without one. The sizes are not recorded here (unknown to us).
CARTOONSET_BASE_URL = "https://storage.googleapis.com/cartoonset_public_files"

#: One-domain datasets, to pair with a folder of your own through ``data.a``/``data.b``.
DOMAIN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="cartoonset10k",
            url=f"{CARTOONSET_BASE_URL}/cartoonset10k.tgz",
            sha256=None,
            description="10,000 CartoonSet avatar faces (Google, CC-BY 4.0), 500x500 PNG + attribute CSVs",
            size_mb=None,
            kind="domain",
        ),
        DatasetInfo(
            name="cartoonset100k",
            url=f"{CARTOONSET_BASE_URL}/cartoonset100k.tgz",
            sha256=None,
            description="100,000 CartoonSet avatar faces (Google, CC-BY 4.0), 500x500 PNG + attribute CSVs",
            size_mb=None,
            kind="domain",
        ),
    )
}

# AFHQ (Choi et al., StarGAN v2, 2020; CC BY-NC 4.0): animal faces at 512x512 in three
# domains, about 5,000 train and 500 test (val/) images each, from the address in the
# StarGAN v2 repository's download.sh (clovaai/stargan-v2, "afhq-dataset"), with ``dl=1``
# (Dropbox's switch for the file itself; the script's ``dl=0`` is the preview link). The
# archive's sha256 and size are not recorded here (nothing could be downloaded to measure
# them): the zip CRC-32s and the layout check are the integrity checks.
AFHQ_URL = "https://www.dropbox.com/s/t9l9o3vsx2jai3z/afhq.zip?dl=1"

#: Multi-domain datasets, a folder per domain, for ``data.dataset: NAME`` (DeepI2I).
MULTIDOMAIN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="afhq",
            url=AFHQ_URL,
            sha256=None,
            description="AFHQ animal faces (StarGAN v2, CC BY-NC 4.0): cat, dog, wild; ~5,000 train + 500 test "
                        "each, 512x512",
            size_mb=None,
            kind="domains",
            renames=(("val", "test"),),
        ),
    )
}

#: Split folders of an unpacked one-domain dataset.
DOMAIN_SUBDIRS = ("train", "test", "attributes")
#: One image in this many (by file name) goes to ``test/``.
DOMAIN_TEST_EVERY = 20


def list_datasets() -> list[DatasetInfo]:
    """Return the downloadable datasets, in registry order."""
    return list(CYCLEGAN_DATASETS.values())


def list_domain_datasets() -> list[DatasetInfo]:
    """Return the downloadable one-domain datasets (CartoonSet)."""
    return list(DOMAIN_DATASETS.values())


def list_multidomain_datasets() -> list[DatasetInfo]:
    """Return the downloadable multi-domain datasets (AFHQ)."""
    return list(MULTIDOMAIN_DATASETS.values())


def _get_info(name: str) -> DatasetInfo:
    try:
        return {**CYCLEGAN_DATASETS, **DOMAIN_DATASETS, **MULTIDOMAIN_DATASETS}[name]
    except (KeyError, TypeError):
        known = ", ".join([*CYCLEGAN_DATASETS, *DOMAIN_DATASETS, *MULTIDOMAIN_DATASETS])
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}. Known datasets: {known}."
        ) from None


def _has_layout(root: Path, kind: str = "unpaired") -> bool:
    if kind == "domain":
        return (root / "train").is_dir()
    if kind == "domains":
        return (root / "train").is_dir() and any(p.is_dir() for p in (root / "train").iterdir())
    return all((root / sub).is_dir() for sub in REQUIRED_SUBDIRS)
