#!/usr/bin/env bash
# GPU check (issue 20): keras-i2i CycleGAN step (ResNet-9 @ 256 px, batch 1 and 8, fp32 and
# bf16+XLA, MirroredStrategy over all visible GPUs) against the PyTorch reference step (fp32, AMP)
# on the same GPU, peak memory, and the tf.data stream at batch 16. Writes
# benchmarks/results/gpu_check.json and prints a table; ends within --budget-s (default 420 s).
#
#   bash benchmarks/gpu_check.sh              # on a GPU machine
#   bash benchmarks/gpu_check.sh --dry-run    # CPU, tiny sizes, seconds (what CI runs)
#
# Python: $PYTHON, else the checkout's .venv, else python3. Needs tensorflow, keras and torch
# (see --frameworks); fails with one line naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$PYTHON" benchmarks/gpu_check.py "$@"
