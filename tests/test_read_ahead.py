"`read_ahead`: a forked process reads the CIFAR-10 files while this one goes on; what it hands over equals the files."
import hashlib
import mmap
import os
import select
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import write_cifar_layout

from cifar_tutorial import cifar10
from cifar_tutorial.cifar10 import DataError, read_ahead
from cifar_tutorial.data import CIFAR10Arrays

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux') or len(os.sched_getaffinity(0)) < 2,
                                reason='read_ahead works with fork and a second core')


REAL_OTHER_THREADS = cifar10._other_threads


@pytest.fixture(autouse=True)
def fork_beside_threads(monkeypatch):
    # Earlier tests in the same pytest run leave threads behind (tqdm's monitor, servers), and read_ahead then
    # stays away from fork. The children forked here need no lock those threads could hold.
    monkeypatch.setattr(cifar10, '_other_threads', lambda: False)


def from_child(a: np.ndarray) -> bool:
    "Whether array `a` lives in the memory the read-ahead process wrote (an mmap), not in memory read here."
    while isinstance(a, np.ndarray): a = a.base
    return isinstance(getattr(a, 'obj', a), mmap.mmap)          # numpy keeps a memoryview of the mmap


def gone(pid: int) -> bool:
    "The process `pid` has ended and been waited for (it is not a child of this process any more)."
    try: os.waitpid(pid, os.WNOHANG)
    except ChildProcessError: return True
    return False


def test_hands_over_the_same_arrays(cifar_root):
    with read_ahead(cifar_root, verify=False) as ahead:
        assert ahead is not None
        pid = ahead.pid
        train, test = CIFAR10Arrays(cifar_root, True, verify=False), CIFAR10Arrays(cifar_root, False, verify=False)
        again = CIFAR10Arrays(cifar_root, False, verify=False)   # each split is handed over once: read here
    assert from_child(train.data) and from_child(test.data) and not from_child(again.data)
    for got, split in ((train, True), (test, False)):
        plain = CIFAR10Arrays(cifar_root, split, verify=False)
        assert np.array_equal(got.data, plain.data) and got.targets == plain.targets and got.classes == plain.classes
        assert got.data.flags.writeable and type(got.targets[0]) is int
    assert gone(pid)


def test_a_file_changed_after_the_read_is_read_again(cifar_root):
    with read_ahead(cifar_root, verify=False) as ahead:
        assert select.select([ahead.pipe], [], [], 30)[0]    # the child has read the files and said so
        write_cifar_layout(cifar_root, seed=1)                # new contents: other images
        train = CIFAR10Arrays(cifar_root, True, verify=False)
    assert not from_child(train.data)
    assert np.array_equal(train.data, CIFAR10Arrays(cifar_root, True, verify=False).data)


def test_a_broken_file_gives_the_same_error_as_without(cifar_root):
    (cifar_root / 'cifar-10-batches-py' / 'data_batch_2').write_bytes(b'\x80\x02}q\x00(X\x04')   # cut short
    with pytest.raises(DataError) as plain: CIFAR10Arrays(cifar_root, True, verify=False)
    with read_ahead(cifar_root, verify=False) as ahead, pytest.raises(DataError) as ahead_err:
        CIFAR10Arrays(cifar_root, True, verify=False)
    assert str(ahead_err.value) == str(plain.value) and 'data_batch_2' in str(plain.value) and ahead is not None


def test_checksums_are_not_skipped(cifar_root):
    # a read-ahead that did not verify must not stand in for a load that asks to verify
    with read_ahead(cifar_root, verify=False) as ahead, pytest.raises(DataError, match='official checksums'):
        assert ahead is not None
        CIFAR10Arrays(cifar_root, True, verify=True)


def test_a_verified_read_ahead_hands_over_verified_data(cifar_root, monkeypatch):
    # the command's default: checksums on. Make the fixture's own sums the "official" ones for this test.
    folder = cifar_root / 'cifar-10-batches-py'
    md5 = lambda name: hashlib.md5((folder / name).read_bytes()).hexdigest()
    C = cifar10._CIFAR10Files
    monkeypatch.setattr(C, 'train_list', [[n, md5(n)] for n, _ in C.train_list])
    monkeypatch.setattr(C, 'test_list', [[n, md5(n)] for n, _ in C.test_list])
    monkeypatch.setattr(C, 'meta', dict(C.meta, md5=md5(C.meta['filename'])))
    with read_ahead(cifar_root) as ahead:
        assert ahead is not None and ahead.verify
        train = CIFAR10Arrays(cifar_root, True)
    assert from_child(train.data) and np.array_equal(train.data, CIFAR10Arrays(cifar_root, True).data)


def test_a_child_that_sends_nothing_means_reading_here(cifar_root, monkeypatch):
    monkeypatch.setattr(cifar10, '_send', lambda *a: None)     # the forked child ends without a word
    with read_ahead(cifar_root, verify=False) as ahead:
        assert ahead is not None
        train = CIFAR10Arrays(cifar_root, True, verify=False)
    assert not from_child(train.data) and len(train) == 100


def test_no_process_is_left_when_nothing_is_taken(cifar_root, monkeypatch):
    def slow(out, *a): time.sleep(60)                          # a child still reading when the block ends
    monkeypatch.setattr(cifar10, '_send', slow)
    with pytest.raises(KeyError), read_ahead(cifar_root, verify=False) as ahead:
        pid = ahead.pid
        raise KeyError('the command failed before loading')
    assert gone(pid) and cifar10._AHEAD == {}


def test_nothing_to_read_ahead(tmp_path):
    assert not list(tmp_path.iterdir())
    with read_ahead(tmp_path) as ahead: assert ahead is None   # no copy here: loading says what is wrong, as before


def test_ctrl_c_in_the_child_ends_it_quietly(cifar_root, monkeypatch, capfd):
    def interrupted(out, *a): os.kill(os.getpid(), signal.SIGINT); time.sleep(5)
    monkeypatch.setattr(cifar10, '_send', interrupted)
    t = time.perf_counter()
    with read_ahead(cifar_root, verify=False) as ahead:
        pid = ahead.pid
        train = CIFAR10Arrays(cifar_root, True, verify=False)  # the child ended at once: read here
    assert not from_child(train.data) and gone(pid) and time.perf_counter() - t < 4   # not after its 5 s
    assert 'KeyboardInterrupt' not in capfd.readouterr().err  # no traceback from the child


def test_no_read_ahead_beside_other_threads(cifar_root, monkeypatch):
    monkeypatch.setattr(cifar10, '_other_threads', REAL_OTHER_THREADS)
    stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start()
    try:
        with read_ahead(cifar_root, verify=False) as ahead: assert ahead is None   # a fork could copy a held lock
    finally: stop.set(); t.join()


def test_a_failed_fork_leaks_nothing(cifar_root, monkeypatch):
    def no_fork(): raise BlockingIOError(11, 'Resource temporarily unavailable')
    monkeypatch.setattr(os, 'fork', no_fork)
    before = sorted(os.listdir('/proc/self/fd'))
    with read_ahead(cifar_root, verify=False) as ahead: assert ahead is None
    assert sorted(os.listdir('/proc/self/fd')) == before


def test_nested_blocks_for_one_copy(cifar_root):
    with read_ahead(cifar_root, verify=False) as outer:
        with read_ahead(cifar_root, verify=False) as inner:
            assert from_child(CIFAR10Arrays(cifar_root, True, verify=False).data)
        assert inner.pid is None and outer.pid is not None
        assert from_child(CIFAR10Arrays(cifar_root, True, verify=False).data)   # the outer one is still there


def test_the_reader_dies_with_its_parent(cifar_root):
    script = (f"import time\nfrom cifar_tutorial import cifar10\ncifar10._send = lambda *a: time.sleep(60)\n"
              f"with cifar10.read_ahead({str(cifar_root)!r}, verify=False) as a:\n"
              f"    print(a.pid, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, text=True)
    pid = int(proc.stdout.readline())
    proc.kill(); proc.wait()                                   # kill -9: no finally, no exit handler runs
    def ended():
        try: return open(f'/proc/{pid}/stat').read().split(') ')[1][0] in 'ZX'
        except FileNotFoundError: return True
    deadline = time.time() + 10
    while not ended() and time.time() < deadline: time.sleep(0.05)
    assert ended(), 'the read-ahead process outlived its parent'
