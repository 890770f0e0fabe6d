#!/usr/bin/env python
"""Recipe benchmark: the tutorial's 2-epoch script against each CPU size of the fast recipe, side by side in one run.

The tutorial's script (bench/tutorial_script.py: the Net, batch 4, SGD, 2 epochs, DataLoader with
num_workers=2) runs once; then each size of the fast recipe (`cifar_tutorial.recipes`: FastNet, data on the
device, flip + translate augmentation, label smoothing, triangular schedule, TTA) runs once per seed. Every
run is a fresh program, so each wall time counts everything a user waits for: start-up, loading the data,
training, testing. For each size we print the test accuracy over the seeds (mean, min, max) and the mean
wall time as a ratio of the script's, and the other programs' CPU use during each run (average cores, from
/proc/stat less what the run itself used, as bench/train_bench.py measures it).

    python bench/recipe_bench.py --root /tmp/cifar --no-verify                 # real CIFAR-10 (a local copy), 3 seeds
    python bench/recipe_bench.py --dataset synthetic --n-train 400 --n-test 100 --tutorial-epochs 1 --sizes tiny --seeds 1   # smoke run

The machine should be otherwise idle: other jobs on the same cores distort both timings (the other programs'
cores printed beside each figure say how busy it was).
"""
import argparse
import csv
import json
import os
import platform
import re
import sys
from pathlib import Path

from _measure import cores, timed  # bench/_measure.py: wall, CPU, other programs' CPU

HERE = Path(__file__).resolve().parent

# One fast-recipe run as a user's program: import, load the data, train, evaluate, print the result. It goes
# through the API, so sizes that the command line does not list yet can be timed too.
FAST_PROGRAM = r"""
import json, sys
a = json.loads(sys.argv[1])
import torch
from cifar_tutorial.recipes import FastRecipe, fast_config
dev = torch.device(a['device'] if a['device'] != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu'))
cfg = fast_config(a['size'], dev, epochs=a['epochs'])
recipe = FastRecipe(cfg, dev)
data = recipe.load(a['dataset'], a['root'], a['verify'], a['n_train'], a['n_test'])
if cfg.compile: recipe.warmup(data)
r = recipe.run(data, a['seed'], log=None)
print('RESULT ' + json.dumps(dict(test_accuracy=r.test_accuracy, test_accuracy_plain=r.test_accuracy_plain,
      train_time_s=r.train_time_s, eval_time_s=r.eval_time_s, steps=r.steps, device=r.device, config=r.config)))
"""


def _mean(values):
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


def _fmt(v): return '?' if v is None else f"{v:.2f}"


def result(out):
    "The `RESULT {json}` line a program printed."
    return json.loads(re.search(r'^RESULT (.*)$', out, re.M).group(1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='cifar10', choices=['cifar10', 'synthetic'])
    p.add_argument('--root', default='data', help='folder holding cifar-10-batches-py (default: data)')
    p.add_argument('--no-verify', action='store_true', help='a local CIFAR-10 copy whose checksums differ (e.g. a re-encode)')
    p.add_argument('--tutorial-epochs', type=int, default=2, help="epochs of the tutorial's script (default 2, as the tutorial)")
    p.add_argument('--sizes', nargs='+', default=None,
                   help="the fast recipe's sizes (default: every CPU size, i.e. all but 'large' and 'tiny'; on a GPU: large)")
    p.add_argument('--seeds', type=int, default=3, help='runs (seeds 0, 1, ...) per size (default 3)')
    p.add_argument('--epochs', type=float, default=None, help="the fast recipe's epochs (default: each size's)")
    p.add_argument('--device', default='auto', help="the fast recipe's device (the tutorial's script always uses the CPU)")
    p.add_argument('--n-train', type=int, help='use only this many training images (smoke runs)')
    p.add_argument('--n-test', type=int, help='use only this many test images')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads for both programs (OMP_NUM_THREADS; default: PyTorch\'s choice)')
    p.add_argument('--skip-tutorial', action='store_true', help='run only the fast recipe (no ratio)')
    p.add_argument('--json', help='also write the results to this JSON file')
    p.add_argument('--csv', help='also write one row per size to this CSV file (e.g. bench/results/cpu_sizes.csv)')
    a = p.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import torch

    from cifar_tutorial.recipes import SIZES
    sizes = a.sizes or (['large'] if a.device.startswith('cuda') or (a.device == 'auto' and torch.cuda.is_available())
                        else [s for s in SIZES if s not in ('large', 'tiny')])
    unknown = [s for s in sizes if s not in SIZES]
    if unknown: p.error(f"unknown size(s) {unknown}: choose from {', '.join(SIZES)}")
    data = ['--dataset', a.dataset, '--root', a.root] + ['--no-verify'] * a.no_verify
    data += ['--n-train', str(a.n_train)] * bool(a.n_train) + ['--n-test', str(a.n_test)] * bool(a.n_test)
    env = dict(os.environ, **({'OMP_NUM_THREADS': str(a.threads), 'MKL_NUM_THREADS': str(a.threads)} if a.threads else {}))
    env['PYTHONPATH'] = os.pathsep.join([str(HERE.parent)] + [q for q in [os.environ.get('PYTHONPATH')] if q])
    if a.threads: torch.set_num_threads(a.threads)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
    try: machine = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')) + f", {os.cpu_count()} cores"
    except (OSError, StopIteration): pass
    print(f"torch {torch.__version__}, {machine}, {torch.get_num_threads()} threads; data: {a.dataset} from {a.root}", flush=True)
    res = dict(dataset=a.dataset, root=a.root, torch=torch.__version__, machine=machine, threads=torch.get_num_threads(), sizes={})

    if not a.skip_tutorial:
        print(f"\n=== the tutorial's script ({a.tutorial_epochs} epochs, batch 4, DataLoader num_workers=2) ===", flush=True)
        wall, cpu, out, others = timed([sys.executable, str(HERE / 'tutorial_script.py'), *data, '--epochs', str(a.tutorial_epochs)], env)
        tut = result(out)
        res['tutorial'] = dict(wall_time_s=round(wall, 1), cpu_time_s=round(cpu, 1), test_accuracy=tut['test_accuracy'],
                               train_time_s=tut['train_time_s'], epochs=a.tutorial_epochs,
                               other_programs_cores=cores(others, wall))
        print(f"other programs meanwhile: {_fmt(cores(others, wall))} cores", flush=True)

    for size in sizes:
        runs = []
        for seed in range(a.seeds):
            args = dict(size=size, seed=seed, epochs=a.epochs, device=a.device, dataset=a.dataset, root=a.root,
                        verify=not a.no_verify, n_train=a.n_train, n_test=a.n_test)
            wall, cpu, out, others = timed([sys.executable, '-c', FAST_PROGRAM, json.dumps(args)], env, echo=False)
            r = result(out)
            runs.append(dict(seed=seed, wall_time_s=round(wall, 1), cpu_time_s=round(cpu, 1), test_accuracy=r['test_accuracy'],
                             test_accuracy_plain=r['test_accuracy_plain'], train_time_s=round(r['train_time_s'], 1),
                             other_programs_cores=cores(others, wall), device=r['device']))
            print(f"fast recipe, size {size}, seed {seed}: {r['test_accuracy']:.2f} % (plain {r['test_accuracy_plain']:.2f} %), "
                  f"train {r['train_time_s']:.1f} s, wall {wall:.1f} s, CPU {cpu:.1f} s (other programs: {_fmt(cores(others, wall))} cores)", flush=True)
        acc = [r['test_accuracy'] for r in runs]; walls = [r['wall_time_s'] for r in runs]
        cfg = r['config']
        res['sizes'][size] = dict(runs=runs, mean_accuracy=sum(acc) / len(acc), min_accuracy=min(acc), max_accuracy=max(acc),
                                  mean_wall_time_s=sum(walls) / len(walls), epochs=cfg['epochs'], widths=cfg['widths'],
                                  batch_size=cfg['batch_size'], device=runs[0]['device'],
                                  other_programs_cores=_mean([r['other_programs_cores'] for r in runs]))

    print("\n=== summary ===")
    print(f"{'':>24} {'test accuracy (mean, min-max)':>30} {'wall time':>10} {'x script':>9} {'others':>6}")
    tut = res.get('tutorial')
    if tut:
        print(f"{'tutorial script':>24} {tut['test_accuracy']:>12.1f} % {'':>16} {tut['wall_time_s']:>8.1f} s {1:>8.2f}x "
              f"{_fmt(tut['other_programs_cores']):>6}")
    for size, s in res['sizes'].items():
        n = len(s['runs'])
        if tut: s['wall_time_ratio'] = round(s['mean_wall_time_s'] / tut['wall_time_s'], 2)
        ratio = f"{s['wall_time_ratio']:>8.2f}x" if tut else f"{'':>9}"
        print(f"{'fast ' + size + f' ({n} seed' + 's' * (n > 1) + ')':>24} {s['mean_accuracy']:>12.2f} % "
              f"({s['min_accuracy']:.2f}-{s['max_accuracy']:.2f}) {s['mean_wall_time_s']:>8.1f} s {ratio} {_fmt(s['other_programs_cores']):>6}")
    if tut: print("x script: the mean wall time of one fast-recipe program over the tutorial script's (below 1: faster)")
    print("others: the average cores other programs on this machine used during those runs")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))
    if a.csv:
        Path(a.csv).parent.mkdir(parents=True, exist_ok=True)
        with open(a.csv, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['size', 'seeds', 'mean_acc', 'min_acc', 'max_acc', 'mean_wall_s', 'script_wall_s', 'ratio', 'machine',
                        'other_programs_cores'])
            for size, s in res['sizes'].items():
                w.writerow([size, len(s['runs']), round(s['mean_accuracy'], 2), round(s['min_accuracy'], 2), round(s['max_accuracy'], 2),
                            round(s['mean_wall_time_s'], 1), tut['wall_time_s'] if tut else '', s.get('wall_time_ratio', ''),
                            machine, s['other_programs_cores']])
    return res


if __name__ == '__main__':
    main()
