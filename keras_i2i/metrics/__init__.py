"""Translation quality: FID, KID, RC/FC and paired PSNR/SSIM/LPIPS, in a registry.

``keras-i2i evaluate`` and ``train.eval_every`` use :func:`evaluate`; each metric is a
registered function (:data:`METRICS`) of an :class:`Evaluation`. See
:mod:`keras_i2i.metrics.features` for the feature protocol (InceptionV3 at 299, clean-FID
resizing; :data:`FEATURES` for the networks, including VGG16 for offline use).
"""

from keras_i2i.metrics.base import MEAN, METRICS, Metric, register_metric
from keras_i2i.metrics import classifier, fid, lpips, paired  # noqa: F401  (register the metrics)
from keras_i2i.metrics.evaluate import (
    DEFAULT_METRICS, EvalReport, Evaluation, ImageStore, evaluate, identity_translator, keras_translator,
    resolve_metrics, run_metrics, runtime_translator,
)
from keras_i2i.metrics.features import (
    FEATURES, FeatureError, FeatureExtractor, clean_resize, feature_extractor, inception_v3, vgg16,
)
from keras_i2i.metrics.fid import fid_from_features, frechet_distance, kid_from_features

__all__ = [
    "METRICS", "MEAN", "Metric", "register_metric", "DEFAULT_METRICS", "EvalReport", "Evaluation", "ImageStore",
    "evaluate", "identity_translator", "keras_translator", "runtime_translator", "resolve_metrics", "run_metrics",
    "FEATURES", "FeatureError", "FeatureExtractor", "clean_resize", "feature_extractor", "inception_v3", "vgg16",
    "fid_from_features", "frechet_distance", "kid_from_features",
]
