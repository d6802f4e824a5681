#!/bin/bash
# The GPU driver: the shipped VGG-19 model (model_card/) and the shipped adain-lite (model_card_lite/) both
# train on (--resume-from: their step counts, learning-rate schedules, recipes and training.json histories
# continue) AT THE SAME TIME on the one lent GPU for a fixed wall time, at 256 px crops, batch 16 x 16; then
# their GPU inference speed is measured, and everything comes back under $OUT. FRESH=1 starts over instead: the
# shipped VGG decoder fine-tuned with a fresh schedule (--pretrained), the lite network from scratch.
#
# Where it runs: a GPU machine lent through the session's `device` tool, which runs commands in a
# copy of this working tree, has torch and accelerate but not `datasets`, cannot reach the network
# and does not see ../shared. 64 MiB travel in all (the tracked tree, ~33 MB, most of it model_card/,
# plus what is carried), and at most 8 files of 16 MiB come back. Prepare, here, in ignored folders:
#   python scripts/make_training_subset.py --src ../shared/data/train --out .device/data --max-mb 29
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
#   # the sum must stay under 67,108,864 bytes:
#   git ls-files -z | xargs -0 du -cb | tail -1; du -sb .device .whl
# Rehearse the whole thing on the CPU first (about 3 minutes on an idle 2-core machine; same script, tiny sizes):
#   REHEARSAL=1 OUT=/tmp/rehearsal bash scripts/train_on_device.sh 0.3
# Then one device call, carry [".device", ".whl"], timeout_s 600 (6.5 minutes of training, about a
# minute of set-up and saving, at most 2 x FPS_SECONDS (default 40) of speed measurement: under the 10-minute limit):
#   bash scripts/train_on_device.sh 6.5
# What comes back: vgg.tar (decoder.safetensors, config.json, card.md, training.json, losses.csv, samples,
# throughput.json), lite.tar (the whole lite model folder, losses.csv, samples, throughput.json), logs.tar (both training logs,
# GPU utilisation, frames-per-second JSON and tables), summary.txt. Unpack and evaluate here:
#   python scripts/unpack_device_run.py /work/.device/... --vgg-into runs/v2 --lite-into runs/lite
# usage: train_on_device.sh MINUTES [extra flags for both trainings...]
set -u
MIN=${1:?usage: train_on_device.sh MINUTES}; shift
: "${OUT:?OUT must name the folder results go to}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
WORK=${WORK:-/tmp/adain_device}
rm -rf "$WORK"; mkdir -p "$WORK"
if [ "${REHEARSAL:-0}" = 1 ]; then  # the CPU rehearsal: same steps, tiny sizes
  PY=${PYTHON:-python3}; DEVICE=cpu; SIZE=64; FPS_SIZE=128; THREADS=2; PRECISION=no
  export ACCELERATE_USE_CPU=true
else
  PY=python3; DEVICE=cuda; SIZE=256; FPS_SIZE=512; THREADS=6; PRECISION=bf16
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 10 > "$WORK/gpu.csv" 2>/dev/null &
  SMI=$!
fi
export PYTHONPATH=${PYTHONPATH:-}:$PWD
# fail in seconds, not after minutes, on anything the run needs
$PY - <<'PY' || exit 1
import torch, accelerate, datasets, PIL.features as f
print("torch", torch.__version__, "accelerate", accelerate.__version__, "datasets", datasets.__version__,
      "cuda", torch.cuda.is_available())
assert f.check("webp"), "this Pillow cannot read the WebP training set"
from adain_hub import AdaIN, load_model
assert load_model("model_card").is_vgg
PY

# Both runs share the data, the GPU and the wall time. Flags after MINUTES go to both.
COMMON=(--content-dataset .device/data/content --style-dataset .device/data/style --loader pool
        --image-size "$SIZE" --resize 512 --mixed-precision "$PRECISION" --decode-threads "$THREADS"
        --log-every 50 --checkpoint-every 100000 --sample-every 4000
        --batch-size 16 --styles-per-batch 16 --identity-weight 50 --log-with none)
run_once() {  # NAME MINUTES FLAGS...: one run, its log filtered to what a person reads; its exit code
  local name=$1 minutes=$2; shift 2
  $PY train_accelerate.py --output-dir "$WORK/$name" "${COMMON[@]}" --time-limit-minutes "$minutes" "$@" 2>&1 \
    | tr '\r' '\n' | awk 'NR%100==0 || /rror|saved|images|refused|arn|compile|Traceback/' >> "$WORK/$name.log"
  return "${PIPESTATUS[0]}"
}
train() {  # NAME FLAGS...: the fast loop has not run on a GPU before this driver: if it fails without saving a
  # model, the rest of the time goes to the plain loop rather than to nothing
  local name=$1; shift
  local start=$SECONDS code
  run_once "$name" "$MIN" "$@"; code=$?
  echo "$name exit $code" >> "$WORK/$name.log"
  if [ "$code" != 0 ] && [ ! -f "$WORK/$name/model/model.safetensors" ]; then
    local left; left=$(awk -v m="$MIN" -v s=$((SECONDS - start)) 'BEGIN { l = m - s / 60 - 0.5; if (l > 1) printf "%.2f", l }')
    if [ -n "$left" ]; then
      echo "$name: retrying with --loop plain for $left minutes" >> "$WORK/$name.log"
      rm -rf "$WORK/$name"
      run_once "$name" "$left" "$@" --loop plain; code=$?
      echo "$name (plain loop) exit $code" >> "$WORK/$name.log"
    fi
  fi
}
if [ "${FRESH:-0}" = 1 ]; then
  VGG_FROM=(--pretrained model_card --lr 1e-4); LITE_FROM=(--architecture lite --encoder-from model_card --lr 5e-4)
else
  VGG_FROM=(--resume-from model_card); LITE_FROM=(--resume-from model_card_lite)
fi
train vgg "${VGG_FROM[@]}" "$@" &
VGG=$!
train lite "${LITE_FROM[@]}" "$@" &
LITE=$!
wait $VGG $LITE
tail -n 4 "$WORK/vgg.log" "$WORK/lite.log"

# Pack the models first: whatever happens to the speed measurement below, they come back
# (scripts/unpack_device_run.py's pack_run: one tar a model, under the 16 MiB a returned file may have)
$PY - "$WORK" "$OUT" <<'PY'
import json, os, sys
from pathlib import Path
sys.path.insert(0, "scripts")
from unpack_device_run import pack_run

work, out = sys.argv[1:]
summary = []
for name in ("vgg", "lite"):
    run = os.path.join(work, name)
    if not os.path.isfile(os.path.join(run, "model", "model.safetensors")):
        summary.append(f"{name}: no model (see logs.tar)")
        continue
    pack_run(Path(run), Path(out) / f"{name}.tar")
    t = json.load(open(os.path.join(run, "throughput.json"))) if os.path.isfile(os.path.join(run, "throughput.json")) else {}
    summary.append(f"{name}: step {t.get('step')}, {t.get('steps_per_s')} steps/s, {t.get('images_per_s')} images/s "
                   f"at batch {t.get('batch_size')}, {t.get('image_size')} px, on {t.get('device')}")
open(os.path.join(work, "summary.txt"), "w").write("\n".join(summary) + "\n")
print("\n".join(summary))
PY

# GPU inference: frames per second at 512 px, style encoded once (each bounded, so packing always runs)
for name in vgg lite; do
  if [ -f "$WORK/$name/model/model.safetensors" ]; then
    timeout "${FPS_SECONDS:-40}" $PY benchmarks/bench_inference.py --device "$DEVICE" --model "$WORK/$name/model" \
      --size "$FPS_SIZE" --repeats 5 --json "$WORK/fps_$name.json" > "$WORK/fps_$name.md" 2>&1
    cat "$WORK/fps_$name.md" | grep -v -i warn | tail -n 8
  fi
done

# Then the logs, the speed tables and the summary
$PY - "$WORK" "$OUT" <<'PY'
import glob, json, os, sys, tarfile

work, out = sys.argv[1:]
summary = open(os.path.join(work, "summary.txt")).read().splitlines()
with tarfile.open(os.path.join(out, "logs.tar"), "w") as tar:
    for p in sorted(glob.glob(f"{work}/*.log") + glob.glob(f"{work}/fps_*") + glob.glob(f"{work}/gpu.csv")):
        tar.add(p, arcname=os.path.basename(p))
for name in ("vgg", "lite"):
    path = os.path.join(work, f"fps_{name}.json")
    if os.path.isfile(path):
        for variant, r in json.load(open(path))["results"].items():
            summary.append(f"{name} {variant}: {r['fps']:.0f} fps network, {r['stylizer_fps']:.0f} fps Stylizer")
open(os.path.join(out, "summary.txt"), "w").write("\n".join(summary) + "\n")
print("\n".join(summary))
PY
[ -n "${SMI:-}" ] && kill "$SMI" 2>/dev/null
ls -la "$OUT"
