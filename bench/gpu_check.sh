#!/usr/bin/env bash
# GPU check for lesson 05, run once on a GPU machine (no network there). From the repository root:
#
#   mkdir -p .devdata && cp ../shared/cifar10/cifar10-jpeg.tar.gz ../shared/cifar10/prepare.py .devdata/
#   bash bench/gpu_check.sh              # on the GPU machine; results in $OUT (default /tmp/gpu_check)
#   bash bench/gpu_check.sh --dry-run    # here, on a CPU: the same steps, tiny, on the offline dataset
#
# Steps, most important first, each with its own time limit so one slow step cannot take the rest:
#   1. environment (GPU, Python, torch);  2. real CIFAR-10 from .devdata/ into /tmp/cifar (prepare.py);
#   3. the fast recipe, compiled once, several seeds at a few epoch counts: train time per run (compile and
#      warm-up reported apart), accuracy, mean;  4. the same uncompiled, then one longer run per epoch count
#      in CURVE: how far more training takes accuracy on this data set;  5. the tutorial Net at batch 4
#      and 512, data on the host and on the device;  6. pytest -k 'cuda or gpu' on our test files;
#   7. every code cell of nbs/05_gpu.ipynb, the `#| cuda` cells included (nbdev is not installed there,
#      so a small runner executes the cells in order, like `nbdev-test --flags cuda`).
set -uo pipefail
DRY=0; [ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.txt"; : > "$SUMMARY"
say() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$SUMMARY"; }
START=$(date +%s); BUDGET=${BUDGET:-440}     # seconds for the whole script; each step gets min(its limit, what is left)
left() { local l=$(( BUDGET - ($(date +%s) - START) )); [ "$1" -lt "$l" ] && l=$1; echo $l; }
step() { local lim; lim=$(left "$1"); shift
         if [ "$lim" -lt 10 ]; then say "skipped (time budget spent): $*"; return 0; fi
         timeout --kill-after=10 "$lim" "$@" 2>&1 | tee -a "$SUMMARY"; local rc=${PIPESTATUS[0]}; say "rc=$rc"; return 0; }

if [ $DRY = 1 ]; then
  DEVICE=cpu; DATASET=synthetic; ROOT=/tmp/gpu_check_data; SIZE=tiny; RUNS=2; EPOCHS="1 2"; COMPILE=0
  NTRAIN="--n-train 2048 --n-test 512"; NB_FLAGS=""; CURVE="3"; export IN_TEST=1
else
  DEVICE=cuda; DATASET=cifar10; ROOT=/tmp/cifar; SIZE=large; RUNS=5; EPOCHS="10 12"; COMPILE=1
  NTRAIN=""; NB_FLAGS="cuda"; CURVE=${CURVE:-"20 40"}
fi

say "1. environment"
{ nvidia-smi 2>/dev/null | head -15; $PY - <<'EOF'
import sys, torch, platform
print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())
if torch.cuda.is_available(): print('gpu', torch.cuda.get_device_name(0), torch.cuda.device_count(), 'device(s)')
for m in ('torchvision', 'numpy', 'matplotlib', 'pytest', 'nbdev', 'tqdm', 'PIL'):
    try: print(m, __import__(m).__version__)
    except Exception as e: print(m, 'MISSING', type(e).__name__)
EOF
} 2>&1 | tee "$OUT/env.txt" | tee -a "$SUMMARY"

say "2. data"
if [ $DRY = 0 ]; then
  step 90 $PY .devdata/prepare.py "$ROOT"
fi

say "3. fast recipe ($SIZE) on $DEVICE, compiled=$COMPILE, $RUNS seeds at epochs: $EPOCHS"
export CURVE
step 300 $PY - "$DEVICE" "$DATASET" "$ROOT" "$SIZE" "$RUNS" "$COMPILE" "$OUT/recipe.json" "$EPOCHS" $NTRAIN <<'EOF'
import json, os, sys, time
from dataclasses import replace, asdict
import numpy as np, torch
from cifar_tutorial.recipes import FastRecipe, fast_config
dev, dataset, root, size, runs, comp, out, epochs = sys.argv[1:9]
extra = sys.argv[9:]
n_train = int(extra[1]) if extra else None; n_test = int(extra[3]) if extra else None
runs, comp, epochs = int(runs), comp == '1', [float(e) for e in epochs.split()]
results = dict(device=dev, gpu=torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu', torch=torch.__version__, sets=[])
def save(): open(out, 'w').write(json.dumps(results, indent=1))
for compiled in ([True, False] if comp else [False]):
    t0 = time.perf_counter()
    recipe = FastRecipe(fast_config(size, dev, compile=compiled), dev)
    data = recipe.load(dataset, root, dataset != 'cifar10', n_train, n_test)
    load_s = time.perf_counter() - t0
    warm = recipe.warmup(data)
    print(f"compiled={compiled}: data {data.source} {len(data.x_train)}/{len(data.x_test)} loaded in {load_s:.1f} s; "
          f"warm-up{' + compile' if compiled else ''} {warm:.1f} s (not counted)", flush=True)
    base = recipe.cfg
    curve = [] if compiled else [float(e) for e in os.environ.get('CURVE', '').split()]
    for ep in (epochs if compiled or not comp else epochs[:1]) + curve:
        recipe.cfg = replace(base, epochs=ep)
        rs = []
        for seed in range(1 if ep in curve else runs if compiled or not comp else 3):
            r = recipe.run(data, seed, log=None)
            rs.append(dict(seed=seed, acc=r.test_accuracy, acc_plain=r.test_accuracy_plain, train_s=r.train_time_s, eval_s=r.eval_time_s))
            print(f"  epochs {ep:g} seed {seed}: {r.test_accuracy:.2f} % (plain {r.test_accuracy_plain:.2f} %), "
                  f"train {r.train_time_s:.3f} s, eval {r.eval_time_s:.3f} s", flush=True)
        acc = np.array([x['acc'] for x in rs]); tr = np.array([x['train_s'] for x in rs])
        print(f"  => compiled={compiled} epochs {ep:g}: mean {acc.mean():.3f} % (std {acc.std():.3f}, n={len(rs)}), "
              f"train mean {tr.mean():.3f} s (min {tr.min():.3f}, max {tr.max():.3f})", flush=True)
        results['sets'].append(dict(compiled=compiled, epochs=ep, warmup_s=warm, load_s=load_s, mean_acc=float(acc.mean()),
                                    std_acc=float(acc.std()), mean_train_s=float(tr.mean()), runs=rs, config=asdict(recipe.cfg)))
        save()
    del recipe, data
    if dev == 'cuda': torch.cuda.empty_cache()
EOF

say "5. tutorial Net: batch 4 vs 512, data on host vs device"
step 60 $PY - "$DEVICE" "$OUT/net_speed.json" <<'EOF'
import json, sys, torch
from cifar_tutorial.device import train_speed
from cifar_tutorial.models import Net
dev, out = sys.argv[1:3]
x = torch.randn(20480, 3, 32, 32); y = torch.randint(0, 10, (20480,))
res = []
for bs in (4, 512):
    for on_dev in (False, True):
        steps = 400 if bs == 4 else 40
        if dev == 'cpu': steps //= 10
        r = train_speed(Net(), x, y, bs, dev, data_on_device=on_dev, steps=steps)
        res.append(r)
        print(f"Net batch {bs:>3}, data on {'device' if on_dev else 'host  '}: {r['images_per_s']:>10,.0f} images/s, {r['step_ms']:.3f} ms/step")
for bs, amp in ((512, True),):
    r = train_speed(Net(), x, y, bs, dev, steps=40 if dev == 'cuda' else 4, amp=amp); r['amp'] = amp; res.append(r)
    print(f"Net batch {bs} bf16 autocast: {r['images_per_s']:,.0f} images/s")
open(out, 'w').write(json.dumps(res, indent=1))
EOF

say "6. pytest -k 'cuda or gpu'"
step 120 $PY -m pytest -q -k 'cuda or gpu' -p no:cacheprovider tests/test_device.py tests/test_recipes.py tests/test_ddp.py

say "7. notebook nbs/05_gpu.ipynb, every cell${NB_FLAGS:+ including #| $NB_FLAGS}"
export CIFAR_TUTORIAL_DATA="$ROOT" CIFAR_TUTORIAL_NO_VERIFY=1
NB_LIM=$(left 240)
( cd nbs && timeout --kill-after=10 "$NB_LIM" $PY - "$NB_FLAGS" <<'EOF' 2>&1 ) | tee "$OUT/nb_cells.txt" | tail -60 | tee -a "$SUMMARY"
import json, sys, time, types, traceback, io, contextlib
flags = set(sys.argv[1].split())
skip_flags = {'notest', 'slow', 'cuda'} - flags
nbdev = types.ModuleType('nbdev'); sd = types.ModuleType('nbdev.showdoc'); sd.show_doc = lambda *a, **k: None
nbdev.showdoc = sd; sys.modules.update({'nbdev': nbdev, 'nbdev.showdoc': sd})
nb = json.load(open('05_gpu.ipynb'))
ns = {'__name__': '__main__'}
failed = 0
for i, c in enumerate(nb['cells']):
    if c['cell_type'] != 'code': continue
    src = ''.join(c['source'])
    dirs = {l[3:].strip() for l in src.splitlines() if l.startswith('#| ')}
    if dirs & skip_flags or 'eval: false' in dirs or any(d.startswith('default_exp') for d in dirs): continue
    t = time.perf_counter()
    print(f"--- cell {i}{' [cuda]' if 'cuda' in dirs else ''}: {src.splitlines()[0][:70] if not src.startswith('#|') else src.splitlines()[1][:70] if len(src.splitlines()) > 1 else ''}", flush=True)
    try:
        exec(compile(src, f'cell{i}', 'exec'), ns)
    except Exception:
        failed += 1; traceback.print_exc()
    print(f"    ({time.perf_counter() - t:.1f} s)", flush=True)
print(f"notebook cells: {failed} failed")
sys.exit(1 if failed else 0)
EOF
say "done"
