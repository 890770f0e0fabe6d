"The data layer: safe CIFAR-10 loading, the offline dataset, get_dataset, FastLoader, show_batch, and bad input."
import os
import pickle
import warnings
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import numpy as np
import pytest
import torch
from PIL import Image

from cifar_tutorial import data as data_module
from cifar_tutorial.core import CifarTutorialError
from cifar_tutorial.data import (
    MEAN,
    STD,
    SYNTHETIC_CLASSES,
    DataError,
    DataNotFoundError,
    FastLoader,
    SafeCIFAR10,
    SyntheticFallbackWarning,
    SyntheticShapes,
    UnsafePickleError,
    classic_loader,
    flip_images,
    get_dataset,
    images_nchw,
    make_synthetic,
    normalize_images,
    safe_unpickle,
    show_batch,
    summarize,
    translate_images,
    tutorial_transform,
)


# ---------------------------------------------------------------- real CIFAR-10 layout
def test_local_copy_needs_explicit_opt_out(cifar_root):
    with pytest.raises(DataError, match=r'official checksums: data_batch_1, .*batches\.meta\..*verify=False\.$') as e:
        SafeCIFAR10(cifar_root, train=True)
    assert '--' not in str(e.value), 'library messages speak of the API, not of command-line flags'
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
    with pytest.raises(DataNotFoundError) as e:
        SafeCIFAR10(tmp_path / 'nothing', download=False)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, DataError)
    assert 'nothing' in msg and 'download=True' in msg and "get_dataset('synthetic')" in msg and '--' not in msg
    with pytest.raises(FileNotFoundError):
        get_dataset('cifar10', tmp_path / 'nothing')


def test_truncated_batch_file(cifar_root):
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_3'
    p.write_bytes(p.read_bytes()[:5000])
    before = {f.name: f.read_bytes() for f in p.parent.iterdir()}
    with pytest.raises(DataError, match='data_batch_3 is truncated or corrupted.*download again'):
        SafeCIFAR10(cifar_root, verify=False)
    with pytest.raises(DataError, match='official checksums'):   # with the check on, it never gets that far
        SafeCIFAR10(cifar_root)
    assert {f.name: f.read_bytes() for f in p.parent.iterdir()} == before, 'nothing on disk may change'


def test_corrupted_batch_contents(cifar_root):
    p = cifar_root / 'cifar-10-batches-py' / 'data_batch_1'
    with open(p, 'wb') as f: pickle.dump({'data': np.zeros((5, 10), np.float32), 'labels': [0] * 5}, f, protocol=2)
    with pytest.raises(DataError, match='data_batch_1 does not hold CIFAR-10 images'):
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
    monkeypatch.setattr(data_module, '_unreachable', lambda url, timeout=5.0: None)   # the server answers; the download fails
    with pytest.warns(SyntheticFallbackWarning):
        train, _ = get_dataset('auto', tmp_path / 'empty', n_train=50, n_test=20)
    assert train.source == 'synthetic' and 'could not download' in train.fallback_reason
    with pytest.raises(DataError, match='could not download.*synthetic'):
        get_dataset('cifar10', tmp_path / 'empty', download=True)


def test_auto_uses_real_data_when_present(cifar_root):
    with warnings.catch_warnings():
        warnings.simplefilter('error', SyntheticFallbackWarning)
        train, test = get_dataset('auto', cifar_root, verify=False)
    assert train.source == 'cifar10' and len(train) == 100 and len(test) == 20
    with pytest.raises(DataError, match='official checksums'):   # auto never skips the check on its own
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
    x = np.zeros((4, 32, 32, 3), np.uint8); x[:, 16, 16] = 255           # in the middle: no reflected copy of it
    crop = FastLoader((x, y), 4, shuffle=False, crop=4, seed=1, mean=(0, 0, 0), std=(1, 1, 1))
    for img in next(iter(crop))[0]:
        nz = torch.nonzero(img[0])
        assert len(nz) == 1; r, c = nz[0].tolist(); assert abs(r - 16) <= 4 and abs(c - 16) <= 4
        assert img.sum() == 3.0   # translation moves the pixel and invents none


def test_fast_loader_crop_reflects_the_edges():
    "The crop pads by reflection, as the fast recipe does: a plain grey image stays plain grey (zero padding gives black bands)."
    x = np.full((64, 32, 32, 3), 100, np.uint8)
    xb, _ = next(iter(FastLoader((x, [0] * 64), 64, crop=4, seed=0, mean=(0, 0, 0), std=(1, 1, 1))))
    assert torch.equal(xb, torch.full_like(xb, 100 / 255))
    # and it is the package's one translate_images, drawn from the loader's generator
    ramp = np.broadcast_to(np.arange(32, dtype=np.uint8)[None, None, :, None] * 8, (8, 32, 32, 3)).copy()
    dl = FastLoader((ramp, [0] * 8), 8, shuffle=False, crop=3, seed=5, mean=(0, 0, 0), std=(1, 1, 1))
    got = next(iter(dl))[0]
    expect = translate_images(images_nchw(ramp), 3, torch.Generator().manual_seed(5)).float() / 255
    assert torch.equal(got, expect)
    with pytest.raises(ValueError, match='crop must be smaller than the images'):
        FastLoader((ramp, [0] * 8), 8, crop=32)


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


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
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


# ---------------------------------------------------------------- error types, signature, subsets
def test_error_types():
    "Every data problem is a DataError (a CifarTutorialError); the two special ones keep their standard bases too."
    assert issubclass(DataError, CifarTutorialError)
    assert issubclass(UnsafePickleError, DataError) and issubclass(UnsafePickleError, pickle.UnpicklingError)
    assert issubclass(DataNotFoundError, DataError) and issubclass(DataNotFoundError, FileNotFoundError)


def test_safe_cifar10_has_torchvision_signature(cifar_root):
    import inspect

    from torchvision.datasets import CIFAR10
    ours = list(inspect.signature(SafeCIFAR10.__init__).parameters.values())
    theirs = list(inspect.signature(CIFAR10.__init__).parameters.values())
    assert [(p.name, p.kind, p.default) for p in ours[:len(theirs)]] == [(p.name, p.kind, p.default) for p in theirs]
    assert [(p.name, p.kind, p.default) for p in ours[len(theirs):]] == [('verify', inspect.Parameter.KEYWORD_ONLY, True)]
    test = SafeCIFAR10(cifar_root, False, None, None, False, verify=False)      # positionally, as torchvision's
    assert len(test) == 20 and test.train is False
    with pytest.raises(DataNotFoundError):
        SafeCIFAR10(cifar_root / 'elsewhere', train=False)


def test_n_train_and_n_test_cut_every_dataset(cifar_root):
    full_train, full_test = get_dataset('cifar10', cifar_root, verify=False)
    train, test = get_dataset('cifar10', cifar_root, verify=False, n_train=30, n_test=7)
    assert (len(train), len(test)) == (30, 7) and len(train.targets) == 30 and len(test.data) == 7
    assert np.array_equal(train.data, full_train.data[:30]) and train.targets == full_train.targets[:30]   # the first n
    assert np.array_equal(test.data, full_test.data[:7])
    with warnings.catch_warnings():
        warnings.simplefilter('error', SyntheticFallbackWarning)
        train, test = get_dataset('auto', cifar_root, verify=False, n_train=30, n_test=7)
    assert train.source == 'cifar10' and (len(train), len(test)) == (30, 7)
    train, test = get_dataset('synthetic', n_train=30, n_test=7)
    assert (len(train), len(test)) == (30, 7)
    with pytest.raises(DataError, match=r"n_train=101 asks for more images .* \(100\); leave n_train out"):
        get_dataset('cifar10', cifar_root, verify=False, n_train=101)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match='n_test must be a whole number of images'):
            get_dataset('cifar10', cifar_root, verify=False, n_test=bad)
    with pytest.raises(ValueError, match='at most 1,000,000'):
        get_dataset('synthetic', n_train=10**20)


REAL = Path(os.environ.get('CIFAR_TUTORIAL_DATA', '/tmp/cifar'))


@pytest.mark.skipif(not (REAL / 'cifar-10-batches-py' / 'batches.meta').is_file(),
                    reason=f'no real CIFAR-10 copy in {REAL} (set CIFAR_TUTORIAL_DATA)')
def test_n_train_and_n_test_on_a_real_copy():
    train, test = get_dataset('cifar10', REAL, verify=False, n_train=2000, n_test=500)
    assert (len(train), len(test)) == (2000, 500) and train.data.shape == (2000, 32, 32, 3)
    assert len(train.targets) == 2000 and set(train.targets) == set(range(10))


def test_classic_loader_without_a_transform():
    "A dataset without a transform yields PIL images; the loader turns them into the tutorial's tensors."
    ds = SyntheticShapes(n=10)
    xb, yb = next(iter(classic_loader(ds, batch_size=4, shuffle=False, num_workers=0)))
    expect = torch.stack([tutorial_transform()(ds[i][0]) for i in range(4)])
    assert torch.equal(xb, expect) and yb.tolist() == ds.targets[:4]
    xb, _ = next(iter(classic_loader(ds, batch_size=4, shuffle=False, num_workers=1)))   # in a worker process too
    assert torch.equal(xb, expect)


# ---------------------------------------------------------------- warnings
@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_import_changes_no_warning_filters():
    import subprocess
    import sys
    code = ("import warnings, numpy, PIL.Image, torch, torch.utils.data, torchvision; before = list(warnings.filters); "
            "import cifar_tutorial.data; "   # torch and numpy add filters of their own; ours must add none
            "assert warnings.filters == before, [f for f in warnings.filters if f not in before]")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_fallback_warning_shows_every_time_and_obeys_filters(tmp_path):
    def fall_back_twice():
        for _ in range(2):                                      # twice from the same line
            get_dataset('auto', tmp_path / 'none', download=False, n_train=20, n_test=10)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('default')                        # Python's default: once per line, for most warnings
        fall_back_twice()
    assert [w.category for w in seen] == [SyntheticFallbackWarning] * 2
    assert seen[0].filename == __file__                         # reported at the caller's line
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('ignore', SyntheticFallbackWarning)
        fall_back_twice()
    assert seen == []
    with warnings.catch_warnings():
        warnings.simplefilter('error', SyntheticFallbackWarning)
        with pytest.raises(SyntheticFallbackWarning):
            get_dataset('auto', tmp_path / 'none', download=False, n_train=20, n_test=10)


# ---------------------------------------------------------------- batch tensors and augmentation
def test_images_nchw_and_normalize_images():
    imgs = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    x = images_nchw(imgs)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.uint8 and x.is_contiguous()
    assert torch.equal(x, torch.as_tensor(imgs).permute(0, 3, 1, 2)) and torch.equal(images_nchw(torch.as_tensor(imgs)), x)
    one_by_one = torch.stack([tutorial_transform()(Image.fromarray(i)) for i in imgs])
    assert torch.allclose(normalize_images(x, MEAN, STD), one_by_one, atol=1e-6)
    assert torch.equal(normalize_images(x, torch.tensor(MEAN), torch.tensor(STD)), normalize_images(x, MEAN, STD))
    assert normalize_images(x, MEAN, STD, torch.bfloat16).dtype == torch.bfloat16
    for bad in (np.zeros((2, 3, 32, 32), np.float32), np.zeros((2, 32, 32), np.uint8), np.zeros((2, 32, 32, 4), np.uint8)):
        with pytest.raises(ValueError, match='expected uint8 images of shape N x H x W x 3'):
            images_nchw(bad)
    with pytest.raises(ValueError, match='uint8 tensor N x C x H x W'): normalize_images(x.float(), MEAN, STD)
    with pytest.raises(ValueError, match='one value per channel'): normalize_images(x, (0.5, 0.5), STD)
    with pytest.raises(ValueError, match='std must be greater than 0'): normalize_images(x, MEAN, (0.5, 0, 0.5))


def test_flip_images_mirrors_only_masked():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    out = flip_images(x, torch.tensor([True, False]))
    assert out.shape == x.shape and torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    with pytest.raises(ValueError, match='mask must have shape'):
        flip_images(x, torch.tensor([True]))


def test_translate_images_shifts_with_reflected_edges():
    x = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = translate_images(x, 2, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype and not torch.equal(out, x)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode='reflect')
    for i in range(8):   # each output is a 32x32 window of its own reflect-padded input
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 32, dx:dx + 32]) for dy in range(5) for dx in range(5))
    assert torch.equal(out, translate_images(x, 2, torch.Generator().manual_seed(1)))
    assert torch.equal(translate_images(x, 0), x)
    assert translate_images(x.to(torch.uint8), 2).dtype == torch.uint8
    with pytest.raises(ValueError, match='translate must be between'):
        translate_images(x, 40)


def test_fast_loader_batch_and_num_images():
    ds = SyntheticShapes(n=23)
    dl = FastLoader(ds, 5, shuffle=False)
    assert dl.num_images == 23
    idx = torch.tensor([22, 0, 7])
    xb, yb = dl.batch(idx)
    expect = normalize_images(images_nchw(ds.data[[22, 0, 7]]), MEAN, STD)
    assert torch.equal(xb, expect) and yb.tolist() == [ds.targets[i] for i in (22, 0, 7)]
    # iteration is made of the same batches
    assert torch.equal(next(iter(dl))[0], dl.batch(torch.arange(5))[0])
    # augment=True uses the loader's flip and crop, from its generator
    aug = FastLoader(ds, 5, shuffle=False, flip=True, crop=2, seed=3)
    a1 = aug.batch(idx, augment=True)[0]
    assert a1.shape == xb.shape and not torch.equal(a1, xb) and torch.equal(aug.batch(idx)[0], xb)
    # the normalisation constants as ddp reads them today (0..255 scale)
    assert torch.equal(dl.mean, torch.full((1, 3, 1, 1), 127.5)) and torch.equal(dl.std, torch.full((1, 3, 1, 1), 127.5))
    with pytest.raises(ValueError, match='23 images but 22 labels'):
        FastLoader((ds.data, ds.targets[:22]), 4)


def test_auto_falls_back_at_once_when_the_download_server_cannot_be_reached(tmp_path, monkeypatch):
    "'auto' without a copy asks the server for a connection first: offline, it falls back without waiting for a download."
    import socket

    from cifar_tutorial import data
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()   # a port nobody listens on
    monkeypatch.setattr(data._CIFAR10Files, 'url', f'http://127.0.0.1:{port}/cifar-10-python.tar.gz')
    with pytest.warns(data.SyntheticFallbackWarning):
        train, _ = data.get_dataset('auto', tmp_path / 'none', n_train=20, n_test=10)
    assert train.source == 'synthetic' and 'cannot be reached' in train.fallback_reason, train.fallback_reason
    assert not (tmp_path / 'none').exists() or not any((tmp_path / 'none').iterdir())   # nothing was downloaded


def test_the_reachability_probe_goes_through_the_proxy_a_download_would_use(monkeypatch):
    "Behind a proxy the download connects to the proxy, so the probe must too (a direct connection may be blocked)."
    import http.server
    import socket
    import threading
    srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)     # the proxy
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    s = socket.socket(); s.bind(('127.0.0.1', 0)); closed = s.getsockname()[1]; s.close()   # the server, unreachable directly
    try:
        url = f'https://127.0.0.1:{closed}/cifar-10-python.tar.gz'
        for var in ('no_proxy', 'NO_PROXY'): monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv('https_proxy', f'http://127.0.0.1:{srv.server_port}')
        assert data_module._unreachable(url, timeout=2) is None
        monkeypatch.delenv('https_proxy')
        assert 'cannot be reached' in data_module._unreachable(url, timeout=2)
    finally:
        srv.shutdown(); srv.server_close()
