#!/usr/bin/env bash
# Peer benchmark harness: runs every bench script in its own process, with
# 2 threads for every framework, PEERS_RUNS times over (default 3), then
# prints markdown tables (median over runs, with the min..max).
#
#   bench/peers/run_all.sh                 full run (about 8 minutes a run on
#                                          an idle 2-core machine)
#   PEERS_RUNS=1 PEERS_QUICK=1 bench/peers/run_all.sh   smoke test (~1 min)
#
# Needs the venv that setup.sh makes (PEERS_VENV, default bench/peers/.venv)
# and gcc (for fma_peak.c and torch.compile's C++ backend). Every measurement
# first waits for the machine to be idle, and is retaken if another process
# used the CPU meanwhile (common.time_it), so a shared machine makes it slower,
# not wrong.
set -u
cd "$(dirname "$0")"
PY="${PEERS_VENV:-$PWD/.venv}/bin/python"
RUNS="${PEERS_RUNS:-3}"
mkdir -p results
# PEERS_APPEND=1 keeps earlier results/run*.jsonl and adds runs after them.
FIRST=1
if [ "${PEERS_APPEND:-0}" = 1 ]; then
  FIRST=$(( $(ls results/run*.jsonl 2>/dev/null | wc -l) + 1 ))
else
  rm -f results/run*.jsonl results/results.jsonl
fi

# 2 threads everywhere. XLA:CPU sizes its pool from the 2 visible cores.
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=true"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONWARNINGS=ignore

step() { echo "### $*" >&2; "$PY" wait_quiet.py; "$@" || echo "!!! failed: $*" >&2; }

"$PY" versions.py > results/versions.txt 2>&1
for run in $(seq "$FIRST" $(( FIRST + RUNS - 1 ))); do
  echo "=============== run $run" >&2
  export PEERS_RESULTS="$PWD/results/run$run.jsonl"
  : > "$PEERS_RESULTS"
  # A fresh Inductor cache per run makes torch.compile times cold ones.
  export TORCHINDUCTOR_CACHE_DIR="$(mktemp -d -t inductor_cache_XXXX)"
  # NumPy: let OpenBLAS pick its own kernel (the machine's environment forces
  # OPENBLAS_CORETYPE=Haswell, i.e. AVX2 only); unset only for this command.
  step env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" bench_numpy.py
  if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    step "$PY" bench_numpy.py --only gemm --tag "env OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
  fi
  step "$PY" bench_torch.py
  step "$PY" bench_jax.py
  [ -f results/onnx/METHOD ] || step "$PY" export_onnx.py
  step "$PY" bench_ort.py
  step "$PY" peak.py
  [ "$run" = 1 ] && step "$PY" digits_ref.py
  rm -rf "$TORCHINDUCTOR_CACHE_DIR"
done
"$PY" report.py | tee results/tables.md
