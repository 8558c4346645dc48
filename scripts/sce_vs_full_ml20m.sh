#!/usr/bin/env bash
# SCE against the full softmax at ML-20M size (issue 14): the same SASRec (max_len 200, hidden
# 64, 2 blocks, 1 head, dropout 0.2, batch 128, seed 0) trained for the same number of epochs
# with each loss on the synthetic ML-20M-sized set (138,493 users, 26,744 items, 19.9M
# interactions; the set bench/bench_scale.py times), then validation and test NDCG@10 by full
# ranking. SCE's buckets are tfbt's default, the SCE authors' rule (here 270, 270, 512). On 2
# quiet CPU cores an epoch takes about 23 minutes with the full softmax and 7-8 with SCE
# (bench/bench_scale.py), plus 1-2 minutes per full-ranking pass over the 138,493 users.
# Usage: scripts/sce_vs_full_ml20m.sh WORK_DIR [EPOCHS]
set -euo pipefail
work=$1
epochs=${2:-1}
data="$work/scale-ml20m"
[ -f "$data/metadata.json" ] || python -m tfbt.data.synthetic --preset ml-20m --output "$data"
for loss in full sce; do
  tfbt train --data "$data" --output "$work/sasrec_${loss}_e${epochs}" --model sasrec \
    --loss "$loss" --max-len 200 --batch-size 128 --dropout 0.2 --epochs "$epochs" --seed 0
done
