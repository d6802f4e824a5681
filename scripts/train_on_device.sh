#!/bin/bash
# The GPU driver: trains on a GPU machine lent through the session's `device` tool, which runs
# commands in a copy of this working tree, has torch and accelerate but not `datasets`, cannot
# reach the network, and does not see ../shared. Its inputs are prepared here first, in ignored
# folders carried along with the tree. 64 MiB travel in all, the tracked tree (~32 MB, most of it
# model_card/) and untracked files included, so the data gets ~32 MB:
#   python scripts/make_training_subset.py --src ../shared/data/train --out .device/data    # v2: 32 MB
#   pip download --no-deps --python-version 3.12 --only-binary=:all: -d .whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
#   # check the sum is under 67,108,864 bytes:
#   git ls-files -z | xargs -0 du -cb | tail -1; git ls-files -oz --exclude-standard | xargs -0 -r du -cb | tail -1; du -sb .device .whl
# The VGG encoder comes from the tracked model_card/ (the same normalised VGG as vgg_init/), so no
# weights need carrying; ENCODER=folder overrides it. Then one call, carry [".device", ".whl"]:
#   bash scripts/train_on_device.sh 7 --max-steps 160000 --upsample bilinear
# A further call on the same warm machine resumes /tmp/run. The decoder, config, card, the last
# sample grids, throughput.json (steps/s, images/s), GPU utilisation and the filtered log come back
# under $OUT (8 files at most). The first shipped model (v1) was trained with
# `make_training_subset.py --set v1 --per-style 180` data, `--loader stream --image-size 256
# --resize 256 --max-upscale 1.15` and `--decode-threads 12`: ~13 steps/s on an H100.
# usage: train_on_device.sh MINUTES EXTRA_TRAIN_ARGS...
set -x
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, datasets, accelerate; print(torch.__version__, datasets.__version__, accelerate.__version__)" || exit 1
python3 -c "from PIL import features; assert features.check('webp'), 'this Pillow cannot read the WebP training set'" || exit 1
ENCODER=${ENCODER:-model_card}
MIN=$1; shift
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 > "$OUT/gpu.csv" 2>/dev/null &
SMI=$!
set -o pipefail
python3 train_accelerate.py --encoder-from "$ENCODER" --content-dataset .device/data/content --style-dataset .device/data/style \
  --output-dir /tmp/run --resume --time-limit-minutes "$MIN" --loader pool --image-size 256 --resize 512 \
  --mixed-precision bf16 --decode-threads 12 --log-every 50 --checkpoint-every 5000 --sample-every 5000 \
  --log-with none "$@" 2>&1 | tr '\r' '\n' | awk 'NR%200==0 || /rror|saved|images \(|refused|warn|Warn|compile/' | tee "$OUT/train.log"
status=$?
kill $SMI 2>/dev/null
cp /tmp/run/throughput.json "$OUT/throughput.json" && cat /tmp/run/throughput.json
[ $status -eq 0 ] || exit $status
python3 - <<'PY'
import os, glob, shutil
from safetensors.torch import save_file
from adain_hub import AdaIN
m = AdaIN.from_pretrained('/tmp/run/model')
out = os.environ['OUT']
save_file({k: v.contiguous() for k, v in m.decoder.state_dict().items()}, f'{out}/decoder.safetensors')
shutil.copy('/tmp/run/model/config.json', f'{out}/config.json')
shutil.copy('/tmp/run/model/README.md', f'{out}/card.md')
for p in sorted(glob.glob('/tmp/run/samples/*.png'))[-2:]:
    shutil.copy(p, f'{out}/{os.path.basename(p)}')
print(open('/tmp/run/model/README.md').read()[-600:])
PY
