"""Directions as data in export: a free-form direction name and non-a/b domains go through
export (files, calibration and parity folders, model.json) and back through the runtime."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from tests.conftest import copy_emoji


class ToFluent:
    """A test-only model: the tiny trained CycleGAN's a2b generator declared as one
    free-form direction ``to_fluent`` from domain ``noto`` to ``fluent``, with a condition."""

    def __init__(self, model):
        self.restored_from = model.restored_from
        self._net = model.translators()["a2b"]

    def directions(self):
        from keras_i2i.directions import Direction

        return {"to_fluent": Direction("to_fluent", ("noto",), "fluent", {"target_label": 1})}

    def translators(self):
        return {"to_fluent": self._net}


@pytest.fixture(scope="module")
def named_export(trained_run, tmp_path_factory):
    """``(report, out, data root)`` of ``to_fluent`` exported as fp32 and int8 TFLite and
    ONNX, its data in the ``root/train/<domain>/`` and ``root/test/<domain>/`` layout."""
    import keras_i2i.runs
    from keras_i2i.export import export_run

    base = tmp_path_factory.mktemp("named_domains")
    root = base / "data"
    for name, letter in (("noto", "A"), ("fluent", "B")):
        copy_emoji(root / "train" / name, letter, 16)
        copy_emoji(root / "test" / name, letter, 4, split="test")
    real_load_run = keras_i2i.runs.load_run

    def load_run(run_dir, checkpoint=None, **kwargs):
        cfg, model = real_load_run(run_dir, checkpoint, **kwargs)
        data = dataclasses.replace(cfg.data, root=str(root), a=None, b=None, test_a=None, test_b=None)
        return dataclasses.replace(cfg, data=data), ToFluent(model)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keras_i2i.runs, "load_run", load_run)
        out = base / "export"
        report = export_run(trained_run, formats=["tflite", "onnx"], modes="fp32,int8", out=out, parity_count=4,
                            calibration_count=8)
    return report, out, root


def test_free_form_direction_exports_with_its_domains(named_export):
    report, out, root = named_export
    assert report.ok, [r.get("reason") for r in report.results]
    files = {"to_fluent.fp32.tflite", "to_fluent.int8.tflite", "to_fluent.onnx"}
    assert {r["file"] for r in report.results} == files
    for result in report.results:
        assert (result["direction"], result["source_domain"], result["target_domain"]) == ("to_fluent", "noto", "fluent")
        assert result["parity"]["source"] == str((root / "test" / "noto").resolve())
        assert result["parity"]["runtime"] == "keras_i2i.runtime"
    assert report.result("to_fluent.int8.tflite")["calibration"]["source"] == str((root / "train" / "noto").resolve())
    entries = {e["file"]: e for e in json.loads((out / "model.json").read_text())["models"]}
    assert set(entries) == files
    for entry in entries.values():
        assert entry["direction"] == "to_fluent"
        assert entry["source_domain"] == "noto" and entry["target_domain"] == "fluent"
        assert entry["sources"] == ["noto"] and entry["conditions"] == {"target_label": 1}
    saved = json.loads((out / "export_report.json").read_text())
    assert {r["source_domain"] for r in saved["results"]} == {"noto"}


def test_multi_source_direction_draws_balanced_images_from_every_source(tmp_path):
    """DeepI2I's ``to_<target>`` has several sources: calibration and parity images come
    from each of them, the same total count split evenly (a short folder's shortfall goes
    to the others), and each domain's share is recorded."""
    from keras_i2i.config import load_config
    from keras_i2i.directions import Direction
    from keras_i2i.export.images import balanced_counts, calibration_images, parity_images

    assert balanced_counts(10, [99, 99, 99]) == [4, 3, 3] and balanced_counts(10, [2, 99, 99]) == [2, 4, 4]
    assert balanced_counts(3, [1, 0]) == [1, 0]
    root = tmp_path / "data"
    for name, letter, train in (("noto", "A", 8), ("twemoji", "B", 2), ("fluent", "B", 3)):
        copy_emoji(root / "train" / name, letter, train)
        copy_emoji(root / "test" / name, letter, 2, split="test")
    cfg = load_config("deepi2i/emoji64_transfer", overrides=["data.dataset=null", f"data.root={root}"])
    to_fluent = Direction("to_fluent", ("noto", "twemoji"), "fluent")
    calib = calibration_images(cfg, to_fluent, 32, 7)
    assert calib.images.shape == (7, 32, 32, 3)
    described = calib.describe()
    assert {d: (v["images"], v["available"]) for d, v in described["domains"].items()} == {
        "noto": (5, 8), "twemoji": (2, 2)}
    assert described["domains"]["twemoji"]["source"] == str((root / "train" / "twemoji").resolve())
    parity = parity_images(cfg, to_fluent, 32, 4)
    assert {d: v["images"] for d, v in parity.describe()["domains"].items()} == {"noto": 2, "twemoji": 2}
    assert str((root / "test" / "twemoji").resolve()) in parity.source
    single = calibration_images(cfg, Direction("to_x", ("noto",), "fluent"), 32, 7)  # one source: as before
    assert "domains" not in single.describe() and single.source == str((root / "train" / "noto").resolve())


def test_runtime_loads_the_folder_by_direction(named_export):
    from keras_i2i.directions import Direction
    from keras_i2i.runtime import RuntimeLoadError, directions, load

    _, out, root = named_export
    assert directions(out) == {"to_fluent": Direction("to_fluent", ("noto",), "fluent", {"target_label": 1})}
    image = np.zeros((40, 48, 3), np.uint8)
    for fmt, mode, file in (("tflite", None, "to_fluent.fp32.tflite"), ("tflite", "int8", "to_fluent.int8.tflite"),
                            ("onnx", None, "to_fluent.onnx")):
        translator = load(out, direction="to_fluent", format=fmt, mode=mode)
        assert translator.path == out / file and translator(image).shape == image.shape
    with pytest.raises(RuntimeLoadError, match="no model for direction 'a2b'.*declares: to_fluent"):
        load(out, direction="a2b", format="tflite")


def test_unknown_direction_lists_the_runs_directions(trained_run, tmp_path):
    from keras_i2i.export import ExportError, export_run

    with pytest.raises(ExportError, match=r"no direction 'noto2fluent'; its directions are: a2b, b2a"):
        export_run(trained_run, directions="a2b,noto2fluent", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_named_export_folder_moves_with_its_model_json(named_export, tmp_path):
    """A copied folder keeps working; a file copied without its model.json entry is named."""
    from keras_i2i.runtime import RuntimeLoadError, load

    _, out, _ = named_export
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert load(copy, direction="to_fluent", format="onnx").path == copy / "to_fluent.onnx"
    (copy / "model.json").unlink()
    with pytest.raises(RuntimeLoadError, match="No model.json in"):
        load(copy, direction="to_fluent", format="onnx")
