"""A small PyTorch BigGAN for the import tests, written from the BigGAN paper and the
state-dict layout of BigGAN-PyTorch (ajbrock/BigGAN-PyTorch: ``layers.SN`` keeps the
unnormalized ``weight`` with buffers ``u0`` (1, outputs) and ``sv0``; one power-iteration
step per forward pass, stored only in ``train()`` mode; ``ccbn``/``bn`` keep
``stored_mean``/``stored_var``; module paths ``shared``, ``linear``, ``blocks.i.0``,
``blocks.i.1``, ``output_layer.0/.2``, D's ``linear`` and ``embed``). Test code only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from keras_i2i.networks.biggan import D_ARCH, G_ARCH


class _SN:
    """Spectral norm state and the normalized weight (weight matrix = weight.view(out, -1))."""

    def _init_sn(self, outputs, eps):
        self.sn_eps = eps
        self.register_buffer("u0", torch.randn(1, outputs))
        self.register_buffer("sv0", torch.ones(1))

    def normalized_weight(self):
        w = self.weight.view(self.weight.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(self.u0 @ w, eps=self.sn_eps)
            u = F.normalize(v @ w.t(), eps=self.sn_eps)
        sigma = ((v @ w.t()) @ u.t()).squeeze()
        if self.training:
            with torch.no_grad():
                self.u0.copy_(u)
                self.sv0.copy_(sigma.detach().view(1))
        return self.weight / sigma


class SNConv2d(nn.Conv2d, _SN):
    def __init__(self, cin, cout, k=3, bias=True, eps=1e-6):
        nn.Conv2d.__init__(self, cin, cout, k, padding=k // 2, bias=bias)
        self._init_sn(cout, eps)

    def forward(self, x):
        return F.conv2d(x, self.normalized_weight(), self.bias, padding=self.padding)


class SNLinear(nn.Linear, _SN):
    def __init__(self, cin, cout, bias=True, eps=1e-6):
        nn.Linear.__init__(self, cin, cout, bias=bias)
        self._init_sn(cout, eps)

    def forward(self, x):
        return F.linear(x, self.normalized_weight(), self.bias)


class SNEmbedding(nn.Embedding, _SN):
    def __init__(self, n, dim, eps=1e-6):
        nn.Embedding.__init__(self, n, dim)
        self._init_sn(n, eps)

    def forward(self, y):
        return F.embedding(y, self.normalized_weight())


class CCBN(nn.Module):
    def __init__(self, channels, cond, eps=1e-5, sn_eps=1e-6):
        super().__init__()
        self.gain = SNLinear(cond, channels, bias=False, eps=sn_eps)
        self.bias = SNLinear(cond, channels, bias=False, eps=sn_eps)
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x, c):
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps)
        return out * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class BN(nn.Module):
    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x):
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1, self.eps)


class Attention(nn.Module):
    def __init__(self, ch, eps=1e-6):
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, bias=False, eps=eps)
        self.phi = SNConv2d(ch, ch // 8, 1, bias=False, eps=eps)
        self.g = SNConv2d(ch, ch // 2, 1, bias=False, eps=eps)
        self.o = SNConv2d(ch // 2, ch, 1, bias=False, eps=eps)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        b, _, h, w = x.shape
        theta = self.theta(x).view(b, self.ch // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(b, self.ch // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(b, self.ch // 2, h * w // 4)
        attn = F.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (b, hw, hw/4)
        o = self.o((g @ attn.transpose(1, 2)).view(b, self.ch // 2, h, w))
        return x + self.gamma * o


class GBlock(nn.Module):
    def __init__(self, cin, cout, cond, eps):
        super().__init__()
        self.bn1, self.bn2 = CCBN(cin, cond, sn_eps=eps), CCBN(cout, cond, sn_eps=eps)
        self.conv1, self.conv2 = SNConv2d(cin, cout, eps=eps), SNConv2d(cout, cout, eps=eps)
        self.conv_sc = SNConv2d(cin, cout, 1, eps=eps)

    def forward(self, x, c):
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    def __init__(self, cin, cout, down, pre, eps):
        super().__init__()
        self.down, self.pre = down, pre
        self.conv1, self.conv2 = SNConv2d(cin, cout, eps=eps), SNConv2d(cout, cout, eps=eps)
        self.learnable = cin != cout or down
        if self.learnable:
            self.conv_sc = SNConv2d(cin, cout, 1, eps=eps)

    def forward(self, x):
        h = F.relu(x) if self.pre else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.pre:
            sc = self.conv_sc(sc) if self.learnable else sc
            sc = F.avg_pool2d(sc, 2) if self.down else sc
        else:
            sc = F.avg_pool2d(sc, 2) if self.down else sc
            sc = self.conv_sc(sc) if self.learnable else sc
        return h + sc


class Generator(nn.Module):
    def __init__(self, n_classes, resolution=32, ch=4, dim_z=20, shared_dim=8, attention=(16,), eps=1e-6):
        super().__init__()
        ins, outs, res = G_ARCH[resolution]
        self.slots = len(ins) + 1
        self.chunk = dim_z // self.slots
        self.c0 = ch * ins[0]
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(self.chunk, self.c0 * 16, eps=eps)
        self.blocks = nn.ModuleList()
        for cin, cout, r in zip(ins, outs, res):
            parts = [GBlock(ch * cin, ch * cout, shared_dim + self.chunk, eps)]
            if r in attention:
                parts.append(Attention(ch * cout, eps))
            self.blocks.append(nn.ModuleList(parts))
        self.output_layer = nn.Sequential(BN(ch * outs[-1]), nn.ReLU(), SNConv2d(ch * outs[-1], 3, eps=eps))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                nn.init.orthogonal_(m.weight)

    def forward(self, z, y):
        zs = torch.split(z, self.chunk, 1)
        e = self.shared(y)
        h = self.linear(zs[0]).view(z.shape[0], self.c0, 4, 4)
        for i, parts in enumerate(self.blocks):
            h = parts[0](h, torch.cat([e, zs[i + 1]], 1))
            for extra in parts[1:]:
                h = extra(h)
        return torch.tanh(self.output_layer(h))


class Discriminator(nn.Module):
    def __init__(self, n_classes, resolution=32, ch=4, attention=(16,), eps=1e-6):
        super().__init__()
        ins, outs, downs, res = D_ARCH[resolution]
        self.blocks = nn.ModuleList()
        for i, (cin, cout, down, r) in enumerate(zip(ins, outs, downs, res)):
            parts = [DBlock(ch * cin if cin else 3, ch * cout, down, i > 0, eps)]
            if r in attention:
                parts.append(Attention(ch * cout, eps))
            self.blocks.append(nn.ModuleList(parts))
        self.linear = SNLinear(ch * outs[-1], 1, eps=eps)
        self.embed = SNEmbedding(n_classes, ch * outs[-1], eps=eps)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                nn.init.orthogonal_(m.weight)

    def forward(self, x, y):
        h = x
        for parts in self.blocks:
            for part in parts:
                h = part(h)
        h = torch.sum(F.relu(h), [2, 3])
        return self.linear(h) + torch.sum(self.embed(y) * h, 1, keepdim=True)


def randomize(net, seed=0):
    """Random biases, gains, attention gammas and batch-norm statistics (initialization
    leaves them 0/1, which would hide mapping errors); a few training-mode passes set u0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias") or name.endswith("gain") or name.endswith("gamma"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if name.endswith("output_layer.0.gain") else 0))
        for name, b in net.named_buffers():
            if name.endswith("stored_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("stored_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return net


def use_torch_spectral_norm(net):
    """Every spectrally normalized module of ``net`` switched to ``torch.nn.utils.spectral_norm``
    from its current weight (state dict: ``weight_orig``, ``weight_u``, ``weight_v``; one power
    iteration per training forward pass, none in ``eval()``, which divides by ``u W v``)."""
    for module in list(net.modules()):
        if isinstance(module, _SN):
            del module._buffers["u0"], module._buffers["sv0"]
            torch.nn.utils.spectral_norm(module)
            module.normalized_weight = (lambda m=module: m.weight)
    return net
