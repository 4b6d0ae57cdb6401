"""Batch norm as BigGAN uses it: PyTorch's statistics, and class-conditional gain and bias.

Both layers normalize NHWC tensors with the batch's mean and (biased) variance in
training, updating stored statistics as ``torch.nn.functional.batch_norm`` does
(momentum 0.1, the stored variance unbiased); at inference they use the stored ones.
The statistics are ``stored_mean`` / ``stored_var`` (BigGAN-PyTorch's buffer names).
"""

from __future__ import annotations

import keras
from keras import ops


class _Stored(keras.layers.Layer):
    def __init__(self, epsilon: float = 1e-5, momentum: float = 0.1, **kwargs):
        # Statistics, gain and bias in float32 under a mixed policy (read without autocast;
        # the output is cast to the compute dtype).
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)

    def _build_stats(self, channels: int):
        self.stored_mean = self.add_weight(name="stored_mean", shape=(channels,), initializer="zeros",
                                           trainable=False, aggregation="mean")
        self.stored_var = self.add_weight(name="stored_var", shape=(channels,), initializer="ones",
                                          trainable=False, aggregation="mean")

    def _normalize(self, x, training):
        x32 = ops.cast(x, "float32")
        if training:
            mean = ops.mean(x32, axis=(0, 1, 2))
            var = ops.mean(ops.square(x32 - mean), axis=(0, 1, 2))
            n = ops.cast(ops.prod(ops.shape(x32)[:3]), "float32")
            unbiased = var * n / ops.maximum(n - 1.0, 1.0)
            m = self.momentum
            self.stored_mean.assign((1.0 - m) * self.stored_mean + m * ops.stop_gradient(mean))
            self.stored_var.assign((1.0 - m) * self.stored_var + m * ops.stop_gradient(unbiased))
        else:
            mean, var = self.stored_mean, self.stored_var
        return (x32 - mean) * ops.rsqrt(var + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "momentum": self.momentum}


@keras.saving.register_keras_serializable(package="keras_i2i")
class StoredBatchNorm(_Stored):
    """Batch norm with a learned per-channel ``gain`` and ``bias`` (BigGAN's ``layers.bn``,
    before the generator's output convolution).

    Args:
        epsilon: added to the variance (BigGAN's ``BN_eps``, 1e-5).
        momentum: weight of the batch in the stored statistics (PyTorch's 0.1).
    """

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.gain = self.add_weight(name="gain", shape=(channels,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")
        self._build_stats(channels)

    def call(self, x, training=False):
        return ops.cast(self._normalize(x, training) * self.gain + self.bias, self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_i2i")
class ConditionalBatchNorm(_Stored):
    """Class-conditional batch norm (BigGAN's ``ccbn``): ``BN(x) * (1 + gain(c)) + bias(c)``,
    with ``gain`` and ``bias`` linear maps (spectrally normalized, no bias) of a
    conditioning vector ``c`` (the shared class embedding and a latent chunk).

    Args:
        channels: channels of ``x``.
        epsilon: added to the variance (1e-5).
        momentum: weight of the batch in the stored statistics (0.1).
        sn_epsilon: the linear maps' spectral-norm epsilon.
        kernel_initializer: of the linear maps (BigGAN: orthogonal).

    Reference:
        de Vries et al., "Modulating early visual processing by language", NeurIPS 2017;
        Brock et al., "Large Scale GAN Training for High Fidelity Natural Image
        Synthesis", ICLR 2019.
    """

    def __init__(self, channels: int, epsilon: float = 1e-5, momentum: float = 0.1, sn_epsilon: float = 1e-6,
                 kernel_initializer="orthogonal", **kwargs):
        super().__init__(epsilon=epsilon, momentum=momentum, **kwargs)
        from keras_i2i.layers.spectral_norm import SNDense

        self.channels = int(channels)
        self.sn_epsilon = float(sn_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.gain = SNDense(self.channels, use_bias=False, sn_epsilon=sn_epsilon,
                            kernel_initializer=self.kernel_initializer, name="gain")
        self.bias = SNDense(self.channels, use_bias=False, sn_epsilon=sn_epsilon,
                            kernel_initializer=self.kernel_initializer, name="bias")

    def build(self, x_shape, c_shape=None):
        self._build_stats(self.channels)
        if c_shape is not None:
            self.gain.build(c_shape)
            self.bias.build(c_shape)

    def call(self, x, c, training=False):
        gain = 1.0 + ops.cast(self.gain(c, training=training), "float32")
        bias = ops.cast(self.bias(c, training=training), "float32")
        out = self._normalize(x, training) * gain[:, None, None, :] + bias[:, None, None, :]
        return ops.cast(out, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "sn_epsilon": self.sn_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


__all__ = ["ConditionalBatchNorm", "StoredBatchNorm"]
