"""Faults and hostile input against runs: two runs on one folder, Ctrl-C twice while saving, SIGKILL while
writing, read-only and full output folders, resumes that contradict their checkpoint, numbers out of bounds.
Each test fails on the code before the reliability work (round 2)."""
import contextlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cifar_tutorial import cli
from cifar_tutorial.core import atomic_write
from cifar_tutorial.data import FastLoader, get_dataset
from cifar_tutorial.models import Net
from cifar_tutorial.train import (
    LOCK_FILE,
    RunFolderError,
    fit,
    load_checkpoint,
    prepare_out_dir,
    save_checkpoint,
    seed_everything,
)

EXE = Path(sys.executable).with_name('cifar-tutorial')
SMALL = ['--dataset', 'synthetic', '--n-train', '200', '--n-test', '60', '--epochs', '1', '--no-progress']
ENV = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')


def start(*args):
    return subprocess.Popen([str(EXE), 'train', *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def finish(p):
    "Wait for a started run; return (exit status, stderr)."
    _, err = p.communicate(timeout=300)
    return p.returncode, err


def in_process(*argv):
    "Run `cifar-tutorial` in this process; return (exit status, stderr lines)."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): rc = cli.main(list(argv))
    return rc, [l for l in err.getvalue().splitlines() if l.strip()]


# ---- a run folder belongs to one run

@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_two_runs_started_together_on_one_folder(tmp_path):
    out = tmp_path / 'R'
    a, b = start(*SMALL, '--out', str(out)), start(*SMALL, '--seed', '1', '--out', str(out))
    (ra, ea), (rb, eb) = [finish(p) for p in (a, b)]
    assert sorted([ra, rb]) == [0, 2], (ra, ea, rb, eb)
    loser = ea if ra == 2 else eb
    assert re.search(r'in use by another run|already holds files', loser) and 'Traceback' not in loser
    seed = json.loads((out / 'metrics.json').read_text())['seed']
    assert seed == (0 if ra == 0 else 1)                      # the folder holds the winner's run, whole
    assert not (out / LOCK_FILE).exists()                     # released at the end


def test_a_live_claim_refuses_at_once_and_a_dead_one_is_taken_over(tmp_path):
    out = tmp_path / 'R'; out.mkdir()
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        (out / LOCK_FILE).write_text(str(sleeper.pid))
        with pytest.raises(RunFolderError, match=f'in use by another run \\(process {sleeper.pid}\\)'):
            prepare_out_dir(out)
    finally:
        sleeper.kill(); sleeper.wait()
    assert prepare_out_dir(out) == out                        # its process is gone: the claim is taken over
    assert (out / LOCK_FILE).read_text() == str(os.getpid())


def test_ddp_refuses_a_folder_that_holds_a_run(tmp_path, monkeypatch):
    from cifar_tutorial.ddp import train_ddp
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR'): monkeypatch.delenv(k, raising=False)
    out = tmp_path / 'run'; out.mkdir()
    (out / 'weights.pth').write_bytes(b'the tutorial run')
    with pytest.raises(RunFolderError, match='already holds files'):
        train_ddp('synthetic', n_train=256, n_test=64, batch_size=32, max_steps=2, device='cpu', out=str(out), log=None)
    assert (out / 'weights.pth').read_bytes() == b'the tutorial run'


# ---- Ctrl-C and kill while saving

class SigintAt:
    "A loader that sends this process a real SIGINT (Ctrl-C) while yielding its `at`-th mini-batch (1-based, over all epochs)."
    def __init__(self, inner, at): self.inner, self.at, self.n = inner, at, 0
    def __len__(self): return len(self.inner)
    gen = property(lambda self: getattr(self.inner, 'gen', None))               # FastLoader's batch-order generator
    generator = property(lambda self: getattr(self.inner, 'generator', None))   # DataLoader's
    batch_size = property(lambda self: self.inner.batch_size)
    def __iter__(self):
        for b in self.inner:
            self.n += 1
            if self.n == self.at: os.kill(os.getpid(), signal.SIGINT)
            yield b


@pytest.fixture(scope='module')
def small():
    return get_dataset('synthetic', n_train=200, n_test=60)


def test_second_ctrl_c_while_saving_waits_for_the_file(small, tmp_path):
    path = tmp_path / 'checkpoint.pth'
    def slow_save(result):                      # a second Ctrl-C arrives in the middle of writing the checkpoint
        def write(p):
            torch.save(dict(x=1), p)
            os.kill(os.getpid(), signal.SIGINT); time.sleep(0.05)
            save_checkpoint(p, result.model, result, dataset='synthetic', recipe='tutorial', epochs=2, seed=0)
        atomic_write(path, write)
    seed_everything(0)
    with pytest.raises(KeyboardInterrupt):      # delivered after the save, not during it
        fit(Net(), SigintAt(FastLoader(small[0], 4, seed=0), at=7), epochs=2, progress=False, print_every=0,
            checkpoint=slow_save, checkpoint_every=1e9)
    ck = load_checkpoint(path, Net())           # whole and loadable
    assert ck['interrupted'] and (ck['epoch'], ck['step']) == (0, 7)
    assert not [p for p in tmp_path.iterdir() if p.name != 'checkpoint.pth']


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_periodic_checkpoints_and_exact_resume(small, tmp_path):
    seed_everything(0)
    full = fit(Net(), FastLoader(small[0], 4, seed=0), epochs=2, progress=False, print_every=0)
    saved = []
    def save(r):
        saved.append((r.epochs_done, r.step))
        save_checkpoint(tmp_path / 'ck.pth', r.model, r, dataset='synthetic', recipe='tutorial', epochs=2, seed=0)
    seed_everything(0)
    fit(Net(), FastLoader(small[0], 4, seed=0), epochs=1, progress=False, print_every=0, checkpoint=save, checkpoint_every=0)
    assert saved[:3] == [(0, 1), (0, 2), (0, 3)] and saved[-1] == (1, 0)   # every step (checkpoint_every=0), then the end
    # a checkpoint from the middle of epoch 2 (as a killed run leaves it) resumes to exactly the uninterrupted run
    seed_everything(0)
    part = fit(Net(), SigintAt(FastLoader(small[0], 4, seed=0), at=60), epochs=2, progress=False, print_every=0)
    assert part.interrupted and (part.epochs_done, part.step) == (1, 10)
    save_checkpoint(tmp_path / 'mid.pth', part.model, part, dataset='synthetic', recipe='tutorial', epochs=2, seed=0)
    net = Net(); ck = load_checkpoint(tmp_path / 'mid.pth', net)
    done = fit(net, FastLoader(small[0], 4, seed=0), epochs=2, progress=False, print_every=0, resume=ck)
    assert done.history.step_loss == full.history.step_loss
    assert all(torch.equal(p, q) for p, q in zip(done.model.parameters(), full.model.parameters()))


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_killed_while_saving_then_resume(tmp_path):
    out = tmp_path / 'run'
    p = start('--dataset', 'synthetic', '--n-train', '400', '--n-test', '60', '--epochs', '2', '--no-progress',
              '--checkpoint-every', '0', '--out', str(out))
    deadline = time.time() + 120
    while not (out / 'checkpoint.pth').exists() and time.time() < deadline: time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL); p.wait()
    assert (out / 'checkpoint.pth').exists(), p.stderr.read()
    # what a kill in the middle of a write leaves behind: a partial temporary file (and the dead run's lock)
    (out / '.checkpoint.pth.tmp-999999').write_bytes(b'')
    r = subprocess.run([str(EXE), 'train', '--out', str(out), '--resume', '--no-progress'], capture_output=True,
                       text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r'removed [12] unfinished temporary file', r.stderr), r.stderr   # ours, and one if the kill hit a write
    m = json.loads((out / 'metrics.json').read_text())
    assert m['resumed'] and m['epochs'] == 2 and len(m['loss_history']['per_step']) == 2 * 100
    assert sorted(p.name for p in out.iterdir() if p.name.startswith('.')) == []


# ---- output that cannot be written is found before training

def tmpfs(where: Path, *opts):
    where.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', ','.join(opts), 'tmpfs', str(where)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not root'}): read-only/full folders untested")
    return where


@pytest.fixture
def mounts(tmp_path):
    made = []
    yield lambda name, *opts: made.append(tmpfs(tmp_path / name, *opts)) or made[-1]
    for m in made: subprocess.run(['umount', '-l', str(m)])


def test_read_only_and_full_folders_fail_before_training(mounts):
    ro = mounts('ro', 'size=1m', 'ro')
    full = mounts('full', 'size=256k')
    (full / 'filler').write_bytes(bytes(250 * 1024))
    for out, why in ((ro / 'run', 'Read-only file system'), (full / 'run', 'MB are free')):
        rc, err = in_process('train', *SMALL, '--out', str(out))
        assert rc == 2 and len(err) == 1 and why in err[0], err
        assert 'choose' in err[0].lower()
    assert sorted(p.name for p in full.iterdir()) == ['filler']             # nothing left behind


def test_data_refuses_devices_and_pipes(tmp_path):
    fifo = tmp_path / 'pipe'; os.mkfifo(fifo)
    for out in ('/dev/null', str(fifo)):
        rc, err = in_process('data', '--dataset', 'synthetic', '--out', out)
        assert rc == 2 and len(err) == 1 and 'not a regular file' in err[0], err
    assert Path('/dev/null').is_char_device() and fifo.is_fifo()


def test_dangling_symlink_out(tmp_path):
    (tmp_path / 'link').symlink_to(tmp_path / 'nowhere')
    for cmd in (['train', *SMALL], ['data', '--dataset', 'synthetic']):
        rc, err = in_process(*cmd, '--out', str(tmp_path / 'link'))
        assert rc == 2 and len(err) == 1 and 'symbolic link' in err[0], err


# ---- resume and bounds

def test_resume_refuses_epochs_the_checkpoint_has_passed(small, tmp_path):
    out = tmp_path / 'run'; out.mkdir()
    seed_everything(0)
    part = fit(Net(), SigintAt(FastLoader(small[0], 4, seed=0), at=60), epochs=2, progress=False, print_every=0)
    save_checkpoint(out / 'checkpoint.pth', part.model, part, dataset='synthetic', recipe='tutorial', epochs=2, seed=0,
                    batch_size=4, lr=0.001, momentum=0.9, loader='fast', n_train=200, n_test=60, root='data', verify=True)
    rc, err = in_process('train', '--out', str(out), '--resume', '--epochs', '1', '--no-progress')
    assert rc == 2 and 'already trained 1 epoch(s) and 10 step(s)' in err[0], err
    assert not (out / 'metrics.json').exists()


@pytest.mark.parametrize('flag,value', [('--threads', '100000'), ('--n-train', '100000000'), ('--lr', '1e300'),
                                        ('--lr', 'inf'), ('--lr', 'nan'), ('--seed', '12345678901234567890'),
                                        ('--momentum', '5'), ('--batch-size', '0'), ('--epochs', '1e9')])
def test_numbers_out_of_bounds_are_one_line(flag, value, tmp_path):
    rc, err = in_process('train', '--dataset', 'synthetic', flag, value, '--out', str(tmp_path / 'r'))
    assert rc == 2 and len(err) == 1 and err[0].startswith(f'cifar-tutorial train: error: {flag} must be'), err
    assert not (tmp_path / 'r').exists()


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_metrics_json_is_strict_even_when_training_diverges(tmp_path):
    rc, err = in_process('train', *SMALL, '--lr', '900', '--out', str(tmp_path / 'r'))
    assert rc == 0, err
    text = (tmp_path / 'r' / 'metrics.json').read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f'metrics.json holds {c}, which is not JSON'))
    assert any(v is None for v in m['loss_history']['per_step']) or all(math.isfinite(v) for v in m['loss_history']['per_step'])


def test_every_flag_an_error_suggests_exists(tmp_path):
    "Error messages name only flags the command has (issue: 'pass --download' on a command without it)."
    cases = [('train', '--dataset', 'cifar10', '--root', str(tmp_path / 'empty')),
             ('train', *SMALL, '--size', 'tiny'), ('train', '--resume'), ('train', '--out', str(tmp_path / 'x'), '--resume'),
             ('data', '--dataset', 'cifar10', '--root', str(tmp_path / 'empty'))]
    parser = cli.build_parser()
    for argv in cases:
        rc, err = in_process(*argv)
        assert rc == 2 and len(err) == 1, err
        known = {o for a in parser.subparsers[argv[0]]._actions for o in a.option_strings}
        named = set(re.findall(r'(?<![\w-])--[a-z][a-z-]*', err[0]))
        assert named <= known, (argv, named - known, err[0])


@pytest.mark.parametrize('kind', ['fast', 'classic'])
def test_resume_is_exact_for_both_loaders_interrupted_in_epoch_2(kind):
    from cifar_tutorial.data import classic_loader, tutorial_transform
    train = get_dataset('synthetic', n_train=120, n_test=20, transform=tutorial_transform() if kind == 'classic' else None)[0]
    make = (lambda: classic_loader(train, 4, num_workers=2, seed=0)) if kind == 'classic' else \
           (lambda: FastLoader(train, 4, seed=0))
    seed_everything(0)
    full = fit(Net(), make(), epochs=2, progress=False, print_every=0)
    seed_everything(0)
    part = fit(Net(), SigintAt(make(), at=40), epochs=2, progress=False, print_every=0)    # epoch 2, step 10 of 30
    assert part.interrupted and (part.epochs_done, part.step) == (1, 10)
    ck = dict(optimizer=part.optimizer.state_dict(), history=part.history.as_dict(), epoch=part.epochs_done,
              step=part.step, loader_rng=part.loader_rng)
    net = Net(); net.load_state_dict(part.model.state_dict())
    done = fit(net, make(), epochs=2, progress=False, print_every=0, resume=ck)               # a fresh loader, as after a restart
    assert done.history.step_loss == full.history.step_loss


def test_a_refused_folder_keeps_every_file_even_look_alike_temporaries(tmp_path):
    out = tmp_path / 'D'; out.mkdir()
    (out / 'report.txt').write_text('mine'); (out / '.notes.tmp-draft').write_text('also mine')
    rc, err = in_process('train', *SMALL, '--out', str(out))
    assert rc == 2 and 'already holds files' in err[0]
    assert sorted(p.name for p in out.iterdir()) == ['.notes.tmp-draft', 'report.txt']


@pytest.mark.parametrize('damage', [dict(drop=('lr', 'seed', 'loader')), dict(set={'lr': 'abc'})])
def test_damaged_checkpoint_settings_are_one_line(small, tmp_path, damage):
    out = tmp_path / 'run'; out.mkdir()
    seed_everything(0)
    part = fit(Net(), SigintAt(FastLoader(small[0], 4, seed=0), at=20), epochs=2, progress=False, print_every=0)
    meta = dict(batch_size=4, lr=0.001, momentum=0.9, loader='fast', n_train=200, n_test=60, root='data', verify=True)
    for k in damage.get('drop', ()): meta.pop(k, None)
    meta.update(damage.get('set', {}))
    save_checkpoint(out / 'checkpoint.pth', part.model, part, dataset='synthetic', recipe='tutorial', epochs=2,
                    seed=None if 'seed' in damage.get('drop', ()) else 0, **meta)
    rc, err = in_process('train', '--out', str(out), '--resume', '--no-progress')
    assert rc == 2 and len(err) == 1 and 'damaged settings' in err[0], err


@pytest.mark.parametrize('device', ['cuda', 'cuda:7', 'tpu'])
def test_devices_this_machine_lacks_are_one_line(device, tmp_path):
    if torch.cuda.is_available(): pytest.skip('this machine has CUDA')
    rc, err = in_process('train', *SMALL, '--device', device, '--out', str(tmp_path / 'r'))
    assert rc == 2 and len(err) == 1 and '--device' in err[0], err
    assert not (tmp_path / 'r').exists()
