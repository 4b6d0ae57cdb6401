"""Spectrally normalized convolution, dense and embedding layers, as BigGAN uses them.

Each layer keeps its weight unnormalized (``kernel`` / ``embeddings``, PyTorch's
``weight``) and two non-trainable states: ``u``, the left singular vector estimate of
shape ``(1, outputs)`` (PyTorch BigGAN's ``u0``), and ``sv``, the last singular value
estimate (``sv0``, kept for logging). Every call runs one step of the power iteration
from the stored ``u`` and divides the weight by the singular value it gives; in training
the new ``u`` and ``sv`` are stored (one update per forward pass, as BigGAN-PyTorch does),
at inference they are not. ``u`` and ``v`` are constants for the gradient; the singular
value ``v W^T u`` is not. So weights imported from BigGAN-PyTorch compute what PyTorch
computes in ``train()`` and ``eval()`` mode alike.

The weight matrix is PyTorch's ``weight.view(outputs, -1)``; a Keras kernel
``(kh, kw, in, out)`` reshaped to ``(-1, out)`` is its transpose with permuted rows,
which changes neither ``u`` nor the singular value.

With ``sn_inference="stored"`` a layer computes what ``torch.nn.utils.spectral_norm``
computes: it also keeps ``v`` (1, inputs) (PyTorch's ``weight_v``, rows in the Keras
kernel's order); training runs the same power-iteration step and stores ``u`` and ``v``;
inference runs none and divides by ``u W v`` from the stored vectors (PyTorch's
``eval()``), so imported weights whose ``u``, ``v`` lag their last update compute exactly
what PyTorch computes. The networks set it on all their layers (:func:`set_sn_inference`).

Reference:
    Miyato et al., "Spectral Normalization for Generative Adversarial Networks",
    ICLR 2018. https://arxiv.org/abs/1802.05957; Brock et al., "Large Scale GAN
    Training for High Fidelity Natural Image Synthesis", ICLR 2019 (BigGAN-PyTorch's
    ``layers.SN``).
"""

from __future__ import annotations

import math

import keras
from keras import ops


def _l2_normalize(x, eps):
    """``torch.nn.functional.normalize``: ``x / max(||x||, eps)`` over the last axis."""
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)), eps)


def power_iteration(w_t, u, eps: float = 1e-6):
    """One power-iteration step for the top singular value of ``W`` (given as its
    transpose ``w_t``, shape ``(inputs, outputs)``) from the estimate ``u`` ``(1, outputs)``.

    Returns ``(sigma, u_new)``: ``v = normalize(u W)``, ``u_new = normalize(v W^T)``,
    ``sigma = v W^T u_new^T``, with ``u`` and ``v`` held constant for the gradient.
    """
    w_const = ops.stop_gradient(w_t)
    v = _l2_normalize(ops.matmul(u, ops.transpose(w_const)), eps)
    u_new = ops.stop_gradient(_l2_normalize(ops.matmul(v, w_const), eps))
    v = ops.stop_gradient(v)
    sigma = ops.sum(ops.matmul(v, w_t) * u_new)
    return sigma, u_new


def one_hot_lookup(table, labels):
    """``table[labels]`` as a one-hot matrix product: exact, with a dense gradient (which
    gradient accumulation can sum, unlike a gather's ``IndexedSlices``) and no gather in
    the graph (XLA recompiled gathers every step)."""
    onehot = ops.one_hot(ops.cast(labels, "int32"), ops.shape(table)[0], dtype=table.dtype)
    return ops.matmul(onehot, table)


@keras.saving.register_keras_serializable(package="keras_i2i")
class OneHotEmbedding(keras.layers.Embedding):
    """``keras.layers.Embedding`` looked up by :func:`one_hot_lookup` (BigGAN's shared
    class embedding)."""

    def call(self, inputs):
        return one_hot_lookup(ops.cast(self.embeddings, self.compute_dtype), inputs)


#: how a spectral norm's singular value is found at inference: ``power_iteration`` (one
#: step from the stored ``u``, BigGAN-PyTorch's ``layers.SN``) or ``stored`` (``u W v``
#: from the stored ``u`` and ``v``, ``torch.nn.utils.spectral_norm``)
SN_INFERENCE = ("power_iteration", "stored")


def set_sn_inference(network, mode: str) -> None:
    """Set ``sn_inference`` (see :data:`SN_INFERENCE`) on every spectral-norm layer inside
    ``network``; call before the layers are built."""
    if mode not in SN_INFERENCE:
        raise ValueError(f"sn_inference {mode!r} is not one of {', '.join(SN_INFERENCE)}.")
    for layer in network._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, _SpectralNorm):
            if layer.built and layer.sn_inference != mode:
                raise ValueError(f"{layer.name} is built; set sn_inference before building it.")
            layer.sn_inference = mode


class _SpectralNorm:
    """The ``u``/``sv`` (and, stored, ``v``) state, the ``sn_epsilon`` and ``sn_inference``
    arguments and the normalization shared by the three layers."""

    def __init__(self, *args, sn_epsilon: float = 1e-6, sn_inference: str = "power_iteration", **kwargs):
        # Under a mixed policy the weights are read in float32 (the power iteration and the
        # normalized weight in float32, cast to the compute dtype after), never autocast.
        kwargs.setdefault("autocast", False)
        super().__init__(*args, **kwargs)
        self.sn_epsilon = float(sn_epsilon)
        if sn_inference not in SN_INFERENCE:
            raise ValueError(f"sn_inference {sn_inference!r} is not one of {', '.join(SN_INFERENCE)}.")
        self.sn_inference = sn_inference

    def get_config(self):
        return {**super().get_config(), "sn_epsilon": self.sn_epsilon, "sn_inference": self.sn_inference}

    def _build_sn(self, outputs: int, inputs: int):
        self.u = self.add_weight(name="u", shape=(1, outputs), initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                 trainable=False, aggregation="only_first_replica")
        self.sv = self.add_weight(name="sv", shape=(1,), initializer="ones", trainable=False,
                                  aggregation="only_first_replica")
        if self.sn_inference == "stored":
            self.v = self.add_weight(name="v", shape=(1, inputs), initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                     trainable=False, aggregation="only_first_replica")

    # Conv2D, Dense and Embedding save only their kernel and bias in .keras files: save
    # and load every own variable (u and sv too), as keras.layers.Layer does.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def _normalized(self, weight, w_t, training):
        u, w_t = ops.cast(self.u, "float32"), ops.cast(w_t, "float32")
        stored = self.sn_inference == "stored"
        if stored and not training:  # torch.nn.utils.spectral_norm in eval(): u W v, no iteration
            sigma = ops.sum(ops.matmul(ops.cast(self.v, "float32"), w_t) * u)
            return ops.cast(ops.cast(weight, "float32") / sigma, self.compute_dtype)
        sigma, u_new = power_iteration(w_t, u, self.sn_epsilon)
        if training:
            self.u.assign(u_new)
            self.sv.assign(ops.reshape(ops.stop_gradient(sigma), (1,)))
            if stored:  # the v of this step (power_iteration's, from the old u)
                self.v.assign(_l2_normalize(ops.matmul(u, ops.transpose(ops.stop_gradient(w_t))), self.sn_epsilon))
        return ops.cast(ops.cast(weight, "float32") / sigma, self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_i2i")
class SNConv2D(_SpectralNorm, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose kernel is divided by its spectral norm (see the module).

    Args:
        sn_epsilon: the power iteration's normalization floor (BigGAN's ``SN_eps``; its
            published configs use 1e-6).
        **kwargs: ``keras.layers.Conv2D``'s.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self._build_sn(self.filters, math.prod(self.kernel.shape[:-1]))

    def call(self, inputs, training=False):
        kernel = self._normalized(self.kernel, ops.reshape(self.kernel, (-1, self.filters)), training)
        outputs = ops.conv(inputs, kernel, strides=self.strides, padding=self.padding,
                           dilation_rate=self.dilation_rate, data_format=self.data_format)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs


@keras.saving.register_keras_serializable(package="keras_i2i")
class SNDense(_SpectralNorm, keras.layers.Dense):
    """``keras.layers.Dense`` whose kernel is divided by its spectral norm (see the module).

    Args:
        sn_epsilon: the power iteration's normalization floor.
        **kwargs: ``keras.layers.Dense``'s.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self._build_sn(self.units, self.kernel.shape[0])

    def call(self, inputs, training=False):
        outputs = ops.matmul(inputs, self._normalized(self.kernel, self.kernel, training))
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs


@keras.saving.register_keras_serializable(package="keras_i2i")
class SNEmbedding(_SpectralNorm, keras.layers.Embedding):
    """``keras.layers.Embedding`` whose table is divided by its spectral norm, the table's
    rows (one per class) being the outputs, as BigGAN-PyTorch's ``SNEmbedding``.

    Args:
        sn_epsilon: the power iteration's normalization floor.
        **kwargs: ``keras.layers.Embedding``'s.
    """

    def build(self, input_shape=None):
        super().build(input_shape)
        self._build_sn(self.input_dim, self.output_dim)

    def call(self, inputs, training=False):
        table = self._normalized(self.embeddings, ops.transpose(self.embeddings), training)
        return one_hot_lookup(table, inputs)


__all__ = ["OneHotEmbedding", "SNConv2D", "SNDense", "SNEmbedding", "SN_INFERENCE", "one_hot_lookup", "power_iteration",
           "set_sn_inference"]
