#!/usr/bin/env bash
# nnc against its peers (PyTorch, jax.jit, ONNX Runtime, NumPy/OpenBLAS) on this machine, in
# one run, then the ratio of each target of docs/performance.md.
#
#   scripts/peers.sh                   everything (first run also makes the Python venv)
#   PEERS_TORCH=1 scripts/peers.sh     also install and run PyTorch (~5 GB from PyPI)
#   PEERS_QUICK=1 scripts/peers.sh     fewer repeats everywhere (smoke test)
#   PEERS_NO_WAIT=1 scripts/peers.sh   do not wait for an idle machine between measurements
#   PEERS_KERNELS=0 scripts/peers.sh   skip the criterion kernel benches (elementwise, GEMM, XNOR)
#   PEERS_ROUNDS=5 scripts/peers.sh    rounds of nnc then the peers (default 3)
#
# nnc and the training/inference peers alternate (ABAB: an nnc round, then a peer round, at
# least 3 pairs) so slow drifts of the machine hit both; ratios.py computes each target's
# ratio per round and prints the median and its spread. The GEMM, the FMA peak (peak.py) and
# the criterion kernels are measured once.
#
# The peers run from bench/peers (a copy of the shared harness); their venv lives in
# bench/peers/.venv unless PEERS_VENV says otherwise. Results: bench/peers/results/.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$ROOT/bench/peers
export PEERS_VENV=${PEERS_VENV:-$PEERS/.venv}
PY=$PEERS_VENV/bin/python
OUT=$PEERS/results
mkdir -p "$OUT"

want_torch=${PEERS_TORCH:-0}
if ! "$PY" -c 'import jax, onnx, onnxruntime, numpy' 2>/dev/null ||
  { [ "$want_torch" = 1 ] && ! "$PY" -c 'import torch' 2>/dev/null; }; then
  "$PEERS/setup.sh"
fi

# 2 threads for every framework; XLA sizes its pool from the visible cores.
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=true"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONWARNINGS=ignore
quiet() { [ "${PEERS_NO_WAIT:-0}" = 1 ] || "$PY" "$PEERS/wait_quiet.py"; }

cd "$ROOT"
cargo build --release --bin nnc
NNC=$ROOT/target/release/nnc
bench_time=1
[ "${PEERS_QUICK:-0}" = 1 ] && bench_time=0.2
: > "$OUT/nnc_1t.jsonl"
rm -f "$OUT"/nnc.r*.jsonl "$OUT"/peers.r*.jsonl
SPECS="specs/bench/w1_mlp.nn specs/bench/w2_convnet.nn specs/bench/w4_deep_mlp.nn specs/bench/w7_resnet.nn specs/digits.nn"
nnc_round() {
  for spec in $SPECS; do
    echo "### nnc bench $spec (round $1)" >&2
    quiet
    # A discarded warm-up: the first process after an idle wait measured up to 30% low
    # (W4: 48.5k samples/s first, 69k second, whichever thread count went first).
    "$NNC" bench "$spec" --time 0.3 --backend jit > /dev/null
    "$NNC" bench "$spec" --json --time "$bench_time" >> "$OUT/nnc.r$1.jsonl"
  done
}
for spec in $SPECS; do
  # The JIT on one thread: does the executor's two-thread split pay off? (once)
  "$NNC" bench "$spec" --json --time "$bench_time" --backend jit --threads 1 >> "$OUT/nnc_1t.jsonl"
done
if [ "${PEERS_KERNELS:-1}" = 1 ]; then
  echo "### cargo bench --bench kernels" >&2
  quiet
  crit=()
  [ "${PEERS_QUICK:-0}" = 1 ] && crit=(--warm-up-time 0.5 --measurement-time 1)
  cargo bench --bench kernels -- --noplot "${crit[@]}"
fi

cd "$PEERS"
step() { echo "### $*" >&2; quiet; "$@" || echo "!!! failed: $*" >&2; }
"$PY" versions.py > "$OUT/versions.txt" 2>&1 || true
# Measured once: the machine's ceilings.
export PEERS_RESULTS=$OUT/peers.jsonl
: > "$PEERS_RESULTS"
# OpenBLAS picks its own kernel (the machine's environment may force Haswell, i.e. AVX2).
step env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" bench_numpy.py --only gemm
step "$PY" peak.py
step "$PY" bench_jax.py --only ceilings
[ -f "$OUT/onnx/METHOD" ] || step "$PY" export_onnx.py
for round in $(seq 1 "${PEERS_ROUNDS:-3}"); do
  (cd "$ROOT" && nnc_round "$round")
  export PEERS_RESULTS=$OUT/peers.r$round.jsonl
  : > "$PEERS_RESULTS"
  step "$PY" bench_jax.py --only train,infer
  if "$PY" -c 'import torch' 2>/dev/null; then
    step "$PY" bench_torch.py --only train,infer
  fi
  step "$PY" bench_ort.py
done
"$PY" ratios.py "$OUT" "$ROOT/target/criterion" | tee "$OUT/ratios.md"
