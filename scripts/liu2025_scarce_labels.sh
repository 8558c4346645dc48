#!/usr/bin/env bash
# Issue 12's tables: every frozen and fine-tuned head (dense and item-embedding next-item heads)
# against the majority class / most-popular, frozen vs fine-tuned per label fraction, and BT
# frozen vs dual encoder frozen, over seeds (mean ± std in results.md).
#
# Usage: scripts/liu2025_scarce_labels.sh DATASET [WORK_DIR]
#   DATASET: ml100k (the real MovieLens 100K from $ML100K_RAW, default ../shared/data/ml-100k),
#            synthetic-ml100k, synthetic-ml1m or synthetic-ml20m (tfbt.data.synthetic presets
#            at MovieLens sizes, planted favourite-genre, gender-like 70/30 and age-like
#            7-class labels).
# Fractions: 1-100%, plus 0.5% and 0.1% where they hold at least 20 labelled users (of the 70%
# training pool: 0.5% on ML-1M size, both on ML-20M size). Override with FRACTIONS=..., the
# seeds with SEEDS=... (default 0,1,2), and add flags with EXTRA="..." (e.g. a reduced grid).
set -euo pipefail
dataset=${1:?usage: $0 ml100k|synthetic-ml100k|synthetic-ml1m|synthetic-ml20m [WORK_DIR]}
work=${2:-runs}
case "$dataset" in
  ml100k)
    data="$work/ml100k"
    [ -f "$data/metadata.json" ] || tfbt build --format movielens-100k \
      --input "${ML100K_RAW:-../shared/data/ml-100k}" --output "$data"
    tasks=next_item,favorite_genre,gender
    fractions=${FRACTIONS:-0.01,0.05,0.25,1}
    shape=(--max-len 100 --next-item-cuts 3 --pretrain-epochs 20 --dual-epochs 30
           --dual-learning-rate 0.005) ;;
  synthetic-ml100k|synthetic-ml1m|synthetic-ml20m)
    size=${dataset#synthetic-}
    data="$work/synthetic-$size"
    [ -f "$data/metadata.json" ] ||
      python -m tfbt.data.synthetic --preset "ml-${size#ml}" --output "$data"
    tasks=next_item,favorite_genre,gender,age
    if [ "$size" = ml100k ]; then fractions=${FRACTIONS:-0.01,0.05,0.25,1}
    elif [ "$size" = ml1m ]; then fractions=${FRACTIONS:-0.005,0.01,0.05,0.25,1}
    else fractions=${FRACTIONS:-0.001,0.005,0.01,0.05,0.25,1}; fi
    shape=(--max-len 200 --next-item-cuts 3 --pretrain-epochs 20 --dual-epochs 20) ;;
  *) echo "unknown dataset $dataset (ml100k, synthetic-ml100k, synthetic-ml1m," \
       "synthetic-ml20m)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086  # EXTRA is a list of flags
tfbt experiment liu2025 --data "$data" --output "$work/liu2025_scarce_$dataset" \
  --seeds "${SEEDS:-0,1,2}" --fractions "$fractions" --tasks "$tasks" \
  --modes bt_frozen,bt_finetuned,dual_encoder_frozen --next-item-head dense,item-embeddings \
  --probe lbfgs --head-l2s 0.1,0.01,0.001,0.0001 "${shape[@]}" ${EXTRA:-}
