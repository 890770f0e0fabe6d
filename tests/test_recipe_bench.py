"Smoke test of bench/recipe_bench.py: both programs run on a little offline data and the summary adds up (no timing targets)."

import csv

import pytest

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out


def test_recipe_bench_smoke(load_bench, tmp_path, capsys):
    out, table = tmp_path / 'bench.json', tmp_path / 'sizes.csv'
    res = load_bench('recipe_bench').main(['--dataset', 'synthetic', '--n-train', '300', '--n-test', '100', '--tutorial-epochs', '1',
                                           '--sizes', 'tiny', '--seeds', '2', '--device', 'cpu', '--json', str(out), '--csv', str(table)])
    tut, fast = res['tutorial'], res['sizes']['tiny']
    assert 0 <= tut['test_accuracy'] <= 100 and tut['wall_time_s'] > 0
    assert [r['seed'] for r in fast['runs']] == [0, 1] and all(r['device'] == 'cpu' for r in fast['runs'])
    accs = [r['test_accuracy'] for r in fast['runs']]
    assert fast['min_accuracy'] == min(accs) and fast['max_accuracy'] == max(accs) and abs(fast['mean_accuracy'] - sum(accs) / 2) < 1e-9
    assert abs(fast['wall_time_ratio'] - fast['mean_wall_time_s'] / tut['wall_time_s']) < 0.01
    rows = list(csv.DictReader(table.open()))
    assert [r['size'] for r in rows] == ['tiny'] and rows[0]['seeds'] == '2' and float(rows[0]['script_wall_s']) == tut['wall_time_s']
    assert out.is_file()
    assert all(r['other_programs_cores'] >= 0 for r in fast['runs'] + [tut]) and rows[0]['other_programs_cores'] != ''
    text = capsys.readouterr().out
    assert "the tutorial's script" in text and 'fast tiny (2 seeds)' in text and 'x script' in text


def test_recipe_bench_rejects_unknown_size(load_bench):
    with pytest.raises(SystemExit):
        load_bench('recipe_bench').main(['--dataset', 'synthetic', '--sizes', 'huge', '--skip-tutorial'])
