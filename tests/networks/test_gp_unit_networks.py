"""GP-UNIT's stage-I networks: shapes, the official layout, serialization."""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import ops

from keras_i2i.networks.gp_unit import (build_content_encoder, build_decoder, build_domain_classifier,
                                        build_style_encoder)


@pytest.mark.parametrize("size, ch, n_down", [(64, 4, 3), (256, 4, 5)])
def test_content_encoder_shapes(size, ch, n_down):
    enc = build_content_encoder(size, ch=ch, n_down=n_down)
    outs = enc(np.zeros((2, size, size, 3), "float32"))
    assert isinstance(outs, list) and len(outs) == n_down + 1
    expected = [(2, size // 2**k, size // 2**k, ch * min(2 ** (k - 1), 8)) for k in range(1, n_down + 1)]
    expected.append((2, size // 2**n_down, size // 2**n_down, 1))
    assert [tuple(o.shape) for o in outs] == expected
    assert enc.name == "content_encoder"


def test_content_encoder_official_width():
    # ch 64 at 256 px: the official ContentEncoder's stages 64,128,256,512,512 and an 8x8x1 code.
    enc = build_content_encoder(256, ch=64, n_down=5)
    assert [o.shape[1:] for o in enc.outputs] == [(128, 128, 64), (64, 64, 128), (32, 32, 256), (16, 16, 512),
                                                 (8, 8, 512), (8, 8, 1)]


def test_content_encoder_rejects_bad_size():
    with pytest.raises(ValueError, match="multiple of"):
        build_content_encoder(48, ch=4, n_down=5)
    with pytest.raises(ValueError, match="content_down >= 3"):
        build_content_encoder(64, ch=4, n_down=2)


def test_aux_nets_shapes_and_round_trip(tmp_path):
    size, ch, n_down, domains = 32, 4, 3, 3
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    enc = build_content_encoder(size, ch=ch, n_down=n_down)
    style = build_style_encoder(size, ch=ch, n_down=n_down)
    dec = build_decoder(size, domains, ch=ch, n_down=n_down)
    cls = build_domain_classifier(size, domains, n_down=n_down)
    code = enc(x)[-1]
    styles = style(x)
    assert [tuple(s.shape) for s in styles] == [(2, 1, 1, ch), (2, 1, 1, ch)]
    labels = ops.convert_to_tensor(np.array([0, 2], "int32"))
    image, mask = dec([code, labels, *styles])
    assert tuple(image.shape) == (2, size, size, 3) and tuple(mask.shape) == (2, 8, 8, 1)
    assert tuple(cls(code).shape) == (2, domains)
    path = tmp_path / "dec.keras"
    dec.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again([code, labels, *styles])[0], image, atol=1e-6)
