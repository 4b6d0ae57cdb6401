"""Loss functions: adversarial objectives, reconstruction distances and perceptual ones
(:func:`lpips`, :func:`perceptual`, from :mod:`keras_i2i.perceptual`).

Every function returns the mean over the batch and all other axes, in float32, so
that a model can divide by the number of replicas to make the gradient sum across
replicas equal the gradient of the global-batch mean.
"""

from __future__ import annotations

from keras import ops

from keras_i2i.perceptual import LPIPS, lpips, perceptual  # noqa: F401  (perceptual distances on VGG features)
from keras_i2i.registry import Registry

GAN_LOSSES: Registry = Registry("gan loss")


def _f32(x):
    return ops.cast(x, "float32")


@GAN_LOSSES.register("lsgan")
def lsgan_loss(logits, target_is_real: bool, for_discriminator: bool = True):
    """Least-squares GAN: mean((D(x) - target)^2) with targets 1 and 0 (Mao et al. 2017)."""
    logits = _f32(logits)
    target = 1.0 if target_is_real else 0.0
    return ops.mean(ops.square(logits - target))


@GAN_LOSSES.register("vanilla")
def vanilla_loss(logits, target_is_real: bool, for_discriminator: bool = True):
    """The original GAN cross-entropy on logits (Goodfellow et al. 2014); for the
    generator this is the non-saturating form."""
    logits = _f32(logits)
    target = 1.0 if target_is_real else 0.0
    # Stable binary cross-entropy with logits: max(x, 0) - x * t + log(1 + exp(-|x|)).
    return ops.mean(ops.relu(logits) - logits * target + ops.log1p(ops.exp(-ops.abs(logits))))


@GAN_LOSSES.register("hinge")
def hinge_loss(logits, target_is_real: bool, for_discriminator: bool = True):
    """Hinge loss (Lim & Ye 2017): D minimizes relu(1 - D(real)) + relu(1 + D(fake));
    G minimizes -D(fake)."""
    logits = _f32(logits)
    if not for_discriminator:
        return -ops.mean(logits) if target_is_real else ops.mean(logits)
    if target_is_real:
        return ops.mean(ops.relu(1.0 - logits))
    return ops.mean(ops.relu(1.0 + logits))


@GAN_LOSSES.register("wgangp")
def wgan_loss(logits, target_is_real: bool, for_discriminator: bool = True):
    """Wasserstein critic loss: -mean(D(real)) + mean(D(fake)); pair it with a
    gradient penalty in the model."""
    logits = _f32(logits)
    return -ops.mean(logits) if target_is_real else ops.mean(logits)


def l1_loss(x, y):
    return ops.mean(ops.abs(_f32(x) - _f32(y)))


def l2_loss(x, y):
    return ops.mean(ops.square(_f32(x) - _f32(y)))


def r1_penalty(discriminator, real, gamma: float, every: int = 1, step=None, training: bool = True):
    """R1 gradient penalty on real images (Mescheder et al. 2018), lazy as in StyleGAN2:
    ``gamma / 2 * E_x ||grad_x D(x)||^2``, computed only on steps where ``step % every ==
    0`` and then multiplied by ``every`` (so that its average weight is unchanged); 0 on
    the other steps.

    Call it inside the discriminator's ``GradientTape`` and add it to the discriminator's
    loss: the inner gradient is recorded, so the outer tape differentiates through it. A
    discriminator with several outputs per image (PatchGAN) has the gradient of their
    sum. The penalty is in float32 whatever the precision policy.

    Args:
        discriminator: a callable image batch -> logits (a Keras model).
        real: a batch of real images, NHWC.
        gamma: the penalty weight (StyleGAN2: 10 at 1024 px; GP-UNIT / StarGAN v2: 1).
        every: apply it every ``every`` steps (StyleGAN2: 16).
        step: the step counter (a scalar tensor); None applies it every call.
        training: passed to the discriminator.

    Reference:
        Mescheder et al., "Which Training Methods for GANs do actually Converge?", ICML 2018.
        Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
    """
    import tensorflow as tf

    def penalty():
        x = tf.convert_to_tensor(real)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = ops.sum(_f32(discriminator(x, training=training)))
        grads = _f32(tape.gradient(total, x))
        squared = ops.sum(ops.square(grads), axis=tuple(range(1, len(grads.shape))))
        return 0.5 * float(gamma) * int(every) * ops.mean(squared)

    if step is None or int(every) == 1:
        return penalty()
    return tf.cond(ops.equal(ops.mod(ops.cast(step, "int64"), int(every)), 0), penalty,
                   lambda: tf.zeros((), "float32"))
