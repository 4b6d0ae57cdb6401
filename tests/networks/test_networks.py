import keras
import numpy as np
import pytest

from keras_i2i.networks import DISCRIMINATORS, GENERATORS, patch_discriminator, resnet_generator


def test_resnet9_has_reference_parameter_count():
    # The PyTorch reference's ResnetGenerator(ngf=64, n_blocks=9, InstanceNorm2d) has 11,378,179.
    assert resnet_generator(n_blocks=9).count_params() == 11_378_179


def test_patchgan_70_has_reference_parameter_count_and_shape():
    d = patch_discriminator(ndf=64, n_layers=3)
    assert d.count_params() == 2_764_737
    assert d(np.zeros((1, 256, 256, 3), "float32")).shape == (1, 30, 30, 1)


@pytest.mark.parametrize("name, size", [("resnet_6blocks", 32), ("resnet_9blocks", 32), ("unet_128", 128), ("unet_256", 256)])
@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_generators_map_images_to_images(name, size, norm):
    g = GENERATORS.get(name)(ngf=4, norm=norm)
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    y = np.asarray(g(x))
    assert y.shape == x.shape
    assert np.all(np.abs(y) <= 1.0)


def test_unknown_names_list_known():
    with pytest.raises(ValueError, match="resnet_9blocks"):
        GENERATORS.get("resnet_3blocks")
    with pytest.raises(ValueError, match="Known norms"):
        resnet_generator(norm="layer")


def test_padding_implementations_agree():
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    keras.utils.set_random_seed(1)
    a = resnet_generator(n_blocks=2, ngf=4, padding="slices")
    b = resnet_generator(n_blocks=2, ngf=4, padding="pad")
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), atol=1e-6)


NETWORKS = [
    ("resnet_6blocks", lambda: GENERATORS.get("resnet_6blocks")(ngf=4), 32),
    ("cut_resnet", lambda: GENERATORS.get("cut_resnet")(ngf=4), 32),
    ("unet_128", lambda: GENERATORS.get("unet_128")(ngf=4, norm="batch", dropout=True), 128),
    ("patchgan", lambda: DISCRIMINATORS.get("patchgan")(ndf=4, n_layers=3), 64),
    ("pixel", lambda: DISCRIMINATORS.get("pixel")(ndf=4), 16),
]


@pytest.mark.parametrize("name, make, size", NETWORKS, ids=[n[0] for n in NETWORKS])
def test_network_round_trips(name, make, size, tmp_path):
    net = make()
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    expected = np.asarray(net(x, training=False))

    clone = keras.Model.from_config(net.get_config())
    clone.set_weights(net.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x, training=False)), expected, atol=1e-5)

    path = tmp_path / f"{name}.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), expected, atol=1e-5)
