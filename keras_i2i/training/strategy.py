"""Distribution strategies and precision policies by name."""

from __future__ import annotations

import itertools
import json
import logging
import os

import keras
import tensorflow as tf

from keras_i2i.config import STRATEGIES

_MIRRORED_STRATEGIES = itertools.count()

logger = logging.getLogger(__name__)



def _cluster_workers() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON: {err}") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _rank(value):
    if isinstance(value, tf.distribute.DistributedValues):
        value = value.values[0]
    shape = getattr(value, "shape", None)
    return None if shape is None else shape.rank


class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` accepts the two calls that
    ``keras.Model.fit`` (Keras 3, TensorFlow backend) makes under it and that the
    stock strategy rejects, so that ``fit`` runs across workers:

    1. Before training, ``TensorFlowTrainer._maybe_symbolic_build`` takes one batch
       from the distributed dataset and calls ``strategy.reduce("MEAN", batch,
       axis=None)`` on the whole batch structure (here the tuple ``(real_a, real_b)``).
       ``MirroredExtended._reduce_to`` maps over such a nest;
       ``CollectiveAllReduceExtended._reduce_to`` does not (TF's own TODO in
       ``Strategy.reduce``: "support `value` being a nest") and fails with "Attempt to
       convert a value (PerReplica...) with an unsupported type (PerReplica) to a
       Tensor" (keras-team/keras#20329). Here each leaf is reduced on its own.
    2. After every step, ``reduce_per_replica(outputs, strategy, "auto")`` calls
       ``strategy.reduce("MEAN", v, axis=0)`` for each returned log value under
       multi-worker; the logs are scalars (metric results), which have no axis 0:
       "Invalid reduction dimension 0 for input with 0 dimensions"
       (tensorflow/tensorflow#72388). Here a scalar is reduced over the replicas
       (``axis=None``), which is what the same Keras function does under
       ``MirroredStrategy`` (``tf.reduce_mean`` of the replicas' values).

    Every other call is the stock ``reduce``.
    """

    def reduce(self, reduce_op, value, axis):
        parent = super().reduce
        if tf.nest.is_nested(value) and any(
                isinstance(v, tf.distribute.DistributedValues) for v in tf.nest.flatten(value)):
            return tf.nest.map_structure(lambda v: self.reduce(reduce_op, v, axis), value)
        if axis is not None and _rank(value) == 0:
            axis = None
        return parent(reduce_op, value, axis)


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for ``name``.

    ``auto``: MultiWorkerMirroredStrategy when TF_CONFIG names several workers,
    MirroredStrategy when more than one GPU is visible, else the default strategy.
    ``mirrored`` without GPUs mirrors over the logical CPU devices (used in tests).
    Create it before any other TensorFlow work (multi-worker needs that).
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}. Known strategies: {', '.join(STRATEGIES)}")
    if name == "auto":
        if _cluster_workers() > 1:
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # Every MirroredStrategy numbers its collective groups from 1 + _collective_key_base
        # (0 unless set), so a second one in the same process reused the first one's keys and
        # failed with "Shape mismatch in the collective instance 100". TF's own tests give each
        # strategy its own base the same way.
        tf.distribute.MirroredStrategy._collective_key_base = 10_000 * next(_MIRRORED_STRATEGIES)
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "multiworker":
        if _cluster_workers() < 1:
            raise ValueError("--strategy multiworker needs TF_CONFIG with a cluster spec (see the README).")
        return KerasMultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory (the chief, or worker 0 without one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None and resolver.task_type else 0


PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def resolve_precision(name: str) -> str:
    """Keras dtype policy for ``auto|fp32|bf16|fp16``. ``auto``: float32 on CPU; on GPU,
    mixed bfloat16 where the GPU supports it (compute capability 8.0+), else float16."""
    if name in PRECISIONS:
        return PRECISIONS[name]
    if name != "auto":
        raise ValueError(f"Unknown precision {name!r}. Known: auto, {', '.join(PRECISIONS)}")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "float32"
    details = tf.config.experimental.get_device_details(gpus[0])
    major = (details.get("compute_capability") or (0, 0))[0]
    return "mixed_bfloat16" if major >= 8 else "mixed_float16"


def set_precision(name: str) -> str:
    policy = resolve_precision(name)
    keras.mixed_precision.set_global_policy(policy)
    return policy
