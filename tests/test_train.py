"The training engine: fit, evaluate, plots, checkpoints, run folders and the device resolver."
import json
import os
import signal

import pytest
import torch
import torch.nn as nn

from cifar_tutorial.data import FastLoader, get_dataset
from cifar_tutorial.lenet import LeNet
from cifar_tutorial.models import Net
from cifar_tutorial.train import (
    CheckpointError,
    FitResult,
    History,
    RunFolderError,
    evaluate,
    fit,
    load_checkpoint,
    plot_confusion,
    plot_loss,
    plot_per_class,
    plot_predictions,
    prepare_out_dir,
    save_checkpoint,
    save_run,
    seed_everything,
    versions,
)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def data():
    return get_dataset('synthetic', n_train=200, n_test=60)


def loader(ds, seed=0, bs=4, shuffle=True):
    return FastLoader(ds, batch_size=bs, shuffle=shuffle, seed=seed)


def train(data, seed=0, epochs=1, **kw):
    seed_everything(seed)
    return fit(Net(), loader(data[0], seed), epochs=epochs, progress=False, print_every=0, **kw)


# --- fit ---

def test_fit_records_every_step_and_epoch(data):
    r = train(data, epochs=2)
    assert isinstance(r, FitResult) and r.epochs_done == 2 and r.step == 0 and not r.interrupted
    assert len(r.history.step_loss) == 2 * 50 and len(r.history.epoch_loss) == 2
    assert r.history.steps_per_epoch == 50
    assert r.history.epoch_loss[0] == pytest.approx(sum(r.history.step_loss[:50]) / 50)


def test_fit_learns(data):
    seed_everything(0)
    r = fit(Net(), loader(data[0]), epochs=3, lr=0.01, progress=False, print_every=0)
    assert r.history.epoch_loss[-1] < r.history.epoch_loss[0]


def test_same_seed_same_history_other_seed_other_history(data):
    a, b, c = train(data, 1), train(data, 1), train(data, 2)
    assert a.history.step_loss == b.history.step_loss
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    assert a.history.step_loss != c.history.step_loss


def test_tutorial_style_loss_lines(data, capsys):
    seed_everything(0)
    r = fit(Net(), loader(data[0]), epochs=2, print_every=20, progress=False)
    lines = [l for l in capsys.readouterr().out.splitlines() if 'loss:' in l]
    assert lines[0].startswith('[1,    20] loss: ') and lines[-1].startswith('[2,    40] loss: ')
    assert len(lines) == 4 == len(r.history.printed)
    e, s, mean = r.history.printed[1]
    assert (e, s) == (1, 40) and mean == pytest.approx(sum(r.history.step_loss[20:40]) / 20)
    assert f'{mean:.3f}' in lines[1]


def test_eval_each_epoch(data):
    r = train(data, epochs=2, eval_loader=loader(data[1], shuffle=False, bs=30))
    assert len(r.history.eval_accuracy) == 2 and all(0 <= a <= 100 for a in r.history.eval_accuracy)


def test_optimiser_is_built_after_the_model_is_moved(data):
    events = []

    class Recorder(Net):
        def to(self, *a, **k):
            events.append('to'); return super().to(*a, **k)

    def opt_func(params):
        events.append('opt'); return torch.optim.SGD(params, lr=0.001, momentum=0.9)

    r = fit(Recorder(), loader(data[0]), epochs=1, opt_func=opt_func, progress=False, print_every=0)
    assert events[:2] == ['to', 'opt']
    assert r.optimizer.param_groups[0]['params'][0] is next(r.model.parameters())


@pytest.mark.parametrize('kw, msg', [
    (dict(epochs=0), 'epochs must be a whole number of at least 1'),
    (dict(epochs=-3), 'epochs must be a whole number of at least 1'),
    (dict(epochs=1.5), 'epochs must be a whole number of at least 1'),
    (dict(lr=0), 'lr'), (dict(lr=-1), 'lr'),
    (dict(momentum=1.0), 'momentum'), (dict(momentum=-0.1), 'momentum'),
    (dict(print_every=-1), 'print_every'),
    (dict(device='tpu'), "unknown device 'tpu'"),
])
def test_fit_refuses_bad_settings(data, kw, msg):
    with pytest.raises(ValueError, match=msg):
        fit(Net(), loader(data[0]), progress=False, **kw)


def test_batch_size_zero_or_less_is_refused(data):
    from cifar_tutorial.data import classic_loader
    for bs in (0, -4):
        with pytest.raises(ValueError, match='batch_size must be at least 1'): FastLoader(data[0], batch_size=bs)
        with pytest.raises(ValueError, match='batch_size must be at least 1'): classic_loader(data[0], batch_size=bs)


def test_empty_loader_is_refused():
    with pytest.raises(ValueError, match='no mini-batches'):
        fit(Net(), [], progress=False)


# --- Ctrl-C and resuming ---

class InterruptAt:
    "A loader that delivers a real SIGINT to this process while yielding mini-batch `at` (1-based)."
    def __init__(self, inner, at, hard=False): self.inner, self.at, self.hard = inner, at, hard
    def __len__(self): return len(self.inner)
    @property
    def gen(self): return self.inner.gen
    @property
    def batch_size(self): return self.inner.batch_size     # fit picks its CPU settings from the batch size
    def __iter__(self):
        for i, b in enumerate(self.inner):
            if i + 1 == self.at:
                if self.hard: raise KeyboardInterrupt
                os.kill(os.getpid(), signal.SIGINT)
            yield b


def test_ctrl_c_stops_after_the_step_and_resume_gives_the_same_run(data, tmp_path):
    full = train(data, 0, epochs=2)
    seed_everything(0)
    dl = loader(data[0], 0)
    first = fit(Net(), dl, epochs=1, progress=False, print_every=0)             # epoch 1 completes
    save_checkpoint(tmp_path / 'a.pth', first.model, first, dataset='synthetic', recipe='tutorial', epochs=2, seed=0)
    net = Net(); ck = load_checkpoint(tmp_path / 'a.pth', net)
    stopped = fit(net, InterruptAt(loader(data[0], 0), at=23), epochs=2, progress=False, print_every=0, resume=ck)
    assert stopped.interrupted and stopped.epochs_done == 1 and stopped.step == 23
    assert len(stopped.history.step_loss) == 50 + 23
    save_checkpoint(tmp_path / 'b.pth', stopped.model, stopped, dataset='synthetic', recipe='tutorial', epochs=2, seed=0)
    net = Net(); ck = load_checkpoint(tmp_path / 'b.pth', net)
    assert ck['interrupted'] and ck['epoch'] == 1 and ck['step'] == 23
    done = fit(net, loader(data[0], 0), epochs=2, progress=False, print_every=0, resume=ck)
    assert not done.interrupted and done.epochs_done == 2
    assert done.history.step_loss == full.history.step_loss
    assert done.history.epoch_loss == full.history.epoch_loss
    assert all(torch.equal(p, q) for p, q in zip(done.model.parameters(), full.model.parameters()))


def test_interrupt_in_the_first_epoch_then_resume(data, tmp_path):
    full = train(data, 3, epochs=1)
    seed_everything(3)
    r = fit(Net(), InterruptAt(loader(data[0], 3), at=10), epochs=1, progress=False, print_every=0)
    assert r.interrupted and (r.epochs_done, r.step) == (0, 10)
    save_checkpoint(tmp_path / 'c.pth', r.model, r)
    net = Net(); ck = load_checkpoint(tmp_path / 'c.pth', net)
    done = fit(net, loader(data[0], 3), epochs=1, progress=False, print_every=0, resume=ck)
    assert done.history.step_loss == full.history.step_loss


def test_a_second_ctrl_c_stops_at_once(data):
    seed_everything(0)
    r = fit(Net(), InterruptAt(loader(data[0]), at=5, hard=True), epochs=1, progress=False, print_every=0)
    assert r.interrupted and r.step == 4 and len(r.history.step_loss) == 4


def test_sigint_handler_is_restored(data):
    before = signal.getsignal(signal.SIGINT)
    train(data)
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_needs_more_epochs(data, tmp_path):
    r = train(data, epochs=1)
    save_checkpoint(tmp_path / 'd.pth', r.model, r)
    ck = load_checkpoint(tmp_path / 'd.pth', Net())
    with pytest.raises(ValueError, match='already trained 1 epoch'):
        fit(Net(), loader(data[0]), epochs=1, progress=False, resume=ck)


# --- evaluate ---

class Always(nn.Module):
    "Predicts class `k` for every image."
    def __init__(self, k, n=10):
        super().__init__(); self.k, self.n = k, n; self.w = nn.Parameter(torch.zeros(1))
    def forward(self, x):
        out = torch.zeros(len(x), self.n); out[:, self.k] = 1; return out + 0 * self.w


def test_evaluate_counts_exactly(data):
    test = data[1]
    ev = evaluate(Always(3), loader(test, shuffle=False, bs=7))
    counts = torch.bincount(torch.tensor(test.targets), minlength=10)
    assert ev.n == len(test) and ev.correct == int(counts[3])
    assert ev.accuracy == pytest.approx(100 * int(counts[3]) / len(test))
    assert ev.per_class[test.classes[3]] == 100 and all(v == 0 for c, v in ev.per_class.items() if c != test.classes[3])
    assert torch.equal(ev.confusion[:, 3], counts) and ev.confusion.sum() == len(test)
    assert 'all' in ev.table() and test.classes[3] in ev.table()


def test_evaluate_any_batch_size_and_short_last_batch(data):
    r = train(data)
    evs = [evaluate(r.model, loader(data[1], shuffle=False, bs=bs)) for bs in (1, 3, 4, 7, 60, 1000)]
    assert all(torch.equal(e.confusion, evs[0].confusion) for e in evs)
    assert all(e.n == 60 for e in evs)


def test_evaluate_restores_training_mode(data):
    net = Net().train()
    evaluate(net, loader(data[1], shuffle=False))
    assert net.training


def test_evaluate_class_without_images(data):
    ev = evaluate(Always(0), [(torch.zeros(2, 3, 32, 32), torch.tensor([0, 1]))], classes=[str(i) for i in range(10)])
    assert ev.per_class['0'] == 100 and ev.per_class['1'] == 0 and ev.per_class['5'] is None
    assert json.dumps(ev.per_class)   # None, not NaN, so metrics.json stays valid JSON


def test_evaluate_refuses_mismatched_class_names_and_empty_loaders(data):
    with pytest.raises(ValueError, match='3 class names'):
        evaluate(Net(), loader(data[1], shuffle=False), classes=['a', 'b', 'c'])
    with pytest.raises(ValueError, match='no images'):
        evaluate(Net(), [])


# --- plots ---

def test_plots_return_figures(data):
    import matplotlib; matplotlib.use('Agg')  # noqa: I001 (a backend before pyplot)
    import matplotlib.pyplot as plt
    r = train(data)
    ev = evaluate(r.model, loader(data[1], shuffle=False))
    for fig in (plot_loss(r.history), plot_loss(r.history.as_dict()), plot_per_class(ev), plot_confusion(ev),
                plot_predictions(r.model, loader(data[1], shuffle=False), n=8)):
        assert fig.axes
        plt.close(fig)
    with pytest.raises(ValueError, match='no losses'):
        plot_loss(History())


# --- checkpoints ---

def test_checkpoint_records_the_run(data, tmp_path):
    r = train(data)
    p = save_checkpoint(tmp_path / 'ck.pth', r.model, r, dataset='synthetic', recipe='tutorial', epochs=1, seed=0, lr=0.001)
    ck = load_checkpoint(p)
    m = ck['meta']
    assert (m['dataset'], m['recipe'], m['epochs'], m['seed'], m['lr']) == ('synthetic', 'tutorial', 1, 0, 0.001)
    assert m['versions']['torch'] == str(torch.__version__) and set(versions()) <= set(m['versions'])
    assert ck['model_class'] == 'Net' and ck['epoch'] == 1 and ck['history']['step_loss'] == r.history.step_loss
    assert [f.name for f in tmp_path.iterdir()] == ['ck.pth']           # no temporary file left behind
    torch.load(p, weights_only=True)                                    # readable with the safe loader


def test_checkpoint_loads_the_weights(data, tmp_path):
    r = train(data)
    save_checkpoint(tmp_path / 'ck.pth', r.model, r)
    net = Net()
    load_checkpoint(tmp_path / 'ck.pth', net)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), r.model.parameters()))
    save_checkpoint(tmp_path / 'checkpoint.pth', r.model, r)
    net2 = Net(); load_checkpoint(tmp_path, net2)                       # a run folder works too
    assert all(torch.equal(p, q) for p, q in zip(net2.parameters(), r.model.parameters()))


def test_checkpoint_write_is_atomic(data, tmp_path, monkeypatch):
    r = train(data)
    p = save_checkpoint(tmp_path / 'ck.pth', r.model, r)
    old = p.read_bytes()

    def broken_save(obj, f):
        open(f, 'wb').write(b'half a file'); raise OSError('disk full')
    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint(p, Net())
    assert p.read_bytes() == old and [f.name for f in tmp_path.iterdir()] == ['ck.pth']


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='no checkpoint at'):
        load_checkpoint(tmp_path / 'nothing.pth')


@pytest.mark.parametrize('cut', [0, 100, 5000, -10])
def test_truncated_checkpoint(tmp_path, cut):
    p = save_checkpoint(tmp_path / 'ck.pth', Net())
    data = p.read_bytes()
    p.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match='truncated or corrupted'):
        load_checkpoint(p, Net())


def test_checkpoint_of_another_model(tmp_path):
    p = save_checkpoint(tmp_path / 'lenet.pth', LeNet())
    with pytest.raises(ValueError, match='holds the weights of a LeNet, not of a Net'):
        load_checkpoint(p, Net())
    p = save_checkpoint(tmp_path / 'net3.pth', Net(num_classes=3))
    with pytest.raises(ValueError, match='another size'):
        load_checkpoint(p, Net())


def test_bare_state_dict_and_foreign_files(tmp_path):
    torch.save(Net().state_dict(), tmp_path / 'w.pth')
    with pytest.raises(ValueError, match='bare weights'):
        load_checkpoint(tmp_path / 'w.pth', Net())
    torch.save({'epoch': 3}, tmp_path / 'x.pth')
    with pytest.raises(ValueError, match='not a cifar_tutorial checkpoint'):
        load_checkpoint(tmp_path / 'x.pth')


class Evil:
    def __reduce__(self): return (os.system, ('touch PWNED',))


def test_checkpoint_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({'format': 'cifar_tutorial.checkpoint/1', 'x': Evil()}, tmp_path / 'evil.pth')
    with pytest.raises(CheckpointError, match='weights_only'):
        load_checkpoint(tmp_path / 'evil.pth')
    assert not (tmp_path / 'PWNED').exists()


# --- run folders ---

def test_prepare_out_dir(tmp_path):
    a = prepare_out_dir(runs=tmp_path / 'runs')
    b = prepare_out_dir(runs=tmp_path / 'runs')
    assert a.is_dir() and b.is_dir() and a != b and a.parent == tmp_path / 'runs'
    assert prepare_out_dir(tmp_path / 'new') == tmp_path / 'new'
    assert prepare_out_dir(tmp_path / 'new') == tmp_path / 'new'     # an empty folder may be used


def test_prepare_out_dir_refuses_a_run_and_changes_nothing(tmp_path):
    out = tmp_path / 'run'; out.mkdir()
    (out / 'metrics.json').write_text('{"test_accuracy": 54}')
    with pytest.raises(RunFolderError, match='already holds files.*`resume=True`'):
        prepare_out_dir(out)
    assert (out / 'metrics.json').read_text() == '{"test_accuracy": 54}' and len(list(out.iterdir())) == 1
    with pytest.raises(FileNotFoundError, match='no checkpoint to resume'):
        prepare_out_dir(out, resume=True)
    with pytest.raises(RunFolderError, match='`resume=True` needs `out`'):
        prepare_out_dir(None, resume=True)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(RunFolderError, match='is not a folder'):
        prepare_out_dir(tmp_path / 'file')


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_save_run_writes_everything(data, tmp_path):
    r = train(data)
    ev = evaluate(r.model, loader(data[1], shuffle=False))
    m = save_run(tmp_path, r.model, r, ev, test_loader=loader(data[1], shuffle=False), dataset='synthetic',
                 recipe='tutorial', epochs=1, device='cpu', wall_time_s=1.5, seed=0)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {'metrics.json', 'weights.pth', 'loss_curve.png', 'per_class_accuracy.png',
                     'confusion_matrix.png', 'predictions.png'}
    j = json.loads((tmp_path / 'metrics.json').read_text())
    assert j == json.loads(json.dumps(m))
    for k in ('test_accuracy', 'per_class_accuracy', 'loss_history', 'dataset', 'recipe', 'epochs', 'device',
              'wall_time_s', 'versions', 'seed', 'confusion_matrix'):
        assert k in j, k
    assert j['test_accuracy'] == round(ev.accuracy, 4)                  # metrics.json rounds to 4 decimals
    assert j['loss_history']['per_step'] == pytest.approx(r.history.step_loss, abs=5e-5)
    assert set(j['per_class_accuracy']) == set(data[1].classes)
    net = Net(); net.load_state_dict(torch.load(tmp_path / 'weights.pth', weights_only=True))
    for png in names - {'metrics.json', 'weights.pth'}:
        assert (tmp_path / png).read_bytes()[:4] == b'\x89PNG'


# --- devices (chosen by cifar_tutorial.device.best_device, tested in test_device.py) ---

def test_fit_on_auto_device_uses_the_best_one(data):
    from cifar_tutorial.device import best_device
    r = fit(Net(), loader(data[0]), epochs=1, device='auto', progress=False, print_every=0)
    assert next(r.model.parameters()).device.type == best_device('auto').type


@pytest.mark.parametrize('name', ['tpu', 'gpu', 'cuda:x'])
def test_fit_refuses_an_unknown_device(data, name):
    with pytest.raises(ValueError, match='unknown device'):
        fit(Net(), loader(data[0]), device=name, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU')
def test_fit_refuses_cuda_on_a_machine_without_it(data):
    net = Net()
    with pytest.raises((ValueError, RuntimeError), match="not available on this machine.*`device=cpu`"):
        fit(net, loader(data[0]), device='cuda', progress=False)
    with pytest.raises((ValueError, RuntimeError), match="not available on this machine"):
        evaluate(net, loader(data[1]), device='cuda')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_fit_on_cuda(data):
    seed_everything(0)
    r = fit(Net(), FastLoader(data[0], batch_size=4, seed=0, device='cuda'), epochs=1, device='cuda', progress=False)
    assert next(r.model.parameters()).is_cuda
    assert evaluate(r.model, FastLoader(data[1], batch_size=10, shuffle=False, device='cuda')).n == 60
