#!/usr/bin/env bash
# The BT-SR protocol of docs/results.md's first tables: SASRec (alpha 0) and BT-SR at several
# alphas, full ranking, leave-one-out, seen items removed, max_len 50, hidden 64, 2 blocks,
# batch 256, Adam 1e-3, validation NDCG@10 every 2 epochs with patience 5, seed 0, and
# tfbt's earlier BT-SR variant (Zbontar-form BT with lambda 1, any-prefix twins, no pair
# without a twin), which those numbers were measured with; the authors' form is
# scripts/btsr_protocol.sh.
# Usage: scripts/btsr_sweep.sh DATASET_DIR OUTPUT_DIR [ALPHAS] [DROPOUT]
#   (dropout 0.5 for the sparse Amazon sets, 0.2 for MovieLens, as in SASRec)
set -euo pipefail
data=$1
output=$2
alphas=${3:-0,0.005,0.02,0.05}
dropout=${4:-0.5}
tfbt sweep-alpha --data "$data" --output "$output" --alphas "$alphas" --loss full \
  --max-len 50 --hidden-dim 64 --num-blocks 2 --dropout "$dropout" --batch-size 256 \
  --learning-rate 0.001 --epochs 200 --eval-every 2 --patience 5 --seed 0 \
  --bt-form zbontar --lambd 1 --twins any-prefix --no-twin skip
