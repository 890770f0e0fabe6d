"""Fault injection for the data layer: malformed and hostile files, memory bombs under a memory cap, a fuzzed set of
pickles, and local copies that must never be replaced. Every failure must be a DataError that names the file."""
import hashlib
import os
import pickle
import pickletools
import random
import re
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_cifar_layout

from cifar_tutorial.data import DataError, SafeCIFAR10, SyntheticFallbackWarning, UnsafePickleError, get_dataset, safe_unpickle

NAMES = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def dump(obj, protocol=2) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


class _Call:
    "Pickles as a call of `func(*args)` (and a BUILD of `state`), whatever the objects: how a hostile file is written."
    def __init__(self, func, args, state=None): self.func, self.args, self.state = func, args, state
    def __reduce__(self): return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def ops(*parts) -> bytes:
    "A protocol-2 pickle assembled from raw instructions (bytes) and GLOBAL names ('module name')."
    out = b'\x80\x02'
    for p in parts: out += p if isinstance(p, bytes) else b'c' + p.replace(' ', '\n').encode() + b'\n'
    return out + b'.'


REC, NDARRAY, DTYPE = 'numpy.core.multiarray _reconstruct', 'numpy ndarray', 'numpy dtype'
U1 = (DTYPE, b'X\x02\x00\x00\x00u1\x89\x88\x87R', b'(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb')


def array_ops(shape: bytes, raw: bytes, dtype=U1) -> tuple:
    "Instructions that build an array the way numpy pickles one: empty, then BUILD with (1, shape, dtype, False, raw)."
    return (REC, NDARRAY, b'K\x00\x85U\x01b\x87R', b'(K\x01', shape, *dtype, b'\x89', raw, b'tb')


# ---------------------------------------------------------------- malformed files, each a clear DataError
def _batch(**over):
    d = {'batch_label': 'x', 'labels': [0, 1, 2], 'data': np.zeros((3, 3072), np.uint8), 'filenames': ['a', 'b', 'c']}
    d.update(over)
    return {k: v for k, v in d.items() if v is not DROP}


DROP = object()
BAD_BATCHES = {
    'empty file': b'',
    'garbage': b'this is not a pickle at all',
    'zeros': b'\x00' * 100,
    'a list, not a dict': dump([1, 2, 3]),
    'an int': dump(7),
    'no data key': dump(_batch(data=DROP)),
    'no labels key': dump(_batch(labels=DROP)),
    'data is a string': dump(_batch(data='pixels')),
    'data is None': dump(_batch(data=None)),
    'float data': dump(_batch(data=np.zeros((3, 3072), np.float32))),
    'wrong row size': dump(_batch(data=np.zeros((3, 100), np.uint8))),
    'three-dimensional data': dump(_batch(data=np.zeros((3, 3, 1024), np.uint8))),
    'no images': dump(_batch(data=np.zeros((0, 3072), np.uint8), labels=[])),
    'labels are a string': dump(_batch(labels='012')),
    'labels are a dict': dump(_batch(labels={0: 1})),
    'labels are floats': dump(_batch(labels=[0.0, 1.5, 2.0])),
    'labels are None': dump(_batch(labels=[None, None, None])),
    'labels are nested': dump(_batch(labels=[[0], [1], [2]])),
    'labels are bools': dump(_batch(labels=[True, False, True])),
    'labels are a float array': dump(_batch(labels=np.zeros(3, np.float64))),
    'labels are a 2-D array': dump(_batch(labels=np.zeros((3, 1), np.int64))),
    'huge label': dump(_batch(labels=[0, 2**80, 1])),
    'negative label': dump(_batch(labels=[0, -1, 2])),
    'label beyond the classes': dump(_batch(labels=[0, 10, 2])),
    'too few labels': dump(_batch(labels=[0, 1])),
    'too many labels': dump(_batch(labels=[0, 1, 2, 3])),
    'object array': dump(_batch(data=np.array([[object()]] * 3, dtype=object))),
    'bytes keys (encoding=bytes)': dump({b'data': np.zeros((3, 3072), np.uint8), b'labels': [0, 1, 2]}),
    'truncated in the header': dump(_batch())[:30],
    'truncated in the pixels': dump(_batch())[:5000],
    'truncated before STOP': dump(_batch())[:-1],
    'unknown instruction': b'\x80\x02\xff.',
    'stack underflow': b'\x80\x02a.',
    'unknown shared object': b'\x80\x02h\x05.',
    'mark never closed': b'\x80\x02(K\x01.',
    'a 5,000-digit text integer': b'I' + b'9' * 5000 + b'\n.',
    'dtype of objects': ops(*array_ops(b'K\x03M\x00\x0c\x86', b'U\x00',
                                       (DTYPE, b'X\x02\x00\x00\x00O8\x89\x88\x87R', b'N\x62'))),
    'unusual dtype state': ops(*array_ops(b'K\x00\x85', b'U\x00',
                                          (DTYPE, b'X\x02\x00\x00\x00u1\x89\x88\x87R', b'(K\x03X\x01\x00\x00\x00>(K\x01tNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb'))),
    'shape of text': ops(*array_ops(b'X\x01\x00\x00\x00a\x85', b'U\x00')),
    'data shorter than its shape': ops(*array_ops(b'K\x03M\x00\x0c\x86', b'U\x03abc')),
}
BAD_METAS = {
    'empty file': b'',
    'no label_names': dump({'num_vis': 3072}),
    'label_names is a string': dump({'label_names': 'airplane'}),
    'label_names is empty': dump({'label_names': []}),
    'label_names are numbers': dump({'label_names': list(range(10))}),
    'label_names is None': dump({'label_names': None}),
    'a tuple, not a dict': dump(('airplane',)),
    'only two classes': dump({'label_names': ['airplane', 'automobile']}),   # labels 0..9 then fall outside
    'truncated': dump({'label_names': ['airplane'] * 10})[:-5],
}


@pytest.mark.parametrize('case', sorted(BAD_BATCHES))
def test_malformed_batch_file(cifar_root, case):
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_2'
    p.write_bytes(BAD_BATCHES[case])
    before = snapshot(p.parent)
    with pytest.raises(DataError) as e:
        SafeCIFAR10(cifar_root, verify=False)
    msg = str(e.value)
    assert str(p) in msg and ('download again' in msg or 'tampered' in msg), msg
    assert '\n' not in msg and len(msg) < 700
    assert snapshot(p.parent) == before, 'nothing on disk may change'


@pytest.mark.parametrize('case', sorted(BAD_METAS))
def test_malformed_meta_file(cifar_root, case):
    p = cifar_root / 'cifar-10-batches-py' / 'batches.meta'
    p.write_bytes(BAD_METAS[case])
    for train in (True, False):
        with pytest.raises(DataError) as e:
            SafeCIFAR10(cifar_root, train=train, verify=False)
        assert 'cifar-10-batches-py' in str(e.value) and 'download again' in str(e.value)


def test_files_that_are_not_regular_files(cifar_root):
    folder = cifar_root / 'cifar-10-batches-py'
    (folder / 'data_batch_3').unlink(); (folder / 'data_batch_3').mkdir()
    with pytest.raises(DataError, match='data_batch_3 is not a regular file'):
        SafeCIFAR10(cifar_root, verify=False)
    (folder / 'data_batch_3').rmdir()
    if hasattr(os, 'mkfifo'):
        os.mkfifo(folder / 'data_batch_3')                     # reading a pipe would hang for ever
        with pytest.raises(DataError, match='data_batch_3 is not a regular file'):
            SafeCIFAR10(cifar_root, verify=False)
        with pytest.raises(DataError, match='not a regular file'):
            safe_unpickle(folder / 'data_batch_3')
        (folder / 'data_batch_3').unlink()
    big = folder / 'data_batch_3'
    with open(big, 'wb') as f: f.truncate(300 * 2**20)        # sparse: takes no disk space
    with pytest.raises(DataError, match='larger than any CIFAR-10 file'):
        SafeCIFAR10(cifar_root, verify=False)


# ---------------------------------------------------------------- what may never be built or called
HOSTILE = {
    'os.system': dump({'data': _Call(os.system, ('true',))}),
    'builtins.eval': dump(_Call(eval, ('1+1',))),
    'numpy.load': dump({'data': _Call(np.load, ('x.npy',))}),
    'NEWOBJ of a numpy array': b'\x80\x02' + b'cnumpy\nndarray\n' + b'K\x05\x85\x81.',
    'INST': b'(K\x05inumpy\nndarray\n.',
    'REDUCE of ndarray itself': ops(NDARRAY, b'K\x05\x85R'),
    'BUILD on a dict': b'\x80\x02}}b.',
    'persistent id': b'\x80\x02K\x01Q.',
    'extension code': b'\x80\x02\x82\x01.',
    'out-of-band buffer': b'\x80\x05\x97.',
}


@pytest.mark.parametrize('case', sorted(HOSTILE))
def test_hostile_pickles_are_refused(tmp_path, case):
    p = tmp_path / 'data_batch_1'
    p.write_bytes(HOSTILE[case])
    with pytest.raises(UnsafePickleError, match=re.escape(f'{p}: refusing to load')):
        safe_unpickle(p)


# ---------------------------------------------------------------- copies written in other ways load the same
class _Py2Array:
    "An array pickled as Python 2 wrote it: the pixels as a (latin-1 decoded) text string, not bytes."
    def __init__(self, a): self.a = a
    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct
        return (_reconstruct, (np.ndarray, (0,), b'b'), (1, self.a.shape, self.a.dtype, False, self.a.tobytes().decode('latin1')))


@pytest.mark.parametrize('how', ['protocol 0', 'protocol 4', 'protocol 5', 'python 2 strings', 'numpy int labels'])
def test_other_encodings_of_the_same_copy(cifar_root, how):
    folder = cifar_root / 'cifar-10-batches-py'
    expect = SafeCIFAR10(cifar_root, verify=False)
    for name in NAMES:
        d = safe_unpickle(folder / name)
        if how == 'python 2 strings' and 'data' in d: d['data'] = _Py2Array(d['data'])
        if how == 'numpy int labels' and 'labels' in d: d['labels'] = [np.int64(t) for t in d['labels']]
        proto = {'protocol 0': 0, 'protocol 4': 4, 'protocol 5': 5}.get(how, 2)
        (folder / name).write_bytes(pickle.dumps(d, protocol=proto))
    got = SafeCIFAR10(cifar_root, verify=False)
    assert np.array_equal(got.data, expect.data) and got.targets == expect.targets and got.classes == expect.classes


# ---------------------------------------------------------------- memory bombs, under a memory cap
BOMBS = {
    'memo index 2**31 (9 bytes)': b'\x80\x02}r\xff\xff\xff\x7f.',
    'memo index 2**28 (9 bytes)': b'\x80\x02}r\xff\xff\xff\x0f.',
    'text memo index (15 bytes)': b'(dp2147483647\n.',
    'array of 400,000 images': ops(REC, NDARRAY, b'J\x80\x1a\x06\x00M\x00\x0c\x86U\x01b\x87R'),
    'state of 400,000 images': ops(*array_ops(b'J\x80\x1a\x06\x00M\x00\x0c\x86', b'U\x00')),
    'object array of 400,000 images': ops(*array_ops(b'J\x80\x1a\x06\x00M\x00\x0c\x86', b']',
                                                     (DTYPE, b'X\x02\x00\x00\x00O8\x89\x88\x87R', b'N\x62'))),
    'bytearray of 1 TB': b'\x80\x05\x96' + (2**40).to_bytes(8, 'little') + b'.',
    'bytes of 1 TB': b'\x80\x04\x8e' + (2**40).to_bytes(8, 'little') + b'.',
    'text of 4 GB': b'\x80\x02X\xff\xff\xff\xff.',
    'frame of 1 TB': b'\x80\x04\x95' + (2**40).to_bytes(8, 'little') + b'.',
}


def _amplified() -> bytes:
    "1 MB of text, encoded to bytes 3,000 times into one list (3 GB), through shared references: a 'billion laughs'."
    one = b'X' + (2**20).to_bytes(4, 'little') + b'a' * 2**20 + b'q\x01'
    call = b'h\x02h\x01X\x06\x00\x00\x00latin1\x86Ra'
    return b'\x80\x02]q\x00c_codecs\nencode\nq\x020' + one + b'0' + call * 3000 + b'.'


def _many_lists() -> bytes:
    "24 million empty lists from 24 MB of one-byte instructions (1.7 GB of list objects)."
    return b'\x80\x02' + b']' * (24 * 2**20) + b'.'


PROBE = textwrap.dedent('''
    import resource, sys, time
    from cifar_tutorial.data import DataError, safe_unpickle
    def peak(): return int(open('/proc/self/status').read().split('VmPeak:')[1].split()[0]) * 1024
    base = peak()
    cap = base + 3 * 2**29                                   # 1.5 GB above what this process already maps
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    for p in sys.argv[1:]:
        t = time.perf_counter()
        try: safe_unpickle(p); print('LOADED', p)
        except DataError as e: print('REFUSED', 'MemoryError' in str(e), p, round(time.perf_counter() - t, 2))
        except BaseException as e: print('ESCAPED', type(e).__name__, p)
    print('GROWTH_MB', (peak() - base) // 2**20)
''')


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_memory_bombs_are_refused_before_allocating(tmp_path):
    try: import resource; resource.RLIMIT_AS  # noqa: I001
    except (ImportError, AttributeError): pytest.skip('resource.setrlimit(RLIMIT_AS) is not available here')
    if not Path('/proc/self/status').exists(): pytest.skip('no /proc/self/status to measure peak memory')
    files = []
    for i, content in enumerate([*BOMBS.values(), _amplified(), _many_lists()]):
        p = tmp_path / f'bomb{i}'; p.write_bytes(content); files.append(str(p))
    r = subprocess.run([sys.executable, '-c', PROBE, *files], capture_output=True, text=True, timeout=300,   # a hang fails
                       env={**os.environ, 'PYTHONPATH': os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split('\n')
    refused = [l for l in lines if l.startswith('REFUSED False')]
    assert len(refused) == len(files), r.stdout                  # each one a DataError, none from running out of memory
    growth = int(next(l for l in lines if l.startswith('GROWTH_MB')).split()[1])
    assert growth < 400, f'the process mapped {growth} MB more while refusing the bombs'


# ---------------------------------------------------------------- a fuzzed set of malformed pickles
def _mutate(good: bytes, rng: random.Random) -> bytes:
    "One seeded mutation of a valid pickle, aimed mostly at its instructions rather than at its pixel bytes."
    starts = [pos for _, _, pos in pickletools.genops(good)]
    at = rng.choice(starts) if rng.random() < 0.8 else rng.randrange(len(good))
    kind = rng.randrange(7)
    if kind == 0: return good[:at]                                                  # truncated
    if kind == 1:                                                                   # bytes overwritten
        k = rng.randint(1, 4); return good[:at] + bytes(rng.randrange(256) for _ in range(k)) + good[at + k:]
    if kind == 2: return good[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + good[at:]   # inserted
    if kind == 3: return good[:at] + good[at + rng.randint(1, 64):]                 # a range deleted
    if kind == 4:                                                                   # a range repeated
        k = rng.randint(1, 64); return good[:at] + good[at:at + k] * rng.randint(2, 4) + good[at + k:]
    if kind == 5:                                                                   # another instruction
        code = rng.choice([op.code.encode('latin1') for op in pickletools.opcodes])
        return good[:at] + code + good[at + 1:]
    return good[:at + 1] + b'\xff\xff\xff\x7f' + good[at + 5:]                       # a huge length or index


def test_fuzzed_pickles_end_in_data_error(tmp_path):
    root = tmp_path / 'c'
    folder = write_cifar_layout(root, n_per_batch=6)
    originals = {n: (folder / n).read_bytes() for n in ('data_batch_1', 'batches.meta')}
    bases = {(n, proto): (originals[n] if proto == 2 else pickle.dumps(safe_unpickle(folder / n), protocol=proto))
             for n in originals for proto in (0, 2, 4, 5)}
    rng = random.Random(20261129)
    counts, escaped, t0 = {'refused': 0, 'loaded': 0}, [], time.perf_counter()
    for case in range(400):
        name, proto = rng.choice(sorted(bases))
        bad = _mutate(bases[name, proto], rng)
        (folder / name).write_bytes(bad)
        try:
            ds = SafeCIFAR10(root, train=True, verify=False)
        except DataError as e:
            counts['refused'] += 1
            assert str(folder / name) in str(e) or 'incomplete' in str(e), (case, str(e)[:200])
        except Exception as e:                                      # anything else is a bug
            escaped.append((case, name, proto, type(e).__name__, str(e)[:120]))
        else:                                                       # a harmless mutation: the data must still be sane
            counts['loaded'] += 1
            assert ds.data.dtype == np.uint8 and ds.data.shape[1:] == (32, 32, 3) and len(ds.data) == len(ds.targets)
            assert all(0 <= t < len(ds.classes) for t in ds.targets) and all(isinstance(c, str) for c in ds.classes)
        finally:
            (folder / name).write_bytes(originals[name])
    assert not escaped, escaped[:10]
    assert counts['refused'] > 200, counts                           # the mutations do break most files
    assert time.perf_counter() - t0 < 20, 'the fuzzed set must stay fast'


# ---------------------------------------------------------------- a local copy is never replaced
@pytest.fixture
def no_download(monkeypatch):
    "Fail the test if anything starts a download (the network is never needed by these tests)."
    calls = []
    def download(self): calls.append(self.root); raise AssertionError('a download was started')
    monkeypatch.setattr(SafeCIFAR10, 'download', download)
    return calls


@pytest.mark.parametrize('name, download', [('auto', None), ('auto', True), ('cifar10', True), ('cifar10', False)])
def test_a_copy_with_a_file_missing_is_an_error_in_every_mode(cifar_root, no_download, name, download):
    folder = cifar_root / 'cifar-10-batches-py'
    (folder / 'data_batch_4').unlink()
    before = snapshot(folder)
    with pytest.raises(DataError, match=r"incomplete: data_batch_4 is missing.*never downloaded over"):
        get_dataset(name, cifar_root, download=download, verify=False)
    assert no_download == [] and snapshot(folder) == before


@pytest.mark.parametrize('damage', ['truncated', 'not a pickle'])
def test_auto_with_a_damaged_copy_is_an_error_not_a_fallback(cifar_root, no_download, damage, recwarn):
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_5'
    p.write_bytes(p.read_bytes()[:100] if damage == 'truncated' else b'hello')
    for verify in (True, False):
        with pytest.raises(DataError, match='data_batch_5' if not verify else 'official checksums: .*data_batch_5'):
            get_dataset('auto', cifar_root, verify=verify)
    assert not [w for w in recwarn if w.category is SyntheticFallbackWarning] and no_download == []


def test_download_with_a_copy_there_never_downloads(cifar_root, no_download):
    folder = cifar_root / 'cifar-10-batches-py'
    before = snapshot(folder)
    ds = SafeCIFAR10(cifar_root, download=True, verify=False)          # a re-encode: other checksums, loaded as it is
    assert len(ds) == 100
    train, _ = get_dataset('cifar10', cifar_root, download=True, verify=False)
    assert train.source == 'cifar10'
    with pytest.raises(DataError, match='official checksums.*verify=False'):
        SafeCIFAR10(cifar_root, download=True)                          # verified: an error, still no download
    assert no_download == [] and snapshot(folder) == before


@pytest.fixture
def local_archive(tmp_path, monkeypatch):
    "A real download over HTTP from this machine: CIFAR-10's archive layout, built from the small test copy."
    import functools
    import http.server
    import threading
    src = tmp_path / 'src'
    write_cifar_layout(src)
    served = tmp_path / 'served'; served.mkdir()
    archive = served / 'cifar-10-python.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar: tar.add(src / 'cifar-10-batches-py', arcname='cifar-10-batches-py')
    quiet = type('Quiet', (http.server.SimpleHTTPRequestHandler,), {'log_message': lambda *a: None})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for var in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(SafeCIFAR10, 'url', f'http://127.0.0.1:{server.server_address[1]}/{archive.name}')
    monkeypatch.setattr(SafeCIFAR10, 'tgz_md5', hashlib.md5(archive.read_bytes()).hexdigest())
    yield archive
    server.shutdown(); server.server_close()


def test_download_into_an_empty_folder(tmp_path, local_archive):
    root = tmp_path / 'fresh'
    ds = SafeCIFAR10(root, download=True, verify=False)
    assert len(ds) == 100 and sorted(p.name for p in root.iterdir()) == ['cifar-10-batches-py', 'cifar-10-python.tar.gz']
    assert sorted(p.name for p in (root / 'cifar-10-batches-py').iterdir()) == sorted(NAMES)
    train, test = get_dataset('auto', tmp_path / 'fresh2', verify=False, n_train=10, n_test=5)   # auto downloads too
    assert train.source == 'cifar10' and (len(train), len(test)) == (10, 5)


def test_a_failed_download_leaves_nothing_behind(tmp_path, local_archive, monkeypatch):
    monkeypatch.setattr(SafeCIFAR10, 'tgz_md5', '0' * 32)               # the archive is not what it should be
    root = tmp_path / 'fresh'
    with pytest.raises(DataError, match='could not download'):
        SafeCIFAR10(root, download=True, verify=False)
    assert not root.exists(), 'the folder it made is removed again'
    kept = tmp_path / 'mine'; kept.mkdir(); (kept / 'notes.txt').write_text('keep')
    with pytest.raises(DataError, match='could not download'):
        SafeCIFAR10(kept, download=True, verify=False)
    assert [p.name for p in kept.iterdir()] == ['notes.txt']
