#!/usr/bin/env bash
# Issue 30: the accuracy/diversity frontier on ML-100K (leave-one-out). SASRec (alpha 0) and
# BT-SR in the authors' form at ALPHAS, SEEDS, with the budget of scripts/btsr_quick.sh
# (max_len 50, batch 64, dropout 0.1, full softmax, Adam 1e-3 beta_2 0.98, lambda 0.05,
# validation every epoch, patience 30) capped at EPOCHS. Each run keeps every validated
# epoch's checkpoint and per-user ranks (--keep-checkpoints all) and trains under the widest
# rule the frontier replays (coverage within TRAIN_TOLERANCE of the best NDCG@10), so that
# `tfbt frontier` can replay every selection rule offline (training does not depend on the
# rule, only where it stops), apply the serving-time popularity penalty beta, choose
# operating points on validation (highest validation coverage@10 with validation NDCG@10 >=
# 98% / 90% of SASRec's under today's rule) and report them on test.
# Usage: scripts/accuracy_diversity_frontier.sh DATASET_DIR OUTPUT_DIR
# Environment: ALPHAS (0,0.2), SEEDS (0,1,2), EPOCHS (60), TRAIN_TOLERANCE (0.15),
#   BETAS (the frontier's beta grid), EXTRA (more sweep-alpha flags, e.g. --split temporal),
#   OVERWRITE (non-empty: replace a finished OUTPUT/frontier, e.g. after adding seeds).
# Started again, finished runs are reused and an interrupted frontier resumes.
set -euo pipefail
data=$1
output=$2
alphas=${ALPHAS:-0,0.2}
seeds=${SEEDS:-0,1,2}
# shellcheck disable=SC2206  # EXTRA is a list of flags
extra=(${EXTRA:-})
tfbt sweep-alpha --data "$data" --output "$output/runs" --alphas "$alphas" --seeds "$seeds" \
  --loss full --max-len 50 --hidden-dim 64 --num-blocks 2 --num-heads 1 --dropout 0.1 \
  --batch-size 64 --learning-rate 0.001 --adam-beta2 0.98 --epochs "${EPOCHS:-60}" \
  --eval-every 1 --patience 30 --lambd 0.05 --selection coverage \
  --selection-tolerance "${TRAIN_TOLERANCE:-0.15}" --keep-checkpoints all \
  ${extra[@]+"${extra[@]}"}
tfbt frontier --runs "$output"/runs/seed_*/alpha_* --output "$output/frontier" \
  ${BETAS:+--betas "$BETAS"} ${OVERWRITE:+--overwrite}
