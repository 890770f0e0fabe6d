"Benchmark smoke tests: the scripts run end to end on a little offline data and report sane numbers (no timing targets here)."

import pytest

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out


def test_loader_bench_smoke(load_bench, capsys):
    res = load_bench('loader_bench').main(['--dataset', 'synthetic', '--images', '200', '--batch-sizes', '4', '64', '--workers', '0'])
    assert set(res) == {4, 64}
    for tut, fast, ratio in res.values():
        assert tut > 0 and fast > 0 and abs(ratio - fast / tut) < 1e-9
    out = capsys.readouterr().out
    assert 'data: synthetic' in out and 'ratio' in out
