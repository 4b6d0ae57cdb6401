"""RC and FC: how recognisable translated images are to a domain classifier.

As in DeepI2I (Wang et al. 2020, "DeepI2I: Enabling Deep Hierarchical Image-to-Image
Translation by Transferring from GANs"), after Shmelkov et al. 2018 ("How good is my
GAN?"):

- RC: a classifier of the domains trained on real images (the train split) is applied to
  the translated images; RC is the fraction assigned to their target domain. The
  ``mean`` row averages the directions, i.e. the class-balanced accuracy.
- FC: a classifier trained on translated images (the train split of each source domain
  translated, labelled with its target domain) is applied to the real evaluation images
  of every domain; FC is its class-balanced accuracy. It needs translations into every
  domain (both directions), so it has only a ``mean`` row.

The classifier is multinomial logistic regression (L2, full-batch Adam, fixed steps) on
the standardized feature vectors of :mod:`keras_i2i.metrics.features`: a linear probe,
deterministic and cheap enough to run during training.
"""

from __future__ import annotations

import numpy as np

from keras_i2i.metrics.base import MEAN, register_metric


class LinearClassifier:
    """Softmax regression on standardized features.

    Args:
        l2: weight decay on the weights (not the biases).
        steps: full-batch Adam steps.
        learning_rate: Adam step size.
    """

    def __init__(self, l2: float = 1e-3, steps: int = 300, learning_rate: float = 0.05):
        self.l2, self.steps, self.learning_rate = float(l2), int(steps), float(learning_rate)

    def fit(self, features: np.ndarray, labels: np.ndarray, n_classes: int) -> "LinearClassifier":
        x = np.asarray(features, np.float64)
        labels = np.asarray(labels, np.int64)
        self.mean = x.mean(0)
        self.scale = x.std(0) + 1e-8
        x = (x - self.mean) / self.scale
        n, d = x.shape
        onehot = np.eye(n_classes)[labels]
        # weight each sample so that every class counts the same
        counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
        sample_w = (n / (n_classes * np.maximum(counts, 1)))[labels][:, None] / n
        w, b = np.zeros((d, n_classes)), np.zeros(n_classes)
        m = [np.zeros_like(w), np.zeros_like(b)]
        v = [np.zeros_like(w), np.zeros_like(b)]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for t in range(1, self.steps + 1):
            logits = x @ w + b
            logits -= logits.max(1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(1, keepdims=True)
            g = (p - onehot) * sample_w
            grads = [x.T @ g + self.l2 * w, g.sum(0)]
            for i, (param, grad) in enumerate(zip((w, b), grads)):
                m[i] = beta1 * m[i] + (1 - beta1) * grad
                v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                step = self.learning_rate * (m[i] / (1 - beta1**t)) / (np.sqrt(v[i] / (1 - beta2**t)) + eps)
                param -= step
        self.w, self.b = w, b
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, np.float64) - self.mean) / self.scale
        return np.argmax(x @ self.w + self.b, axis=1)


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present of the fraction of their samples predicted right."""
    labels = np.asarray(labels)
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in np.unique(labels)]))


@register_metric("rc", higher_is_better=True,
                 description="Real-trained domain classifier's accuracy on translated images (target domain)")
def rc(ev) -> dict:
    domains = ev.domains
    features, labels = [], []
    for domain in domains:
        f = ev.features("real_train", domain)
        features.append(f)
        labels.append(np.full(len(f), domains.index(domain)))
    classifier = LinearClassifier().fit(np.concatenate(features), np.concatenate(labels), len(domains))
    rows = {}
    for d in ev.directions:
        target = domains.index(ev.target(d))
        rows[d] = {"rc": float(np.mean(classifier.predict(ev.features("fake", d)) == target))}
    values = [row["rc"] for row in rows.values()]
    rows[MEAN] = {"rc": float(np.mean(values))}
    return rows


@register_metric("fc", higher_is_better=True,
                 description="Accuracy on real images of a domain classifier trained on translated images")
def fc(ev) -> dict:
    domains = ev.domains
    targets = {ev.target(d): d for d in ev.directions}
    missing = [domain for domain in domains if domain not in targets]
    if missing:
        return {MEAN: {"fc": None, "fc_note": f"needs translations into every domain; none into {', '.join(missing)}"}}
    features, labels, test_features, test_labels = [], [], [], []
    for domain in domains:
        f = ev.features("fake_train", targets[domain])
        features.append(f)
        labels.append(np.full(len(f), domains.index(domain)))
        real = ev.features("real_eval", domain)
        test_features.append(real)
        test_labels.append(np.full(len(real), domains.index(domain)))
    classifier = LinearClassifier().fit(np.concatenate(features), np.concatenate(labels), len(domains))
    test_labels = np.concatenate(test_labels)
    return {MEAN: {"fc": balanced_accuracy(classifier.predict(np.concatenate(test_features)), test_labels)}}
