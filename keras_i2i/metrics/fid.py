"""FID and KID from feature vectors (numpy only).

FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium"): the Frechet distance between Gaussians fitted to two feature
sets, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``.

KID (Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased squared MMD with the
cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets
(clean-FID's protocol: 100 subsets of ``min(1000, n_fake, n_real)`` images each), with
its standard deviation over the subsets.
"""

from __future__ import annotations

import numpy as np

from keras_i2i.metrics.base import MEAN, mean_row, register_metric

KID_SUBSETS = 100
KID_MAX_SUBSET = 1000


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((S1 S2)^(1/2))`` for covariance matrices: the eigenvalues of ``S1 S2`` are
    those of the symmetric ``S1^(1/2) S2 S1^(1/2)``, so no general matrix square root
    (and no imaginary parts) is needed."""
    root = _sqrt_psd(np.asarray(sigma1, np.float64))
    inner = root @ np.asarray(sigma2, np.float64) @ root
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``(N, D)`` features."""
    features = np.asarray(features, np.float64)
    if len(features) < 2:
        raise ValueError("FID needs at least 2 images per set.")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID of two feature sets. With fewer images than dimensions the covariances have low
    rank and ``tr((S1 S2)^(1/2))`` is the nuclear norm of ``A1 A2^T / sqrt((n1-1)(n2-1))``
    (``A`` the centered features): an ``n1 x n2`` SVD instead of ``D x D`` eigenproblems,
    with the same value."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    n1, n2, d = len(f1), len(f2), f1.shape[1]
    if n1 < 2 or n2 < 2:
        raise ValueError("FID needs at least 2 images per set.")
    if min(n1, n2) >= d:
        return frechet_distance(*feature_stats(f1), *feature_stats(f2))
    mu1, mu2 = f1.mean(0), f2.mean(0)
    a1, a2 = f1 - mu1, f2 - mu2
    tr1 = float((a1 * a1).sum()) / (n1 - 1)
    tr2 = float((a2 * a2).sum()) / (n2 - 1)
    cross = np.linalg.svd(a1 @ a2.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    diff = mu1 - mu2
    return float(max(diff @ diff + tr1 + tr2 - 2.0 * cross, 0.0))


def kid_from_features(f1: np.ndarray, f2: np.ndarray, subset_size: int | None = None, subsets: int = KID_SUBSETS,
                      seed: int = 0) -> tuple[float, float, int]:
    """``(mean, std, subset_size)`` of the unbiased squared MMD over random subsets.

    The subset size is ``subset_size`` (default 1000) capped at ``min(n1, n2)``. When the
    subsets are the whole of both sets every draw is the same: one is computed and the
    standard deviation is 0 (give a smaller ``subset_size`` for a spread)."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    n1, n2, d = len(f1), len(f2), f1.shape[1]
    largest = min(n1, n2)
    size = min(KID_MAX_SUBSET if subset_size is None else int(subset_size), largest)
    if size < 2:
        raise ValueError(f"KID needs subsets of at least 2 images; got {size} (sets of {n1} and {n2}).")
    if size == n1 == n2:
        subsets = 1
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = f1[rng.choice(n1, size, replace=False)]
        y = f2[rng.choice(n2, size, replace=False)]
        kxx = (x @ x.T / d + 1.0) ** 3
        kyy = (y @ y.T / d + 1.0) ** 3
        kxy = (x @ y.T / d + 1.0) ** 3
        values[i] = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (size * (size - 1)) \
            - 2.0 * kxy.mean()
    return float(values.mean()), float(values.std()), size


@register_metric("fid", higher_is_better=False,
                 description="Frechet Inception Distance of translated images to the reference set (lower is better)")
def fid(ev) -> dict:
    rows = {d: {"fid": fid_from_features(ev.features("fake", d), ev.features("reference", d))}
            for d in ev.directions}
    rows[MEAN] = mean_row(rows, ["fid"])
    return rows


@register_metric("kid", higher_is_better=False,
                 description="Kernel Inception Distance (unbiased MMD^2, cubic kernel) with its std over subsets")
def kid(ev) -> dict:
    rows = {}
    for d in ev.directions:
        mean, std, size = kid_from_features(ev.features("fake", d), ev.features("reference", d),
                                            subset_size=ev.options.get("kid_subset_size"), seed=ev.seed)
        rows[d] = {"kid": mean, "kid_std": std, "kid_subset_size": size}
    rows[MEAN] = mean_row(rows, ["kid"])
    return rows
