"cifar_tutorial.core: atomic writes that survive failures and Ctrl-C."
import subprocess
import sys
import textwrap

import pytest

from cifar_tutorial.core import CifarTutorialError, atomic_write, is_temp_file, temp_path


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    atomic_write(tmp_path / 'a.txt', lambda p: p.write_text('old'))
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / 'a.txt', lambda p: (p.write_text('half'), (_ for _ in ()).throw(RuntimeError('boom'))))
    assert (tmp_path / 'a.txt').read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt']


def test_temp_files_are_recognised(tmp_path):
    t = temp_path(tmp_path / 'weights.pth')
    assert t.parent == tmp_path and is_temp_file(t) and not is_temp_file(tmp_path / 'weights.pth')


def test_error_type_is_an_exception():
    assert issubclass(CifarTutorialError, Exception) and not issubclass(CifarTutorialError, (ValueError, OSError))


def test_ctrl_c_during_a_write_is_delivered_after_the_file_is_complete(tmp_path):
    # A real process: Ctrl-C (SIGINT) arrives in the middle of a slow write; the file must be whole afterwards.
    script = textwrap.dedent(f"""
        import os, signal, time
        from pathlib import Path
        from cifar_tutorial.core import atomic_write
        def slow(p):
            with open(p, 'w') as f:
                f.write('a' * 1000); f.flush()
                os.kill(os.getpid(), signal.SIGINT)     # Ctrl-C half-way through the file
                time.sleep(0.2); f.write('b' * 1000)
        try: atomic_write(Path({str(tmp_path / 'f.txt')!r}), slow)
        except KeyboardInterrupt: print('interrupted after the write')
    """)
    r = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=60)
    assert 'interrupted after the write' in r.stdout, r.stderr
    assert (tmp_path / 'f.txt').read_text() == 'a' * 1000 + 'b' * 1000
    assert not [p for p in tmp_path.iterdir() if is_temp_file(p)]
