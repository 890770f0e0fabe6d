"`cifar-tutorial data`: a real subprocess on the offline set, and each bad input gives one clear line."
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cifar_tutorial import cli

EXE = Path(sys.executable).with_name('cifar-tutorial')   # the console script that `pip install -e .` made


def run(*args, cwd=None):
    assert EXE.exists(), f'{EXE} missing: install the project with pip install -e ".[dev]"'
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_data_command_on_the_offline_set(tmp_path):
    out = tmp_path / 'grid.png'
    r = run('data', '--dataset', 'synthetic', '--out', str(out))
    assert r.returncode == 0, r.stderr
    assert 'dataset: synthetic' in r.stdout and 'NOT CIFAR-10' in r.stdout and 'train: 12000 images' in r.stdout
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_auto_without_data_says_it_fell_back(tmp_path):
    r = run('data', '--root', str(tmp_path / 'none'), '--out', str(tmp_path / 'g.png'), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'OFFLINE SYNTHETIC DATASET' in r.stderr and 'dataset: synthetic' in r.stdout
    # the banner is the command's own warning line, not Python's "file.py:51: SyntheticFallbackWarning" header
    assert 'cifar-tutorial data: warning: ' in r.stderr
    assert 'SyntheticFallbackWarning' not in r.stderr and '.py:' not in r.stderr and 'warnings.warn' not in r.stderr


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_local_copy_needs_no_verify(cifar_root, tmp_path):
    r = run('data', '--dataset', 'cifar10', '--root', str(cifar_root), '--out', str(tmp_path / 'g.png'))
    assert r.returncode == 2 and '--no-verify' in r.stderr and 'Traceback' not in r.stderr
    r = run('data', '--dataset', 'cifar10', '--root', str(cifar_root), '--no-verify', '--out', str(tmp_path / 'g.png'))
    assert r.returncode == 0 and 'dataset: cifar10' in r.stdout and 'train: 100 images' in r.stdout


@pytest.mark.parametrize('args, expect', [
    (['--dataset', 'cifar10', '--root', 'NOWHERE'], '--download'),
    (['--dataset', 'imagenet'], "invalid choice: 'imagenet'"),
])
@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_bad_dataset_input(tmp_path, args, expect):
    keep = tmp_path / 'samples.png'; keep.write_bytes(b'an earlier result')
    r = run('data', *[a.replace('NOWHERE', str(tmp_path / 'nowhere')) for a in args], '--out', str(keep))
    assert r.returncode == 2 and expect in r.stderr and 'Traceback' not in r.stderr
    assert keep.read_bytes() == b'an earlier result', 'a failed run must not touch earlier files'


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_root_that_is_a_file(tmp_path):
    f = tmp_path / 'data.txt'; f.write_text('mine')
    r = run('data', '--root', str(f), '--out', str(tmp_path / 'g.png'))
    assert r.returncode == 2 and 'is a file, not a folder' in r.stderr and f.read_text() == 'mine'


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_out_in_missing_folder(tmp_path):
    r = run('data', '--dataset', 'synthetic', '--out', str(tmp_path / 'no' / 'such' / 'g.png'))
    assert r.returncode == 2 and 'does not exist' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'no').exists()


def test_out_not_writable(tmp_path, monkeypatch, capsys):
    # the machines run as root, where permissions cannot be taken away, so deny access where the CLI asks for it
    real_access = os.access
    monkeypatch.setattr(cli.os, 'access', lambda p, m: False if Path(p) == tmp_path else real_access(p, m))
    assert cli.main(['data', '--dataset', 'synthetic', '--out', str(tmp_path / 'g.png')]) == 2
    assert 'not writable' in capsys.readouterr().err and not (tmp_path / 'g.png').exists()


def test_out_that_is_a_folder(tmp_path, capsys):
    assert cli.main(['data', '--dataset', 'synthetic', '--out', str(tmp_path)]) == 2
    assert 'is a folder' in capsys.readouterr().err


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    "The grid is written to a temporary file and renamed: a failure halfway leaves the old picture intact."
    import matplotlib.figure
    out = tmp_path / 'g.png'; out.write_bytes(b'old picture')
    def broken(self, fname, **kw):
        Path(fname).write_bytes(b'half'); raise OSError('disk full')
    monkeypatch.setattr(matplotlib.figure.Figure, 'savefig', broken)
    assert cli.main(['data', '--dataset', 'synthetic', '--out', str(out)]) == 2
    assert out.read_bytes() == b'old picture' and sorted(p.name for p in tmp_path.iterdir()) == ['g.png']
    assert 'disk full' in capsys.readouterr().err


def test_no_command_prints_help():
    r = run()
    assert r.returncode == 2 and 'data' in r.stdout
