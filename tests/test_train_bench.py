"Smoke test of bench/train_bench.py: both programs run on a tiny offline set and the report has every figure."
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out

BENCH = Path(__file__).resolve().parents[1] / 'bench' / 'train_bench.py'


def test_train_bench_runs_tiny(tmp_path):
    out = tmp_path / 'bench.json'
    r = subprocess.run([sys.executable, str(BENCH), '--dataset', 'synthetic', '--n-train', '200', '--n-test', '60',
                        '--epochs', '1', '--json', str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'Accuracy of the network on the 60 test images' in r.stdout          # the tutorial's script ran
    assert 'accuracy of the network on the 60 test images' in r.stdout          # and cifar-tutorial train did
    assert 'tutorial script' in r.stdout and 'cifar-tutorial --loader fast' in r.stdout and 'speed-up (wall time)' in r.stdout
    res = json.loads(out.read_text())
    for k in ('tutorial', 'fast'):
        assert res[k]['wall_time_s'] > 0 and 0 <= res[k]['test_accuracy'] <= 100
    assert abs(res['ratio'] - res['tutorial']['wall_time_s'] / res['fast']['wall_time_s']) < 0.05
    assert res['dataset'] == 'synthetic' and res['epochs'] == 1
    assert 'cifar-tutorial --help: ' in r.stdout and 0 < res['python_start_s'] and 0 < res['help_s'] < 30   # goal 4's --help figure


def test_tutorial_script_refuses_a_copy_with_other_checksums(cifar_root):
    script = BENCH.with_name('tutorial_script.py')
    r = subprocess.run([sys.executable, str(script), '--root', str(cifar_root), '--epochs', '1'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0                                                     # torchvision's own check
    r = subprocess.run([sys.executable, str(script), '--root', str(cifar_root), '--epochs', '1', '--no-verify'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'RESULT {' in r.stdout
