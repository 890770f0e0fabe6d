#!/usr/bin/env python
"""Training benchmark: the tutorial's own script against `cifar-tutorial train --loader fast`, side by side.

Both train the tutorial's recipe unchanged (the Net, CrossEntropyLoss, SGD lr 0.001 momentum 0.9,
batch size 4, 2 epochs) on the same data, one after the other in this run. Each is a whole program
started fresh, so its wall time counts everything a user waits for: start-up, loading the data,
training and testing. We print the wall time and test accuracy of each, their ratio, the seconds our
command spends around training, phase by phase (from the `phases_s` it writes into metrics.json), how
long `cifar-tutorial --help` takes beside a bare `python -c pass` (interleaved, median of 5 each), and
then the step benchmark (bench/step_bench.py: lesson 04's step against fit's, interleaved in one process).

    python bench/train_bench.py --root /tmp/cifar --no-verify                    # real CIFAR-10 (a local copy)
    python bench/train_bench.py --dataset synthetic --n-train 400 --n-test 100 --epochs 1   # a quick smoke run

The machine should be otherwise idle: other jobs on the same cores distort both timings.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
from pathlib import Path

from _measure import timed  # bench/_measure.py: wall, CPU, other programs' CPU

HERE = Path(__file__).resolve().parent
PROGRAM = [sys.executable, '-c', 'from cifar_tutorial.cli import console_main; console_main()']   # the installed program's way


HELP_ROUNDS = 5


def help_times() -> tuple[float, float]:
    "Median wall seconds of `cifar-tutorial --help` and of a bare `python -c pass`, run in turn HELP_ROUNDS times each."
    runs = {'help': [], 'python': []}
    for _ in range(HELP_ROUNDS):
        for k, cmd in (('help', PROGRAM + ['--help']), ('python', [sys.executable, '-c', 'pass'])):
            runs[k].append(timed(cmd, echo=False)[0])
    return statistics.median(runs['help']), statistics.median(runs['python'])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='cifar10', choices=['cifar10', 'synthetic'])
    p.add_argument('--root', default='data', help='folder holding cifar-10-batches-py (default: data)')
    p.add_argument('--no-verify', action='store_true', help='a local CIFAR-10 copy whose checksums differ (e.g. a re-encode)')
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--n-train', type=int, help='use only this many training images (smoke runs)')
    p.add_argument('--n-test', type=int, help='use only this many test images')
    p.add_argument('--json', help='also write the results to this JSON file')
    p.add_argument('--step-rounds', type=int, default=5, help='rounds of the step benchmark (0: skip it)')
    a = p.parse_args(argv)
    common = ['--dataset', a.dataset, '--root', a.root, '--epochs', str(a.epochs)]
    common += ['--no-verify'] * a.no_verify
    common += ['--n-train', str(a.n_train)] * bool(a.n_train) + ['--n-test', str(a.n_test)] * bool(a.n_test)
    import torch
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}", flush=True)

    print("\n=== the tutorial's script (torchvision Dataset + DataLoader, num_workers=2) ===", flush=True)
    t_tut, _, out, o_tut = timed([sys.executable, str(HERE / 'tutorial_script.py'), *common])
    tut = json.loads(re.search(r'^RESULT (.*)$', out, re.M).group(1))

    print("\n=== cifar-tutorial train --loader fast ===", flush=True)
    with tempfile.TemporaryDirectory() as d:
        cmd = [*PROGRAM, 'train', '--loader', 'fast', '--no-progress', '--out', str(Path(d) / 'run'), *common]
        t_fast, _, _, o_fast = timed(cmd)
        ours = json.loads((Path(d) / 'run' / 'metrics.json').read_text())
    ph, cpu = dict(ours.get('phases_s') or {}), dict(ours.get('phases_cpu_s') or {})
    if ph:                                                     # seconds around training, measured inside our command
        ph['plots'], cpu['plots'] = ours['plot_time_s'], ours['plot_cpu_s']
        ph['save'] = ours['wall_time_s'] - sum(ph.values())     # weights, metrics.json (save_run less the plots)
        ph['checkpoints'] = ph['train'] - ours['train_time_s']  # the checkpoints fit writes while it trains
        ph['python start + exit'] = t_fast - ours['wall_time_s']  # interpreter start, arguments, exit (unloading torch)
        around = {k: v for k, v in ph.items() if k != 'train'}

    res = dict(tutorial=dict(wall_time_s=round(t_tut, 1), test_accuracy=tut['test_accuracy'], train_time_s=tut['train_time_s']),
               fast=dict(wall_time_s=round(t_fast, 1), test_accuracy=ours['test_accuracy'], train_time_s=ours['train_time_s']),
               ratio=round(t_tut / t_fast, 2), time_ratio=round(t_fast / t_tut, 3), dataset=a.dataset, epochs=a.epochs,
               torch=torch.__version__, cores=os.cpu_count(),
               other_cpu_s=[None if o is None else round(o, 1) for o in (o_tut, o_fast)])
    if ph: res['around_training_s'] = {k: round(v, 2) for k, v in around.items()}
    t_help, t_python = help_times()
    res['help_s'], res['python_start_s'] = round(t_help, 3), round(t_python, 3)
    print(f"\n{'':28} {'wall time':>10} {'train time':>11} {'test accuracy':>14}")
    print(f"{'tutorial script':28} {t_tut:>9.1f}s {tut['train_time_s']:>10.1f}s {tut['test_accuracy']:>13.1f}%")
    print(f"{'cifar-tutorial --loader fast':28} {t_fast:>9.1f}s {ours['train_time_s']:>10.1f}s {ours['test_accuracy']:>13.1f}%")
    print(f"speed-up (wall time): {res['ratio']:.1f}x; our wall time / the script's: {res['time_ratio']:.2f}x")
    if ph:
        print(f"around training in our command: {sum(around.values()):.2f} s of {t_fast:.1f} s wall "
              f"(training itself {ours['train_time_s']:.1f} s):")
        print('  ' + ', '.join(f"{k} {v:.2f}" + (f" (CPU {cpu[k]:.2f})" if k in cpu else '') for k, v in around.items()))
    print(f"cifar-tutorial --help: {t_help:.3f} s; a bare python -c pass: {t_python:.3f} s (median of {HELP_ROUNDS} each, in turn)")
    if o_tut is not None:
        share = [o / t for o, t in ((o_tut, t_tut), (o_fast, t_fast))]
        print(f"other programs on this machine used {share[0]:.2f} and {share[1]:.2f} CPU cores on average during the "
              f"two runs (of {os.cpu_count()})")
        if max(share) > 0.25:
            print("note: other jobs were competing for the CPU, so these timings are not reliable. "
                  "Run again when the machine is idle.")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))
    if a.step_rounds > 0:
        print(f"\n=== the step at batch 4: lesson 04's loop against fit's (bench/step_bench.py, {a.step_rounds} rounds) ===",
              flush=True)
        import step_bench
        step_bench.main(['--rounds', str(a.step_rounds), '--steps', '200'])
    return res


if __name__ == '__main__':
    main()
