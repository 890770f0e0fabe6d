"`cifar-tutorial train` as a real subprocess on the offline set; each bad input gives one clear line."
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cifar_tutorial import cli
from cifar_tutorial.lenet import LeNet
from cifar_tutorial.train import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out

EXE = Path(sys.executable).with_name('cifar-tutorial')   # the console script that `pip install -e .` made
SMALL = ['--dataset', 'synthetic', '--n-train', '200', '--n-test', '60', '--epochs', '1', '--no-progress']
ENV = dict(os.environ, PYTHONUNBUFFERED='1')


def run(*args, cwd=None):
    assert EXE.exists(), f'{EXE} missing: install the project with pip install -e ".[dev]"'
    return subprocess.run([str(EXE), 'train', *args], capture_output=True, text=True, cwd=cwd, timeout=600, env=ENV)


def one_clear_line(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert 'Traceback' not in r.stderr and len(lines) == 1, r.stderr
    assert lines[0].startswith('cifar-tutorial train: error: ')
    return lines[0]


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    "One small finished run, shared by the tests that only read it or refuse to touch it."
    out = tmp_path_factory.mktemp('runs') / 'run'
    r = run(*SMALL, '--print-every', '10', '--out', str(out))
    assert r.returncode == 0, r.stderr
    return out, r


def test_train_writes_a_run_folder(finished_run):
    out, r = finished_run
    assert {p.name for p in out.iterdir()} == {'metrics.json', 'weights.pth', 'checkpoint.pth', 'loss_curve.png',
                                               'per_class_accuracy.png', 'confusion_matrix.png', 'predictions.png'}
    m = json.loads((out / 'metrics.json').read_text())
    assert 0 <= m['test_accuracy'] <= 100 and m['dataset'] == 'synthetic' and m['recipe'] == 'tutorial'
    assert (m['epochs'], m['batch_size'], m['lr'], m['momentum'], m['seed']) == (1, 4, 0.001, 0.9, 0)
    assert m['device'] == 'cpu' or torch.cuda.is_available()
    assert len(m['loss_history']['per_step']) == 50 and len(m['loss_history']['per_epoch']) == 1
    assert set(m['per_class_accuracy']) == set(m['classes']) and len(m['classes']) == 10
    assert m['wall_time_s'] > 0 and m['versions']['torch'] == str(torch.__version__)
    # what the user sees: the settings, the tutorial-style loss lines, the overall figure and the table
    assert 'NOT CIFAR-10' in r.stdout and 'batch size 4' in r.stdout
    assert '[1,    10] loss: ' in r.stdout and '[1,    50] loss: ' in r.stdout
    assert 'accuracy of the network on the 60 test images' in r.stdout
    assert all(c in r.stdout for c in m['classes'])
    ck = load_checkpoint(out / 'checkpoint.pth')
    assert ck['meta']['dataset'] == 'synthetic' and ck['meta']['seed'] == 0 and ck['epoch'] == 1


def test_same_seed_same_loss_history(finished_run, tmp_path):
    out, _ = finished_run
    r = run(*SMALL, '--print-every', '10', '--out', str(tmp_path / 'again'))
    assert r.returncode == 0, r.stderr
    a = json.loads((out / 'metrics.json').read_text())['loss_history']
    b = json.loads((tmp_path / 'again' / 'metrics.json').read_text())['loss_history']
    assert a == b


def test_default_out_is_a_new_folder_under_runs(tmp_path):
    r = run(*SMALL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    runs = list((tmp_path / 'runs').iterdir())
    assert len(runs) == 1 and (runs[0] / 'metrics.json').exists()


def test_classic_loader(tmp_path):
    r = run(*SMALL, '--loader', 'classic', '--out', str(tmp_path / 'c'))
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / 'c' / 'metrics.json').read_text())
    assert m['loader'] == 'classic' and m['n_test_images'] == 60


def test_real_layout_with_no_verify(cifar_root, tmp_path):
    r = run('--dataset', 'cifar10', '--root', str(cifar_root), '--epochs', '1', '--no-progress', '--out', str(tmp_path / 'a'))
    assert '--no-verify' in one_clear_line(r)
    assert not (tmp_path / 'a').exists()                       # a failed start leaves no empty run folder
    r = run('--dataset', 'cifar10', '--root', str(cifar_root), '--no-verify', '--epochs', '1', '--n-train', '40',
            '--no-progress', '--out', str(tmp_path / 'b'))
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / 'b' / 'metrics.json').read_text())
    assert m['dataset'] == 'cifar10' and m['n_train_images'] == 40 and m['n_test_images'] == 20


@pytest.mark.parametrize('args, expect', [
    (['--epochs', '0'], '--epochs must be at least 1, got 0'),
    (['--epochs', '-2'], '--epochs must be at least 1, got -2'),
    (['--batch-size', '0'], '--batch-size must be at least 1, got 0'),
    (['--batch-size', '-4'], '--batch-size must be at least 1, got -4'),
    (['--lr', '0'], '--lr must be greater than 0'),
    (['--momentum', '1'], '--momentum must be at least 0 and below 1'),
    (['--n-train', '0'], '--n-train must be at least 1'),
    (['--device', 'tpu'], "unknown device 'tpu'"),
    (['--device', 'cuda:abc'], "unknown device 'cuda:abc'"),
])
def test_bad_settings(tmp_path, capsys, args, expect):
    rc = cli.main(['train', '--dataset', 'synthetic', *args, '--out', str(tmp_path / 'run')])   # in-process: quick
    err = capsys.readouterr().err
    assert rc == 2 and expect in err and len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('args, expect', [
    (['--epochs', '2.5'], '--epochs must be a whole number for the tutorial recipe, got 2.5'),
    (['--epochs', '0.5'], '--epochs must be at least 1, got 0.5'),
    (['--epochs', 'nan'], '--epochs must be a number such as 2, got nan'),
    (['--epochs', 'inf', '--recipe', 'fast'], '--epochs must be a number such as 2, got inf'),
    (['--epochs', '0', '--recipe', 'fast'], '--epochs must be greater than 0, got 0'),
])
def test_bad_epochs(tmp_path, capsys, args, expect):
    rc = cli.main(['train', '--dataset', 'synthetic', *args, '--out', str(tmp_path / 'run')])
    err = capsys.readouterr().err
    assert rc == 2 and expect in err and len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    assert not (tmp_path / 'run').exists()


def test_fast_recipe_takes_a_fraction_of_an_epoch(tmp_path, capsys):
    "The fast recipe counts steps, so half an epoch is a real setting there (the tutorial recipe refuses it above)."
    out = tmp_path / 'run'
    assert cli.main(['train', '--recipe', 'fast', '--size', 'tiny', '--dataset', 'synthetic', '--device', 'cpu',
                     '--epochs', '0.5', '--n-train', '512', '--n-test', '128', '--out', str(out)]) == 0
    m = json.loads((out / 'metrics.json').read_text())
    assert m['recipe'] == 'fast' and m['epochs'] == 0.5 and m['fast_config']['epochs'] == 0.5
    assert '0.5 epochs' in capsys.readouterr().out


@pytest.mark.parametrize('args, expect', [(['--epochs', '0'], '--epochs must be at least 1, got 0'),
                                          (['--batch-size', '0'], '--batch-size must be at least 1, got 0'),
                                          (['--device', 'tpu'], "unknown device 'tpu'")])
def test_bad_settings_from_the_command_line(tmp_path, args, expect):
    assert expect in one_clear_line(run('--dataset', 'synthetic', *args, '--out', str(tmp_path / 'run')))
    assert not (tmp_path / 'run').exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU')
def test_cuda_on_a_cpu_machine(tmp_path):
    line = one_clear_line(run(*SMALL, '--device', 'cuda', '--out', str(tmp_path / 'run')))
    assert "'cuda'" in line and 'not available on this machine' in line and '--device cpu' in line


def test_out_holding_a_run_is_refused_and_left_byte_identical(finished_run):
    out, _ = finished_run
    before = snapshot(out)
    line = one_clear_line(run(*SMALL, '--out', str(out)))
    assert 'already holds files' in line and '--resume' in line and 'nothing was changed' in line
    assert snapshot(out) == before


def test_out_holding_any_file_is_refused(tmp_path):
    (tmp_path / 'notes.txt').write_text('mine')
    assert 'already holds files' in one_clear_line(run(*SMALL, '--out', str(tmp_path)))
    assert [p.name for p in tmp_path.iterdir()] == ['notes.txt'] and (tmp_path / 'notes.txt').read_text() == 'mine'


def test_resume_without_a_checkpoint(tmp_path):
    assert 'no checkpoint to resume' in one_clear_line(run(*SMALL, '--out', str(tmp_path / 'none'), '--resume'))
    (tmp_path / 'empty').mkdir()
    assert 'no checkpoint to resume' in one_clear_line(run(*SMALL, '--out', str(tmp_path / 'empty'), '--resume'))
    assert '--resume needs --out' in one_clear_line(run(*SMALL, '--resume'))


def test_resume_with_a_truncated_checkpoint(finished_run, tmp_path):
    out = tmp_path / 'run'; out.mkdir()
    (out / 'checkpoint.pth').write_bytes((finished_run[0] / 'checkpoint.pth').read_bytes()[:3000])
    before = snapshot(out)
    line = one_clear_line(run(*SMALL, '--out', str(out), '--resume', '--epochs', '2'))
    assert 'truncated or corrupted' in line
    assert snapshot(out) == before


def test_resume_with_a_checkpoint_of_another_model(tmp_path):
    out = tmp_path / 'run'; out.mkdir()
    save_checkpoint(out / 'checkpoint.pth', LeNet(), dataset='synthetic', recipe='tutorial', epochs=2, seed=0)
    before = snapshot(out)
    line = one_clear_line(run(*SMALL, '--out', str(out), '--resume'))
    assert 'holds the weights of a LeNet, not of a Net' in line
    assert snapshot(out) == before


def test_resume_of_a_finished_run_is_refused(finished_run):
    out, _ = finished_run
    before = snapshot(out)
    assert 'already finished its 1 epoch' in one_clear_line(run(*SMALL, '--out', str(out), '--resume'))
    assert snapshot(out) == before


def test_resume_refuses_other_settings(finished_run):
    out, _ = finished_run
    line = one_clear_line(run('--out', str(out), '--resume', '--epochs', '2', '--lr', '0.01'))
    assert 'started with --lr 0.001, not 0.01' in line


def test_ctrl_c_saves_a_checkpoint_that_resume_continues(tmp_path):
    args = ['--dataset', 'synthetic', '--n-train', '2000', '--n-test', '60', '--epochs', '2', '--print-every', '100',
            '--no-progress']
    out = tmp_path / 'run'
    p = subprocess.Popen([str(EXE), 'train', *args, '--out', str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=ENV)
    seen = []
    for line in p.stdout:                       # wait until training is under way
        seen.append(line)
        if line.startswith('[1,   100] loss:'): break
    p.send_signal(signal.SIGINT)
    out_rest, err = p.communicate(timeout=120)
    assert p.returncode == 130, (''.join(seen) + out_rest, err)
    assert 'saved a checkpoint' in err and f'cifar-tutorial train --out {out} --resume' in err and 'Traceback' not in err
    assert {q.name for q in out.iterdir()} == {'checkpoint.pth'}
    ck = load_checkpoint(out / 'checkpoint.pth')
    assert ck['interrupted'] and ck['epoch'] < 2

    r = run('--out', str(out), '--resume', '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'resuming after epoch' in r.stdout
    resumed = json.loads((out / 'metrics.json').read_text())
    assert resumed['resumed'] and resumed['epochs'] == 2

    r = run(*args, '--out', str(tmp_path / 'straight'))
    assert r.returncode == 0, r.stderr
    straight = json.loads((tmp_path / 'straight' / 'metrics.json').read_text())
    assert resumed['loss_history'] == straight['loss_history']   # the interrupted run continued exactly
    assert resumed['test_accuracy'] == straight['test_accuracy']


def test_resume_can_extend_a_finished_run(tmp_path):
    out = tmp_path / 'run'
    assert run(*SMALL, '--out', str(out)).returncode == 0
    r = run('--out', str(out), '--resume', '--epochs', '2', '--no-progress')
    assert r.returncode == 0, r.stderr
    m = json.loads((out / 'metrics.json').read_text())
    assert m['epochs'] == 2 and len(m['loss_history']['per_epoch']) == 2


def test_fast_recipe_flags_need_the_fast_recipe(tmp_path):
    assert '--size only apply to the fast recipe' in one_clear_line(run(*SMALL, '--size', 'small', '--out', str(tmp_path / 'r')))


def test_data_command_still_works(tmp_path):
    r = subprocess.run([str(EXE), 'data', '--dataset', 'synthetic', '--out', str(tmp_path / 'g.png')],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and (tmp_path / 'g.png').exists()


def test_help_lists_the_options():
    r = subprocess.run([str(EXE), 'train', '--help'], capture_output=True, text=True, timeout=120)
    for flag in ('--dataset', '--root', '--no-verify', '--epochs', '--batch-size', '--lr', '--momentum', '--seed',
                 '--device', '--loader', '--out', '--resume', '--recipe'):
        assert flag in r.stdout
