"""The faster paths give the same results as the plain ones: fit's fast step against lesson 04's loop, the optimiser
built without torch._dynamo, CIFAR-10 without torchvision, the images kept in the files' layout, FastLoader's views,
one-thread evaluation, and the phase times the command records. No timings are asserted."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from cifar_tutorial.data import CIFAR10Arrays, FastLoader, get_dataset, images_nchw
from cifar_tutorial.models import Net
from cifar_tutorial.train import (
    SettingError,
    _fast_step_for,
    _FastSGDStep,
    _plain,
    _sgd,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def data():
    return get_dataset('synthetic', n_train=1200, n_test=60)


def run(data, fast, epochs=1, seed=0, **kw):
    seed_everything(seed)
    return fit(Net(), FastLoader(data[0], batch_size=4, seed=seed), epochs=epochs, progress=False, print_every=0,
               fast=fast, **kw)


# --- the step ---

def test_fast_step_gives_the_plain_loop_numbers(data):
    "300 steps each way from the same weights and batches: the same losses, weights and momentum buffers."
    a, b = run(data, fast=False), run(data, fast=True)
    assert len(a.history.step_loss) == 300
    assert a.history.step_loss == b.history.step_loss                     # bit for bit (the same foreach calls)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    sa, sb = a.optimizer.state_dict(), _plain(b.optimizer.state_dict)()
    assert sa['param_groups'] == sb['param_groups'] and sa['state'].keys() == sb['state'].keys()
    assert all(torch.equal(sa['state'][k]['momentum_buffer'], sb['state'][k]['momentum_buffer']) for k in sa['state'])


def test_fast_step_is_used_and_can_be_turned_off(data, monkeypatch):
    calls = []
    real = _FastSGDStep.__call__
    monkeypatch.setattr(_FastSGDStep, '__call__', lambda self, x, y: calls.append(1) or real(self, x, y))
    run(data, fast=True); assert len(calls) == 300
    run(data, fast=False); assert len(calls) == 300                      # fast=False: lesson 04's loop
    seed_everything(0)                                                    # a custom optimiser: the plain loop too
    fit(Net(), FastLoader(data[0], batch_size=4, seed=0), epochs=1, progress=False, print_every=0,
        opt_func=lambda ps: torch.optim.SGD(ps, lr=0.001, momentum=0.9))
    assert len(calls) == 300


def test_fast_step_only_where_it_gives_the_same_numbers():
    net, loss = Net(), nn.CrossEntropyLoss()
    assert isinstance(_fast_step_for(net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), loss), _FastSGDStep)
    for opt in [torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True),
                torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=1e-4),
                torch.optim.Adam(net.parameters()),
                torch.optim.SGD([{'params': net.conv1.parameters()}, {'params': net.fc1.parameters()}], lr=0.1)]:
        assert _fast_step_for(net, opt, loss) is None
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    opt.register_step_pre_hook(lambda *a: None)
    assert _fast_step_for(net, opt, loss) is None                        # hooks expect opt.step() to run


def test_fast_step_without_momentum_and_with_an_unused_weight():
    "SGD without momentum, and a weight the loss does not use (no gradient: left alone, as opt.step() does)."
    class Two(nn.Module):
        def __init__(self):
            super().__init__(); self.a, self.unused = nn.Linear(3, 2), nn.Linear(3, 2)
        def forward(self, x): return self.a(x)
    for momentum in (0.0, 0.9):
        torch.manual_seed(0); m1 = Two(); m2 = Two(); m2.load_state_dict(m1.state_dict())
        o1 = torch.optim.SGD(m1.parameters(), lr=0.1, momentum=momentum, foreach=True)
        o2 = _sgd(m2.parameters(), 0.1, momentum)
        step = _fast_step_for(m2, o2, nn.CrossEntropyLoss())
        g = torch.Generator().manual_seed(1)
        for _ in range(20):
            x, y = torch.randn(4, 3, generator=g), torch.randint(0, 2, (4,), generator=g)
            o1.zero_grad(); l1 = nn.functional.cross_entropy(m1(x), y); l1.backward(); o1.step()
            assert torch.equal(l1, step(x, y))
        assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))   # the unused weight: untouched
        s1, s2 = _plain(o1.state_dict)(), _plain(o2.state_dict)()
        assert s1['param_groups'] == s2['param_groups'] and s1['state'].keys() == s2['state'].keys()
        assert all(torch.equal(s1['state'][k]['momentum_buffer'], s2['state'][k]['momentum_buffer']) for k in s1['state'])
        assert m2.unused.weight not in o2.state and m1.unused.weight not in o1.state


class StopAt:
    "A loader that presses Ctrl-C while batch `at` of the first epoch is being trained."
    def __init__(self, dl, at): self.dl, self.at, self.batch_size, self.gen, self.epoch = dl, at, dl.batch_size, dl.gen, 0
    def __len__(self): return len(self.dl)
    def __iter__(self):
        self.epoch += 1
        for i, b in enumerate(self.dl):
            if self.epoch == 1 and i == self.at: os.kill(os.getpid(), 2)
            yield b


def test_resume_mid_epoch_with_the_fast_step_is_the_uninterrupted_run(data, tmp_path):
    full = run(data, fast=True, epochs=2, seed=5)
    seed_everything(5)
    stopped = fit(Net(), StopAt(FastLoader(data[0], batch_size=4, seed=5), 77), epochs=2, progress=False, print_every=0)
    assert stopped.interrupted and stopped.epochs_done == 0 and stopped.step == 78
    save_checkpoint(tmp_path / 'mid.pth', stopped.model, stopped)
    net = Net(); ck = load_checkpoint(tmp_path / 'mid.pth', net)          # a fresh model, as after a restart
    done = fit(net, FastLoader(data[0], batch_size=4, seed=5), epochs=2, progress=False, print_every=0, resume=ck)
    assert done.history.step_loss == full.history.step_loss
    assert all(torch.equal(p, q) for p, q in zip(done.model.parameters(), full.model.parameters()))
    sa, sb = _plain(full.optimizer.state_dict)(), _plain(done.optimizer.state_dict)()
    assert all(torch.equal(sa['state'][k]['momentum_buffer'], sb['state'][k]['momentum_buffer']) for k in sa['state'])


def test_fast_must_be_a_bool(data):
    with pytest.raises(SettingError, match='fast must be True or False'):
        run(data, fast='yes')


def test_sgd_built_without_dynamo_is_torchs_sgd():
    net = Net()
    a, b = _sgd(net.parameters(), 0.01, 0.5), torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.5, foreach=True)
    assert type(a) is torch.optim.SGD and 'add_param_group' not in vars(a)
    assert _plain(a.state_dict)() == b.state_dict()


def test_the_tutorial_path_imports_neither_torchvision_nor_dynamo(cifar_root, tmp_path):
    "Loading CIFAR-10 as arrays, training with fit, checkpointing and evaluating import neither (seconds of start-up)."
    code = f"""
import sys
from pathlib import Path
from cifar_tutorial.data import FastLoader, get_dataset
from cifar_tutorial.models import Net
from cifar_tutorial.train import evaluate, fit, load_checkpoint, save_checkpoint, versions
tr, te = get_dataset('cifar10', {str(cifar_root)!r}, verify=False, as_arrays=True)
ck = lambda r: save_checkpoint(Path({str(tmp_path)!r}) / 'c.pth', r.model, r)
r = fit(Net(), FastLoader(tr, 4, seed=0), epochs=2, progress=False, print_every=0, checkpoint=ck)
fit(Net(), FastLoader(tr, 4, seed=0), epochs=3, progress=False, print_every=0,
    resume=load_checkpoint(Path({str(tmp_path)!r}) / 'c.pth'))
evaluate(r.model, FastLoader(te, 1000, shuffle=False))
print(versions()['torchvision'])
print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))
"""
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == '[]'
    import torchvision
    assert p.stdout.strip().splitlines()[-2] == torchvision.__version__     # versions() reads it without importing it


# --- data ---

def test_arrays_and_safe_cifar10_hold_the_same_data(cifar_root):
    from torchvision.datasets import CIFAR10

    from cifar_tutorial.data import SafeCIFAR10
    a, s = CIFAR10Arrays(cifar_root, verify=False), SafeCIFAR10(cifar_root, verify=False)
    assert isinstance(s, CIFAR10) and isinstance(s, CIFAR10Arrays) and not isinstance(a, CIFAR10)
    assert np.array_equal(a.data, s.data) and a.targets == s.targets and a.classes == s.classes
    # torchvision's own reading of the same files (the test copy's checksums differ, so read them as it does)
    rows = [pickle.load(open(cifar_root / 'cifar-10-batches-py' / f'data_batch_{i}', 'rb'), encoding='latin1')
            for i in range(1, 6)]
    expect = np.vstack([r['data'] for r in rows]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(a.data, expect) and a.data.shape == (100, 32, 32, 3)
    img, label = a[7]
    assert np.array_equal(np.asarray(img), expect[7]) and label == a.targets[7]
    assert pickle.loads(pickle.dumps(s)).__class__ is SafeCIFAR10          # DataLoader workers can pickle it
    assert 'Split: Train' in repr(a) and 'Dataset SafeCIFAR10' in repr(s)


def test_get_dataset_as_arrays(cifar_root):
    tr, te = get_dataset('cifar10', cifar_root, verify=False, as_arrays=True, n_train=30)
    assert type(tr) is CIFAR10Arrays and type(te) is CIFAR10Arrays and len(tr) == 30 and tr.source == 'cifar10'
    full, _ = get_dataset('cifar10', cifar_root, verify=False)
    assert np.array_equal(tr.data, full.data[:30])
    assert type(full).__name__ == 'SafeCIFAR10'                           # the default stays torchvision's class


def test_images_keep_the_files_layout_and_fastloader_takes_it_without_a_copy(cifar_root):
    ds = CIFAR10Arrays(cifar_root, verify=False)
    planes = ds.data.transpose(0, 3, 1, 2)
    assert planes.flags['C_CONTIGUOUS']                                   # N x 3 x 32 x 32 as in the files
    x = images_nchw(ds.data)
    assert x.is_contiguous() and x.data_ptr() == planes.ctypes.data       # no copy
    assert torch.equal(x, torch.from_numpy(np.ascontiguousarray(planes)))


@pytest.mark.parametrize('bs', [1, 4, 7, 300, 2000])
def test_fastloader_views_give_the_batches_one_at_a_time_gives(data, bs):
    dl = FastLoader(data[0], batch_size=bs, seed=3)
    g = torch.Generator().manual_seed(3)
    idx = torch.randperm(dl.num_images, generator=g)
    expect = [dl.batch(idx[i:i + bs]) for i in range(0, dl.num_images, bs)]
    got = list(FastLoader(data[0], batch_size=bs, seed=3))
    assert len(got) == len(expect) == len(dl)
    assert all(torch.equal(x, y) and torch.equal(u, v) for (x, u), (y, v) in zip(got, expect))
    dl2 = FastLoader(data[0], batch_size=bs, seed=3, drop_last=True)
    assert len(list(dl2)) == len(dl2) and all(len(y) == bs for _, y in dl2)


# --- evaluation ---

def test_evaluate_on_one_thread_gives_the_numbers_of_several(data):
    seed_everything(0); net = Net()
    dl = FastLoader(data[1], batch_size=1000, shuffle=False)
    old = torch.get_num_threads()
    a = evaluate(net, dl)
    assert torch.get_num_threads() == old                                 # restored afterwards
    torch.set_num_threads(2)
    try:
        with torch.no_grad(): logits = net(next(iter(dl))[0])
    finally: torch.set_num_threads(old)
    assert torch.equal(a.confusion, torch.bincount(torch.as_tensor(data[1].targets) * 10 + logits.argmax(1),
                                                   minlength=100).view(10, 10))


# --- the command ---

def test_command_records_its_phases(tmp_path):
    out = tmp_path / 'run'
    p = subprocess.run([sys.executable, '-c', 'import sys; from cifar_tutorial.cli import main; sys.exit(main())', 'train',
                        '--dataset', 'synthetic', '--n-train', '200', '--n-test', '50', '--epochs', '1', '--no-progress',
                        '--out', str(out)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), CIFAR_TUTORIAL_PHASES='1'))
    assert p.returncode == 0, p.stderr
    m = json.loads((out / 'metrics.json').read_text())
    assert list(m['phases_s']) == ['imports', 'load', 'train', 'eval'] and all(v >= 0 for v in m['phases_s'].values())
    assert m['plot_time_s'] > 0 and m['fast_step'] is True
    assert sum(m['phases_s'].values()) + m['plot_time_s'] <= m['wall_time_s'] + 1e-6
    line = [s for s in p.stdout.splitlines() if s.startswith('phases')]
    assert len(line) == 1 and all(k in line[0] for k in ('imports', 'load', 'train', 'eval', 'plots', 'save'))


def test_plain_step_flag(tmp_path):
    from cifar_tutorial.cli import main
    assert main(['train', '--dataset', 'synthetic', '--n-train', '40', '--n-test', '20', '--epochs', '1', '--no-progress',
                 '--plain-step', '--out', str(tmp_path / 'run')]) == 0
    assert json.loads((tmp_path / 'run' / 'metrics.json').read_text())['fast_step'] is False
    assert main(['train', '--recipe', 'fast', '--plain-step', '--out', str(tmp_path / 'r2')]) == 2
