#!/usr/bin/env python3
"""latchd performance benchmarks (issue "Role interfaces", §7): one run, one report.

    python3 bench/run.py [--seconds=10] [--clients=16] [--watchers=1000] [--perf]

Starts a standalone ZooKeeper and two latchd agents (Release binaries from build-bench/bin, or
$LATCHD_BIN_DIR), builds bench/out/* with bench/build.sh, then measures

  1. the Unix socket: bench/out/socket_load (16 clients, `status`, closed loop) against the ACTIVE
     agent's socket and against bench/out/epoll_ceiling (the same answer bytes from a minimal
     single-threaded epoll server): requests/s and latency p50/p99/max;
  2. HTTP: `wrk -t2 -c16 -d10s --latency` on /api/atlas/admin/status against the agent and against
     HAProxy answering with `http-request return` (nbthread 1, like the single-threaded agent;
     HAProxy with its default threads is measured too, for information);
  3. watch fan-out: bench/out/watch_fanout opens 1,000 `watch` connections to the ACTIVE agent,
     sends `yield` to it and timestamps (CLOCK_MONOTONIC) each watcher's first change line,
     measured from the send of `yield`; several rounds (each on the then ACTIVE agent), and the
     same against epoll_ceiling (which pushes the same two lines to its watchers) as a reference;
  4. the agent's VmRSS with those 1,000 idle watchers connected, and its CPU while idle for 10 s
     (utime+stime from /proc/PID/stat), with and without the watchers.

The machine may be shared: before each measurement the driver waits (up to --quiet_wait s) until
other processes use less than --max_background % of the machine, measures that background load
during every phase (/proc/stat minus the CPU of the processes started here), repeats a disturbed
latchd/reference pair up to --attempts times, keeps the least disturbed attempt, and prints the
background load next to each figure.

Writes the raw results (every attempt and round: each request's latency as a histogram, each
watcher's delay, wrk's output, with the commit, a dirty-tree flag, the date, the machine and this
command line; bench/rawout.py) to bench/out/run-<date>-<commit>.json and prints the table that
`python3 bench/tables.py` will put into bench/results.md. Exit status 0 when everything ran (a
MISS is a result, not a failure), 1 when something failed to run.
Every process is started through the harness's spawn() and stopped by pid (finally/atexit).
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
OUT_DIR = os.path.join(BENCH_DIR, "out")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("LATCHD_BIN_DIR", os.path.join(REPO, "build-bench", "bin"))

import harness  # noqa: E402  (after sys.path)

sys.path.insert(0, BENCH_DIR)
import rawout  # noqa: E402
import tables  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
STATUS_PATH = "/api/atlas/admin/status"


def say(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------
# CPU and memory from /proc


def cpu_split(pid):
    """(utime, stime) of pid, in clock ticks (fields 14 and 15 of proc(5) stat)."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    return sum(cpu_split(pid))


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def idle_cpu(pids, seconds):
    """% of one core used by each pid over `seconds` in which nothing is asked of it."""
    before = {p: cpu_ticks(p) for p in pids}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return {p: (cpu_ticks(p) - before[p]) / CLK_TCK / dt * 100.0 for p in pids}


def machine_ticks():
    """(busy, total) clock ticks of all CPUs together, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    total = sum(v)  # user nice system idle iowait irq softirq steal
    return total - v[3] - v[4], total


def _safe_ticks(pid):
    try:
        return cpu_ticks(pid)
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """Machine-wide CPU use during a phase, split into ours (this script, every process it
    started, the children it reaped) and the background (everything else on the machine),
    both in % of the whole machine."""

    def start(self):
        self.t0 = time.monotonic()
        self.m0 = machine_ticks()
        self.pids0 = {}
        for pid, _ in harness.live_processes():
            t = _safe_ticks(pid)
            if t is not None:
                self.pids0[pid] = t
        self.self0 = _safe_ticks(os.getpid()) or 0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.ch0 = ru.ru_utime + ru.ru_stime
        return self

    def stop(self):
        busy1, total1 = machine_ticks()
        busy = busy1 - self.m0[0]
        total = max(1, total1 - self.m0[1])
        own = (_safe_ticks(os.getpid()) or 0) - self.self0
        live_now = {pid for pid, _ in harness.live_processes()}
        for pid in live_now:
            t = _safe_ticks(pid)
            if t is not None:
                own += t - self.pids0.get(pid, 0)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = (ru.ru_utime + ru.ru_stime - self.ch0) * CLK_TCK
        # Children reaped during the phase count with their whole life; take off what they had
        # used before it started.
        reaped -= sum(t for pid, t in self.pids0.items() if pid not in live_now)
        own += max(0.0, reaped)
        self.busy_pct = busy / total * 100.0
        self.own_pct = min(self.busy_pct, own / total * 100.0)
        self.background_pct = max(0.0, self.busy_pct - self.own_pct)
        self.seconds = time.monotonic() - self.t0
        return self.background_pct


def wait_quiet(args, what):
    """Waits (at most args.quiet_wait s) until the background load is below
    args.max_background % of the machine. Returns the last background figure."""
    t0 = time.monotonic()
    deadline = t0 + args.quiet_wait
    last = None
    next_note = t0
    while True:
        m = CpuMeter().start()
        time.sleep(1.0)
        last = m.stop()
        if last < args.max_background or time.monotonic() >= deadline:
            break
        if time.monotonic() >= next_note:
            say("background load %.0f %% of the machine; waiting up to %.0f s before %s" % (
                last, deadline - time.monotonic(), what))
            next_note = time.monotonic() + 15
    if last >= args.max_background:
        say("still %.0f %% background load after %.0f s; measuring %s anyway" % (
            last, args.quiet_wait, what))
    return last


def paired(args, what, run_a, run_b):
    """Runs run_a then run_b (each returns a dict), each under a CpuMeter; repeats the pair
    (up to args.attempts) while either was disturbed by more than args.max_background %, and
    returns the least disturbed pair: (a, b, attempts) with 'background_pct' in a and b."""
    attempts = []
    for i in range(args.attempts):
        wait_quiet(args, what)
        out = []
        for fn in (run_a, run_b):
            m = CpuMeter().start()
            res = fn()
            res["background_pct"] = round(m.stop(), 1)
            out.append(res)
        worst = max(out[0]["background_pct"], out[1]["background_pct"])
        attempts.append({"a": out[0], "b": out[1], "worst_background_pct": worst})
        if worst <= args.max_background:
            break
        say("%s: attempt %d disturbed (%.0f %% background load)%s" % (
            what, i + 1, worst, "; again" if i + 1 < args.attempts else ""))
    best = min(attempts, key=lambda x: x["worst_background_pct"])
    return best["a"], best["b"], attempts


# ------------------------------------------------------------------------------------------
# Child processes


def read_line(stream, timeout, what):
    """One line from a pipe within timeout (a helper thread does the blocking read)."""
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise RuntimeError("%s: no output line within %.0f s" % (what, timeout))
    if not box[0]:
        raise RuntimeError("%s: output closed (process exited?)" % what)
    return box[0].decode("utf-8", "replace").rstrip("\n")


def run_tool(argv, timeout, what, log_path):
    """Runs a bench program to completion (started through spawn, killed by pid on timeout);
    returns its stdout."""
    out_path = log_path + ".out"
    with open(out_path, "wb") as out:
        p = harness.spawn(argv, what, log_path, stdout=out)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            harness.kill_process(p)
            raise RuntimeError("%s did not finish within %.0f s" % (what, timeout))
        finally:
            harness.stop_process(p, 5)
    with open(out_path) as f:
        stdout = f.read()
    if rc != 0:
        raise RuntimeError("%s exited with %s: %s %s" % (what, rc, stdout.strip(),
                                                          harness.tail(log_path, 10)))
    return stdout


def socket_load(path, label, args, tmp, server_pid):
    say("socket_load: %d clients x %g s against %s" % (args.clients, args.seconds, label))
    (u0, s0), w0 = cpu_split(server_pid), time.monotonic()
    out = run_tool([os.path.join(OUT_DIR, "socket_load"), "--socket=%s" % path,
                    "--clients=%d" % args.clients, "--seconds=%g" % args.seconds, "--warmup=1",
                    "--label=%s" % label],
                   args.seconds + 60, "socket_load-" + label,
                   os.path.join(tmp, "socket_load-%s.log" % label))
    res = json.loads(out.strip().splitlines()[-1])
    # Over the 1 s warm-up too: the server is as busy then as during the measurement.
    (u1, s1), wall = cpu_split(server_pid), time.monotonic() - w0
    res["server_cpu_pct"] = round((u1 + s1 - u0 - s0) / CLK_TCK / wall * 100, 1)
    if res["rps"]:
        # CPU time per answered request, split into user space and kernel.
        res["server_user_us_per_req"] = round((u1 - u0) / CLK_TCK / wall / res["rps"] * 1e6, 2)
        res["server_sys_us_per_req"] = round((s1 - s0) / CLK_TCK / wall / res["rps"] * 1e6, 2)
    return res


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError("bad wrk duration %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text):
    res = {}
    m = re.search(r"Requests/sec:\s*([0-9.]+)", text)
    if not m:
        raise RuntimeError("wrk printed no Requests/sec:\n%s" % text)
    res["rps"] = float(m.group(1))
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        res["avg_ms"], res["max_ms"] = _ms(m.group(1)), _ms(m.group(3))
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s*%s%%\s+(\S+)" % pct, text, re.M)
        if m:
            res["p%s_ms" % pct] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    res["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    res["socket_errors"] = m.group(1).strip() if m else None
    return res


def wrk(url, label, seconds, tmp, server_pid):
    say("wrk -t2 -c16 -d%ds --latency %s (%s)" % (seconds, url, label))
    t0, w0 = cpu_ticks(server_pid), time.monotonic()
    out = run_tool(["wrk", "-t2", "-c16", "-d%ds" % seconds, "--latency", url], seconds + 60,
                   "wrk-" + label, os.path.join(tmp, "wrk-%s.log" % label))
    res = parse_wrk(out)
    res["wrk_output"] = out
    res["server_cpu_pct"] = round((cpu_ticks(server_pid) - t0) / CLK_TCK /
                                  (time.monotonic() - w0) * 100, 1)
    if res["non2xx"] or res["socket_errors"]:
        raise RuntimeError("wrk %s: %s non-2xx answers, socket errors: %s" % (
            label, res["non2xx"], res["socket_errors"]))
    return res


HAPROXY_CFG = """\
global
    maxconn 4096
{threads}
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend status
    bind 127.0.0.1:{port}
    http-request return status 200 content-type application/json string '{{"Status":"ACTIVE"}}'
"""


class HaProxy:
    """HAProxy in the foreground (-db) as a child, stopped by pid."""

    def __init__(self, tmp, name, nbthread):
        self.tmp, self.name, self.nbthread = tmp, name, nbthread
        self.proc, self.port = None, None

    def start(self):
        self.port = harness.free_port()
        cfg = os.path.join(self.tmp, "%s.cfg" % self.name)
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(
                port=self.port,
                threads="    nbthread %d" % self.nbthread if self.nbthread else ""))
        check = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True,
                               timeout=30)
        if check.returncode != 0:
            raise RuntimeError("haproxy -c: %s%s" % (check.stdout, check.stderr))
        log_path = os.path.join(self.tmp, "%s.log" % self.name)
        self.proc = harness.spawn(["haproxy", "-db", "-f", cfg], self.name, log_path)

        def answers():
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited with %s: %s" % (
                    self.proc.returncode, harness.tail(log_path)))
            code, _, body = harness.http_get("127.0.0.1", self.port, STATUS_PATH, timeout=1.0)
            return code == 200 and body == b'{"Status":"ACTIVE"}'
        harness.wait_until(answers, 15, "%s answering on port %d" % (self.name, self.port),
                           interval=0.05)
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, STATUS_PATH)

    def stop(self):
        harness.stop_process(self.proc, 5)


def start_ceiling(tmp, reply):
    path = os.path.join(tmp, "ceiling.sock")
    log_path = os.path.join(tmp, "epoll_ceiling.log")
    p = harness.spawn([os.path.join(OUT_DIR, "epoll_ceiling"), "--socket=%s" % path,
                       "--reply=%s" % reply], "epoll_ceiling", log_path)

    def answers():
        if p.poll() is not None:
            raise AssertionError("epoll_ceiling exited with %s" % p.returncode)
        return harness.unix_request(path, "status", timeout=1.0) == reply
    harness.wait_until(answers, 10, "epoll_ceiling answering on %s" % path, interval=0.05)
    return p, path


def wait_one_active(agents, timeout=30.0, stable=0.5):
    """The agent that is ACTIVE while every other one is PASSIVE, for `stable` seconds."""
    def one():
        roles = {a.id: a.http_status() for a in agents}
        act = [a for a in agents if roles[a.id] == "ACTIVE"]
        if len(act) == 1 and all(r == "PASSIVE" for i, r in roles.items() if i != act[0].id):
            return act[0]
        return None
    deadline = time.monotonic() + timeout
    while True:
        a = harness.wait_until(one, max(0.1, deadline - time.monotonic()),
                               "exactly one agent ACTIVE, the others PASSIVE")
        time.sleep(stable)
        if one() is a:
            return a
        if time.monotonic() >= deadline:
            raise RuntimeError("roles are not stable: %s" % {
                x.id: x.http_status() for x in agents})


class Fanout:
    """bench/out/watch_fanout in --stdin mode: connect, (measure the server), trigger, quit."""

    def __init__(self, socket_path, watchers, tmp, name):
        self.log_path = os.path.join(tmp, "%s.log" % name)
        self.name = name
        self.proc = harness.spawn([os.path.join(OUT_DIR, "watch_fanout"),
                                   "--socket=%s" % socket_path, "--watchers=%d" % watchers,
                                   "--trigger=yield", "--timeout=10", "--stdin"],
                                  name, self.log_path, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)

    def wait_ready(self):
        line = read_line(self.proc.stdout, 60, self.name + " READY")
        if not line.startswith("READY"):
            raise RuntimeError("%s: %r; %s" % (self.name, line, harness.tail(self.log_path)))
        return line

    def trigger(self):
        self.proc.stdin.write(b"trigger\n")
        self.proc.stdin.flush()
        res = json.loads(read_line(self.proc.stdout, 60, self.name + " result"))
        if res["first_change"]["received"] == 0:
            raise RuntimeError("%s: no watcher saw the change: %s" % (self.name, res))
        return res

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        harness.stop_process(self.proc, 5)


_GLOG_TIME = re.compile(r"^I\d{8} (\d\d):(\d\d):(\d\d\.\d+) ")
_YIELD_START = "] yield requested over the socket by "
_SENT = re.compile(r"\] sent the change to (\d+) watcher")


def broadcast_ms(log_path):
    """From the agent's log: the time between its last `yield requested over the socket by ...`
    line, logged as the yield is handled (before the core runs it), and the `sent the change to
    N watcher(s)` line after it, logged once the change lines (both of the yield's changes, in
    one write per watcher) have been handed to every watcher's socket (glog's µs timestamps).
    (The role-change lines are logged after the broadcast, so they cannot mark its start.)
    None if not found."""
    try:
        with open(log_path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return None

    def seconds(m):
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))

    result, start = None, None
    for line in lines:
        m = _GLOG_TIME.match(line)
        if not m:
            continue
        if _YIELD_START in line:
            start = seconds(m)
        elif start is not None and _SENT.search(line):
            result = round(((seconds(m) - start) % 86400) * 1000.0, 3)
            start = None
    return result


def fanout_round(socket_path, args, tmp, name, measure=None):
    """One fan-out measurement; `measure()` runs between READY and the trigger."""
    f = Fanout(socket_path, args.watchers, tmp, name)
    try:
        say("%s: %s" % (name, f.wait_ready()))
        extra = measure() if measure else {}
        wait_quiet(args, name)
        # The fan-out takes milliseconds, shorter than the kernel's CPU accounting resolves:
        # the background load is taken over a 1 s window around it.
        m = CpuMeter().start()
        time.sleep(0.5)
        res = f.trigger()
        time.sleep(0.5)
        res["background_pct"] = round(m.stop(), 1)
        res.update(extra)
        fc = res["first_change"]
        say("%s: first change line at %d/%d watchers, p50 %.2f ms, max %.2f ms "
            "(background %.0f %%)" % (name, fc["received"], res["watchers"], fc["p50_ms"],
                                      fc["max_ms"], res["background_pct"]))
        return res
    finally:
        f.stop()


# ------------------------------------------------------------------------------------------
# Optional profiling


def start_perf(pid, name, tmp):
    if not shutil.which("perf"):
        say("perf not found; skipping the profile")
        return None
    data = os.path.join(tmp, "perf-%s.data" % name)
    p = harness.spawn(["perf", "record", "-g", "-F", "999", "-o", data, "-p", str(pid)],
                      "perf-" + name, os.path.join(tmp, "perf-%s.log" % name))
    time.sleep(0.5)
    return (p, data)


def finish_perf(perf, name):
    if not perf:
        return
    p, data = perf
    harness.stop_process(p, 20, sig=signal.SIGINT)
    os.makedirs(OUT_DIR, exist_ok=True)
    out = os.path.join(OUT_DIR, "perf-%s.txt" % name)
    with open(out, "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--children", "--stdio",
                        "--percent-limit", "2", "-g", "none"], stdout=f,
                       stderr=subprocess.DEVNULL, timeout=120)
    say("perf profile of the %s load: %s" % (name, out))


# ------------------------------------------------------------------------------------------
# Main


def run(args, tmp, r):
    """All measurements; fills r. Raises on anything that fails to run."""
    zk = harness.ZkEnsemble(os.path.join(tmp, "zk"), size=1, tick_time=2000, logging=False)
    agents = []
    ceiling = None
    try:
        # ZooKeeper's default tickTime (2 s), so the agents get the daemon's default session
        # timeout (10 s: a lease renewal every 1 s) rather than the tests' short one.
        zk.start(wait=True, timeout=60)
        for i in (1, 2):
            agents.append(harness.Agent("host%d" % i, zk.connect_string(), tmp,
                                        session_timeout_ms=10000))
        for a in agents:
            a.start(wait=False)
        for a in agents:
            a.wait_ready(30)
        active = wait_one_active(agents)
        passive = [a for a in agents if a is not active][0]
        st = active.status()
        say("ACTIVE %s (pid %d), PASSIVE %s (pid %d); negotiated session timeout %s ms" % (
            active.id, active.pid, passive.id, passive.pid, st["zk"]["timeout_ms"]))
        r["negotiated_session_timeout_ms"] = st["zk"]["timeout_ms"]
        time.sleep(1.0)

        r["rss_base_kib"] = vm_rss_kib(active.pid)
        say("idle CPU, no watchers, %g s" % args.idle_seconds)
        cpu = idle_cpu([active.pid, passive.pid], args.idle_seconds)
        r["idle_cpu_base"] = round(cpu[active.pid], 3)
        r["idle_cpu_passive"] = round(cpu[passive.pid], 3)

        # 1. Socket: latchd vs the epoll ceiling, which answers with latchd's own status line.
        reply = harness.unix_request(active.socket_path, "status")
        r["status_line_bytes"] = len(reply) + 1
        ceiling, ceiling_path = start_ceiling(tmp, reply)
        perf = start_perf(active.pid, "socket", tmp) if args.perf else None
        sl, sc, r["socket_attempts"] = paired(
            args, "the socket loads",
            lambda: socket_load(active.socket_path, "latchd", args, tmp, active.pid),
            lambda: socket_load(ceiling_path, "ceiling", args, tmp, ceiling.pid))
        finish_perf(perf, "socket")
        r["socket_latchd"], r["socket_ceiling"] = sl, sc
        if active.http_status() != "ACTIVE":
            raise RuntimeError("%s is no longer ACTIVE after the socket load" % active.id)

        # 2. HTTP: latchd vs HAProxy (one thread), then HAProxy with its default threads.
        secs = max(1, int(round(args.seconds)))
        hp1 = HaProxy(tmp, "haproxy-nbthread1", 1).start()
        try:
            perf = start_perf(active.pid, "http", tmp) if args.perf else None
            hl, hh, r["http_attempts"] = paired(
                args, "the HTTP loads",
                lambda: wrk("http://127.0.0.1:%d%s" % (active.http_port, STATUS_PATH), "latchd",
                            secs, tmp, active.pid),
                lambda: wrk(hp1.url, "haproxy-nbthread1", secs, tmp, hp1.proc.pid))
            finish_perf(perf, "http")
        finally:
            hp1.stop()
        r["http_latchd"], r["http_haproxy1"] = hl, hh
        hp = HaProxy(tmp, "haproxy-default", 0).start()
        try:
            wait_quiet(args, "HAProxy (default threads)")
            m = CpuMeter().start()
            r["http_haproxy_default"] = wrk(hp.url, "haproxy-default", secs, tmp, hp.proc.pid)
            r["http_haproxy_default"]["background_pct"] = round(m.stop(), 1)
        finally:
            hp.stop()
        if active.http_status() != "ACTIVE":
            raise RuntimeError("%s is no longer ACTIVE after the HTTP load" % active.id)

        # 3 + 4. Watchers. Round 1 also measures memory and idle CPU with the watchers
        # connected. Each round watches the agent that is ACTIVE then and makes it yield.
        def latchd_round(name, measure_first):
            target = wait_one_active(agents)
            other = [a for a in agents if a is not target][0]

            def measure():
                time.sleep(1.0)  # let the allocator settle after the burst of accepts
                out = {"rss_kib": vm_rss_kib(target.pid)}
                say("idle CPU with %d watchers, %g s" % (args.watchers, args.idle_seconds))
                out["idle_cpu_pct"] = round(
                    idle_cpu([target.pid], args.idle_seconds)[target.pid], 3)
                out["rss_after_idle_kib"] = vm_rss_kib(target.pid)
                return out
            res = fanout_round(target.socket_path, args, tmp, name,
                               measure if measure_first else None)
            res["agent"] = target.id
            res["agent_broadcast_ms"] = broadcast_ms(target.log_path)
            # The other agent takes over: a check that the yield did what it should.
            harness.wait_until(lambda: other.http_status() == "ACTIVE", 15,
                               "%s ACTIVE after the yield" % other.id)
            return res

        r["fanout_latchd"], r["fanout_ceiling"], r["fanout_disturbed"] = [], [], []
        for i in range(args.fanout_rounds):
            for label, fn in (
                    ("latchd", lambda name, first: latchd_round(name, first)),
                    ("ceiling", lambda name, first: fanout_round(ceiling_path, args, tmp,
                                                                 name))):
                # A disturbed round is repeated (at most args.attempts tries); the least
                # disturbed try counts, the others are kept in the raw figures.
                tries = []
                for k in range(args.attempts):
                    first = label == "latchd" and i == 0 and k == 0
                    tries.append(fn("fanout-%s-%d%s" % (label, i + 1,
                                                        "" if k == 0 else "-try%d" % (k + 1)),
                                    first))
                    if first:
                        r["rss_watchers_kib"] = tries[0]["rss_kib"]
                        r["idle_cpu_watchers"] = tries[0]["idle_cpu_pct"]
                    if tries[-1]["background_pct"] <= args.max_background:
                        break
                best = min(tries, key=lambda x: x["background_pct"])
                r["fanout_" + label].append(best)
                r["fanout_disturbed"].extend(
                    dict(t, target=label) for t in tries if t is not best)
    finally:
        if ceiling is not None:
            harness.stop_process(ceiling, 5)
        for a in agents:
            a.stop()
        zk.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per load run (default 10)")
    ap.add_argument("--clients", type=int, default=16, help="socket_load clients (default 16)")
    ap.add_argument("--watchers", type=int, default=1000, help="watch connections (default 1000)")
    ap.add_argument("--fanout_rounds", type=int, default=3,
                    help="yield rounds per fan-out target (default 3)")
    ap.add_argument("--idle_seconds", type=float, default=10.0,
                    help="idle CPU window (default 10)")
    ap.add_argument("--max_background", type=float, default=10.0,
                    help="%% of the machine used by other processes above which a measurement "
                         "counts as disturbed (default 10)")
    ap.add_argument("--quiet_wait", type=float, default=60.0,
                    help="seconds to wait for a quiet machine before each measurement "
                         "(default 60; 0: do not wait)")
    ap.add_argument("--attempts", type=int, default=3,
                    help="tries of a disturbed latchd/reference pair (default 3)")
    ap.add_argument("--perf", action="store_true",
                    help="also `perf record -g` the agent during its socket and HTTP loads "
                         "(reports in bench/out/perf-*.txt)")
    args = ap.parse_args()

    # Children inherit the limit: the agent needs more than 1,000 descriptors for the watchers.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = args.watchers + 64
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
        say("RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
        return 1

    for tool in ("wrk", "haproxy"):
        if not shutil.which(tool):
            say("%s not found (apt-get install -y wrk haproxy)" % tool)
            return 1
    if not harness.binaries_available():
        say("latchd/latchctl not found in %s; build with:\n  cmake -S %s -B %s/build-bench "
            "-DCMAKE_BUILD_TYPE=Release && make -C %s/build-bench -j2 latchd latchctl"
            % (harness.bin_dir(), REPO, REPO, REPO))
        return 1
    b = subprocess.run([os.path.join(BENCH_DIR, "build.sh")], capture_output=True, text=True,
                       timeout=300)
    if b.returncode != 0:
        say("bench/build.sh failed:\n%s%s" % (b.stdout, b.stderr))
        return 1

    prov = rawout.provenance(binaries=os.path.relpath(harness.bin_dir(), REPO))
    if prov["dirty"]:
        say("the tree is dirty (%d changed file(s)): tables.py will need --allow-dirty" %
            len(prov["dirty_files"]))
    tmp = tempfile.mkdtemp(prefix="latchd-bench-")
    say("temp dir %s; latchd from %s" % (tmp, harness.bin_dir()))
    r = {}
    ok = False
    t0 = time.monotonic()
    try:
        run(args, tmp, r)
        ok = True
    except Exception as e:  # noqa: BLE001 - reported; exit 1
        say("FAILED: %s: %s" % (type(e).__name__, e))
    finally:
        for pid, name in harness.live_processes():  # nothing should be left; by pid
            say("stopping leftover %s (pid %d)" % (name, pid))
            with harness._procs_lock:  # noqa: SLF001
                entry = harness._procs.get(pid)  # noqa: SLF001
            if entry:
                harness.stop_process(entry[0], 5)
        if ok and os.environ.get("LATCHD_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say("kept %s" % tmp)
    if not ok:
        return 1
    r["run_seconds"] = round(time.monotonic() - t0, 1)
    r["args"] = vars(args)
    path = rawout.write_raw("run", prov, r)
    print(tables.run_table(rawout.load(path)))
    say("wrote %s (run took %.0f s); the tables: python3 bench/tables.py" % (
        os.path.relpath(path, REPO), r["run_seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
