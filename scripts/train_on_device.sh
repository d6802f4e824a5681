#!/bin/bash
# How the shipped model_card/ decoder was trained: on a GPU machine lent through the session's
# `device` tool, which runs commands in a copy of this working tree, has torch and accelerate but
# not `datasets`, cannot reach the network, and does not see ../shared. Prepared here first, in
# ignored folders carried along with the tree (64 MB in all):
#   python scripts/make_training_subset.py --src ../shared/data/train --out .device/data --per-style 180
#   python -c "from adain_hub import AdaIN; from safetensors.torch import save_file; \
#     save_file(AdaIN.from_pretrained('vgg_init').encoder.state_dict(), '.device/encoder.safetensors')"
#   pip download --no-deps --python-version 3.12 --only-binary=:all: -d .whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
# Then three ~8-minute calls on the same warm machine, each resuming /tmp/run (18,000+ steps in all):
#   bash scripts/train_on_device.sh 8 --upsample bilinear --image-size 256 --resize 256
# The decoder, config, card and last sample grids come back under $OUT. The equivalent command on
# any machine with the data is in model_card/README.md.
# usage: train_on_device.sh MINUTES EXTRA_TRAIN_ARGS...
set -x
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, datasets, accelerate; print(torch.__version__, datasets.__version__, accelerate.__version__)"
if [ ! -d /tmp/init ]; then
python3 - <<'PY'
from safetensors.torch import load_file
from adain_hub import AdaIN
m = AdaIN(); m.encoder.load_state_dict(load_file('.device/encoder.safetensors')); m.save_pretrained('/tmp/init')
PY
fi
MIN=$1; shift
python3 train_accelerate.py --encoder-from /tmp/init --content-dataset .device/data/content --style-dataset .device/data/style \
  --output-dir /tmp/run --resume --time-limit-minutes $MIN --checkpoint-every 2000 --sample-every 2000 --decode-threads 12 "$@" 2>&1 | tr '\r' '\n' | awk 'NR%200==0 || /error|Error|saved/' 
python3 - <<'PY'
import os, glob, shutil
from safetensors.torch import save_file
from adain_hub import AdaIN
m = AdaIN.from_pretrained('/tmp/run/model')
out = os.environ['OUT']
save_file({k: v.contiguous() for k, v in m.decoder.state_dict().items()}, f'{out}/decoder.safetensors')
shutil.copy('/tmp/run/model/config.json', f'{out}/config.json')
shutil.copy('/tmp/run/model/README.md', f'{out}/card.md')
for p in sorted(glob.glob('/tmp/run/samples/*.png'))[-3:]:
    shutil.copy(p, f'{out}/{os.path.basename(p)}')
print(open('/tmp/run/model/README.md').read()[-600:])
PY
