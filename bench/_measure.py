"""What every benchmark here measures about a program it runs: wall time, its own CPU time, and how much CPU the
*other* programs on the machine used meanwhile (the noise a side-by-side ratio has to live with)."""
import os
import subprocess
import sys
import tempfile
import time


def busy_cpu_s():
    "CPU-seconds the whole machine has been busy (Linux /proc/stat), or None elsewhere."
    try:
        f = [int(v) for v in open('/proc/stat').readline().split()[1:]]
        return (sum(f) - f[3] - f[4]) / os.sysconf('SC_CLK_TCK')   # all but idle and iowait
    except (OSError, ValueError, IndexError): return None


def children_cpu_s():
    "CPU-seconds used so far by this process's finished children (and their children)."
    t = os.times()
    return t.children_user + t.children_system


def timed(cmd, env=None, echo=True):
    """Run `cmd` (its output echoed as it comes, unless `echo` is False); return (wall s, its CPU s, its stdout,
    CPU-seconds the other programs on the machine used meanwhile, or None where that cannot be measured)."""
    busy0, ours0 = busy_cpu_s(), children_cpu_s()
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode='w+') as errf:        # a file, not a pipe: a chatty stderr cannot block the child
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True,
                             env=dict(env if env is not None else os.environ, PYTHONUNBUFFERED='1'))
        lines = []
        for line in p.stdout:
            lines.append(line)
            if echo: sys.stdout.write(line); sys.stdout.flush()
        p.wait()
        errf.seek(0); err = errf.read()
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"failed (exit {p.returncode}): {' '.join(cmd)}")
    ours = children_cpu_s() - ours0
    busy1 = busy_cpu_s()
    others = None if busy0 is None else max(0.0, (busy1 - busy0) - ours)
    return wall, ours, ''.join(lines), others


def cores(others, wall):
    "Other programs' CPU-seconds over `wall` seconds as average cores, rounded (None where unknown)."
    return None if others is None else round(others / wall, 2)
