"bench/tutorial_script.py reads a local copy (--no-verify) with the package's safe loader: a malicious pickle never runs."
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out

SCRIPT = Path(__file__).resolve().parents[1] / 'bench' / 'tutorial_script.py'


class _Payload:
    "Unpickled by plain pickle, this creates the marker file: proof that code from the file ran."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))


def test_tutorial_script_refuses_a_malicious_copy(cifar_root, tmp_path):
    marker = tmp_path / 'pwned'
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_1'
    p.write_bytes(pickle.dumps({'data': _Payload(str(marker)), 'labels': []}, protocol=2))
    pickle.loads(p.read_bytes()); assert marker.exists(); marker.unlink()     # the payload is real
    r = subprocess.run([sys.executable, str(SCRIPT), '--root', str(cifar_root), '--epochs', '1', '--no-verify'],
                       capture_output=True, text=True, timeout=300)
    assert not marker.exists(), 'code from the data file ran'
    assert r.returncode != 0 and 'refusing to load' in r.stderr and 'Traceback' not in r.stderr, r.stderr
