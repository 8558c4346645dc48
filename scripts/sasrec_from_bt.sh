#!/usr/bin/env bash
# SASRec from scratch vs SASRec initialised from a Barlow Twins pretraining of its encoder
# (`tfbt pretrain --encoder sasrec`, Liu et al.'s segment-masking augmentation), trained on 1%,
# 5%, 25% and 100% of the training users (`--train-fraction`; validation and test users are
# all users, leave-one-out). Prints test NDCG@10 and HR@10, mean ± std over seeds, per fraction.
#
# Usage: scripts/sasrec_from_bt.sh DATA_DIR [WORK_DIR]   (DATA_DIR from `tfbt build`)
# Environment: SEEDS (default "0 1 2"), FRACTIONS (default "0.01 0.05 0.25 1"), MAX_LEN (50),
# PRETRAIN_EPOCHS (20), EXTRA (more `tfbt train` flags, e.g. "--epochs 30").
set -euo pipefail
data=${1:?usage: $0 DATA_DIR [WORK_DIR]}
work=${2:-runs/sasrec_from_bt}
seeds=${SEEDS:-0 1 2}
fractions=${FRACTIONS:-0.01 0.05 0.25 1}
max_len=${MAX_LEN:-50}
for seed in $seeds; do
  bt="$work/bt_sasrec/seed$seed"
  [ -f "$bt/encoder.keras" ] || tfbt pretrain --data "$data" --output "$bt" --encoder sasrec \
    --max-len "$max_len" --epochs "${PRETRAIN_EPOCHS:-20}" --augment segment_mask:0.2 \
    --seed "$seed"
  for fraction in $fractions; do
    for init in scratch bt; do
      run="$work/${init}_f${fraction}_seed$seed"
      flags=()
      [ "$init" = bt ] && flags=(--init-from "$bt")
      # shellcheck disable=SC2086  # EXTRA is a list of flags
      [ -f "$run/results.json" ] || tfbt train --data "$data" --output "$run" --model sasrec \
        --max-len "$max_len" --train-fraction "$fraction" --seed "$seed" "${flags[@]}" \
        ${EXTRA:-}
    done
  done
done
python - "$work" <<'PY'
import json, sys
from pathlib import Path

import numpy as np

rows = {}
for path in Path(sys.argv[1]).glob("*_f*_seed*/results.json"):
    init, rest = path.parent.name.split("_f", 1)
    fraction = float(rest.split("_seed")[0])
    test = json.loads(path.read_text())["test"]
    rows.setdefault((fraction, init), []).append((test["NDCG@10"], test["HR@10"]))
print("| train users | init | seeds | NDCG@10 | HR@10 |\n|---|---|---|---|---|")
for (fraction, init), values in sorted(rows.items()):
    v = np.asarray(values)
    std = v.std(axis=0, ddof=1) if len(v) > 1 else np.zeros(2)
    print(f"| {fraction:.0%} | {init} | {len(v)} | {v[:, 0].mean():.4f} ± {std[0]:.4f} | "
          f"{v[:, 1].mean():.4f} ± {std[1]:.4f} |")
PY
