"`PlotHelpers`: the same files as drawing in this process, whatever happens to a helper; no helper outlives its run."
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from cifar_tutorial.data import FastLoader, get_dataset
from cifar_tutorial.models import Net
from cifar_tutorial.train import PlotHelpers, evaluate, fit, plot_per_class, save_run

EXE = Path(sys.executable).with_name('cifar-tutorial')   # the console script that `pip install -e .` made
ENV = dict(os.environ, PYTHONUNBUFFERED='1')
needs_fork = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='the helpers are forked (Linux only)')


@pytest.fixture(scope='module')
def small_run(tmp_path_factory):
    train, test = get_dataset('synthetic', tmp_path_factory.mktemp('data'), n_train=80, n_test=40)
    torch.manual_seed(0)
    res = fit(Net(), FastLoader(train, 4, seed=0), epochs=1, print_every=0, progress=False)
    test_dl = FastLoader(test, 20, shuffle=False)
    return res, evaluate(res.model, test_dl), test_dl


def save(out, small_run, helpers=None):
    res, ev, test_dl = small_run
    return save_run(out, res.model, res, ev, test_loader=test_dl, dataset='synthetic', recipe='tutorial', epochs=1,
                    device='cpu', wall_time_s=0.0, helpers=helpers)


def pngs(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.glob('*.png'))}


def alive(pid: int) -> bool:
    try: os.kill(pid, 0)
    except ProcessLookupError: return False
    try: return Path(f'/proc/{pid}/stat').read_text().split(') ')[1][0] != 'Z'   # a zombie has ended
    except OSError: return False


@needs_fork
def test_a_killed_helper_leaves_its_figures_to_this_process(small_run, tmp_path):
    save(tmp_path / "here", small_run)
    expected = pngs(tmp_path / "here")
    with PlotHelpers(2) as helpers:
        os.kill(helpers.procs[1].pid, signal.SIGKILL)           # one helper dies before it gets any work
        helpers.procs[1].join(10)
        m = save(tmp_path / 'helpers', small_run, helpers)
    assert pngs(tmp_path / 'helpers') == expected and len(expected) == 4
    assert m['plot_helpers_cpu_s'] > 0                          # the other one drew its share


@needs_fork
def test_a_failing_figure_raises_with_the_helpers_traceback(tmp_path):
    with PlotHelpers(1) as helpers, pytest.raises(RuntimeError) as e:
        helpers.draw([(plot_per_class, ('not an evaluation',), {}, tmp_path / 'bad.png')])
    assert 'bad.png failed in a helper process' in str(e.value) and 'Traceback' in str(e.value)
    assert not (tmp_path / 'bad.png').exists()


@needs_fork
def test_helpers_end_when_their_parent_is_killed(tmp_path):
    code = textwrap.dedent("""
        import os, signal, sys
        from cifar_tutorial.train import PlotHelpers
        h = PlotHelpers(2)
        print(*[p.pid for p in h.procs], flush=True)
        sys.stdin.readline()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    p = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pids = [int(x) for x in p.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    p.stdin.write('\n'); p.stdin.flush()
    assert p.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline: time.sleep(0.1)
    assert not any(alive(pid) for pid in pids)


def processes_with(text: str) -> list:
    "Processes whose command line holds `text` (forked helpers keep their parent's command line)."
    found = []
    for d in Path('/proc').iterdir():
        if not d.name.isdigit(): continue
        try:
            if text in d.joinpath('cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace') and alive(int(d.name)):
                found.append(int(d.name))
        except OSError: pass
    return found


@pytest.mark.slow   # starts a whole training program
@needs_fork
def test_ctrl_c_in_a_terminal_leaves_no_helper_behind(tmp_path):
    "A terminal's Ctrl-C reaches every process of the group: the run still saves its checkpoint, and no helper stays."
    out = tmp_path / 'run'
    args = ['train', '--dataset', 'synthetic', '--n-train', '2000', '--n-test', '60', '--epochs', '2',
            '--print-every', '100', '--no-progress', '--out', str(out)]
    p = subprocess.Popen([str(EXE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         start_new_session=True)
    for line in p.stdout:
        if line.startswith('[1,   100] loss:'): break
    assert len(processes_with(str(out))) == 3                   # the program and its two helpers
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and 'saved a checkpoint' in err and 'Traceback' not in err, err
    assert {q.name for q in out.iterdir()} == {'checkpoint.pth'}
    deadline = time.monotonic() + 10
    while processes_with(str(out)) and time.monotonic() < deadline: time.sleep(0.1)
    assert processes_with(str(out)) == []


@pytest.mark.slow   # starts a whole training program
def test_the_program_exits_with_its_status_and_releases_its_folder(tmp_path):
    "`console_main` leaves without Python's slow shutdown: the status, the output and the files are all there."
    out = tmp_path / 'run'
    r = subprocess.run([str(EXE), 'train', '--dataset', 'synthetic', '--n-train', '200', '--n-test', '60', '--epochs', '1',
                        '--no-progress', '--out', str(out)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(f'checkpoint.pth and 4 plots to {out}')   # the last line reached the pipe
    assert sorted(p.name for p in out.iterdir()) == sorted(['metrics.json', 'weights.pth', 'checkpoint.pth', 'loss_curve.png',
                                                            'per_class_accuracy.png', 'confusion_matrix.png', 'predictions.png'])
    assert processes_with(str(out)) == []
    r = subprocess.run([str(EXE), 'train', '--dataset', 'synthetic', '--out', str(out)], capture_output=True, text=True,
                       env=ENV, timeout=600)
    assert r.returncode == 2 and r.stderr.startswith('cifar-tutorial train: error: '), r.stderr
