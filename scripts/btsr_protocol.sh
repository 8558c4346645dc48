#!/usr/bin/env bash
# The BT-SR protocol of issue 11, end to end: SASRec (alpha 0) against BT-SR in the authors'
# form (last-item twins, self fallback, their Barlow Twins scale) at alpha 0, 0.05, 0.1, 0.2,
# 0.3, 0.5, three seeds each, on ML-100K under leave-one-out and the temporal split, and on
# Amazon Beauty and Toys under leave-one-out. Settings: the authors' (hidden 64, 2 blocks,
# 1 head, max_len 200, Adam 1e-3 with beta_2 0.98, validation NDCG@10 every epoch), their
# ML-1M lambda 0.05 / dropout 0.1 / full CE for MovieLens and their Beauty lambda 0.1 /
# dropout 0.6 / SCE for the Amazon sets (presets btsr-ml1m and btsr-beauty-loo), with an epoch
# cap of EPOCHS (default 200) and PATIENCE (default 30). Each sweep writes OUTPUT/<name>/
# sweep.json (mean ± std per alpha), sweep.png and spectrum.png; it resumes run by run.
# Also times the twin draw per epoch (bench/bench_btsr_twins.py).
# The authors have no Toys config: Toys uses their Beauty settings.
# Usage: scripts/btsr_protocol.sh OUTPUT [SHARED_DATA]   (many CPU-hours: 4 x 6 alphas x 3 seeds)
# Environment overrides: SEEDS, ALPHAS, EPOCHS, PATIENCE, MAX_LEN (default: the preset's 200),
# SWEEPS (which of ml100k-loo,ml100k-temporal,beauty-loo,toys-loo to run) and EXTRA (more
# flags for every sweep, e.g. "--batch-size 256"). Two calls with different SEEDS may run at
# once on the same OUTPUT; a last call with all the seeds reuses their runs and aggregates.
set -euo pipefail
output=$1
shared=${2:-../shared/data}
epochs=${EPOCHS:-200}
patience=${PATIENCE:-30}
seeds=${SEEDS:-0,1,2}
alphas=${ALPHAS:-0,0.05,0.1,0.2,0.3,0.5}
sweeps=${SWEEPS:-ml100k-loo,ml100k-temporal,beauty-loo,toys-loo}
extra=(${MAX_LEN:+--max-len "$MAX_LEN"})
# shellcheck disable=SC2206  # EXTRA is a list of flags
extra+=(${EXTRA:-})
mkdir -p "$output/data"
build() {  # name format input
  [ -f "$output/data/$1/metadata.json" ] || tfbt build --format "$2" --input "$3" \
    --output "$output/data/$1"
}
build ml100k movielens-100k "$shared/ml-100k"
build beauty sequence-text "$shared/beauty/Beauty.txt"
build toys sequence-text "$shared/toys/Toys_and_Games.txt"

sweep() {  # name data preset [flags...]
  local name=$1 data=$2 preset=$3
  shift 3
  [[ ",$sweeps," == *",$name,"* ]] || return 0
  tfbt sweep-alpha --data "$output/data/$data" --output "$output/$name" --preset "$preset" \
    --alphas "$alphas" --seeds "$seeds" --epochs "$epochs" --patience "$patience" "$@" \
    ${extra[@]+"${extra[@]}"}
}
sweep ml100k-loo ml100k btsr-ml1m --split leave-one-out
sweep ml100k-temporal ml100k btsr-ml1m --split temporal
sweep beauty-loo beauty btsr-beauty-loo
sweep toys-loo toys btsr-beauty-loo

python bench/bench_btsr_twins.py --data "$output/data/ml100k" "$output/data/beauty" \
  --out "$output/btsr_twins.json"
