"""PSNR and SSIM of each translation against its true target, for data with true pairs
(files of the same name in the source and target folders, such as the bundled emoji set,
which pairs glyphs by code point). Numpy only; they follow ``tf.image.psnr`` and
``tf.image.ssim`` (Gaussian window 11, sigma 1.5, k1 0.01, k2 0.03, valid filtering,
averaged over pixels then channels) on uint8 images (max value 255), per image, then
averaged over the pairs.
"""

from __future__ import annotations

import numpy as np

from keras_i2i.metrics.base import MEAN, mean_row, register_metric


def psnr(x: np.ndarray, y: np.ndarray, max_val: float = 255.0) -> np.ndarray:
    """Per-image PSNR (dB) of two ``(N, H, W, C)`` batches (``inf`` for identical images)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mse = ((x - y) ** 2).reshape(len(x), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(max_val) - 10.0 * np.log10(mse)


def _gaussian(size: int, sigma: float) -> np.ndarray:
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (coords / sigma) ** 2)
    return g / g.sum()


def _filter(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of ``(N, H, W, C)`` over H and W."""
    k = len(kernel)
    x = np.lib.stride_tricks.sliding_window_view(x, k, axis=1) @ kernel
    return np.lib.stride_tricks.sliding_window_view(x, k, axis=2) @ kernel


def ssim(x: np.ndarray, y: np.ndarray, max_val: float = 255.0, filter_size: int = 11, filter_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
    """Per-image SSIM of two ``(N, H, W, C)`` batches (Wang et al. 2004), as ``tf.image.ssim``."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if min(x.shape[1:3]) < filter_size:
        raise ValueError(f"SSIM needs images of at least {filter_size}x{filter_size}; got {x.shape[1:3]}.")
    kernel = _gaussian(filter_size, filter_sigma)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu_x, mu_y = _filter(x, kernel), _filter(y, kernel)
    num0 = 2.0 * mu_x * mu_y
    den0 = mu_x**2 + mu_y**2
    luminance = (num0 + c1) / (den0 + c1)
    num1 = 2.0 * _filter(x * y, kernel)
    den1 = _filter(x * x + y * y, kernel)
    cs = (num1 - num0 + c2) / (den1 - den0 + c2)
    return (luminance * cs).mean(axis=(1, 2)).mean(axis=-1)


def _paired(ev, name: str, fn) -> dict:
    rows = {}
    for d in ev.directions:
        pairs = ev.pairs(d)
        if pairs is None:
            rows[d] = {name: None, f"{name}_note": "no true pairs (no target file of the same name)"}
            continue
        fake, target = pairs
        values = fn(fake, target)
        rows[d] = {name: float(np.mean(values)), "pairs": len(values)}
    rows[MEAN] = mean_row(rows, [name])
    return rows


@register_metric("psnr", higher_is_better=True,
                 description="PSNR (dB) of each translation against its true target (paired data only)",
                 needs_features=False)
def psnr_metric(ev) -> dict:
    return _paired(ev, "psnr", psnr)


@register_metric("ssim", higher_is_better=True,
                 description="SSIM of each translation against its true target (paired data only)",
                 needs_features=False)
def ssim_metric(ev) -> dict:
    return _paired(ev, "ssim", ssim)
