"Smoke test of bench/recipe_bench.py: both programs run on a little offline data and the summary adds up (no timing targets)."

import pytest

pytestmark = pytest.mark.slow   # starts whole programs (training, torchrun, benchmarks): `make quick` leaves it out


def test_recipe_bench_smoke(load_bench, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    res = load_bench('recipe_bench').main(['--dataset', 'synthetic', '--n-train', '300', '--n-test', '100', '--tutorial-epochs', '1',
                                     '--size', 'tiny', '--device', 'cpu', '--json', str(out)])
    tut, fast = res['tutorial'], res['fast']
    assert 0 <= tut['test_accuracy'] <= 100 and 0 <= fast['test_accuracy'] <= 100
    assert tut['wall_time_s'] > 0 and fast['wall_time_s'] > 0
    assert abs(res['wall_time_ratio'] - tut['wall_time_s'] / fast['wall_time_s']) < 0.01
    assert fast['size'] == 'tiny' and fast['device'] == 'cpu' and out.is_file()
    text = capsys.readouterr().out
    assert "the tutorial's script" in text and 'fast recipe' in text and 'wall time' in text
