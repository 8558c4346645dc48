#!/usr/bin/env bash
# What fits on 2 shared CPU cores in an hour: ML-100K, leave-one-out, SASRec (alpha 0) against
# BT-SR in the authors' form (last-item twins, self fallback, lambda 0.05) at a few alphas,
# over the given seeds, with a bounded epoch count (max_len 50 instead of their 200, batch 64,
# dropout 0.1, Adam 1e-3 with beta_2 0.98, validation NDCG@10 every epoch, patience 8).
# Run folders are OUTPUT/seed_<s>/alpha_<a>, the layout of `tfbt sweep-alpha --seeds`, which
# reuses them. Usage: scripts/btsr_ml100k_quick.sh DATASET_DIR OUTPUT_DIR [ALPHAS] [SEEDS]
# [extra tfbt train flags...]
set -euo pipefail
data=$1
output=$2
alphas=${3:-0,0.1,0.3}
seeds=${4:-0,1}
shift $(( $# < 4 ? $# : 4 ))
for seed in ${seeds//,/ }; do
  for alpha in ${alphas//,/ }; do
    model=btsr; [ "$(printf '%g' "$alpha")" = 0 ] && model=sasrec
    run="$output/seed_$seed/alpha_$(printf '%g' "$alpha")"
    [ -f "$run/results.json" ] && continue
    tfbt train --data "$data" --output "$run" --model "$model" --alpha "$alpha" \
      --loss full --max-len 50 --hidden-dim 64 --num-blocks 2 --num-heads 1 --dropout 0.1 \
      --batch-size 64 --learning-rate 0.001 --adam-beta2 0.98 --epochs 40 --eval-every 1 \
      --patience 8 --lambd 0.05 --seed "$seed" "$@"
  done
done
