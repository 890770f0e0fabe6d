#!/usr/bin/env python
"""`fit` called from Python against `cifar-tutorial train`: the same steps, side by side in one run.

Both train the tutorial's recipe (Net, batch 4, SGD lr 0.001 momentum 0.9) on the same data for the same
epochs, each in a fresh process, one after the other (then both again, in the other order). We compare the
training time each reports (`FitResult.train_time_s` and metrics.json's `train_time_s`): `fit` applies the
same small-batch CPU settings as the command (one thread, PyTorch's own convolutions), so the ratio should be
close to 1.

    python bench/fit_bench.py --dataset synthetic --n-train 4000 --epochs 1
    python bench/fit_bench.py --dataset cifar10 --root /tmp/cifar --no-verify --n-train 10000 --epochs 1
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

FIT = """
import json, sys
from cifar_tutorial.data import FastLoader, get_dataset
from cifar_tutorial.models import Net
from cifar_tutorial.train import fit, seed_everything
a = json.loads(sys.argv[1])
train, _ = get_dataset(a['dataset'], a['root'], verify=not a['no_verify'], n_train=a['n_train'], n_test=10)
seed_everything(0)
r = fit(Net(), FastLoader(train, 4, seed=0), epochs=a['epochs'], progress=False, print_every=0)
print(json.dumps(dict(train_time_s=r.train_time_s, steps=len(r.history.step_loss), last=r.history.step_loss[-1])))
"""


def run_fit(a) -> dict:
    out = subprocess.run([sys.executable, '-c', FIT, json.dumps(vars(a))], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(a) -> dict:
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, '-c', 'import sys; from cifar_tutorial.cli import main; sys.exit(main())', 'train',
               '--dataset', a.dataset, '--root', a.root, '--n-train', str(a.n_train), '--n-test', '10',
               '--epochs', str(a.epochs), '--no-progress', '--print-every', '0', '--out', f'{d}/run']
        if a.no_verify: cmd.append('--no-verify')
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        m = json.loads(Path(d, 'run', 'metrics.json').read_text())
    steps = m['loss_history']['per_step']
    return dict(train_time_s=m['train_time_s'], steps=len(steps), last=steps[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='synthetic', choices=['synthetic', 'cifar10'])
    p.add_argument('--root', default='data')
    p.add_argument('--no-verify', action='store_true')
    p.add_argument('--n-train', type=int, default=4000)
    p.add_argument('--epochs', type=int, default=1)
    a = p.parse_args(argv)
    print(f"fit vs cifar-tutorial train: {a.dataset}, {a.n_train} images, {a.epochs} epoch(s) at batch 4, "
          f"{os.cpu_count()} CPU cores; each in a fresh process, in the order fit, cli, cli, fit", flush=True)
    res = {'fit': [], 'cli': []}
    for who in ('fit', 'cli', 'cli', 'fit'):
        r = run_fit(a) if who == 'fit' else run_cli(a)
        res[who].append(r)
        print(f"  {who:>3}: {r['steps']} steps, training {r['train_time_s']:.2f} s, last loss {r['last']:.4f}", flush=True)
    f = sum(r['train_time_s'] for r in res['fit']) / 2
    c = sum(r['train_time_s'] for r in res['cli']) / 2
    print(f"mean training time: fit {f:.2f} s, cli {c:.2f} s -> fit / cli = {f / c:.2f}x")
    return 0


if __name__ == '__main__':
    sys.exit(main())
