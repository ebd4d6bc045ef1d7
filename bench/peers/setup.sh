#!/usr/bin/env bash
# Makes the Python environment for the peer benchmarks (about 1 minute, ~0.6 GB).
# PyTorch is optional: it is the CUDA build on PyPI (~5 GB installed) but runs on the CPU.
#   ./setup.sh               numpy, jax, onnx, onnxruntime, scikit-learn
#   PEERS_TORCH=1 ./setup.sh  the same plus torch (for the PyTorch rows and ONNX export)
set -eu
VENV=${PEERS_VENV:-$(cd "$(dirname "$0")" && pwd)/.venv}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q numpy==2.4.6 threadpoolctl jax==0.10.2 jaxlib==0.10.2 \
  onnx==1.23.2 onnxruntime==1.32.0 scikit-learn==1.9.1
if [ "${PEERS_TORCH:-0}" = 1 ]; then
  "$VENV/bin/pip" install -q torch==2.15.0
fi
echo "peer environment ready: $VENV"
