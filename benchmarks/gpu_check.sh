#!/usr/bin/env bash
# The same DL Studio search on the CPU and on the GPU, and the speed-up; under 5 minutes.
# With no GPU (or TensorFlow without CUDA) it says so and runs the CPU half only.
# On a machine with an NVIDIA GPU:  pip install -e '.[gpu]'  then  benchmarks/gpu_check.sh
# Options are passed on to benchmarks/gpu_check.py (--rows, --trials, --epochs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
status=0
timeout 290 "$PYTHON" benchmarks/gpu_check.py "$@" || status=$?
if [ "$status" -eq 124 ]; then
    echo "gpu_check: stopped after 290 seconds; this machine is too busy or too slow for the" \
         "default size (try --rows 5000)." >&2
fi
exit "$status"
