"""`keras-i2i import-torch`: PyTorch generators of the CycleGAN reference and CUT, built
here with random weights, imported and compared on real images (skipped without torch:
`pip install torch==2.13.0`)."""

import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from keras_i2i.cli import main  # noqa: E402
from keras_i2i.data.images import read_image, resize  # noqa: E402
from keras_i2i.torch_import import TorchImportError, detect, import_checkpoints, read_state_dict  # noqa: E402
from keras_i2i.translate import load_run  # noqa: E402
from tests.conftest import EMOJI, ROOT, copy_emoji  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import torch_cyclegan as ref  # noqa: E402


def _reference(arch, norm="instance", dropout=False, ngf=8, seed=0):
    """A reference generator with random weights, and random biases and batch-norm
    statistics too (initialization leaves them 0 and 1, which would hide mapping errors)."""
    torch.manual_seed(seed)
    net = ref.define_G(arch, ngf=ngf, norm=norm, use_dropout=dropout).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.normal_(0, 0.1)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.normal_(0, 0.1)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


def _images(size, domain="A"):
    files = sorted((EMOJI / f"test{domain}").glob("*.png"))[:2]
    return np.stack([resize(read_image(f), size, size) for f in files]).astype(np.float32) / 127.5 - 1


def _torch_output(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("arch, size, norm, dropout, ngf", [
    # The published models' width and size: float32 rounding in the instance norms'
    # means over 256x256 maps is what a small test would not show.
    ("resnet_9blocks", 256, "instance", False, 64),
    ("resnet_6blocks", 64, "batch", True, 8),
    ("unet_256", 256, "instance", False, 8),
    ("unet_128", 128, "none", False, 8),
    ("cut_resnet", 64, "instance", False, 8),
])
def test_imported_run_computes_what_torch_computes(arch, size, norm, dropout, ngf, tmp_path):
    net = _reference(arch, norm, dropout, ngf=ngf)
    path = tmp_path / "G_A.pth"
    torch.save(net.state_dict(), path)

    report = import_checkpoints({"a2b": path}, tmp_path / "run", size=size)  # architecture detected
    assert (report.architecture.arch, report.architecture.norm, report.architecture.dropout) == (arch, norm, dropout)
    cfg, model = load_run(tmp_path / "run")
    assert cfg.data.crop_size == size and list(model.translators()) == ["a2b"]

    x = _images(size)
    got = np.asarray(model.translators()["a2b"](x, training=False))
    assert np.abs(got - _torch_output(net, x)).max() < 1e-4


def test_cli_imports_both_directions_then_exports_tflite_that_passes_parity(tmp_path):
    g_a, g_b = _reference("resnet_6blocks", seed=1), _reference("resnet_6blocks", seed=2)
    torch.save(g_a.state_dict(), tmp_path / "latest_net_G_A.pth")
    # A training-checkpoint wrapper and DataParallel's "module." prefix are unwrapped.
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in g_b.state_dict().items()}},
               tmp_path / "latest_net_G_B.pth")
    runner = CliRunner()
    result = runner.invoke(main, ["import-torch", str(tmp_path / "latest_net_G_A.pth"), "--reverse",
                                  str(tmp_path / "latest_net_G_B.pth"), "--arch", "resnet_6blocks", "--size", "32",
                                  "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "resnet_6blocks (ngf 8, norm instance)" in result.output
    report = json.loads((tmp_path / "run" / "import_report.json").read_text())
    assert set(report["sources"]) == {"a2b", "b2a"} and report["sources"]["a2b"]["tensors"] == len(g_a.state_dict())

    _, model = load_run(tmp_path / "run")
    x = _images(32, "B")
    got = np.asarray(model.translators()["b2a"](x, training=False))
    assert np.abs(got - _torch_output(g_b, x)).max() < 1e-4

    photos = copy_emoji(tmp_path / "photos", "A", 8)
    result = runner.invoke(main, ["export", "--run", str(tmp_path / "run"), "--tflite", "--quantize", "fp32",
                                  "--direction", "a2b", "--calibration", str(photos), "--calibration-count", "8",
                                  "--out", str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    export_report = json.loads((tmp_path / "export" / "export_report.json").read_text())
    (entry,) = export_report["results"]
    assert entry["status"] == "ok" and entry["parity"]["psnr_db"] >= 60, entry.get("reason")


def _save(tmp_path, obj, name="g.pth"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_wrong_architecture_lists_keys_and_candidates(tmp_path):
    path = _save(tmp_path, _reference("resnet_6blocks", norm="batch").state_dict())
    with pytest.raises(TorchImportError) as err:
        import_checkpoints({"a2b": path}, tmp_path / "run", arch="unet_256", size=256)
    message = str(err.value)
    assert "does not fit unet_256" in message and "missing key(s): model.model.0.weight" in message
    assert "unexpected key(s): model.1.weight" in message
    assert "It looks like resnet_6blocks (ngf 8, norm batch) (--arch resnet_6blocks --norm batch --ngf 8)" in message
    assert not (tmp_path / "run").exists()


def test_discriminator_checkpoint_matches_nothing(tmp_path):
    path = _save(tmp_path, ref.define_D("basic", ndf=8).state_dict())
    with pytest.raises(TorchImportError, match="matches none of the architectures"):
        import_checkpoints({"a2b": path}, tmp_path / "run")


def test_non_checkpoint_and_pickled_model_are_refused(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00not a checkpoint" * 20)
    with pytest.raises(TorchImportError, match="not a PyTorch checkpoint"):
        read_state_dict(junk)
    whole = _save(tmp_path, _reference("resnet_6blocks"), "whole_model.pth")  # torch.save(model): a pickle
    with pytest.raises(TorchImportError, match="pickled Python objects \(torch_cyclegan.ResnetGenerator.*state_dict"):
        read_state_dict(whole)


def test_user_errors(tmp_path):
    path = _save(tmp_path, _reference("resnet_6blocks").state_dict())
    with pytest.raises(TorchImportError, match="trained with ngf 8"):
        import_checkpoints({"a2b": path}, tmp_path / "run", ngf=16)
    with pytest.raises(TorchImportError, match="does not fit resnet_6blocks: use a multiple of 4"):
        import_checkpoints({"a2b": path}, tmp_path / "run", size=30)
    (tmp_path / "taken").mkdir()
    with pytest.raises(TorchImportError, match="already exists.*--force"):
        import_checkpoints({"a2b": path}, tmp_path / "taken", size=32)
    import_checkpoints({"a2b": path}, tmp_path / "taken", size=32, force=True)
    assert (tmp_path / "taken" / "config.yaml").is_file()
    result = CliRunner().invoke(main, ["import-torch", str(path), "--out", str(tmp_path / "x"), "--arch", "unet_128"])
    assert result.exit_code == 1 and "does not fit unet_128" in result.output and "Traceback" not in result.output


def test_legacy_instance_norm_statistics_are_ignored(tmp_path):
    state = _reference("resnet_6blocks").state_dict()
    state["model.2.running_mean"] = torch.zeros(8)  # torch < 0.4 saved these for InstanceNorm2d
    state["model.2.running_var"] = torch.ones(8)
    tensors = {k: v.numpy() for k, v in state.items()}
    assert [a.arch for a in detect(tensors)] == ["resnet_6blocks"]
    report = import_checkpoints({"a2b": _save(tmp_path, state)}, tmp_path / "run", size=32)
    assert report.sources["a2b"]["ignored"] == ["model.2.running_mean", "model.2.running_var"]


def test_imported_run_cannot_be_trained(tmp_path):
    path = _save(tmp_path, _reference("resnet_6blocks").state_dict())
    import_checkpoints({"a2b": path}, tmp_path / "run", size=32)
    _, model = load_run(tmp_path / "run")
    with pytest.raises(ValueError, match="cannot be trained"):
        model.compile()


def test_empty_file_is_not_a_checkpoint(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(TorchImportError, match="not a PyTorch checkpoint"):
        read_state_dict(empty)
