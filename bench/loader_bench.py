#!/usr/bin/env python
"""Loader benchmark: the tutorial's loader against `FastLoader`, side by side in one run, on the same data.

The tutorial's loader is torchvision's CIFAR10 dataset with ToTensor + Normalize, read through a
DataLoader (shuffle, num_workers=2). The fast loader keeps the split in one uint8 tensor and
normalises per batch. Both pass over the same images at the same batch size; we print images per
second for each and the ratio, at batch 4 (the tutorial's) and 512.

    python bench/loader_bench.py                                   # real CIFAR-10 in ./data if present, else offline set
    python bench/loader_bench.py --dataset cifar10 --root /tmp/cifar --no-verify
    python bench/loader_bench.py --dataset synthetic --images 2000 --batch-sizes 4   # a quick smoke run
"""
import argparse
import gc
import platform
import time
import warnings

import torch

from cifar_tutorial.data import FastLoader, classic_loader, get_dataset, tutorial_transform


def images_per_second(loader, limit):
    "Iterate `loader` until `limit` images have been produced (the first batch, worker start-up included)."
    seen, start = 0, time.perf_counter()
    it = iter(loader)
    for xb, yb in it:
        seen += len(yb)
        if seen >= limit: break
    rate = seen / (time.perf_counter() - start)
    del it, loader; gc.collect()   # shut worker processes down now, not in the middle of the next measurement
    return rate, seen


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='auto', choices=['auto', 'cifar10', 'synthetic'])
    p.add_argument('--root', default='data')
    p.add_argument('--no-verify', action='store_true')
    p.add_argument('--images', type=int, default=None, help='training images to load and measure (default: the whole split)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[4, 512])
    p.add_argument('--workers', type=int, default=2, help="the tutorial loader's num_workers (default 2, as the tutorial)")
    a = p.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter('default')
        train, _ = get_dataset(a.dataset, a.root, transform=tutorial_transform(), verify=not a.no_verify,
                               n_train=a.images, n_test=1)   # any dataset cut to --images (CIFAR-10: the first ones)
    limit = len(train)
    print(f"data: {train.source}, {limit} training images; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"{'batch':>6} {'tutorial img/s':>15} {'fast img/s':>12} {'ratio':>8}")
    results = {}
    for bs in a.batch_sizes:
        tut, n1 = images_per_second(classic_loader(train, batch_size=bs, shuffle=True, num_workers=a.workers, seed=0), limit)
        fast, n2 = images_per_second(FastLoader(train, batch_size=bs, shuffle=True, seed=0), limit)
        results[bs] = (tut, fast, fast / tut)
        print(f"{bs:>6} {tut:>15,.0f} {fast:>12,.0f} {fast / tut:>7.1f}x")
    return results


if __name__ == '__main__':
    main()
