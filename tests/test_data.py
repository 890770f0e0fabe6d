"The data layer: safe CIFAR-10 loading, the offline dataset, get_dataset, FastLoader, show_batch, and bad input."
import os, pickle, warnings
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import numpy as np
import pytest
import torch

from cifar_tutorial.data import (FastLoader, SafeCIFAR10, SyntheticFallbackWarning, SyntheticShapes, UnsafePickleError,
                                 classic_loader, get_dataset, make_synthetic, safe_unpickle, show_batch, summarize,
                                 tutorial_transform, SYNTHETIC_CLASSES)


# ---------------------------------------------------------------- real CIFAR-10 layout
def test_local_copy_needs_explicit_opt_out(cifar_root):
    with pytest.raises(RuntimeError, match=r'verify=False \(--no-verify\)'):
        SafeCIFAR10(cifar_root, train=True)
    ds = SafeCIFAR10(cifar_root, train=True, verify=False)
    assert ds.data.shape == (100, 32, 32, 3) and ds.data.dtype == np.uint8
    assert len(ds.targets) == 100 and ds.classes[0] == 'airplane' and ds.source == 'cifar10'
    test = SafeCIFAR10(cifar_root, train=False, verify=False, transform=tutorial_transform())
    x, y = test[0]
    assert x.shape == (3, 32, 32) and -1 <= x.min() and x.max() <= 1 and y == 0


def test_pixels_follow_the_official_layout(cifar_root):
    "Each row is 1024 red, 1024 green, 1024 blue values; we must return H x W x C images."
    raw = safe_unpickle(cifar_root / 'cifar-10-batches-py' / 'test_batch')['data'][3]
    img = SafeCIFAR10(cifar_root, train=False, verify=False).data[3]
    assert np.array_equal(img[..., 0].ravel(), raw[:1024]) and np.array_equal(img[..., 2].ravel(), raw[2048:])


def test_missing_data_without_download_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        SafeCIFAR10(tmp_path / 'nothing', download=False)
    msg = str(e.value)
    assert 'nothing' in msg and 'download=True' in msg and '--download' in msg and 'synthetic' in msg
    with pytest.raises(FileNotFoundError):
        get_dataset('cifar10', tmp_path / 'nothing')


def test_truncated_batch_file(cifar_root):
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_3'
    p.write_bytes(p.read_bytes()[:5000])
    before = {f.name: f.read_bytes() for f in p.parent.iterdir()}
    with pytest.raises(RuntimeError, match='truncated or corrupted.*download again'):
        SafeCIFAR10(cifar_root, verify=False)
    with pytest.raises(RuntimeError, match='official checksums'):   # with the check on, it never gets that far
        SafeCIFAR10(cifar_root)
    assert {f.name: f.read_bytes() for f in p.parent.iterdir()} == before, 'nothing on disk may change'


def test_corrupted_batch_contents(cifar_root):
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_1'
    with open(p, 'wb') as f: pickle.dump({'data': np.zeros((5, 10), np.float32), 'labels': [0] * 5}, f, protocol=2)
    with pytest.raises(RuntimeError, match='does not hold CIFAR-10 images'):
        SafeCIFAR10(cifar_root, verify=False)


class _Payload:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))


def test_malicious_pickle_is_refused_and_never_runs(cifar_root, tmp_path):
    marker = tmp_path / 'pwned'
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_1'
    p.write_bytes(pickle.dumps({'data': _Payload(str(marker)), 'labels': []}, protocol=2))
    # plain pickle would run it (proves the payload is real) ...
    pickle.loads(p.read_bytes()); assert marker.exists(); marker.unlink()
    # ... ours refuses it
    with pytest.raises(UnsafePickleError, match='refusing to load .*tampered'):
        SafeCIFAR10(cifar_root, verify=False)
    assert not marker.exists()


def test_root_that_is_a_file(tmp_path):
    f = tmp_path / 'oops.txt'; f.write_text('keep me')
    for name in ('cifar10', 'auto'):
        with pytest.raises(NotADirectoryError, match='is a file, not a folder'):
            get_dataset(name, f)
    assert f.read_text() == 'keep me'


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*auto, cifar10, synthetic"):
        get_dataset('imagenet')


# ---------------------------------------------------------------- get_dataset
def test_auto_falls_back_loudly_and_records_it(tmp_path):
    with pytest.warns(SyntheticFallbackWarning, match='NOT CIFAR-10'):
        train, test = get_dataset('auto', tmp_path / 'empty', download=False, n_train=50, n_test=20)
    assert train.source == test.source == 'synthetic' and 'download is off' in train.fallback_reason
    assert summarize(train, test)['source'] == 'synthetic'


def test_auto_falls_back_when_download_fails(tmp_path, monkeypatch):
    def offline(self): raise OSError('no network here')
    monkeypatch.setattr(SafeCIFAR10, 'download', offline)
    with pytest.warns(SyntheticFallbackWarning):
        train, _ = get_dataset('auto', tmp_path / 'empty', n_train=50, n_test=20)
    assert train.source == 'synthetic' and 'could not download' in train.fallback_reason
    with pytest.raises(RuntimeError, match='could not download.*synthetic'):
        get_dataset('cifar10', tmp_path / 'empty', download=True)


def test_auto_uses_real_data_when_present(cifar_root):
    with warnings.catch_warnings():
        warnings.simplefilter('error', SyntheticFallbackWarning)
        train, test = get_dataset('auto', cifar_root, verify=False)
    assert train.source == 'cifar10' and len(train) == 100 and len(test) == 20
    with pytest.raises(RuntimeError, match='official checksums'):   # auto never skips the check on its own
        get_dataset('auto', cifar_root)


# ---------------------------------------------------------------- the offline dataset
def test_synthetic_is_deterministic_balanced_and_sized():
    a, b, c = SyntheticShapes(n=300, seed=3), SyntheticShapes(n=300, seed=3), SyntheticShapes(n=300, seed=4)
    assert np.array_equal(a.data, b.data) and a.targets == b.targets
    assert not np.array_equal(a.data, c.data)
    assert a.data.shape == (300, 32, 32, 3) and a.data.dtype == np.uint8
    assert np.bincount(a.targets).tolist() == [30] * 10 and a.classes == list(SYNTHETIC_CLASSES)
    train, test = SyntheticShapes(True, n=100), SyntheticShapes(False, n=100)
    assert not np.array_equal(train.data, test.data), 'test images must differ from training images'
    with pytest.raises(ValueError, match='positive'):
        make_synthetic(0)


def test_synthetic_has_the_torchvision_interface():
    ds = SyntheticShapes(n=20, transform=tutorial_transform(), target_transform=lambda t: t + 100)
    x, y = ds[5]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == ds.targets[5] + 100
    assert len(ds) == 20 and ds.class_to_idx['disc'] == 0


def test_synthetic_classes_are_learnable_but_not_trivial():
    "A nearest-class-mean classifier on raw pixels must do poorly: the classes differ in shape, not in colour."
    x, y = make_synthetic(2000, seed=0)
    xt, yt = make_synthetic(500, seed=1)
    f = lambda a: a.reshape(len(a), -1).astype(np.float32) / 255
    means = np.stack([f(x)[y == k].mean(0) for k in range(10)])
    pred = ((f(xt)[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == yt).mean() < 0.4


# ---------------------------------------------------------------- loaders
def test_fast_loader_matches_the_classic_pipeline():
    ds = SyntheticShapes(n=40, transform=tutorial_transform())
    xb, yb = next(iter(FastLoader(ds, batch_size=40, shuffle=False)))
    classic = torch.stack([ds[i][0] for i in range(40)])
    assert torch.allclose(xb, classic, atol=1e-6) and yb.tolist() == ds.targets


def test_fast_loader_shuffles_every_epoch_and_covers_everything():
    ds = SyntheticShapes(n=103)
    dl = FastLoader(ds, batch_size=10, seed=0)
    assert len(dl) == 11
    epochs = [torch.cat([y for _, y in dl]) for _ in range(2)]
    firsts = [next(iter(dl))[0] for _ in range(2)]
    assert all(sorted(e.tolist()) == sorted(ds.targets) for e in epochs)
    assert not torch.equal(firsts[0], firsts[1])
    assert [len(y) for _, y in FastLoader(ds, 10, drop_last=True)] == [10] * 10
    # the same seed gives the same order
    assert torch.equal(next(iter(FastLoader(ds, 10, seed=1)))[1], next(iter(FastLoader(ds, 10, seed=1)))[1])


def test_fast_loader_augmentation_keeps_labels_and_moves_pixels():
    x = np.zeros((4, 32, 32, 3), np.uint8); x[:, 10, 3] = 255           # one bright pixel at row 10, column 3
    y = [0, 1, 2, 3]
    flip = FastLoader((x, y), 4, shuffle=False, flip=True, seed=0, mean=(0, 0, 0), std=(1, 1, 1))
    xb, yb = next(iter(flip))
    assert yb.tolist() == y
    cols = [int(torch.nonzero(img[0])[0, 1]) for img in xb]
    assert set(cols) <= {3, 28} and xb.shape == (4, 3, 32, 32)
    crop = FastLoader((x, y), 4, shuffle=False, crop=4, seed=1, mean=(0, 0, 0), std=(1, 1, 1))
    for img in next(iter(crop))[0]:
        nz = torch.nonzero(img[0])
        if len(nz): r, c = nz[0].tolist(); assert abs(r - 10) <= 4 and abs(c - 3) <= 4
        assert img.sum() <= 3.0   # translation never invents pixels


def test_fast_loader_bad_input():
    ds = SyntheticShapes(n=10)
    with pytest.raises(ValueError, match='batch_size must be at least 1'): FastLoader(ds, 0)
    with pytest.raises(ValueError, match='crop'): FastLoader(ds, 4, crop=-1)
    with pytest.raises(ValueError, match='uint8 images'): FastLoader((np.zeros((2, 3, 32, 32), np.float32), [0, 1]), 2)
    with pytest.raises(ValueError, match='batch_size'): classic_loader(ds, batch_size=0)


def test_classic_loader_batches():
    ds = SyntheticShapes(n=10, transform=tutorial_transform())
    batches = list(classic_loader(ds, batch_size=4, num_workers=0, seed=0))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and batches[0][0].shape == (4, 3, 32, 32)


def test_show_batch_unnormalises_and_labels():
    ds = SyntheticShapes(n=6)
    xb, yb = next(iter(FastLoader(ds, 6, shuffle=False)))
    fig = show_batch(xb, yb, ds.classes, ncols=3)
    axes = [a for a in fig.axes if a.images]
    assert len(axes) == 6 and [a.get_title() for a in axes] == [ds.classes[t] for t in ds.targets]
    shown = axes[0].images[0].get_array()
    assert np.allclose(np.asarray(shown), ds.data[0] / 255, atol=1e-6)
    fig = show_batch(xb, yb, ds.classes, preds=[0] * 6)
    assert '(' in fig.axes[0].get_title()
    with pytest.raises(ValueError, match='B x 3 x H x W'):
        show_batch(xb[0], yb, ds.classes)


@pytest.mark.parametrize('preds', [False, True])
def test_show_batch_titles_clear_the_row_above(preds):
    "Each image's title (two lines with predictions) ends below the images of the row above it."
    import matplotlib.pyplot as plt
    ds = SyntheticShapes(n=16)                       # two rows of 8, as plot_predictions draws them
    xb, yb = next(iter(FastLoader(ds, 16, shuffle=False)))
    fig = show_batch(xb, yb, ds.classes, preds=(yb + 1) % 10 if preds else None, ncols=8, title='predicted (true)')
    fig.canvas.draw(); r = fig.canvas.get_renderer()
    axes = [a for a in fig.axes if a.images]
    for k in range(8, 16):
        title, above = axes[k].title.get_window_extent(r), axes[k - 8].images[0].get_window_extent(r)
        assert title.y1 < above.y0, (k, title, above)
    plt.close(fig)


def test_fast_loader_without_seed_leaves_the_global_generator_alone():
    torch.manual_seed(123); expected = torch.rand(3)
    torch.manual_seed(123); FastLoader(SyntheticShapes(n=10), 4); got = torch.rand(3)
    assert torch.equal(expected, got), 'creating a loader must not reseed torch (it would change initial weights)'
