"""`keras-i2i import-torch --arch biggan`: a small PyTorch BigGAN (tests/torch_biggan.py,
BigGAN-PyTorch's state-dict layout) with random weights, imported and compared at 1e-4.
The published ImageNet checkpoints cannot be downloaded here."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from keras_i2i.cli import main  # noqa: E402
from keras_i2i.runs import load_run  # noqa: E402
from keras_i2i.torch_import import TorchImportError  # noqa: E402
from keras_i2i.torch_import_biggan import import_biggan  # noqa: E402
from tests import torch_biggan as ref  # noqa: E402

CLASSES = ("cat", "dog", "fox")


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """G (attention at 16) and D (attention at D_arch[32]'s 16: every block), ch 4, 32 px,
    3 classes; random biases, gains, gammas and statistics; two training passes move u0."""
    base = tmp_path_factory.mktemp("biggan_torch")
    torch.manual_seed(0)
    g = ref.randomize(ref.Generator(3, 32, ch=4, dim_z=20, shared_dim=8, attention=(16,)), 1)
    d = ref.randomize(ref.Discriminator(3, 32, ch=4, attention=(16,)), 2)
    with torch.no_grad():
        for _ in range(2):
            z, y = torch.randn(4, 20), torch.randint(0, 3, (4,))
            d(g(z, y), y)
    g.eval(), d.eval()
    torch.save(g.state_dict(), base / "G_ema.pth")
    torch.save(d.state_dict(), base / "D.pth")
    out = base / "run"
    report = import_biggan(base / "G_ema.pth", out, discriminator_path=base / "D.pth", classes=CLASSES)
    return g, d, base, out, report


def test_imported_biggan_computes_what_torch_computes(nets):
    g, d, _, out, report = nets
    assert report["architecture"]["resolution"] == 32 and tuple(report["architecture"]["g_attention"]) == (16,)
    cfg, model = load_run(out)
    assert model.domains == CLASSES and cfg.data.crop_size == 32
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 20)).astype(np.float32)
    y = np.array([0, 1, 2, 1])
    with torch.no_grad():
        want = g(torch.from_numpy(z), torch.from_numpy(y)).numpy().transpose(0, 2, 3, 1)
    got = np.asarray(model.generate(z, y))
    assert np.abs(got - want).max() < 1e-4
    x = rng.uniform(-1, 1, size=(4, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        d_want = d(torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(y)).numpy()
    d_got = np.asarray(model.discriminator(x, y))
    assert np.abs(d_got - d_want).max() < 1e-4 * max(1.0, np.abs(d_want).max())


def test_training_mode_power_iteration_and_batch_statistics_match_torch(nets):
    """One forward pass in training mode on both sides: the same outputs (batch
    statistics), the same new u (one power-iteration step) and stored statistics."""
    g, d, base, _, _ = nets
    _, model = load_run(base / "run")
    g_train = ref.Generator(3, 32, ch=4, dim_z=20, shared_dim=8, attention=(16,))
    g_train.load_state_dict(torch.load(base / "G_ema.pth", weights_only=True))
    g_train.train()
    z = np.random.default_rng(3).normal(size=(4, 20)).astype(np.float32)
    y = np.array([2, 0, 1, 2])
    with torch.no_grad():
        want = g_train(torch.from_numpy(z), torch.from_numpy(y)).numpy().transpose(0, 2, 3, 1)
    got = np.asarray(model.generator(z, y, training=True))
    assert np.abs(got - want).max() < 1e-4
    state = g_train.state_dict()
    np.testing.assert_allclose(np.asarray(model.generator.block1.conv1.u), state["blocks.1.0.conv1.u0"].numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(model.generator.block0.bn2.stored_var),
                               state["blocks.0.0.bn2.stored_var"].numpy(), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(model.generator.linear.sv), state["linear.sv0"].numpy(), rtol=1e-5)


def test_cli_import_and_sample(nets, tmp_path):
    _, _, base, _, _ = nets
    runner = CliRunner()
    result = runner.invoke(main, ["import-torch", str(base / "G_ema.pth"), "--arch", "biggan", "--out",
                                  str(tmp_path / "run"), "--classes", "a,b,c"])
    assert result.exit_code == 0, result.output
    assert "BigGAN 32 px (3 classes" in result.output and "keras-i2i sample" in result.output
    report = json.loads((tmp_path / "run" / "import_report.json").read_text())
    assert "discriminator" not in report["sources"] and report["classes"] == ["a", "b", "c"]
    sampled = runner.invoke(main, ["sample", "--run", str(tmp_path / "run"), "--domain", "b", "--n", "2",
                                   "--out", str(tmp_path / "png")])
    assert sampled.exit_code == 0, sampled.output
    assert len(list((tmp_path / "png").glob("b_s0_*.png"))) == 2


def test_bad_biggan_checkpoints_are_one_line_errors(nets, tmp_path):
    _, _, base, _, _ = nets
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, ["import-torch", *map(str, args)])
        assert result.exit_code != 0 and "Traceback" not in result.output
        return result.output

    assert "is a BigGAN discriminator" in run(base / "D.pth", "--arch", "biggan", "--out", tmp_path / "a")
    assert "--discriminator takes D.pth" in run(base / "G_ema.pth", "--arch", "biggan", "--discriminator",
                                                base / "G_ema.pth", "--out", tmp_path / "b")
    assert "give 3 different names" in run(base / "G_ema.pth", "--arch", "biggan", "--classes", "a,b",
                                           "--out", tmp_path / "c")
    assert "go with --arch biggan" in run(base / "G_ema.pth", "--classes", "a,b,c", "--out", tmp_path / "d")
    state = torch.load(base / "G_ema.pth", weights_only=True)
    state["blocks.9.0.conv1.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(TorchImportError, match="generator block"):
        import_biggan(tmp_path / "odd.pth", tmp_path / "e")
    assert not (tmp_path / "e").exists()


def test_torch_spectral_norm_checkpoints_compute_what_torch_computes(tmp_path):
    """G and D made with torch.nn.utils.spectral_norm (weight_orig/weight_u/weight_v), their
    u and v moved by training passes and then left behind by a weight update (as after an
    optimizer step): the imported run (model.sn_inference stored) matches PyTorch's eval()
    to 1e-4, and a training-mode pass matches too (the same power-iteration step, u and v)."""
    torch.manual_seed(0)
    g = ref.use_torch_spectral_norm(ref.randomize(ref.Generator(3, 32, ch=4, dim_z=20, shared_dim=8,
                                                                attention=(16,)), 1))
    d = ref.use_torch_spectral_norm(ref.randomize(ref.Discriminator(3, 32, ch=4, attention=(16,)), 2))
    with torch.no_grad():
        for _ in range(2):
            z, y = torch.randn(4, 20), torch.randint(0, 3, (4,))
            d(g(z, y), y)
        for p in [*g.parameters(), *d.parameters()]:
            p.add_(0.05 * torch.randn_like(p))
    g.eval(), d.eval()
    assert "blocks.0.0.conv1.weight_orig" in g.state_dict() and "embed.weight_v" in d.state_dict()
    torch.save(g.state_dict(), tmp_path / "G.pth")
    torch.save(d.state_dict(), tmp_path / "D.pth")
    report = import_biggan(tmp_path / "G.pth", tmp_path / "run", discriminator_path=tmp_path / "D.pth")
    assert report["sn_inference"] == "stored"
    cfg, model = load_run(tmp_path / "run")
    assert cfg.model.sn_inference == "stored" and model.generator.block0.conv1.sn_inference == "stored"
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(4, 20)).astype(np.float32), np.array([0, 1, 2, 1])
    x = rng.uniform(-1, 1, size=(4, 32, 32, 3)).astype(np.float32)
    x_torch = torch.from_numpy(x.transpose(0, 3, 1, 2))
    with torch.no_grad():
        want = g(torch.from_numpy(z), torch.from_numpy(y)).numpy().transpose(0, 2, 3, 1)
        d_want = d(x_torch, torch.from_numpy(y)).numpy()
    assert np.abs(np.asarray(model.generate(z, y)) - want).max() < 1e-4
    assert np.abs(np.asarray(model.discriminator(x, y)) - d_want).max() < 1e-4 * max(1.0, np.abs(d_want).max())
    d.train()
    with torch.no_grad():
        d_want = d(x_torch, torch.from_numpy(y)).numpy()
    d_got = np.asarray(model.discriminator(x, y, training=True))
    assert np.abs(d_got - d_want).max() < 1e-4 * max(1.0, np.abs(d_want).max())
    state = d.state_dict()
    np.testing.assert_allclose(np.asarray(model.discriminator.linear.u).ravel(), state["linear.weight_u"].numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(model.discriminator.embed.v).ravel(), state["embed.weight_v"].numpy(),
                               atol=1e-5)
