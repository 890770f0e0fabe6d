"Tests for cifar_tutorial.device: best_device, to_device, Timer, is_out_of_memory, train_speed."
from collections import OrderedDict, defaultdict, namedtuple

import pytest
import torch

from cifar_tutorial import device as D
from cifar_tutorial.device import DeviceUnavailableError, Timer, best_device, is_out_of_memory, to_device, train_speed

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(D, '_mps_available', lambda: False)
    assert best_device() == torch.device('cpu') and best_device(None) == torch.device('cpu')
    monkeypatch.setattr(D, '_mps_available', lambda: True)
    assert best_device('auto') == torch.device('mps')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert best_device('auto') == torch.device('cuda')


def test_override_cpu_and_device_objects():
    assert best_device('cpu') == torch.device('cpu')
    assert best_device(' CPU ') == torch.device('cpu')
    assert best_device(torch.device('cpu')) == torch.device('cpu')


@pytest.mark.parametrize('name', ['gpu', 'cuda0', 'tpu:0', 'banana', ''])
def test_unknown_name_is_a_clear_value_error(name):
    with pytest.raises(ValueError, match='auto, cpu, cuda'):
        best_device(name)


def test_missing_cuda_says_what_is_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(D, '_mps_available', lambda: False)
    with pytest.raises(DeviceUnavailableError, match=r"CUDA is not available.*Available: cpu.*`device=cpu`"):
        best_device('cuda')
    with pytest.raises(DeviceUnavailableError, match='CUDA is not available'):
        best_device('cuda:1')


def test_missing_mps_says_what_is_available(monkeypatch):
    monkeypatch.setattr(D, '_mps_available', lambda: False)
    with pytest.raises(DeviceUnavailableError, match=r"MPS.*not available.*`device=cpu`"):
        best_device('mps')


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    monkeypatch.setattr(D, '_mps_available', lambda: False)
    assert best_device('cuda:0') == torch.device('cuda:0')
    with pytest.raises(DeviceUnavailableError, match=r"'cuda:3' does not exist.*1 CUDA device"):
        best_device('cuda:3')


def test_unavailable_is_a_runtime_error_so_the_cli_prints_it():
    assert issubclass(DeviceUnavailableError, RuntimeError)


def test_to_device_moves_every_nesting_and_keeps_types():
    P = namedtuple('P', 'x y')
    dd = defaultdict(list, a=torch.ones(1))
    obj = {'batch': (torch.zeros(2, dtype=torch.float32), [torch.ones(3), P(torch.tensor(1), 'text')]),
           'od': OrderedDict(k=torch.zeros(1)), 'dd': dd, 'n': 3, 'none': None}
    out = to_device(obj, torch.float64)   # a dtype stands in for a device: .to() takes both, and a change is visible
    assert out['batch'][0].dtype == torch.float64 and isinstance(out['batch'], tuple)
    assert isinstance(out['batch'][1], list) and out['batch'][1][0].dtype == torch.float64
    p = out['batch'][1][1]
    assert type(p) is P and p.x.dtype == torch.float64 and p.y == 'text'   # .to(dtype) converts every tensor
    assert type(out['od']) is OrderedDict and out['od']['k'].dtype == torch.float64
    assert type(out['dd']) is defaultdict and out['dd']['a'].dtype == torch.float64 and out['dd'].default_factory is list
    assert out['n'] == 3 and out['none'] is None
    assert obj['batch'][0].dtype == torch.float32      # the input is not modified


def test_to_device_on_a_real_device():
    x = {'a': [torch.zeros(2)]}
    assert to_device(x, 'cpu')['a'][0].device.type == 'cpu'


def test_timer_measures_and_reports():
    import time
    with Timer('cpu', 'sleep') as t:
        time.sleep(0.05)
    assert 0.04 < t.elapsed < 1.0
    assert 'sleep' in repr(t) and 's on cpu' in repr(t)


def test_timer_synchronises_at_both_ends(monkeypatch):
    calls = []
    monkeypatch.setattr(D, 'synchronize', lambda dev=None: calls.append(str(dev)))
    with Timer('cpu'):
        calls.append('body')
    assert calls == ['cpu', 'body', 'cpu']


def test_a_real_cpu_allocation_failure_is_out_of_memory():
    "What this operating system's allocator says when a tensor cannot be allocated (Linux: 'can't allocate memory')."
    with pytest.raises(RuntimeError) as e:
        torch.empty(2**50, dtype=torch.uint8)            # a petabyte: more than any machine's address space holds
    assert is_out_of_memory(e.value), str(e.value)


def test_is_out_of_memory():
    assert is_out_of_memory(RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB'))
    assert is_out_of_memory(RuntimeError('DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes'))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(torch.cuda.OutOfMemoryError('x'))
    assert not is_out_of_memory(ValueError('out of memory'))
    assert not is_out_of_memory(RuntimeError('shape mismatch'))


def test_train_speed_runs_and_checks_input():
    from cifar_tutorial.models import Net
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    net = Net()
    before = [p.clone() for p in net.parameters()]
    r = train_speed(net, x, y, 8, 'cpu', data_on_device=False, steps=2, warmup=1)
    assert r['images_per_s'] > 0 and r['batch_size'] == 8
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))   # it trains a copy
    with pytest.raises(ValueError, match='at least 32 images'):
        train_speed(net, x, y, 32, 'cpu')


@pytest.mark.parametrize('switches', [dict(channels_last=True), dict(amp=True), dict(amp=True, channels_last=True)])
def test_train_speed_switches_of_lesson_06_run_on_cpu(switches):
    from cifar_tutorial.models import Net
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    net = Net()
    before = [p.clone() for p in net.parameters()]
    r = train_speed(net, x, y, 4, 'cpu', steps=1, warmup=1, **switches)
    assert r['images_per_s'] > 0 and r['step_ms'] > 0 and r['data_on_device'] is True
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))   # the switches leave the model alone too


def test_train_speed_refuses_zero_steps():
    from cifar_tutorial.models import Net
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    with pytest.raises(ValueError, match='at least 1'):
        train_speed(Net(), x, y, 4, 'cpu', steps=0)


@cuda
def test_cuda_best_device_and_moves():
    assert best_device() == torch.device('cuda')
    out = to_device((torch.zeros(2), {'y': torch.ones(1)}), 'cuda')
    assert out[0].is_cuda and out[1]['y'].is_cuda
    with Timer('cuda') as t:
        torch.randn(2048, 2048, device='cuda') @ torch.randn(2048, 2048, device='cuda')
    assert t.elapsed > 0
    with pytest.raises(DeviceUnavailableError, match='does not exist'):
        best_device(f'cuda:{torch.cuda.device_count()}')


@cuda
def test_cuda_train_speed_batch_512_beats_batch_4():
    from cifar_tutorial.models import Net
    x, y = torch.randn(4096, 3, 32, 32), torch.randint(0, 10, (4096,))
    r4 = train_speed(Net(), x, y, 4, 'cuda', steps=50)
    r512 = train_speed(Net(), x, y, 512, 'cuda', steps=5)
    assert r512['images_per_s'] > 10 * r4['images_per_s']
