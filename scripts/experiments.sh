#!/usr/bin/env bash
# Reproduces every figure of docs/experiments.md: runs the specs of specs/experiments/ with
# the commands the doc shows and prints, per experiment, each seed's result and the mean.
#
#   cargo build --release && scripts/experiments.sh [shattered|init|norm|xnor|convergent]...
#
# NNC overrides the binary (default target/release/nnc); runs go to $RUNS (default
# runs/experiments). Needs python3 to read nnc's --json output.
set -euo pipefail
cd "$(dirname "$0")/.."
NNC=${NNC:-target/release/nnc}
RUNS=${RUNS:-runs/experiments}
SEEDS=(0 1 2)
mkdir -p "$RUNS"

# Test accuracy from `nnc run --json`; the sizes of the run's model and checkpoint files.
accuracy() { python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["test"]["accuracy"])'; }

# run NAME TRAIN_BLOCK(or -) SPEC [--set ...]: one run per seed, then the mean.
run() {
  local name=$1 block=$2 spec=$3
  shift 3
  local accs=()
  for s in "${SEEDS[@]}"; do
    local key=train.seed
    local select=()
    if [ "$block" != - ]; then key=train.$block.seed; select=(--train "$block"); fi
    local out="$RUNS/$name-$s"
    local acc
    acc=$("$NNC" run "$spec" "${select[@]}" "$@" --set "$key=$s" --quiet --json --out "$out" | accuracy)
    accs+=("$acc")
    echo "$name seed $s: test accuracy $acc, model $(wc -c < "$out/model.safetensors") bytes, checkpoint $(wc -c < "$out/checkpoint.safetensors") bytes"
  done
  python3 -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print("%s: mean test accuracy %.4f over %d seeds" % ("'"$name"'", sum(v)/len(v), len(v)))' "${accs[@]}"
}

shattered() {
  for spec in feedforward resnet resnet_beta looks_linear; do
    local seeds=0,1,2,3,4,5,6,7,8,9
    echo "== shattered_$spec (lag-1 autocorrelation, mean over seeds $seeds)"
    "$NNC" diagnose "specs/experiments/shattered_$spec.nn" --gradients \
      --depths 1,4,16,50 --seeds "$seeds" --out "$RUNS/shattered_$spec"
  done
}

init() {
  echo "== init_deep_thin"
  run lsuv - specs/experiments/init_deep_thin.nn
  run gaussian - specs/experiments/init_deep_thin.nn --set 'train.init=gaussian(std: 0.01)'
  run orthogonal - specs/experiments/init_deep_thin.nn --set train.init=orthogonal
}

norm() {
  echo "== norm_batch_size"
  local SEEDS=(0 1 2 3 4)
  run gn-batch2 gn specs/experiments/norm_batch_size.nn
  run bn-batch2 bn specs/experiments/norm_batch_size.nn
  run gn-batch32 gn specs/experiments/norm_batch_size.nn --set train.gn.batch=32 \
    --set 'train.gn.optimizer=sgd(lr: 0.16, momentum: 0.9)'
  run bn-batch32 bn specs/experiments/norm_batch_size.nn --set train.bn.batch=32 \
    --set 'train.bn.optimizer=sgd(lr: 0.16, momentum: 0.9)'
}

xnor() {
  echo "== xnor_twin"
  run xnor binary specs/experiments/xnor_twin.nn
  run full-precision float specs/experiments/xnor_twin.nn
}

convergent() {
  echo "== convergent (seeds 1 and 2, then 3 and 4, then 5 and 6)"
  for pair in 1,2 3,4 5,6; do
    "$NNC" compare specs/experiments/convergent.nn --seeds "$pair" --mi --quiet \
      --out "$RUNS/convergent-${pair/,/-}"
  done
}

if [ $# -eq 0 ]; then set -- shattered init norm xnor convergent; fi
for experiment in "$@"; do "$experiment"; done
