"""Self-attention over the positions of a feature map (SAGAN's non-local block)."""

from __future__ import annotations

import keras
from keras import ops

from keras_i2i.layers.spectral_norm import SNConv2D


@keras.saving.register_keras_serializable(package="keras_i2i")
class SelfAttention(keras.layers.Layer):
    """``x + gamma * o(softmax(theta(x) phi(x)^T) g(x))`` with 1x1 spectrally normalized
    convolutions (no bias): ``theta``, ``phi`` to ``channels // 8``, ``g`` to
    ``channels // 2``, ``phi`` and ``g`` max-pooled 2x2, and ``gamma`` a learned scalar
    that starts at 0, as BigGAN-PyTorch's ``layers.Attention``. Needs an even side.

    Args:
        channels: channels of the input (at least 8).
        sn_epsilon: the convolutions' spectral-norm epsilon.
        kernel_initializer: of the convolutions (BigGAN: orthogonal).

    Reference:
        Zhang et al., "Self-Attention Generative Adversarial Networks", ICML 2019.
        https://arxiv.org/abs/1805.08318
    """

    def __init__(self, channels: int, sn_epsilon: float = 1e-6, kernel_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        if self.channels < 8:
            raise ValueError(f"SelfAttention needs at least 8 channels, got {self.channels}.")
        self.sn_epsilon = float(sn_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        def conv(filters, name):
            return SNConv2D(filters, 1, use_bias=False, sn_epsilon=sn_epsilon,
                            kernel_initializer=self.kernel_initializer, name=name)

        self.theta = conv(self.channels // 8, "theta")
        self.phi = conv(self.channels // 8, "phi")
        self.g = conv(self.channels // 2, "g")
        self.o = conv(self.channels, "o")

    def build(self, input_shape):
        self.theta.build(input_shape)
        self.phi.build(input_shape)
        self.g.build(input_shape)
        self.o.build((*input_shape[:-1], self.channels // 2))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

    def call(self, x, training=False):
        shape = ops.shape(x)
        b, h, w = shape[0], shape[1], shape[2]
        c8, c2 = self.channels // 8, self.channels // 2
        theta = ops.reshape(self.theta(x, training=training), (b, h * w, c8))
        phi = ops.reshape(ops.max_pool(self.phi(x, training=training), 2, 2), (b, (h // 2) * (w // 2), c8))
        g = ops.reshape(ops.max_pool(self.g(x, training=training), 2, 2), (b, (h // 2) * (w // 2), c2))
        beta = ops.softmax(ops.matmul(theta, ops.transpose(phi, (0, 2, 1))), axis=-1)
        o = self.o(ops.reshape(ops.matmul(beta, g), (b, h, w, c2)), training=training)
        return x + ops.cast(self.gamma, o.dtype) * o

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "sn_epsilon": self.sn_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


__all__ = ["SelfAttention"]
