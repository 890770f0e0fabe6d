"Tests for cifar_tutorial.recipes: schedule, augmentation, TTA, network, OOM handling, runs and the CLI entry point."
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn as nn

from cifar_tutorial import cli, recipes
from cifar_tutorial.data import flip_images, translate_images
from cifar_tutorial.fastnet import DeviceData, FastNet, Lookahead, tta_logits
from cifar_tutorial.recipes import SIZES, FastRecipe, FastRecipeOutOfMemory, fast_config, lr_factor, run_seeds
from cifar_tutorial.train import Evaluation, History

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---- schedule
def test_schedule_shape():
    total = 1000
    f = [lr_factor(s, total) for s in range(total + 1)]
    peak = int(total * 0.23)
    assert f[0] == pytest.approx(0.2) and f[peak] == pytest.approx(1.0) and f[-1] == pytest.approx(0.07)
    assert max(f) == pytest.approx(1.0) and f.index(max(f)) == peak
    assert all(a < b for a, b in zip(f[:peak], f[1:peak + 1]))          # rises ...
    assert all(a > b for a, b in zip(f[peak:-1], f[peak + 1:]))         # ... then falls
    assert lr_factor(5000, total) == pytest.approx(0.07)                # never below the end value
    with pytest.raises(ValueError, match='at least 1'):
        lr_factor(0, 0)


# ---- augmentation
def test_flip_keeps_shape_and_mirrors_only_masked():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    out = flip_images(x, torch.tensor([True, False]))
    assert out.shape == x.shape
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    with pytest.raises(ValueError, match='mask must have shape'):
        flip_images(x, torch.tensor([True]))


def test_translate_keeps_shape_and_content_is_a_shift():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 32, 32)
    out = translate_images(x, 2)
    assert out.shape == x.shape and out.dtype == x.dtype
    # the centre 28x28 of each output is an exact shifted window of its own input image
    for i in range(8):
        found = any(torch.equal(out[i, :, 2:30, 2:30], x[i, :, 2 - dy:30 - dy, 2 - dx:30 - dx])
                    for dy in range(-2, 3) for dx in range(-2, 3))
        assert found
    assert not torch.equal(out, x)                    # some image moved
    assert torch.equal(translate_images(x, 0), x)
    with pytest.raises(ValueError, match='translate must be between'):
        translate_images(x, 40)


def test_augmentation_keeps_labels_in_training(monkeypatch):
    "The recipe's augmented batch is built from the same indices as its labels: check by making the label the image."
    n = 64
    y = torch.arange(n) % 10
    x = y.float().view(n, 1, 1, 1).expand(n, 3, 32, 32).contiguous()     # image k is filled with its label
    seen = []
    recipe = FastRecipe(fast_config('tiny', batch_size=16, epochs=2, tta=0, lookahead=False), 'cpu')
    orig = recipe.forward
    def spy(xb):
        seen.append(xb.detach().clone()); return orig(xb)
    recipe.forward = spy
    labels = []
    orig_ce = recipes.F.cross_entropy
    def ce(out, yb, **kw):
        labels.append(yb.clone()); return orig_ce(out, yb, **kw)
    monkeypatch.setattr(recipes.F, 'cross_entropy', ce)
    data = DeviceData(x, y, x[:8], y[:8], [str(i) for i in range(10)], 'test')
    recipe.run(data, seed=0, log=None)
    train_batches = [s for s in seen if len(s) == 16][:len(labels)]
    assert len(train_batches) >= 4
    for xb, yb in zip(train_batches, labels):
        assert xb.shape == (16, 3, 32, 32)
        assert torch.equal(xb.mean((1, 2, 3)), yb.float())          # flips and shifts keep a constant image, and its label


# ---- test-time augmentation
def test_tta_averages_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(10))
    x = torch.randn(6, 3, 32, 32)
    model(x)
    plain = tta_logits(model, x, 0)
    assert torch.allclose(plain, model(x))
    assert torch.allclose(tta_logits(model, x, 1), 0.5 * (model(x) + model(x.flip(-1))), atol=1e-6)
    p = nn.functional.pad(x, (1, 1, 1, 1), mode='reflect')
    mirror = lambda z: 0.5 * (model(z) + model(z.flip(-1)))
    want = 0.5 * mirror(x) + 0.25 * mirror(p[..., :32, :32]) + 0.25 * mirror(p[..., 2:, 2:])
    assert torch.allclose(tta_logits(model, x, 2, batch_size=4), want, atol=1e-5)
    both, p0 = tta_logits(model, x, 2, batch_size=4, with_plain=True)
    assert torch.allclose(both, want, atol=1e-5) and torch.allclose(p0, plain, atol=1e-6)
    with pytest.raises(ValueError, match='TTA level'):
        tta_logits(model, x, 3)


def test_tta_of_a_flip_symmetric_model_changes_nothing():
    model = lambda z: z.mean((2, 3)).repeat(1, 4)[:, :10]
    x = torch.randn(5, 3, 8, 8)
    assert torch.allclose(tta_logits(model, x, 1), tta_logits(model, x, 0), atol=1e-6)


# ---- network and pieces
def test_fastnet_shapes_and_identity_init():
    for size in ('tiny', 'small', 'large'):
        c = SIZES[size]
        net = FastNet(c.widths, 10, c.whiten_stride)
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    net = FastNet((8, 16, 32))
    w = net.groups[1].conv2.weight                                           # 16 -> 16: starts as the identity
    x = torch.randn(1, 16, 5, 5)
    assert torch.allclose(nn.functional.conv2d(x, w, padding=1), x, atol=1e-6)
    assert not net.whiten.weight.requires_grad and not net.groups[0].norm1.weight.requires_grad


def test_whitening_decorrelates_patches():
    torch.manual_seed(0)
    mix = torch.tensor([[1.0, 0.9, 0.8], [0.0, 0.3, 0.2], [0.0, 0.0, 0.1]])
    x = torch.einsum('ij,njhw->nihw', mix, torch.randn(200, 3, 16, 16))        # strongly correlated channels
    net = FastNet((8, 16, 32)).init_whitening(x, eps=0)
    out = nn.functional.conv2d(x, net.whiten.weight[:12])
    flat = out.permute(1, 0, 2, 3).reshape(12, -1)
    cov = flat @ flat.T / flat.shape[1]
    assert torch.allclose(cov, torch.eye(12), atol=0.05)


def test_whitening_matches_the_covariance_of_all_patches():
    torch.manual_seed(1)
    x = torch.randn(1100, 3, 8, 8) * torch.tensor([1.0, 2.0, 0.5])[:, None, None]   # more than one chunk of 500
    net = FastNet((8, 16, 32)).init_whitening(x, eps=0)
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)   # the patches one by one
    white = patches @ net.whiten.weight[:12].reshape(12, 12).T
    assert torch.allclose(white.T @ white / len(white), torch.eye(12), atol=1e-3)


def test_lookahead_pulls_toward_slow_weights():
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad(): net.weight.fill_(0.)
    la = Lookahead(net)
    with torch.no_grad(): net.weight.fill_(1.)
    la.update(net, decay=0.75)
    assert torch.allclose(net.weight, torch.full((1, 2), 0.25))
    with torch.no_grad(): net.weight.fill_(9.)
    la.update(net, decay=1.0)                                                 # restore the slow copy
    assert torch.allclose(net.weight, torch.full((1, 2), 0.25))


def test_config_checks():
    assert fast_config('auto', 'cpu') == SIZES['small']
    assert fast_config('auto', 'cuda') == SIZES['large']
    assert fast_config('small', epochs=3, batch_size=None).epochs == 3    # None means "keep the default"
    with pytest.raises(ValueError, match='unknown size'):
        fast_config('huge')
    with pytest.raises(TypeError, match='unknown setting'):
        fast_config('tiny', widht=3)
    for bad in (dict(epochs=0), dict(batch_size=0), dict(lr=-1), dict(flip='sideways'), dict(tta=5), dict(translate=-1)):
        with pytest.raises(ValueError):
            fast_config('tiny', **bad)


# ---- runs
@pytest.fixture(scope='module')
def tiny_data():
    torch.set_num_threads(1)
    return FastRecipe(fast_config('tiny'), 'cpu').load('synthetic', n_train=2048, n_test=256)


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_tiny_run_learns_and_reports(tiny_data):
    recipe = FastRecipe(fast_config('tiny', epochs=5), 'cpu')
    r = recipe.run(tiny_data, seed=0, log=None)
    assert r.test_accuracy > 25                         # 10 classes: chance is 10 % (about 40 % here)
    assert r.steps == 5 * (2048 // 128) and len(r.step_loss) == r.steps and len(r.epoch_loss) == 5
    assert r.epoch_loss[-1] < r.epoch_loss[0]
    assert set(r.per_class_accuracy) == set(tiny_data.classes)
    assert sum(map(sum, r.confusion)) == 256 and r.train_time_s > 0 and r.eval_time_s > 0
    assert isinstance(r.history, History) and isinstance(r.evaluation, Evaluation)   # the engine's own result types
    assert r.evaluation.accuracy == r.test_accuracy and r.history.step_loss == r.step_loss
    r2 = recipe.run(tiny_data, seed=0, log=None)        # re-initialised in place: the same seed gives the same result
    assert r2.test_accuracy == r.test_accuracy and r2.step_loss == r.step_loss


def test_data_on_another_device_is_refused(tiny_data):
    recipe = FastRecipe(fast_config('tiny'), 'cpu')
    bad = replace(tiny_data, x_train=tiny_data.x_train.to('meta'))
    with pytest.raises(ValueError, match='data is on meta'):
        recipe.run(bad, log=None)


@pytest.mark.parametrize('exc', [torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB'),
                                 RuntimeError('DefaultCPUAllocator: not enough memory: you tried to allocate 9 GB')])
def test_out_of_memory_names_the_batch_size(tiny_data, monkeypatch, exc):
    recipe = FastRecipe(fast_config('tiny', batch_size=64), 'cpu')
    def boom(self, x): raise exc
    monkeypatch.setattr(FastNet, 'forward', boom)
    with pytest.raises(FastRecipeOutOfMemory, match=r'out of memory on cpu.*batch size 64.*`batch_size=32`'):
        recipe.run(tiny_data, log=None)


def test_other_errors_pass_through(tiny_data, monkeypatch):
    recipe = FastRecipe(fast_config('tiny'), 'cpu')
    monkeypatch.setattr(FastNet, 'forward', lambda self, x: (_ for _ in ()).throw(RuntimeError('shape mismatch')))
    with pytest.raises(RuntimeError, match='shape mismatch'):
        recipe.run(tiny_data, log=None)


def test_missing_cuda_is_refused_clearly(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='`device=cpu`'):
        FastRecipe(fast_config('tiny'), 'cuda')


# ---- command line (the parsers live in cifar_tutorial.cli)
def fast(tmp_path, *extra):
    return cli.main(['train', '--recipe', 'fast', '--dataset', 'synthetic', '--device', 'cpu', '--epochs', '1',
                     '--n-train', '512', '--n-test', '128', '--size', 'tiny', '--out', str(tmp_path / 'run'), *extra])


def test_train_fast_writes_metrics(tmp_path, capsys):
    assert fast(tmp_path) == 0
    m = json.loads((tmp_path / 'run' / 'metrics.json').read_text())
    assert m['recipe'] == 'fast' and m['dataset'] == 'synthetic' and m['device'] == 'cpu' and m['epochs'] == 1
    assert 0 <= m['test_accuracy'] <= 100 and len(m['per_class_accuracy']) == 10
    assert m['loss_history']['per_step'] and m['wall_time_s'] > 0 and 'torch' in m['versions']
    assert m['size'] == 'tiny' and m['test_accuracy'] == round(m['test_accuracy'], 4)   # what ran, rounded
    assert (tmp_path / 'run' / 'weights.pth').is_file() and (tmp_path / 'run' / 'loss_curve.png').is_file()
    assert 'test accuracy' in capsys.readouterr().out


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_train_fast_records_the_size_that_auto_picked(tmp_path):
    assert cli.main(['train', '--recipe', 'fast', '--dataset', 'synthetic', '--device', 'cpu', '--epochs', '0.05',
                     '--n-train', '512', '--n-test', '128', '--out', str(tmp_path / 'run')]) == 0
    assert json.loads((tmp_path / 'run' / 'metrics.json').read_text())['size'] == 'small'   # 'auto' on a CPU


def test_train_fast_refuses_resume_and_bad_settings(tmp_path, capsys):
    assert fast(tmp_path, '--resume') == 2 and 'no checkpoints to resume' in capsys.readouterr().err
    assert fast(tmp_path, '--batch-size', '0') == 2 and '--batch-size' in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_cli_train_recipe_fast_end_to_end(tmp_path):
    "`cifar-tutorial train --recipe fast` as a subprocess on the offline set."
    from cifar_tutorial import cli
    if '--recipe' not in cli.build_parser()._subparsers._group_actions[0].choices['train'].format_help():
        pytest.skip('the CLI has no --recipe flag yet')
    r = subprocess.run([sys.executable, '-c', 'import sys; from cifar_tutorial.cli import main; sys.exit(main())', 'train', '--recipe', 'fast', '--dataset', 'synthetic',
                        '--device', 'cpu', '--epochs', '2', '--n-train', '2048', '--n-test', '512', '--out', str(tmp_path / 'run')],
                       capture_output=True, text=True, timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '2'})
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / 'run' / 'metrics.json').read_text())
    assert m['recipe'] == 'fast' and m['test_accuracy'] > 20


def test_run_seeds_summarises(tiny_data):
    s = run_seeds(FastRecipe(fast_config('tiny'), 'cpu'), tiny_data, seeds=[3, 4])
    accs = [r.test_accuracy for r in s['runs']]
    assert [r.seed for r in s['runs']] == [3, 4] and s['mean_accuracy'] == pytest.approx(sum(accs) / 2)
    assert s['min_accuracy'] == min(accs) and s['max_accuracy'] == max(accs)


def test_module_main_runs_seeds(tmp_path, capsys):
    out = tmp_path / 'r.json'
    assert cli.fast_seeds_main(['--dataset', 'synthetic', '--size', 'tiny', '--device', 'cpu', '--runs', '2', '--n-train', '512',
                                '--n-test', '128', '--json', str(out), '--quiet']) == 0
    res = json.loads(out.read_text())
    assert [r['seed'] for r in res['runs']] == [0, 1] and 'mean over 2 run(s)' in capsys.readouterr().out


@cuda
def test_cuda_recipe_uses_bf16_and_channels_last():
    recipe = FastRecipe(fast_config('tiny', epochs=5), 'cuda')
    assert recipe.amp and recipe.channels_last and recipe.data_dtype == torch.bfloat16
    data = recipe.load('synthetic', n_train=2048, n_test=512)
    assert data.x_train.is_cuda and data.x_train.is_contiguous(memory_format=torch.channels_last)
    r = recipe.run(data, log=None)
    assert r.test_accuracy > 25 and r.device.startswith('cuda')        # chance: 10 %


def test_the_command_lines_offer_every_size():
    "The parsers list the sizes by hand (so that `--help` imports no torch): they must match `SIZES`."
    import argparse

    from cifar_tutorial import cli
    parsers = [cli.fast_seeds_parser(), cli.build_parser()]
    found = []
    for p in parsers:
        stack = [p]
        while stack:
            q = stack.pop()
            for a in q._actions:
                if '--size' in a.option_strings: found.append(a.choices)
                if isinstance(a, argparse._SubParsersAction): stack += list(a.choices.values())
    assert len(found) >= 2 and all(sorted(c) == sorted(['auto', *SIZES]) for c in found), found
