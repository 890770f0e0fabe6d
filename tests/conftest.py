"Shared fixtures: a small CIFAR-10 folder in the official layout, written from generated images."
import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

CIFAR_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']


def write_cifar_layout(root: Path, n_per_batch: int = 20, seed: int = 0) -> Path:
    """Write root/cifar-10-batches-py like the official "python version" (protocol-2 pickles of dicts).
    Its md5 sums differ from the official ones, like any local re-encode."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / 'cifar-10-batches-py'
    folder.mkdir(parents=True, exist_ok=True)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    for name in names:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = (np.arange(n_per_batch) % 10).tolist()
        with open(folder / name, 'wb') as f:
            pickle.dump({'batch_label': name, 'labels': labels, 'data': data,
                         'filenames': [f'{name}_{j}.png' for j in range(n_per_batch)]}, f, protocol=2)
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': CIFAR_CLASSES, 'num_cases_per_batch': n_per_batch, 'num_vis': 3072}, f, protocol=2)
    return folder


@pytest.fixture
def cifar_root(tmp_path):
    "A folder holding a small CIFAR-10 copy (5 x 20 training images, 20 test images)."
    write_cifar_layout(tmp_path / 'cifar')
    return tmp_path / 'cifar'


@pytest.fixture
def load_bench():
    "Import a script from bench/ by name (bench/ is not a package), e.g. load_bench('loader_bench')."
    bench = Path(__file__).resolve().parents[1] / 'bench'
    if str(bench) not in sys.path: sys.path.insert(0, str(bench))   # as `python bench/x.py` has it: for bench/_measure.py
    def load(name):
        spec = importlib.util.spec_from_file_location(name, bench / f'{name}.py')
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
        return mod
    return load
