#!/usr/bin/env bash
# The imbalance demonstration of docs/imbalance.md: specs/imbalance.nn trained with its
# balanced sampler and with `--set train.sampler=uniform`, over seeds 0..SEEDS-1 (the seed
# also draws the data subsample and the split). Prints the per-seed numbers and, per
# sampler, the mean and the sample standard deviation of minority recall, macro-F1,
# ROC-AUC and accuracy on the test split.
#
# Usage: scripts/imbalance.sh [SEEDS]   (default 5; needs jq and awk)
# The nnc binary: $NNC, default target/release/nnc (build with `cargo build --release`).
set -euo pipefail
seeds=${1:-5}
nnc=${NNC:-target/release/nnc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-32s %4s %8s %8s %8s %8s\n' sampler seed recall macro_f1 roc_auc accuracy
for sampler in balanced uniform hard_mining\(0.5\) oversample undersample\(kmeans:\ 50\) weighted\(\[1,\ 20\]\); do
  for seed in $(seq 0 $((seeds - 1))); do
    "$nnc" run specs/imbalance.nn --quiet --json --seed "$seed" \
      --set "train.sampler=$sampler" --out "$out/run" |
      jq -r --arg s "$sampler" --arg seed "$seed" \
        '[$s, $seed, .test.per_class[1].recall, .test.macro_f1, .test.roc_auc, .test.accuracy] | @tsv'
  done
done | tee "$out/all.tsv" | awk -F'\t' '{ printf "%-32s %4s %8.4f %8.4f %8.4f %8.4f\n", $1, $2, $3, $4, $5, $6 }'
echo
printf '%-32s %17s %17s %17s %17s\n' "sampler (mean ± sd)" recall macro_f1 roc_auc accuracy
awk -F'\t' '
  { n[$1]++; order[$1] = order[$1] ? order[$1] : ++k; name[k] = $1
    for (i = 3; i <= 6; i++) { s[$1, i] += $i; q[$1, i] += $i * $i } }
  END {
    for (j = 1; j <= k; j++) {
      m = name[j]; line = sprintf("%-32s", m)
      for (i = 3; i <= 6; i++) {
        mean = s[m, i] / n[m]
        var = n[m] > 1 ? (q[m, i] - n[m] * mean * mean) / (n[m] - 1) : 0
        line = line sprintf(" %8.4f ± %.4f", mean, sqrt(var > 0 ? var : 0))
      }
      print line
    }
  }' "$out/all.tsv"
