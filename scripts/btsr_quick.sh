#!/usr/bin/env bash
# What fits on 2 shared CPU cores in an hour or two on ML-100K: SASRec (alpha 0) against BT-SR
# in the authors' form (last-item twins, self fallback, lambda 0.05) at a few alphas over a few
# seeds, with a bounded budget: max_len 50 instead of their 200, batch 64, dropout 0.1, full
# softmax, Adam 1e-3 with beta_2 0.98, validation NDCG@10 every epoch, at most 100 epochs,
# patience 30 (theirs: 200 and 30). A shorter patience flatters BT-SR: at patience 8 SASRec
# stopped before its validation peak and BT-SR's gain on ML-100K was mostly that
# (docs/results/btsr_authors_ml100k.md). One `tfbt sweep-alpha --seeds` call: runs in
# OUTPUT/seed_<s>/alpha_<a>/ (finished ones are reused), mean ± std in OUTPUT/sweep.json,
# OUTPUT/sweep.png and OUTPUT/spectrum.png.
# Usage: scripts/btsr_quick.sh DATASET_DIR OUTPUT_DIR [ALPHAS] [SEEDS] [extra flags...]
#   extra flags override the settings above (the last value wins), e.g. --split temporal,
#   --twins any-prefix, --no-twin skip, or for Amazon: --batch-size 256 --dropout 0.5 --lambd 0.1
set -euo pipefail
data=$1
output=$2
alphas=${3:-0,0.1,0.3}
seeds=${4:-0,1}
shift $(( $# < 4 ? $# : 4 ))
tfbt sweep-alpha --data "$data" --output "$output" --alphas "$alphas" --seeds "$seeds" \
  --loss full --max-len 50 --hidden-dim 64 --num-blocks 2 --num-heads 1 --dropout 0.1 \
  --batch-size 64 --learning-rate 0.001 --adam-beta2 0.98 --epochs 100 --eval-every 1 \
  --patience 30 --lambd 0.05 "$@"
