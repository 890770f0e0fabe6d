#!/usr/bin/env python
"""Step benchmark: `fit`'s training step at batch 4, lesson 04's loop against fit's fast step, side by side.

Three ways to run the same steps (the same weights, batches and numbers), timed in one process, interleaved
round by round so that other programs on the machine slow all of them alike:

- plain:        FastLoader one batch at a time, then zero_grad -> forward -> backward -> opt.step()  (fit(fast=False) before)
- fast step:    the same batches, fit's `_FastSGDStep` (autograd.grad + SGD's foreach update)
- fast + views: fit as it runs now: the fast step, and batches handed out as views of blocks of ~1,024 images

For each we print steps per second of wall time and per CPU-second of this process, and the ratio to `plain`
(median of the per-round ratios). The losses of all three are checked to be identical.

    python bench/step_bench.py                    # the offline set (the timing does not depend on the images)
    python bench/step_bench.py --rounds 15 --steps 400
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from cifar_tutorial.data import FastLoader, get_dataset
from cifar_tutorial.models import Net
from cifar_tutorial.train import _FastSGDStep, _sgd, small_batch_cpu


def one_at_a_time(loader):
    "The loader's batches as it made them before: one gather and normalisation per batch."
    g = torch.Generator(); g.set_state(loader.gen.get_state())
    idx = torch.randperm(loader.num_images, generator=g)
    for i in range(0, loader.num_images, loader.batch_size):
        yield loader.batch(idx[i:i + loader.batch_size])


def run(kind: str, ds, steps: int, seed: int):
    "Time `steps` steps of `kind`; return (wall s, CPU s, losses)."
    torch.manual_seed(0); net = Net()
    loader = FastLoader(ds, batch_size=4, seed=seed)
    batches = one_at_a_time(loader) if kind != 'fast + views' else iter(loader)
    if kind == 'plain': opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, foreach=True)
    else: opt = _sgd(net.parameters(), 0.001, 0.9); step = _FastSGDStep(net, opt, nn.CrossEntropyLoss())
    losses = []
    w, c = time.perf_counter(), time.process_time()
    for _ in range(steps):
        x, y = next(batches)
        if kind == 'plain':
            opt.zero_grad(); loss = F.cross_entropy(net(x), y); loss.backward(); opt.step()
        else: loss = step(x, y)
        losses.append(loss.item())
    return time.perf_counter() - w, time.process_time() - c, losses


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rounds', type=int, default=9)
    p.add_argument('--steps', type=int, default=300, help='steps per variant per round')
    a = p.parse_args(argv)
    ds, _ = get_dataset('synthetic', n_train=4 * a.steps, n_test=10)
    kinds = ['plain', 'fast step', 'fast + views']
    times = {k: [] for k in kinds}
    with small_batch_cpu('cpu', 4):                            # fit's settings: 1 thread, PyTorch's own convolutions
        for k in kinds: run(k, ds, 20, 0)                      # warm-up (and the optimiser's first-use imports)
        for r in range(a.rounds):
            order = kinds if r % 2 == 0 else kinds[::-1]
            res = {k: run(k, ds, a.steps, r) for k in order}
            assert res['plain'][2] == res['fast step'][2] == res['fast + views'][2], "the three must give the same losses"
            for k in kinds: times[k].append(res[k][:2])
    print(f"{a.rounds} rounds x {a.steps} steps at batch 4, 1 thread, interleaved; identical losses in every round")
    print(f"{'':14} {'steps/s':>8} {'steps/CPU-s':>12} {'ratio wall':>11} {'ratio CPU':>10}")
    for k in kinds:
        rw = statistics.median(p[0] / q[0] for p, q in zip(times['plain'], times[k]))
        rc = statistics.median(p[1] / q[1] for p, q in zip(times['plain'], times[k]))
        sw = statistics.median(a.steps / t[0] for t in times[k]); sc = statistics.median(a.steps / t[1] for t in times[k])
        print(f"{k:14} {sw:8.0f} {sc:12.0f} {rw:10.2f}x {rc:9.2f}x")


if __name__ == '__main__':
    main()
