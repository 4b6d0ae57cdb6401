"""Gradient reversal: identity on the way forward, negated gradient on the way back."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_i2i")
class GradientReversal(keras.layers.Layer):
    """Passes its input through unchanged and multiplies the incoming gradient by
    ``-scale``.

    Put between a feature extractor and a domain classifier, one backward pass trains
    the classifier to tell the domains apart and the extractor to make them
    indistinguishable (the features' gradient of the classifier's loss is reversed).
    It has no weights and never appears in an exported translator.

    Args:
        scale: factor of the reversed gradient (``lambda`` in the reference); 0 blocks
            the gradient, negative values pass it on unreversed.

    Reference:
        Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation",
        ICML 2015. https://arxiv.org/abs/1409.7495
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        scale = self.scale

        @ops.custom_gradient
        def reverse(x):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return ops.multiply(upstream, ops.cast(-scale, upstream.dtype))

            return ops.copy(x), grad

        return reverse(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
