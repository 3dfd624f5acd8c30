"""Raw benchmark results: one JSON file per run under bench/out/, with where it came from.

Every file written by write_raw() is a JSON object

    {"kind": "run" | "failover", "format": 1,
     "provenance": {"commit", "commit_short", "dirty", "dirty_files", "date", "machine",
                    "command", "cwd", "binaries", "env" (the LATCHD_* variables)},
     "data": {...}}                      # every sample of the run, as the script measured it

named bench/out/<kind>-<UTC date and time>-<short commit>[-dirty].json. bench/tables.py reads
them and writes the tables of bench/results.md and docs/failover.md.

Standard library only; imported by bench/run.py, bench/failover.py and bench/tables.py.
"""

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
OUT_DIR = os.path.join(BENCH_DIR, "out")
FORMAT = 1


def _git(*args):
    r = subprocess.run(["git", "-C", REPO] + list(args), capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("git %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def git_state():
    """(commit, dirty files): HEAD's hash and `git status --porcelain` without bench/out/ (the
    raw results themselves do not make a tree dirty)."""
    commit = _git("rev-parse", "HEAD").strip()
    lines = _git("status", "--porcelain", "--", ".", ":(exclude)bench/out").splitlines()
    return commit, [x for x in lines if x.strip()]


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = None
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu_model": cpu,
            "mem_kib": mem_kib, "hostname": platform.node()}


def provenance(argv=None, binaries=None):
    """Taken when a run starts (a tree edited during the run is the caller's problem: the
    check is repeated at the end, see write_raw)."""
    commit, dirty = git_state()
    argv = list(sys.argv if argv is None else argv)
    script = os.path.relpath(os.path.abspath(argv[0]), REPO) if argv else "?"
    return {
        "commit": commit,
        "commit_short": commit[:7],
        "dirty": bool(dirty),
        "dirty_files": dirty[:50],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "command": shlex.join(["python3", script] + argv[1:]),
        "cwd": os.getcwd(),
        "binaries": binaries,
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("LATCHD_")},
    }


def write_raw(kind, prov, data, out_dir=None):
    """Writes the raw file; returns its path. The tree is looked at again: a change since the
    start also makes the run dirty."""
    out_dir = out_dir or OUT_DIR
    commit, dirty = git_state()
    prov = dict(prov)
    if commit != prov["commit"] or dirty:
        prov["dirty"] = True
        prov["dirty_files"] = sorted(set(prov.get("dirty_files", [])) | set(dirty))[:50]
        if commit != prov["commit"]:
            prov["dirty_files"].append("HEAD moved during the run: %s -> %s" % (
                prov["commit"][:7], commit[:7]))
    os.makedirs(out_dir, exist_ok=True)
    stamp = prov["date"].replace("-", "").replace(":", "")
    name = "%s-%s-%s%s.json" % (kind, stamp, prov["commit_short"],
                                "-dirty" if prov["dirty"] else "")
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        # One line: the files are data (a histogram and a delay list per round), read by
        # tables.py; `python3 -m json.tool FILE` shows them indented.
        json.dump({"kind": kind, "format": FORMAT, "provenance": prov, "data": data}, f,
                  sort_keys=True, default=str, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    return path


def newest(kind, out_dir=None):
    """The newest raw file of a kind (by the date in its name), or None."""
    out_dir = out_dir or OUT_DIR
    try:
        names = [n for n in os.listdir(out_dir)
                 if n.startswith(kind + "-") and n.endswith(".json")]
    except OSError:
        return None
    if not names:
        return None
    return os.path.join(out_dir, max(names, key=lambda n: n[len(kind) + 1:]))


def load(path):
    with open(path) as f:
        raw = json.load(f)
    for k in ("kind", "provenance", "data"):
        if k not in raw:
            raise ValueError("%s: not a raw result file (no %r)" % (path, k))
    return raw
