#!/usr/bin/env bash
# Every benchmark of issue 14 (speed), each writing JSON to bench/results/. Run it on a quiet
# machine: the numbers are wall-clock times. Generated data is cached in $WORK (first run: the
# ML-20M-sized set takes minutes to generate and ~3 GB of disk).
#
#   bench/run_speed_suite.sh            # everything (about 30-40 min on 2 quiet cores)
#   SKIP_SCALE=1 bench/run_speed_suite.sh   # without the ML-20M / million-item runs
#   TF_ENABLE_ONEDNN_OPTS=0 RESULTS=results/onednn_off SKIP_SCALE=1 bench/run_speed_suite.sh
#                                           # the same with TensorFlow's oneDNN kernels off
#
# Each step is bounded by `timeout`; a step that fails or times out is reported and the suite
# goes on (its JSON is then missing or old; the summary at the end lists which).
set -u
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python}
WORK=${WORK:-/tmp/tfbt-bench}
RESULTS=${RESULTS:-results}
mkdir -p "$RESULTS"
failed=()

run() {  # run NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*" >&2
  if ! timeout "$limit" "$@" > "/tmp/tfbt-speed-$name.log" 2>&1; then
    echo "!! $name failed or timed out; log: /tmp/tfbt-speed-$name.log" >&2
    failed+=("$name")
  fi
}

# 1. Full-ranking evaluation (SASRec, valid split, tracing included in the first call only).
run eval_ml1m 900 "$PYTHON" bench_full_ranking.py --dataset ml1m --work "$WORK" \
  --out "$RESULTS/full_ranking_ml1m.json"
run eval_beauty 900 "$PYTHON" bench_full_ranking.py --dataset beauty --work "$WORK" \
  --out "$RESULTS/full_ranking_beauty.json"

# 2. SASRec full-CE training on the ML-1M-shaped set: per-step times -> epoch, with the top
#    ops of a profile; the full softmax alone, unchunked vs row chunks; and the accuracy check
#    of the chunked softmax (valid NDCG@10 after 2 epochs, seeds 0 and 1).
run train_ml1m 900 "$PYTHON" bench_train.py --ml1m --work "$WORK" --configs sasrec:full \
  --max-len 200 --dropout 0.2 --batch-size 128 --steps 10 \
  --profile-dir "$WORK/profile-train" --out "$RESULTS/train_ml1m.json"
run train_ml1m_unchunked_ce 900 "$PYTHON" bench_train.py --ml1m --work "$WORK" \
  --configs sasrec:full --max-len 200 --dropout 0.2 --batch-size 128 --steps 10 \
  --ce-chunk-rows 0 --profile-dir "$WORK/profile-train-unchunked" \
  --out "$RESULTS/train_ml1m_unchunked_ce.json"
run full_softmax 600 "$PYTHON" bench_full_softmax.py --out "$RESULTS/full_softmax.json"
run speed_quality 1800 "$PYTHON" bench_speed_quality.py --work "$WORK" \
  --settings "ce_chunk_rows=0;ce_chunk_rows=1024" --out "$RESULTS/speed_quality.json"

# 3. Barlow Twins pretraining of the CNN encoder (augmentations included), batch 128 and 1024.
run pretrain_cnn 1200 "$PYTHON" bench_pretrain.py --work "$WORK" --encoders cnn \
  --batch-sizes 128,1024 --xla off --steps 10 --profile-dir "$WORK/profile-pretrain" \
  --out "$RESULTS/pretrain_cnn.json"

# 4. Scale: ML-20M-sized set (full CE, sampled softmax, SCE; steps extrapolated to an epoch,
#    peak memory per loss; SCE also with its authors' bucket rule, and its accuracy against the
#    full softmax on the ML-1M-shaped set), and a million-item catalogue (SCE / sampled softmax
#    training and item-chunked full-ranking evaluation).
if [ -z "${SKIP_SCALE:-}" ]; then
  run scale_ml20m 2400 "$PYTHON" bench_scale.py --dataset ml20m --work "$WORK" \
    --losses full,sampled,sce --steps 5 --out "$RESULTS/scale_ml20m.json"
  run scale_ml20m_sce_rule 1200 "$PYTHON" bench_scale.py --dataset ml20m --work "$WORK" \
    --losses sce --steps 5 --sce-buckets 258,258,512 --out "$RESULTS/scale_ml20m_sce_rule.json"
  run sce_quality_ml1m 1800 "$PYTHON" bench_speed_quality.py --work "$WORK" \
    --shape 6040,3416,165 --epochs 5 --seeds 0,1 \
    --settings "loss=full;loss=sce;loss=sce,num_buckets=288,bucket_size_x=288,bucket_size_y=512" \
    --out "$RESULTS/sce_quality_ml1m.json"
  run scale_million 2400 "$PYTHON" bench_scale.py --dataset million --work "$WORK" \
    --losses sce,sampled --steps 5 --eval-batches 4 --out "$RESULTS/scale_million.json"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
echo "all benchmarks written to bench/$RESULTS/" >&2
