"Benchmark smoke tests: the scripts run end to end on a little offline data and report sane numbers (no timing targets here)."
import importlib.util, sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / 'bench'


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f'{name}.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_loader_bench_smoke(capsys):
    res = load('loader_bench').main(['--dataset', 'synthetic', '--images', '200', '--batch-sizes', '4', '64', '--workers', '0'])
    assert set(res) == {4, 64}
    for tut, fast, ratio in res.values():
        assert tut > 0 and fast > 0 and abs(ratio - fast / tut) < 1e-9
    out = capsys.readouterr().out
    assert 'data: synthetic' in out and 'ratio' in out
