"""keras-i2i's networks compute what the PyTorch CycleGAN reference computes, given the
same weights (skipped where torch is not installed: `pip install torch==2.13.0`)."""

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keras_i2i.data.images import read_image, resize  # noqa: E402
from keras_i2i.networks import DISCRIMINATORS, GENERATORS  # noqa: E402
from tests.conftest import EMOJI, ROOT  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import torch_cyclegan as ref  # noqa: E402


def _copy_weights(torch_net, keras_net):
    import keras

    t_layers = [m for m in torch_net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    k_layers = [l for l in keras_net.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    assert len(t_layers) == len(k_layers)
    for t, k in zip(t_layers, k_layers):
        # Conv2d (O, I, kh, kw) -> (kh, kw, I, O); ConvTranspose2d (I, O, kh, kw) -> (kh, kw, O, I)
        weights = [t.weight.detach().numpy().transpose(2, 3, 1, 0)]
        if t.bias is not None:
            weights.append(t.bias.detach().numpy())
        k.set_weights(weights)


def _images(size):
    files = sorted((EMOJI / "testA").glob("*.png"))[:2]
    return np.stack([resize(read_image(f), size, size) for f in files]).astype(np.float32) / 127.5 - 1


@pytest.mark.parametrize("name, size", [("resnet_6blocks", 64), ("resnet_9blocks", 64), ("unet_128", 128)])
def test_generators_match_reference(name, size):
    torch.manual_seed(0)
    t_net = ref.define_G(name, ngf=16).eval()
    k_net = GENERATORS.get(name)(ngf=16)
    _copy_weights(t_net, k_net)
    x = _images(size)
    with torch.no_grad():
        expected = t_net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    got = np.asarray(k_net(x))
    assert np.abs(got - expected).max() < 1e-4


def test_patchgan_matches_reference():
    torch.manual_seed(0)
    t_net = ref.define_D("basic", ndf=16, n_layers_D=3).eval()
    k_net = DISCRIMINATORS.get("patchgan")(ndf=16, n_layers=3)
    _copy_weights(t_net, k_net)
    x = _images(64)
    with torch.no_grad():
        expected = t_net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    assert np.abs(np.asarray(k_net(x)) - expected).max() < 1e-4
