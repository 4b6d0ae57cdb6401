"""The export tests use ``trained_run`` from ``tests/conftest.py`` (trained once per session)."""

from tests.conftest import TEST_IMAGES, TRAIN_IMAGES  # noqa: F401 - re-exported for the export tests
