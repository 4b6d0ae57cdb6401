"""Decoding to 8-bit RGB and the bad-input cases of the data pipeline."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_i2i.config import DataConfig
from keras_i2i.data.images import DataError, ImageFolder, read_image
from keras_i2i.data.pipeline import UnpairedData, load_stage, resolve_paths
from tests.conftest import EMOJI, copy_emoji


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_grayscale_becomes_rgb(tmp_path):
    arr = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = read_image(_save(Image.fromarray(arr, "L"), tmp_path / "g.png"))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], arr)
    np.testing.assert_array_equal(out[..., 2], arr)


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red-ish, bottom transparent
    rgba[2:, :, 3] = 0
    out = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[3, 3], [255, 255, 255])


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 255] + [255, 0, 0] * 255)
    img.putpixel((0, 0), 1)
    path = _save(img, tmp_path / "p.png", transparency=0)
    out = read_image(path)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[1, 1], [255, 255, 255])  # transparent index -> white


def test_16bit_grayscale_scales_to_8bit(tmp_path):
    arr = np.array([[0, 65535], [257 * 128, 257]], np.uint16)
    img = Image.fromarray(arr)  # 16-bit grayscale
    assert img.mode.startswith("I")
    out = read_image(_save(img, tmp_path / "s.png"))
    np.testing.assert_array_equal(out[..., 0], [[0, 255], [128, 1]])


@pytest.mark.parametrize("ext, fmt", [(".jpg", "JPEG"), (".bmp", "BMP"), (".gif", "GIF"), (".png", "PNG")])
def test_common_formats_decode(tmp_path, ext, fmt):
    img = Image.open(EMOJI / "trainA" / sorted(p.name for p in (EMOJI / "trainA").iterdir())[0])
    out = read_image(_save(img.convert("RGB"), tmp_path / f"x{ext}", format=fmt))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8


def _bad_files(folder):
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_text("this is not an image")
    good = sorted(folder.glob("*.png"))[0].read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    (folder / "readme.txt").write_text("hello")
    return {"empty.png", "notes.png", "truncated.png", "corrupt.jpg", "readme.txt"}


def test_bad_files_are_skipped_and_reported_once(tmp_path, caplog):
    folder = copy_emoji(tmp_path / "a", "A", 4)
    bad = _bad_files(folder)
    with caplog.at_level(logging.WARNING):
        images = ImageFolder.scan(folder)
    assert len(images) == 4
    assert {p.name for p, _ in images.skipped} == bad
    reasons = dict((p.name, r) for p, r in images.skipped)
    assert reasons["empty.png"] == "empty file"
    assert reasons["notes.png"] == "not an image file"
    for name in bad:
        assert sum(name in r.getMessage() for r in caplog.records) == 1
    assert "Skipped 5 of 9 files" in caplog.text


def test_training_goes_on_with_bad_files(tmp_path, tiny_config):
    root = tmp_path / "bad"
    for d in "AB":
        copy_emoji(root / f"train{d}", d, 4)
    _bad_files(root / "trainA")
    cfg = tiny_config(**{"data.root": str(root)})
    data = UnpairedData(cfg.data, global_batch=2)
    a, b = next(iter(data.dataset()))
    assert a.shape == (2, 32, 32, 3) and len(data.skipped) == 5


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        UnpairedData(DataConfig(a=str(tmp_path / "nope"), b=str(tmp_path)), global_batch=1)
    (tmp_path / "empty").mkdir()
    copy_emoji(tmp_path / "b", "B", 2)
    with pytest.raises(DataError, match="no readable images"):
        UnpairedData(DataConfig(a=str(tmp_path / "empty"), b=str(tmp_path / "b")), global_batch=1)
    with pytest.raises(DataError, match="no trainA"):
        resolve_paths(DataConfig(root=str(tmp_path)))
    with pytest.raises(DataError, match="Set both data.a and data.b"):
        resolve_paths(DataConfig(a=str(tmp_path)))
    with pytest.raises(DataError, match="No data given"):
        resolve_paths(DataConfig())
    with pytest.raises(DataError, match="Known datasets: emoji"):
        resolve_paths(DataConfig(dataset="horse2giraffe"))


def test_not_downloaded_dataset_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_I2I_DATA", str(tmp_path))
    with pytest.raises(DataError, match="keras-i2i datasets download horse2zebra"):
        resolve_paths(DataConfig(dataset="horse2zebra"))


def test_fewer_images_than_a_global_batch(tmp_path):
    a = copy_emoji(tmp_path / "a", "A", 3)
    b = copy_emoji(tmp_path / "b", "B", 8)
    with pytest.raises(DataError, match="fewer than one global batch"):
        UnpairedData(DataConfig(a=str(a), b=str(b), load_size=36, crop_size=32), global_batch=4)


def test_small_images_are_upscaled_to_the_crop(tmp_path):
    for mode in ("crop", "resize_and_crop", "scale_width_and_crop"):
        cfg = DataConfig(load_size=40, crop_size=32, preprocess=mode)
        out = load_stage(cfg)(np.zeros((10, 20, 3), np.uint8))
        assert out.shape[0] >= 32 and out.shape[1] >= 32, mode
    folder = tmp_path / "small"
    folder.mkdir()
    for d in "ab":
        (tmp_path / d).mkdir()
        for i in range(2):
            Image.fromarray(np.full((12, 9, 3), 40 * i, np.uint8)).save(tmp_path / d / f"{i}.png")
    data = UnpairedData(DataConfig(a=str(tmp_path / "a"), b=str(tmp_path / "b"), crop_size=32, preprocess="crop"), 2)
    a, _ = next(iter(data.dataset()))
    assert a.shape == (2, 32, 32, 3)


def test_load_size_below_crop_is_an_error():
    with pytest.raises(DataError, match="load_size"):
        load_stage(DataConfig(load_size=30, crop_size=32))


def _batches(ds, n):
    return [tuple(t.numpy() for t in batch) for batch in ds.take(n)]


def test_stream_is_deterministic_resumable_and_unpaired(emoji_root):
    cfg = DataConfig(root=str(emoji_root), load_size=36, crop_size=32)
    data = UnpairedData(cfg, global_batch=2, seed=3)
    full = _batches(data.dataset(0), 10)
    again = _batches(UnpairedData(cfg, global_batch=2, seed=3).dataset(0), 10)
    resumed = _batches(data.dataset(7), 3)
    for x, y in zip(full, again):
        np.testing.assert_array_equal(x[0], y[0])
    for x, y in zip(full[7:], resumed):  # resuming at step 7 gives the same batches
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    a, b = full[0]
    assert a.dtype == np.float32 and a.min() >= -1 and a.max() <= 1
    other = _batches(UnpairedData(cfg, global_batch=2, seed=4).dataset(0), 1)[0]
    assert not np.array_equal(other[0], a)


def test_each_epoch_visits_every_image(emoji_root):
    cfg = DataConfig(root=str(emoji_root), load_size=32, crop_size=32, flip=False)
    data = UnpairedData(cfg, global_batch=1, seed=0)
    epoch = [x[0][0] for x in _batches(data.dataset(0), data.epoch_size)]
    originals = [data.a.get(i) for i in range(len(data.a))]
    seen = {int(np.argmin([np.abs((e + 1) * 127.5 - o).sum() for o in originals])) for e in epoch}
    assert seen == set(range(len(data.a)))


def test_augmentation_eager_matches_tf_data(emoji_root):
    cfg = DataConfig(root=str(emoji_root), load_size=36, crop_size=32)
    data = UnpairedData(cfg, global_batch=1, seed=0)
    image = tf.constant(data.a.get(0))
    eager = data._augment(image, tf.constant(5, tf.int64), 0).numpy()
    graph = next(iter(tf.data.Dataset.from_tensors(image).map(
        lambda x: data._augment(x, tf.constant(5, tf.int64), 0)))).numpy()
    np.testing.assert_array_equal(eager, graph)
    assert eager.shape == (32, 32, 3)


def test_bundled_emoji_is_paired_by_name():
    paths = resolve_paths(DataConfig(dataset="emoji"))
    names = lambda p: sorted(x.name for x in p.iterdir())  # noqa: E731
    assert names(paths.train_a) == names(paths.train_b)
    assert names(paths.test_a) == names(paths.test_b)
    assert not set(names(paths.train_a)) & set(names(paths.test_a))
    total = sum(f.stat().st_size for f in EMOJI.rglob("*") if f.is_file())
    assert total < 10 * 1024 * 1024
