#!/usr/bin/env bash
# The Liu et al. (2025) downstream protocol on MovieLens 100K, as reported in docs/results.md:
# 3 seeds, label fractions 1-100%, four transfer modes, augmentation and batch-size ablations.
# About an hour on a 2-core CPU. Usage: scripts/liu2025_ml100k.sh [ML100K_RAW_DIR] [WORK_DIR]
set -euo pipefail
raw=${1:-../shared/data/ml-100k}
work=${2:-runs}
[ -f "$work/ml100k/metadata.json" ] ||
  tfbt build --format movielens-100k --input "$raw" --output "$work/ml100k"
tfbt experiment liu2025 --data "$work/ml100k" --output "$work/liu2025_ml100k" \
  --seeds 0,1,2 --fractions 0.01,0.05,0.1,0.25,1 --tasks next_item,favorite_genre,gender \
  --max-len 100 --next-item-cuts 3 --pretrain-epochs 20 --dual-epochs 30 \
  --dual-learning-rate 0.005 \
  --augment segment_mask:0.1 --augment segment_mask:0.2 --augment segment_mask:0.4 \
  --augment segment_mask:0.6 --augment random_mask:0.2 --augment permute \
  --batch-sizes 128,512 --ablation-fractions 0.01,1 \
  --ablation-tasks next_item,favorite_genre,gender
