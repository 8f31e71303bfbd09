#!/usr/bin/env bash
# The CUDA checks, as run on a lent GPU machine (see the README): the CUDA variants of the tests, the shipped
# network's forward alone (scripts/gpu_net_probe.py: frames/s in float32, float16, bfloat16), then zero-shot
# `segment` and the default U-Net trained and run on a sequence folder given as $1 (default: a 320 x 240
# synthetic clip made here, as the device machine has no data), timed.
set -uo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider -k cuda tests/test_prox.py tests/test_solvers.py tests/test_rpca.py \
    tests/test_sparse_layers.py tests/test_ml_ista.py tests/test_reference.py 2>&1 | tail -5
python3 scripts/gpu_net_probe.py --batch 256 --seconds 3
seq=${1:-}
if [ -z "$seq" ]; then
    seq=/tmp/gpu-clip
    python3 -m bgsub --quiet synth "$seq" -n 600 --height 240 --width 320 >/dev/null
fi
python3 -m bgsub --quiet segment "$seq" -o /tmp/gpu-zero --json | python3 -c "import json,sys; r=json.load(sys.stdin); print('zero-shot segment', r.get('device'), 'frames', r['frames'], 'fps %.0f' % r['fps'])"
python3 -m bgsub evaluate /tmp/gpu-zero --gt "$seq" --allow-missing --json | python3 -c "import json,sys; r=json.load(sys.stdin); print('zero-shot F %.3f' % r['scores']['f_measure'])"
if [ -n "$seq" ]; then
    python3 -m bgsub --quiet train "$seq" -o /tmp/gpu-m.pt --json | python3 -c "import json,sys; r=json.load(sys.stdin); print('train', r['device'], 'seconds %.1f' % r['seconds'], 'frames', r['frames'])"
    python3 -m bgsub --quiet segment "$seq" --model /tmp/gpu-m.pt -o /tmp/gpu-masks --json | python3 -c "import json,sys; r=json.load(sys.stdin); print('segment', r['device'], 'frames', r['frames'], 'fps %.0f' % r['fps'])"
    python3 -m bgsub evaluate /tmp/gpu-masks --gt "$seq" --allow-missing --json | python3 -c "import json,sys; r=json.load(sys.stdin); print('F %.3f' % r['scores']['f_measure'], 'frames', r['frames'])"
fi
