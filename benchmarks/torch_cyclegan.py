"""CycleGAN reference networks and training step in PyTorch, for benchmarks and weight-import tests.

A from-scratch re-implementation of the architecture of the official CycleGAN/pix2pix
code (junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py`` and
``models/cycle_gan_model.py``), layer for layer, so that

- ``state_dict()`` key names are the reference's (``model.1.weight``,
  ``model.10.conv_block.1.weight``, ``model.model.1.model.3.weight``, ``net.0.weight``
  ...), and checkpoints of the reference load with ``load_state_dict``;
- the functions computed are the reference's, including its in-place activations;
- :class:`TorchCycleGAN.optimize_parameters` is one training iteration of the
  reference's ``CycleGANModel.optimize_parameters``.

Reference naming is kept: ``netG_A`` maps A -> B (keras-i2i ``gen_a2b``), ``netG_B``
maps B -> A (``gen_b2a``), ``netD_A`` judges domain B images (keras-i2i ``disc_b``)
and ``netD_B`` judges domain A images (``disc_a``).

Tensors are NCHW float in [-1, 1].

Run ``python benchmarks/torch_cyclegan.py`` for a self-check (parameter counts,
output shapes, one training step).
"""

from __future__ import annotations

import functools
import itertools
import math
import random

import torch
from torch import nn

__all__ = [
    "GANLoss",
    "ImagePool",
    "NLayerDiscriminator",
    "PixelDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "TorchCycleGAN",
    "UnetGenerator",
    "UnetSkipConnectionBlock",
    "count_parameters",
    "define_D",
    "define_G",
    "get_norm_layer",
    "init_weights",
]


# ----------------------------------------------------------------------------- helpers
def get_norm_layer(norm_type: str = "instance"):
    """Norm layer factory (``channels -> nn.Module``) for ``instance|batch|none``.

    Instance norm has no affine parameters and no running statistics (statistics of
    the current image in train and eval mode); batch norm is affine and tracks
    running statistics; ``none`` is the identity.
    """
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm_type == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"Unknown norm {norm_type!r}; known: instance, batch, none")


def _uses_bias(norm_layer) -> bool:
    # Convolutions followed by instance norm keep their bias (instance norm has no
    # offset); before batch norm (which has one) they drop it. ``none`` -> no bias,
    # as in the reference (its test compares the partial's func to InstanceNorm2d).
    return isinstance(norm_layer, functools.partial) and norm_layer.func is nn.InstanceNorm2d


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Initialize like the reference: conv / linear weights ~ N(0, gain) (or xavier,
    kaiming, orthogonal), biases 0; BatchNorm2d weight ~ N(1, gain), bias 0."""

    def init_fn(m):
        name = type(m).__name__
        if hasattr(m, "weight") and m.weight is not None and ("Conv" in name or "Linear" in name):
            if init_type == "normal":
                nn.init.normal_(m.weight, 0.0, init_gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(m.weight, gain=init_gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif init_type == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=init_gain)
            else:
                raise ValueError(f"Unknown init_type {init_type!r}")
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight, 1.0, init_gain)
            nn.init.zeros_(m.bias)

    with torch.no_grad():
        net.apply(init_fn)
    return net


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ----------------------------------------------------------------------------- generators
class ResnetBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x)."""

    def __init__(self, dim: int, padding_type: str, norm_layer, use_dropout: bool, use_bias: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for second in (False, True):
            p = 0
            if padding_type == "reflect":
                layers.append(nn.ReflectionPad2d(1))
            elif padding_type == "replicate":
                layers.append(nn.ReplicationPad2d(1))
            elif padding_type == "zero":
                p = 1
            else:
                raise ValueError(f"Unknown padding_type {padding_type!r}")
            layers += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm_layer(dim)]
            if not second:
                layers.append(nn.ReLU(True))
                if use_dropout:
                    layers.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


def _binomial(size: int) -> torch.Tensor:
    row = torch.tensor([float(math.comb(size - 1, k)) for k in range(size)])
    kernel = row[:, None] * row[None, :]
    return kernel / kernel.sum()


class Downsample(nn.Module):
    """CUT's anti-aliased downsampling: reflection pad 1, then a depthwise 3x3 binomial
    blur ([1, 2, 1] x [1, 2, 1] / 16) with stride 2. The filter is a buffer ``filt``
    of shape (channels, 1, 3, 3), so it appears in the state dict."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.register_buffer("filt", _binomial(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        return nn.functional.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """CUT's anti-aliased upsampling: replication pad 1, a depthwise transposed
    convolution with the 4x4 binomial filter times 4 (stride 2, padding 2), then the
    first row/column and the last row/column dropped; output 2H x 2W."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReplicationPad2d(1)
        self.register_buffer("filt", (_binomial(4) * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        y = nn.functional.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=x.shape[1])
        return y[:, :, 1:-1, 1:-1]


class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 3x3 downsamplings, ``n_blocks`` residual blocks, two
    stride-2 3x3 transposed convolutions (padding 1, output_padding 1), c7s1-out, tanh.

    ``self.model`` indices (9 blocks): 0 pad, 1 conv, 2 norm, 3 relu, 4/7 down convs,
    10..18 blocks, 19/22 transposed convs, 25 pad, 26 conv, 27 tanh.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm_layer=None,
                 use_dropout: bool = False, n_blocks: int = 6, padding_type: str = "reflect",
                 antialias: bool = False):
        if n_blocks < 0:
            raise ValueError("n_blocks must be >= 0")
        super().__init__()
        norm_layer = norm_layer or get_norm_layer("batch")
        use_bias = _uses_bias(norm_layer)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        n_downsampling = 2
        for i in range(n_downsampling):
            cin = ngf * 2**i
            layers += [
                nn.Conv2d(cin, cin * 2, kernel_size=3, stride=1 if antialias else 2, padding=1, bias=use_bias),
                norm_layer(cin * 2),
                nn.ReLU(True),
            ]
            if antialias:  # CUT: stride-1 conv, norm, ReLU, then the blur downsampling
                layers.append(Downsample(cin * 2))
        dim = ngf * 2**n_downsampling
        layers += [
            ResnetBlock(dim, padding_type=padding_type, norm_layer=norm_layer, use_dropout=use_dropout,
                        use_bias=use_bias)
            for _ in range(n_blocks)
        ]
        for i in range(n_downsampling):
            cin = ngf * 2 ** (n_downsampling - i)
            if antialias:  # CUT: upsampling filter, then a stride-1 3x3 conv
                layers += [Upsample(cin), nn.Conv2d(cin, cin // 2, kernel_size=3, padding=1, bias=use_bias)]
            else:
                layers.append(nn.ConvTranspose2d(cin, cin // 2, kernel_size=3, stride=2, padding=1, output_padding=1,
                                                 bias=use_bias))
            layers += [norm_layer(cin // 2), nn.ReLU(True)]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: x -> [down, submodule, up] and (except outermost) cat(x, that).

    As in the reference, the non-outermost levels start with an in-place LeakyReLU,
    so the skip tensor concatenated in ``forward`` is LeakyReLU(x), not x (the
    in-place op rewrites ``x`` before ``torch.cat`` reads it).
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None, submodule=None,
                 outermost: bool = False, innermost: bool = False, norm_layer=None, use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        norm_layer = norm_layer or get_norm_layer("batch")
        use_bias = _uses_bias(norm_layer)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` stride-2 levels (7: 128x128 -> 1x1, 8: 256x256 -> 1x1)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm_layer=None, use_dropout: bool = False):
        super().__init__()
        if num_downs < 5:
            raise ValueError("num_downs must be >= 5")
        norm_layer = norm_layer or get_norm_layer("batch")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=None, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer,
                                            use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm_layer=norm_layer)

    def forward(self, x):
        return self.model(x)


# ----------------------------------------------------------------------------- discriminators
class NLayerDiscriminator(nn.Module):
    """PatchGAN: 4x4 convs with padding 1; ``n_layers`` stride-2 convs (the first
    without norm), one stride-1 conv, a 1-channel stride-1 conv; LeakyReLU 0.2.
    ``n_layers=3`` is the 70x70 PatchGAN (256x256 -> 30x30 logits)."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or get_norm_layer("batch")
        use_bias = _uses_bias(norm_layer)
        kw, padw = 4, 1
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
            norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, kernel_size=kw, stride=1, padding=padw),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: 1x1 convs ndf, 2ndf (norm), 1; LeakyReLU 0.2."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or get_norm_layer("batch")
        use_bias = _uses_bias(norm_layer)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias),
            norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias),
        )

    def forward(self, x):
        return self.net(x)


# ----------------------------------------------------------------------------- factories
def define_G(netG: str = "resnet_9blocks", input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
             norm: str = "instance", use_dropout: bool = False, init_type: str = "normal",
             init_gain: float = 0.02) -> nn.Module:
    """A generator by reference name (``resnet_9blocks|resnet_6blocks|unet_256|unet_128``, or
    ``cut_resnet``: CUT's default anti-aliased ResNet-9), initialized."""
    norm_layer = get_norm_layer(norm)
    if netG in ("resnet_9blocks", "resnet_6blocks", "cut_resnet"):
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout,
                              n_blocks=6 if netG == "resnet_6blocks" else 9, antialias=netG == "cut_resnet")
    elif netG in ("unet_256", "unet_128"):
        net = UnetGenerator(input_nc, output_nc, 8 if netG == "unet_256" else 7, ngf, norm_layer=norm_layer,
                            use_dropout=use_dropout)
    else:
        raise ValueError(f"Unknown generator {netG!r}")
    return init_weights(net, init_type, init_gain)


def define_D(netD: str = "basic", input_nc: int = 3, ndf: int = 64, n_layers_D: int = 3, norm: str = "instance",
             init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """A discriminator by reference name (``basic`` = ``patchgan`` 70x70, ``n_layers``, ``pixel``), initialized."""
    norm_layer = get_norm_layer(norm)
    if netD in ("basic", "patchgan"):
        net = NLayerDiscriminator(input_nc, ndf, n_layers=3, norm_layer=norm_layer)
    elif netD == "n_layers":
        net = NLayerDiscriminator(input_nc, ndf, n_layers_D, norm_layer=norm_layer)
    elif netD == "pixel":
        net = PixelDiscriminator(input_nc, ndf, norm_layer=norm_layer)
    else:
        raise ValueError(f"Unknown discriminator {netD!r}")
    return init_weights(net, init_type, init_gain)


# ----------------------------------------------------------------------------- training
class GANLoss(nn.Module):
    """``lsgan``: MSE to 1/0; ``vanilla``: BCE with logits; ``wgangp``: -mean/+mean."""

    def __init__(self, gan_mode: str = "lsgan", target_real_label: float = 1.0, target_fake_label: float = 0.0):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(target_real_label))
        self.register_buffer("fake_label", torch.tensor(target_fake_label))
        self.gan_mode = gan_mode
        if gan_mode == "lsgan":
            self.loss = nn.MSELoss()
        elif gan_mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        elif gan_mode == "wgangp":
            self.loss = None
        else:
            raise ValueError(f"Unknown gan_mode {gan_mode!r}")

    def forward(self, prediction, target_is_real: bool):
        if self.gan_mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        target = (self.real_label if target_is_real else self.fake_label).to(prediction.dtype)
        return self.loss(prediction, target.expand_as(prediction))


class ImagePool:
    """History of generated images (Shrivastava et al. 2017), as the reference: while
    not full, store and return each image; then with probability 1/2 return a stored
    image and put the new one in its slot, else return the new image. Draws come from
    a private ``random.Random(seed)`` (the reference uses the global ``random``)."""

    def __init__(self, pool_size: int = 50, seed: int | None = None):
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.detach().unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif self.rng.uniform(0, 1) > 0.5:
                slot = self.rng.randint(0, self.pool_size - 1)
                out.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


class TorchCycleGAN(nn.Module):
    """The reference ``CycleGANModel`` (training part): two generators, two
    discriminators, image pools, GAN / cycle / identity losses, two Adam optimizers.

    Args:
        generator, discriminator: reference names (see :func:`define_G`, :func:`define_D`).
        lambda_A, lambda_B: cycle-loss weights (10). lambda_identity: identity weight
            relative to them (0.5).
        lr, beta1, beta2: Adam (2e-4, 0.5, 0.999).
        autocast_dtype: run forward passes under ``torch.autocast(device type, dtype)``
            (bf16 / fp16 benchmarks; fp16 scales the losses with a ``GradScaler``);
            ``None`` is float32, as the reference.
        seed: seeds ``torch.manual_seed`` (weights) and the image pools.
        device: where the networks live (``"cpu"``, ``"cuda"``); the inputs of
            :meth:`optimize_parameters` must be on it too.
    """

    def __init__(self, generator: str = "resnet_9blocks", discriminator: str = "basic", ngf: int = 64,
                 ndf: int = 64, n_layers_D: int = 3, norm: str = "instance", use_dropout: bool = False,
                 init_gain: float = 0.02, gan_mode: str = "lsgan", lambda_A: float = 10.0, lambda_B: float = 10.0,
                 lambda_identity: float = 0.5, pool_size: int = 50, lr: float = 2e-4, beta1: float = 0.5,
                 beta2: float = 0.999, autocast_dtype: torch.dtype | None = None, seed: int = 0,
                 device: str | torch.device = "cpu"):
        super().__init__()
        torch.manual_seed(seed)
        g = dict(ngf=ngf, norm=norm, use_dropout=use_dropout, init_gain=init_gain)
        d = dict(ndf=ndf, n_layers_D=n_layers_D, norm=norm, init_gain=init_gain)
        self.netG_A = define_G(generator, **g)  # A -> B
        self.netG_B = define_G(generator, **g)  # B -> A
        self.netD_A = define_D(discriminator, **d)  # judges domain B (fake_B)
        self.netD_B = define_D(discriminator, **d)  # judges domain A (fake_A)
        self.lambda_A, self.lambda_B, self.lambda_identity = lambda_A, lambda_B, lambda_identity
        self.fake_A_pool = ImagePool(pool_size, seed=2 * seed)
        self.fake_B_pool = ImagePool(pool_size, seed=2 * seed + 1)
        self.criterionGAN = GANLoss(gan_mode)
        self.criterionCycle = nn.L1Loss()
        self.criterionIdt = nn.L1Loss()
        self.optimizer_G = torch.optim.Adam(
            itertools.chain(self.netG_A.parameters(), self.netG_B.parameters()), lr=lr, betas=(beta1, beta2))
        self.optimizer_D = torch.optim.Adam(
            itertools.chain(self.netD_A.parameters(), self.netD_B.parameters()), lr=lr, betas=(beta1, beta2))
        self.autocast_dtype = autocast_dtype
        self.device_type = torch.device(device).type
        self.scaler = torch.amp.GradScaler(self.device_type) if autocast_dtype == torch.float16 else None
        self.to(device)  # before the first step: Adam's state is created on the parameters' device
        self.train()

    # -- the reference's steps ------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return torch.autocast(self.device_type, enabled=False)
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)

    @staticmethod
    def set_requires_grad(nets, requires_grad: bool):
        for net in nets:
            for p in net.parameters():
                p.requires_grad = requires_grad

    def forward(self, real_A, real_B):
        self.real_A, self.real_B = real_A, real_B
        with self._autocast():
            self.fake_B = self.netG_A(real_A)
            self.rec_A = self.netG_B(self.fake_B)
            self.fake_A = self.netG_B(real_B)
            self.rec_B = self.netG_A(self.fake_A)
        return self.fake_B, self.rec_A, self.fake_A, self.rec_B

    def _backward(self, loss):
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def _step(self, optimizer):
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def backward_G(self):
        with self._autocast():
            if self.lambda_identity > 0:
                self.idt_A = self.netG_A(self.real_B)
                self.loss_idt_A = self.criterionIdt(self.idt_A, self.real_B) * self.lambda_B * self.lambda_identity
                self.idt_B = self.netG_B(self.real_A)
                self.loss_idt_B = self.criterionIdt(self.idt_B, self.real_A) * self.lambda_A * self.lambda_identity
            else:
                self.loss_idt_A = self.loss_idt_B = torch.zeros(())
            self.loss_G_A = self.criterionGAN(self.netD_A(self.fake_B), True)
            self.loss_G_B = self.criterionGAN(self.netD_B(self.fake_A), True)
            self.loss_cycle_A = self.criterionCycle(self.rec_A, self.real_A) * self.lambda_A
            self.loss_cycle_B = self.criterionCycle(self.rec_B, self.real_B) * self.lambda_B
            self.loss_G = (self.loss_G_A + self.loss_G_B + self.loss_cycle_A + self.loss_cycle_B
                           + self.loss_idt_A + self.loss_idt_B)
        self._backward(self.loss_G)

    def backward_D_basic(self, netD, real, fake):
        with self._autocast():
            loss_real = self.criterionGAN(netD(real), True)
            loss_fake = self.criterionGAN(netD(fake.detach()), False)
            loss_D = (loss_real + loss_fake) * 0.5
        self._backward(loss_D)
        return loss_D

    def backward_D_A(self):
        fake_B = self.fake_B_pool.query(self.fake_B)
        self.loss_D_A = self.backward_D_basic(self.netD_A, self.real_B, fake_B)

    def backward_D_B(self):
        fake_A = self.fake_A_pool.query(self.fake_A)
        self.loss_D_B = self.backward_D_basic(self.netD_B, self.real_A, fake_A)

    def optimize_parameters(self, real_A, real_B) -> dict[str, float]:
        """One training iteration: forward, G step (D frozen), D step. Returns the losses."""
        self.forward(real_A, real_B)
        self.set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self._step(self.optimizer_G)
        self.set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        self.backward_D_A()
        self.backward_D_B()
        self._step(self.optimizer_D)
        if self.scaler is not None:
            self.scaler.update()
        return self.current_losses()

    def current_losses(self) -> dict[str, float]:
        names = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
        return {name: float(getattr(self, "loss_" + name).detach()) for name in names}


# ----------------------------------------------------------------------------- self-check
def _self_check() -> None:
    expected = {"resnet_9blocks": 11_378_179, "resnet_6blocks": 7_837_699}
    for name, n in expected.items():
        got = count_parameters(define_G(name))
        assert got == n, f"{name}: {got:,} parameters, expected {n:,}"
        print(f"{name}: {got:,} parameters")
    for name in ("unet_128", "unet_256"):
        print(f"{name}: {count_parameters(define_G(name)):,} parameters")
    for name in ("basic", "pixel"):
        print(f"D {name}: {count_parameters(define_D(name)):,} parameters")
    keys = list(define_G("resnet_9blocks").state_dict())
    assert keys[:2] == ["model.1.weight", "model.1.bias"], keys[:2]
    assert "model.10.conv_block.1.weight" in keys and keys[-1] == "model.26.bias", keys[-4:]
    assert list(define_D("basic").state_dict())[0] == "model.0.weight"
    assert list(define_D("pixel").state_dict())[0] == "net.0.weight"
    assert "model.model.1.model.3.model.1.weight" in define_G("unet_128").state_dict()

    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        for name in ("resnet_6blocks", "unet_128"):
            y = define_G(name)(x)
            assert y.shape == x.shape and y.abs().max() <= 1, (name, y.shape)
        assert define_D("basic")(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
        assert define_D("pixel")(x).shape == (1, 1, 128, 128)

    model = TorchCycleGAN("resnet_6blocks", pool_size=2)
    d_before = model.netD_A.model[0].weight.detach().clone()
    losses = [model.optimize_parameters(x, torch.rand(1, 3, 128, 128) * 2 - 1) for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(list(step.values()))).all() for step in losses), losses
    assert not torch.equal(d_before, model.netD_A.model[0].weight)
    assert len(model.fake_A_pool.images) == 2
    print("one step:", {k: round(v, 4) for k, v in losses[0].items()})
    print("self-check OK")


if __name__ == "__main__":
    _self_check()
