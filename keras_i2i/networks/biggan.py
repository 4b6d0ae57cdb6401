"""BigGAN's generator and discriminator (Brock et al. 2019), as BigGAN-PyTorch builds them.

Widths and resolutions follow the reference's ``G_arch``/``D_arch`` tables (``arch[32]``,
``arch[64]``, ``arch[128]``, ``arch[256]``, channel multipliers of ``ch``); attention is
added after each block whose table resolution is listed in ``attention`` (the tables'
resolutions, quirks included: ``D_arch[32]`` lists 16 for all four blocks). Every
convolution, linear map and the discriminator's class embedding is spectrally
normalized; weights start orthogonal.

For DeepI2I (which reuses both networks): :meth:`BigGANDiscriminator.features` returns
every block's output, and :class:`BigGANGenerator` takes ``adds``, one tensor (or None)
per block, added to that block's output at its resolution.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_i2i.layers.attention import SelfAttention
from keras_i2i.layers.batch_norm import ConditionalBatchNorm, StoredBatchNorm
from keras_i2i.layers.spectral_norm import OneHotEmbedding, SNConv2D, SNDense, SNEmbedding, set_sn_inference

#: resolution -> (in multipliers, out multipliers, block output resolutions) of G
G_ARCH = {
    32: ((4, 4, 4), (4, 4, 4), (8, 16, 32)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2), (8, 16, 32, 64)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1), (8, 16, 32, 64, 128)),
    256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1), (8, 16, 32, 64, 128, 256)),
}
#: resolution -> (in multipliers (0: the RGB input), out multipliers, downsample, table resolutions) of D
D_ARCH = {
    32: ((0, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False), (16, 16, 16, 16)),
    64: ((0, 1, 2, 4, 8), (1, 2, 4, 8, 16), (True, True, True, True, False), (32, 16, 8, 4, 4)),
    128: ((0, 1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 16), (True,) * 5 + (False,), (64, 32, 16, 8, 4, 4)),
    256: ((0, 1, 2, 4, 8, 8, 16), (1, 2, 4, 8, 8, 16, 16), (True,) * 6 + (False,), (128, 64, 32, 16, 8, 4, 4)),
}
RESOLUTIONS = tuple(sorted(G_ARCH))
BOTTOM_WIDTH = 4


def _ortho(seed):
    return keras.initializers.Orthogonal(seed=seed)


class _Blocks:
    """``blocks`` and ``attentions`` (None where a block has none) read from the attributes
    ``block0``, ``attention1`` ... : each layer has one path, which ``tf.train.Checkpoint``
    and ``.keras`` files follow (layers inside Python lists they do not)."""

    @property
    def blocks(self):
        return [getattr(self, f"block{i}") for i in range(self.num_blocks)]

    @property
    def attentions(self):
        return [getattr(self, f"attention{i}", None) for i in range(self.num_blocks)]

    def _add_block(self, i, block, attention):
        setattr(self, f"block{i}", block)
        if attention is not None:
            setattr(self, f"attention{i}", attention)


def _upsample(x):
    """2x nearest-neighbour up-sampling (PyTorch's ``F.interpolate(scale_factor=2)``) as one
    4-D resize: ``repeat`` made 5-D tensors in TFLite, which its GPU delegate rejects."""
    shape = ops.shape(x)
    return ops.image.resize(x, (shape[1] * 2, shape[2] * 2), interpolation="nearest")


@keras.saving.register_keras_serializable(package="keras_i2i")
class GBlock(keras.layers.Layer):
    """Up-sampling residual block: ``conv2(relu(bn2(conv1(up(relu(bn1(x, c)))), c))) + conv_sc(up(x))``.

    Args:
        in_channels, out_channels: widths.
        sn_epsilon, bn_epsilon: spectral-norm and batch-norm epsilons.
        seed: seed of the orthogonal initializers.
    """

    def __init__(self, in_channels: int, out_channels: int, sn_epsilon: float = 1e-6, bn_epsilon: float = 1e-5,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.sn_epsilon, self.bn_epsilon, self.seed = float(sn_epsilon), float(bn_epsilon), seed
        sub = (lambda i: None if seed is None else seed + i)
        self.bn1 = ConditionalBatchNorm(self.in_channels, bn_epsilon, sn_epsilon=sn_epsilon,
                                        kernel_initializer=_ortho(sub(1)), name="bn1")
        self.conv1 = SNConv2D(self.out_channels, 3, padding="same", sn_epsilon=sn_epsilon,
                              kernel_initializer=_ortho(sub(2)), name="conv1")
        self.bn2 = ConditionalBatchNorm(self.out_channels, bn_epsilon, sn_epsilon=sn_epsilon,
                                        kernel_initializer=_ortho(sub(3)), name="bn2")
        self.conv2 = SNConv2D(self.out_channels, 3, padding="same", sn_epsilon=sn_epsilon,
                              kernel_initializer=_ortho(sub(4)), name="conv2")
        self.conv_sc = SNConv2D(self.out_channels, 1, sn_epsilon=sn_epsilon, kernel_initializer=_ortho(sub(5)),
                                name="conv_sc")

    def call(self, x, c, training=False):
        h = ops.relu(self.bn1(x, c, training=training))
        h = self.conv1(_upsample(h), training=training)
        h = ops.relu(self.bn2(h, c, training=training))
        h = self.conv2(h, training=training)
        return h + self.conv_sc(_upsample(x), training=training)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "sn_epsilon": self.sn_epsilon, "bn_epsilon": self.bn_epsilon, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_i2i")
class DBlock(keras.layers.Layer):
    """Down-sampling residual block: ``avgpool(conv2(relu(conv1(relu?(x))))) + shortcut(x)``;
    the shortcut is ``avgpool(conv_sc(x))`` after a pre-activation, ``conv_sc(avgpool(x))``
    in the first block (no pre-activation), as the reference.

    Args:
        in_channels, out_channels: widths.
        downsample: halve the side with 2x2 average pooling.
        preactivation: ReLU on the input (every block but the first).
        sn_epsilon: spectral-norm epsilon.
        seed: seed of the orthogonal initializers.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True, preactivation: bool = True,
                 sn_epsilon: float = 1e-6, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.downsample, self.preactivation = bool(downsample), bool(preactivation)
        self.sn_epsilon, self.seed = float(sn_epsilon), seed
        sub = (lambda i: None if seed is None else seed + i)
        self.conv1 = SNConv2D(self.out_channels, 3, padding="same", sn_epsilon=sn_epsilon,
                              kernel_initializer=_ortho(sub(1)), name="conv1")
        self.conv2 = SNConv2D(self.out_channels, 3, padding="same", sn_epsilon=sn_epsilon,
                              kernel_initializer=_ortho(sub(2)), name="conv2")
        self.learnable_sc = self.in_channels != self.out_channels or self.downsample
        self.conv_sc = SNConv2D(self.out_channels, 1, sn_epsilon=sn_epsilon, kernel_initializer=_ortho(sub(3)),
                                name="conv_sc") if self.learnable_sc else None

    def _pool(self, x):
        return ops.average_pool(x, 2, 2) if self.downsample else x

    def call(self, x, training=False):
        h = ops.relu(x) if self.preactivation else x
        h = self.conv2(ops.relu(self.conv1(h, training=training)), training=training)
        h = self._pool(h)
        if self.preactivation:
            sc = self.conv_sc(x, training=training) if self.learnable_sc else x
            sc = self._pool(sc)
        else:
            sc = self._pool(x)
            sc = self.conv_sc(sc, training=training) if self.learnable_sc else sc
        return h + sc

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "downsample": self.downsample, "preactivation": self.preactivation, "sn_epsilon": self.sn_epsilon,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_i2i")
class BigGANGenerator(_Blocks, keras.Model):
    """BigGAN's class-conditional generator with a hierarchical latent.

    ``z`` is split into ``len(blocks) + 1`` equal chunks: the first goes through a linear
    map to a ``4 x 4`` map of ``ch * in[0]`` channels; block ``i`` is conditioned (through
    its conditional batch norms) on ``[shared(label), chunk i+1]``, ``shared`` a class
    embedding (not spectrally normalized) shared by all blocks. Up-sampling residual
    blocks, self-attention after the blocks at ``attention`` resolutions, then batch
    norm, ReLU, a 3x3 convolution to RGB and tanh.

    Args:
        num_classes: classes (domains).
        resolution: output side (32, 64, 128 or 256).
        ch: width multiplier (BigGAN ``G_ch``; 96 at 128 px).
        dim_z: latent size (rounded down to a multiple of the chunk count; 120 at 128 px).
        shared_dim: class embedding size (128).
        attention: resolutions with self-attention (64 at 128 px).
        sn_epsilon, bn_epsilon: epsilons (1e-6, 1e-5).
        seed: seed of the initializers.
        sn_inference: how every spectral norm finds its singular value at inference
            (``power_iteration``, BigGAN-PyTorch's; ``stored``, ``torch.nn.utils.spectral_norm``'s;
            see :mod:`keras_i2i.layers.spectral_norm`).

    Reference:
        Brock et al., "Large Scale GAN Training for High Fidelity Natural Image
        Synthesis", ICLR 2019. https://arxiv.org/abs/1809.11096
    """

    def __init__(self, num_classes: int, resolution: int = 128, ch: int = 96, dim_z: int = 120, shared_dim: int = 128,
                 attention=(64,), sn_epsilon: float = 1e-6, bn_epsilon: float = 1e-5, seed=None,
                 sn_inference: str = "power_iteration", **kwargs):
        super().__init__(**kwargs)
        if resolution not in G_ARCH:
            raise ValueError(f"BigGAN has no architecture for {resolution} px; use one of {RESOLUTIONS}.")
        self.num_classes, self.resolution, self.ch = int(num_classes), int(resolution), int(ch)
        self.shared_dim, self.attention = int(shared_dim), tuple(int(a) for a in attention)
        self.sn_epsilon, self.bn_epsilon, self.seed = float(sn_epsilon), float(bn_epsilon), seed
        ins, outs, resolutions = G_ARCH[self.resolution]
        self.num_slots = len(ins) + 1
        self.z_chunk = int(dim_z) // self.num_slots
        if self.z_chunk < 1:
            raise ValueError(f"dim_z {dim_z} is less than the {self.num_slots} chunks it is split into.")
        self.dim_z = self.z_chunk * self.num_slots
        self.block_resolutions = resolutions
        self.block_channels = tuple(self.ch * m for m in outs)
        sub = (lambda i: None if seed is None else seed + 100 * i)
        self.shared = OneHotEmbedding(self.num_classes, self.shared_dim, embeddings_initializer=_ortho(sub(1)),
                                             name="shared")
        self.linear = SNDense(self.ch * ins[0] * BOTTOM_WIDTH ** 2, sn_epsilon=sn_epsilon,
                              kernel_initializer=_ortho(sub(2)), name="linear")
        self.num_blocks = len(ins)
        for i, (cin, cout, res) in enumerate(zip(ins, outs, resolutions)):
            self._add_block(i, GBlock(self.ch * cin, self.ch * cout, sn_epsilon, bn_epsilon, seed=sub(3 + i),
                                      name=f"block{i}"),
                            SelfAttention(self.ch * cout, sn_epsilon, kernel_initializer=_ortho(sub(50 + i)),
                                          name=f"attention{i}") if res in self.attention else None)
        self.output_bn = StoredBatchNorm(bn_epsilon, name="output_bn")
        self.output_conv = SNConv2D(3, 3, padding="same", sn_epsilon=sn_epsilon, kernel_initializer=_ortho(sub(99)),
                                    name="output_conv")
        self.sn_inference = sn_inference
        set_sn_inference(self, sn_inference)

    def build_from_config(self, config):
        self.build_all()

    def build_all(self):
        """Create every weight (one call on zeros, at inference: no state changes)."""
        self(ops.zeros((1, self.dim_z)), ops.zeros((1,), "int32"))
        return self

    @property
    def class_tables(self) -> list:
        """The layers with one row per class (the shared class embedding): ``init_from``
        maps their rows from a source of another label space (``model.init_from_class_map``)."""
        return [self.shared]

    def call(self, z, labels, training=False, adds=None, bottom=None):
        return self.synthesize(z, self.shared(ops.cast(labels, "int32")), training=training, adds=adds,
                               bottom=bottom)

    def synthesize(self, z, y, training=False, adds=None, bottom=None):
        """The image of latent ``z`` ``(B, dim_z)`` and class embedding ``y`` ``(B, shared_dim)``
        (``shared(label)``, or a mix of classes); ``adds[i]``, when given, is added to block
        ``i``'s output, ``bottom`` to the ``4 x 4`` map from the linear layer (DeepI2I)."""
        chunks = ops.split(ops.cast(z, self.compute_dtype), self.num_slots, axis=1)
        y = ops.cast(y, self.compute_dtype)
        h = self.linear(chunks[0], training=training)
        # PyTorch's view(B, C, 4, 4): channels first, then to NHWC.
        h = ops.transpose(ops.reshape(h, (-1, self.ch * G_ARCH[self.resolution][0][0], BOTTOM_WIDTH, BOTTOM_WIDTH)),
                          (0, 2, 3, 1))
        if bottom is not None:
            h = h + ops.cast(bottom, h.dtype)
        for i, block in enumerate(self.blocks):
            h = block(h, ops.concatenate([y, chunks[i + 1]], axis=1), training=training)
            if self.attentions[i] is not None:
                h = self.attentions[i](h, training=training)
            if adds is not None and adds[i] is not None:
                h = h + ops.cast(adds[i], h.dtype)
        h = ops.relu(self.output_bn(h, training=training))
        return ops.tanh(self.output_conv(h, training=training))

    def get_config(self):
        return {"num_classes": self.num_classes, "resolution": self.resolution, "ch": self.ch, "dim_z": self.dim_z,
                "shared_dim": self.shared_dim, "attention": list(self.attention), "sn_epsilon": self.sn_epsilon,
                "bn_epsilon": self.bn_epsilon, "seed": self.seed, "sn_inference": self.sn_inference, "name": self.name}


@keras.saving.register_keras_serializable(package="keras_i2i")
class BigGANDiscriminator(_Blocks, keras.Model):
    """BigGAN's projection discriminator: spectrally normalized down-sampling residual
    blocks (self-attention after those at ``attention`` resolutions), ReLU, global sum
    pooling to ``h``, then ``linear(h) + <embed(label), h>``.

    Args:
        num_classes: classes (domains).
        resolution: input side (32, 64, 128 or 256).
        ch: width multiplier (BigGAN ``D_ch``; 96 at 128 px).
        attention: table resolutions with self-attention (64 at 128 px).
        sn_epsilon: spectral-norm epsilon (1e-6).
        seed: seed of the initializers.
        sn_inference: as :class:`BigGANGenerator`'s.

    Reference:
        Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018; Brock et al.,
        ICLR 2019.
    """

    def __init__(self, num_classes: int, resolution: int = 128, ch: int = 96, attention=(64,),
                 sn_epsilon: float = 1e-6, seed=None, sn_inference: str = "power_iteration", **kwargs):
        super().__init__(**kwargs)
        if resolution not in D_ARCH:
            raise ValueError(f"BigGAN has no architecture for {resolution} px; use one of {RESOLUTIONS}.")
        self.num_classes, self.resolution, self.ch = int(num_classes), int(resolution), int(ch)
        self.attention, self.sn_epsilon, self.seed = tuple(int(a) for a in attention), float(sn_epsilon), seed
        ins, outs, downs, resolutions = D_ARCH[self.resolution]
        sub = (lambda i: None if seed is None else seed + 100 * i)
        self.num_blocks = len(ins)
        for i, (cin, cout, down, res) in enumerate(zip(ins, outs, downs, resolutions)):
            self._add_block(i, DBlock(self.ch * cin if cin else 3, self.ch * cout, down, preactivation=i > 0,
                                      sn_epsilon=sn_epsilon, seed=sub(1 + i), name=f"block{i}"),
                            SelfAttention(self.ch * cout, sn_epsilon, kernel_initializer=_ortho(sub(50 + i)),
                                          name=f"attention{i}") if res in self.attention else None)
        self.block_channels = tuple(self.ch * m for m in outs)
        self.linear = SNDense(1, sn_epsilon=sn_epsilon, kernel_initializer=_ortho(sub(98)), name="linear")
        self.embed = SNEmbedding(self.num_classes, self.ch * outs[-1], sn_epsilon=sn_epsilon,
                                 embeddings_initializer=_ortho(sub(99)), name="embed")
        self.sn_inference = sn_inference
        set_sn_inference(self, sn_inference)

    def build_from_config(self, config):
        self.build_all()

    def build_all(self):
        """Create every weight (one call on zeros, at inference: no state changes)."""
        self(ops.zeros((1, self.resolution, self.resolution, 3)), ops.zeros((1,), "int32"))
        return self

    @property
    def class_tables(self) -> list:
        """The layers with one row per class (the projection's class embedding): ``init_from``
        maps their rows from a source of another label space (``model.init_from_class_map``)."""
        return [self.embed]

    def features(self, x, training=False):
        """Every block's output (after its self-attention), first to last."""
        out, h = [], x
        for block, attention in zip(self.blocks, self.attentions):
            h = block(h, training=training)
            if attention is not None:
                h = attention(h, training=training)
            out.append(h)
        return out

    def call(self, x, labels, training=False):
        h = ops.sum(ops.relu(self.features(x, training=training)[-1]), axis=(1, 2))
        projection = ops.sum(self.embed(labels, training=training) * h, axis=1, keepdims=True)
        return self.linear(h, training=training) + projection

    def get_config(self):
        return {"num_classes": self.num_classes, "resolution": self.resolution, "ch": self.ch,
                "attention": list(self.attention), "sn_epsilon": self.sn_epsilon, "seed": self.seed,
                "sn_inference": self.sn_inference, "name": self.name}


__all__ = ["BigGANDiscriminator", "BigGANGenerator", "DBlock", "D_ARCH", "GBlock", "G_ARCH", "RESOLUTIONS"]
