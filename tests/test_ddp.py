"Tests for cifar_tutorial.ddp: 2 gloo processes train in lock-step; bad set-ups fail clearly."
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import torch

from cifar_tutorial import ddp
from cifar_tutorial.ddp import ddp_backend, ddp_device, shard_indices

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}


def torchrun(n, *args, timeout=120):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n),
           '-m', 'cifar_tutorial.ddp', *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)                 # torchrun and every worker it started
        out, err = p.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def test_ddp_two_gloo_processes_end_with_identical_weights(tmp_path):
    r = torchrun(2, '--device', 'cpu', '--dataset', 'synthetic', '--n-train', '512', '--n-test', '128',
                 '--batch-size', '32', '--max-steps', '5', '--lr', '0.05', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / 'metrics.json').read_text())        # the engine's run folder, written by rank 0
    ranks = m['ranks']
    assert [x['rank'] for x in ranks] == [0, 1] and m['world_size'] == 2 and m['backend'] == 'gloo'
    assert ranks[0]['steps'] == ranks[1]['steps'] == 5
    assert ranks[0]['checksum'] == ranks[1]['checksum']            # every rank holds exactly the same weights
    assert ranks[0]['final_loss'] != ranks[1]['final_loss']         # ... although each saw different images
    torch.manual_seed(0)
    from cifar_tutorial.models import Net
    assert ranks[0]['checksum'] != ddp.weights_checksum(Net())      # and they did train
    assert 'test_accuracy' in m and (tmp_path / 'weights.pth').is_file() and (tmp_path / 'loss_curve.png').is_file()


def test_ddp_single_process_without_torchrun(tmp_path, monkeypatch):
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR'): monkeypatch.delenv(k, raising=False)
    torch.set_num_threads(1)
    res = ddp.train_ddp('synthetic', n_train=256, n_test=64, batch_size=32, max_steps=3, device='cpu', log=None)
    assert res['world_size'] == 1 and res['backend'] is None and res['steps'] == 3


def test_epoch_loss_is_the_mean_of_that_epoch_only(monkeypatch):
    "A shard that is not a multiple of the batch size: the logged mean must not include the previous epoch's losses."
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR'): monkeypatch.delenv(k, raising=False)
    lines = []
    res = ddp.train_ddp('synthetic', n_train=100, n_test=64, batch_size=32, epochs=2, lr=0.05, device='cpu', log=lines.append)
    per_epoch = 100 // 32                                              # 3 full batches of 32 from 100 images
    steps = res['step_loss']
    assert len(steps) == 2 * per_epoch
    for e in range(2):
        want = sum(steps[e * per_epoch:(e + 1) * per_epoch]) / per_epoch
        logged = float(re.search(rf'epoch {e + 1}: mean loss ([0-9.]+)', '\n'.join(lines)).group(1))
        assert logged == pytest.approx(want, abs=5e-4) and res['epoch_loss'][e] == pytest.approx(want)


def test_shards_are_disjoint_equal_and_cover_the_epoch():
    n, w = 103, 4
    shards = [shard_indices(n, r, w, epoch=2, seed=1) for r in range(w)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == n // w
    allidx = torch.cat(shards)
    assert len(set(allidx.tolist())) == len(allidx)                  # no image in two shards
    assert not torch.equal(shard_indices(n, 0, w, 0, 1), shard_indices(n, 0, w, 1, 1))   # a new order each epoch
    with pytest.raises(ValueError, match='rank must be in'):
        shard_indices(n, 4, 4, 0)


def test_backend_choice():
    assert ddp_backend(torch.device('cpu')) == 'gloo'
    assert ddp_backend(torch.device('cuda', 0)) == 'nccl'


def test_more_processes_than_gpus_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert ddp_device('cuda', local_rank=1, world_size=2) == torch.device('cuda', 1)
    with pytest.raises(ValueError, match=r'4 processes per node but only 2 GPU\(s\).*--nproc_per_node 2.*`device=cpu`'):
        ddp_device('cuda', local_rank=0, world_size=4)


def test_ddp_asking_for_cuda_without_one_fails_before_training(tmp_path):
    if torch.cuda.is_available(): pytest.skip('this machine has CUDA')
    r = torchrun(1, '--device', 'cuda', '--dataset', 'synthetic', '--n-train', '64')
    assert r.returncode != 0 and 'CUDA is not available' in r.stderr and '--device cpu' in r.stderr


def test_ddp_too_few_images_per_process(tmp_path):
    r = torchrun(2, '--device', 'cpu', '--dataset', 'synthetic', '--n-train', '40', '--n-test', '16', '--batch-size', '32')
    assert r.returncode != 0 and 'fewer than one batch' in r.stderr


@cuda
def test_ddp_gpu_nccl_one_process_per_gpu(tmp_path):
    n = torch.cuda.device_count()
    r = torchrun(n, '--device', 'cuda', '--dataset', 'synthetic', '--n-train', '2048', '--n-test', '256', '--max-steps', '5',
                 '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / 'metrics.json').read_text())
    ranks = m['ranks']
    assert m['backend'] == 'nccl' and all(x['device'] == f'cuda:{k}' for k, x in enumerate(ranks))
    assert len({x['checksum'] for x in ranks}) == 1


@cuda
def test_ddp_gpu_more_processes_than_gpus_fails_clearly():
    n = torch.cuda.device_count()
    r = torchrun(n + 1, '--device', 'cuda', '--dataset', 'synthetic', '--n-train', '256', '--max-steps', '1')
    assert r.returncode != 0 and f'only {n} GPU(s)' in r.stderr
