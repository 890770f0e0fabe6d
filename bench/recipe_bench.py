#!/usr/bin/env python
"""Recipe benchmark: the tutorial's 2-epoch script against our fast recipe, one after the other, on the same data.

The tutorial's script (bench/tutorial_script.py: the Net, batch 4, SGD, 2 epochs, DataLoader with
num_workers=2) and the fast recipe (`python -m cifar_tutorial.recipes`: FastNet, data on the device,
flip + translate augmentation, label smoothing, triangular schedule, TTA) each run as a fresh program,
so each wall time counts everything a user waits for: start-up, loading the data, training, testing.
We print test accuracy and wall time of each, and the ratio of the wall times.

    python bench/recipe_bench.py --root /tmp/cifar --no-verify                 # real CIFAR-10 (a local copy)
    python bench/recipe_bench.py --dataset synthetic --n-train 400 --n-test 100 --tutorial-epochs 1 --size tiny   # smoke run

The machine should be otherwise idle: other jobs on the same cores distort both timings.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd, env=None):
    "Run `cmd`, echo its output, and return (wall seconds, stdout)."
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        raise SystemExit(f"failed (exit {r.returncode}): {' '.join(cmd)}")
    return wall, r.stdout


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='cifar10', choices=['cifar10', 'synthetic'])
    p.add_argument('--root', default='data', help='folder holding cifar-10-batches-py (default: data)')
    p.add_argument('--no-verify', action='store_true', help='a local CIFAR-10 copy whose checksums differ (e.g. a re-encode)')
    p.add_argument('--tutorial-epochs', type=int, default=2, help="epochs of the tutorial's script (default 2, as the tutorial)")
    p.add_argument('--size', default='auto', choices=['auto', 'tiny', 'small', 'large'],
                   help="the fast recipe's size (auto: large on a GPU, small on a CPU)")
    p.add_argument('--epochs', type=float, default=None, help="the fast recipe's epochs (default: the size's)")
    p.add_argument('--device', default='auto', help="the fast recipe's device (the tutorial's script always uses the CPU)")
    p.add_argument('--n-train', type=int, help='use only this many training images (smoke runs)')
    p.add_argument('--n-test', type=int, help='use only this many test images')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads for both programs (OMP_NUM_THREADS; default: PyTorch\'s choice). On a busy machine, '
                        '1 keeps both from losing time to threads that wait for each other')
    p.add_argument('--skip-tutorial', action='store_true', help='run only the fast recipe (no ratio)')
    p.add_argument('--json', help='also write the results to this JSON file')
    a = p.parse_args(argv)
    data = ['--dataset', a.dataset, '--root', a.root] + ['--no-verify'] * a.no_verify
    data += ['--n-train', str(a.n_train)] * bool(a.n_train) + ['--n-test', str(a.n_test)] * bool(a.n_test)
    env = dict(os.environ, **({'OMP_NUM_THREADS': str(a.threads), 'MKL_NUM_THREADS': str(a.threads)} if a.threads else {}))
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; data: {a.dataset} from {a.root}; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    res = dict(dataset=a.dataset, root=a.root, torch=torch.__version__, cpu_cores=os.cpu_count(), threads=torch.get_num_threads())

    if not a.skip_tutorial:
        print(f"\n=== the tutorial's script ({a.tutorial_epochs} epochs, batch 4, DataLoader num_workers=2) ===", flush=True)
        t_tut, out = timed([sys.executable, str(HERE / 'tutorial_script.py'), *data, '--epochs', str(a.tutorial_epochs)], env)
        tut = json.loads(re.search(r'^RESULT (.*)$', out, re.M).group(1))
        res['tutorial'] = dict(wall_time_s=round(t_tut, 1), test_accuracy=tut['test_accuracy'], train_time_s=tut['train_time_s'],
                               epochs=a.tutorial_epochs, load_average_before=os.getloadavg()[0])

    load_before = os.getloadavg()[0]
    print(f"\n=== the fast recipe (size {a.size}; load average before: {load_before:.2f}) ===", flush=True)
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, '-m', 'cifar_tutorial.recipes', *data, '--size', a.size, '--device', a.device,
               '--runs', '1', '--json', str(Path(d) / 'fast.json')] + ['--epochs', str(a.epochs)] * (a.epochs is not None)
        t_fast, _ = timed(cmd, env)
        fast = json.loads((Path(d) / 'fast.json').read_text())
    run = fast['runs'][0]
    res['fast'] = dict(wall_time_s=round(t_fast, 1), test_accuracy=run['test_accuracy'],
                       test_accuracy_plain=run['test_accuracy_plain'], train_time_s=round(run['train_time_s'], 1),
                       device=fast['device'], size=a.size, epochs=fast['config']['epochs'], widths=fast['config']['widths'],
                       batch_size=fast['config']['batch_size'], load_average_before=load_before)

    print("\n=== summary ===")
    print(f"{'':>22} {'test accuracy':>14} {'wall time':>10}")
    if 'tutorial' in res:
        print(f"{'tutorial script':>22} {res['tutorial']['test_accuracy']:>12.1f} % {res['tutorial']['wall_time_s']:>8.1f} s")
    print(f"{'fast recipe':>22} {res['fast']['test_accuracy']:>12.1f} % {res['fast']['wall_time_s']:>8.1f} s")
    if 'tutorial' in res:
        ratio = res['tutorial']['wall_time_s'] / res['fast']['wall_time_s']
        res['wall_time_ratio'] = round(ratio, 2)
        print(f"the fast recipe took {1 / ratio:.2f}x the tutorial script's wall time ({ratio:.2f}x faster), "
              f"{res['fast']['test_accuracy'] - res['tutorial']['test_accuracy']:+.1f} points of accuracy")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == '__main__':
    main()
