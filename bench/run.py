#!/usr/bin/env python3
"""latchd performance benchmarks (issue "Role interfaces", §7): one run, one report.

    python3 bench/run.py [--seconds=10] [--clients=16] [--watchers=1000] [--perf]

Starts a standalone ZooKeeper and two latchd agents (Release binaries from build-bench/bin, or
$LATCHD_BIN_DIR), builds bench/out/* with bench/build.sh, then measures

  1. the Unix socket: bench/out/socket_load (16 clients, `status`, closed loop) against the ACTIVE
     agent's socket and against bench/out/epoll_ceiling (the same answer bytes from a minimal
     epoll server): requests/s and latency p50/p99/max;
  2. HTTP: `wrk -t2 -c16 -d10s --latency` on /api/atlas/admin/status against the agent and against
     HAProxy answering `http-request return` (single-threaded, like the agent; HAProxy with its
     default threads is reported too, for information);
  3. watch fan-out: bench/out/watch_fanout opens 1,000 `watch` connections to the ACTIVE agent,
     then sends `yield` to it and timestamps each watcher's first change line (from the send);
  4. the agent's VmRSS with those 1,000 idle watchers connected, and its CPU while idle for 10 s
     (utime+stime from /proc/PID/stat), with and without the watchers.

Prints a Markdown table (targets, PASS/MISS) and writes it to bench/results.md. Exit status 0 when
everything ran (a MISS is a result, not a failure), 1 when something failed to run.
Every process is started through the harness's spawn() and stopped by pid (finally/atexit).
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
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

CLK_TCK = os.sysconf("SC_CLK_TCK")
STATUS_PATH = "/api/atlas/admin/status"


def say(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------
# /proc


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def idle_cpu(pids, seconds):
    """% of one core used by each pid over `seconds` of doing nothing."""
    before = {p: cpu_ticks(p) for p in pids}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return {p: (cpu_ticks(p) - before[p]) / CLK_TCK / dt * 100.0 for p in pids}


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
    """Runs a bench program to completion (started by pid through spawn, killed on timeout);
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


def socket_load(path, label, clients, seconds, tmp):
    say("socket_load: %d clients x %.0f s against %s" % (clients, seconds, label))
    out = run_tool([os.path.join(OUT_DIR, "socket_load"), "--socket=%s" % path,
                    "--clients=%d" % clients, "--seconds=%g" % seconds, "--warmup=1",
                    "--label=%s" % label],
                   seconds + 60, "socket_load-" + label,
                   os.path.join(tmp, "socket_load-%s.log" % label))
    return json.loads(out.strip().splitlines()[-1])


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError("bad wrk duration %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text):
    res = {"raw": text}
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


def wrk(url, label, seconds, tmp):
    say("wrk -t2 -c16 -d%ds --latency %s (%s)" % (seconds, url, label))
    out = run_tool(["wrk", "-t2", "-c16", "-d%ds" % seconds, "--latency", url], seconds + 60,
                   "wrk-" + label, os.path.join(tmp, "wrk-%s.log" % label))
    res = parse_wrk(out)
    if res["non2xx"] or res["socket_errors"]:
        say("wrk %s: non-2xx %s, socket errors %s" % (label, res["non2xx"],
                                                     res["socket_errors"]))
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


def start_haproxy(tmp, name, nbthread):
    port = harness.free_port()
    cfg = os.path.join(tmp, "%s.cfg" % name)
    with open(cfg, "w") as f:
        f.write(HAPROXY_CFG.format(port=port,
                                   threads="    nbthread %d" % nbthread if nbthread else ""))
    check = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True,
                           timeout=30)
    if check.returncode != 0:
        raise RuntimeError("haproxy -c: %s%s" % (check.stdout, check.stderr))
    log_path = os.path.join(tmp, "%s.log" % name)
    p = harness.spawn(["haproxy", "-db", "-f", cfg], name, log_path)

    def answers():
        if p.poll() is not None:
            raise AssertionError("haproxy exited with %s: %s" % (p.returncode,
                                                               harness.tail(log_path)))
        code, _, body = harness.http_get("127.0.0.1", port, STATUS_PATH, timeout=1.0)
        return code == 200 and body == b'{"Status":"ACTIVE"}'
    harness.wait_until(answers, 15, "%s answering on port %d" % (name, port), interval=0.05)
    return p, port


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
    def one():
        roles = {a.id: a.http_status() for a in agents}
        act = [a for a in agents if roles[a.id] == "ACTIVE"]
        if len(act) == 1 and all(r == "PASSIVE" for i, r in roles.items() if i != act[0].id):
            return act[0]
        return None
    a = harness.wait_until(one, timeout, "exactly one agent ACTIVE, the other PASSIVE")
    time.sleep(stable)
    if one() is not a:
        raise RuntimeError("roles are not stable: %s" % {x.id: x.http_status() for x in agents})
    return a


# ------------------------------------------------------------------------------------------
# Report


def verdict(ok):
    return "PASS" if ok else "MISS"


def fmt_rps(x):
    return "{:,.0f} req/s".format(x)


def fmt_us(ms):
    return "%.0f µs" % (ms * 1000.0) if ms < 1 else "%.2f ms" % ms


def build_report(r, args):
    sl, sc = r["socket_latchd"], r["socket_ceiling"]
    hl, hh, hh2 = r["http_latchd"], r["http_haproxy1"], r.get("http_haproxy_default")
    wf = r["fanout"]
    rows = []

    def row(what, latchd, ref, ratio, target, result):
        rows.append("| %s | %s | %s | %s | %s | %s |" % (what, latchd, ref, ratio, target, result))

    rps_ratio = sl["rps"] / sc["rps"] if sc["rps"] else 0.0
    p99_ratio = sl["lat_us"]["p99"] / sc["lat_us"]["p99"] if sc["lat_us"]["p99"] else 0.0
    row("Socket `status`, %d clients: throughput" % sl["clients"], fmt_rps(sl["rps"]),
        fmt_rps(sc["rps"]) + " (epoll_ceiling)", "%.0f %%" % (rps_ratio * 100),
        "≥ 80 % of ceiling", verdict(rps_ratio >= 0.80))
    row("Socket `status`: latency p99", "%.0f µs" % sl["lat_us"]["p99"],
        "%.0f µs" % sc["lat_us"]["p99"], "%.2f×" % p99_ratio, "≤ 1.5× ceiling",
        verdict(p99_ratio <= 1.5))
    row("Socket `status`: latency p50 / max",
        "%.0f µs / %.1f ms" % (sl["lat_us"]["p50"], sl["lat_us"]["max"] / 1000),
        "%.0f µs / %.1f ms" % (sc["lat_us"]["p50"], sc["lat_us"]["max"] / 1000),
        "%.2f× (p50)" % (sl["lat_us"]["p50"] / sc["lat_us"]["p50"] if sc["lat_us"]["p50"] else 0),
        "(report)", "—")
    row("Socket `status`: agent CPU during the load", "%.0f %% of one core" % r["socket_cpu"],
        "%.0f %% of one core" % r["ceiling_cpu"], "", "(report)", "—")
    http_ratio = hl["rps"] / hh["rps"] if hh["rps"] else 0.0
    row("HTTP `%s` (wrk -t2 -c16): throughput" % STATUS_PATH, fmt_rps(hl["rps"]),
        fmt_rps(hh["rps"]) + " (HAProxy, nbthread 1)", "%.0f %%" % (http_ratio * 100),
        "≥ 50 % of HAProxy", verdict(http_ratio >= 0.50))
    row("HTTP: latency p50 / p99 (wrk)",
        "%s / %s" % (fmt_us(hl.get("p50_ms", 0)), fmt_us(hl.get("p99_ms", 0))),
        "%s / %s" % (fmt_us(hh.get("p50_ms", 0)), fmt_us(hh.get("p99_ms", 0))), "", "(report)",
        "—")
    if hh2:
        row("HTTP: HAProxy with its default threads (%d cores)" % os.cpu_count(),
            fmt_rps(hl["rps"]), fmt_rps(hh2["rps"]),
            "%.0f %%" % (hl["rps"] / hh2["rps"] * 100 if hh2["rps"] else 0), "(report)", "—")
    first = wf["first_change"]
    complete = first["received"] == wf["watchers"]
    row("Watch fan-out, %d watchers: delay p50 (from `yield` sent)" % wf["watchers"],
        "%.2f ms" % first["p50_ms"], "", "", "(report)", "—")
    row("Watch fan-out: delay max (p99 %.2f ms); %d/%d got `%s`" % (
        first["p99_ms"], first["received"], wf["watchers"], first["role"]),
        "%.2f ms" % first["max_ms"], "", "", "≤ 10 ms, all watchers",
        verdict(complete and first["max_ms"] <= 10.0))
    rss = r["rss_watchers_kib"]
    row("Resident memory (VmRSS), %d idle watchers" % wf["watchers"],
        "%.1f MiB" % (rss / 1024.0), "%.1f MiB with none" % (r["rss_base_kib"] / 1024.0), "",
        "≤ 10 MB (10 MiB)", verdict(rss <= 10 * 1024))
    row("Idle CPU over %.0f s, %d watchers connected (ACTIVE agent)" % (args.idle_seconds,
                                                                        wf["watchers"]),
        "%.2f %% of one core" % r["idle_cpu_watchers"],
        "%.2f %% with no watchers; PASSIVE agent %.2f %%" % (r["idle_cpu_base"],
                                                              r["idle_cpu_passive"]),
        "", "near zero (< 1 % of one core)", verdict(r["idle_cpu_watchers"] < 1.0))
    header = ["| benchmark | latchd | reference | latchd / reference | target | result |",
              "|---|---|---|---|---|---|"]
    return "\n".join(header + rows)


def machine_line():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return "%d cores (%s), %s RAM, Linux %s" % (os.cpu_count(), cpu, mem, platform.release())


def git_rev():
    try:
        r = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# ------------------------------------------------------------------------------------------
# Main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per load run (default 10)")
    ap.add_argument("--clients", type=int, default=16, help="socket_load clients (default 16)")
    ap.add_argument("--watchers", type=int, default=1000, help="watch connections (default 1000)")
    ap.add_argument("--idle_seconds", type=float, default=10.0, help="idle CPU window (default 10)")
    ap.add_argument("--perf", action="store_true",
                    help="also `perf record -g` the agent during its socket and HTTP loads "
                         "(reports in bench/out/perf-*.txt)")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "results.md"),
                    help="where to write the table (default bench/results.md)")
    args = ap.parse_args()

    # Children inherit the limit: the agent needs > 1,000 descriptors for the watchers.
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

    tmp = tempfile.mkdtemp(prefix="latchd-bench-")
    keep = os.environ.get("LATCHD_KEEP_TMP") == "1"
    procs = []  # everything started here, stopped by pid in the finally
    zk = None
    agents = []
    fanout = None
    r = {}
    ok = False
    try:
        say("temp dir %s; latchd from %s" % (tmp, harness.bin_dir()))
        # ZooKeeper's default tickTime (2 s) so the agents get the daemon's default session
        # timeout (10 s, renewal every 1 s) rather than the tests' short one.
        zk = harness.ZkEnsemble(os.path.join(tmp, "zk"), size=1, tick_time=2000, logging=False)
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
            active.id, active.pid, passive.id, passive.pid, st.get("zk", {}).get("timeout_ms")))
        time.sleep(1.0)

        r["rss_base_kib"] = vm_rss_kib(active.pid)
        say("idle CPU, no watchers, %.0f s" % args.idle_seconds)
        cpu = idle_cpu([active.pid, passive.pid], args.idle_seconds)
        r["idle_cpu_base"], r["idle_cpu_passive"] = cpu[active.pid], cpu[passive.pid]

        # 1. Socket: latchd vs the epoll ceiling, with latchd's own status line as the reply.
        reply = harness.unix_request(active.socket_path, "status")
        ceiling, ceiling_path = start_ceiling(tmp, reply)
        procs.append(ceiling)
        perf = None
        if args.perf:
            perf = start_perf(active.pid, "socket", tmp)
        t0 = cpu_ticks(active.pid)
        w0 = time.monotonic()
        r["socket_latchd"] = socket_load(active.socket_path, "latchd", args.clients,
                                         args.seconds, tmp)
        r["socket_cpu"] = (cpu_ticks(active.pid) - t0) / CLK_TCK / (time.monotonic() - w0) * 100
        if perf:
            finish_perf(perf, "socket")
        if active.http_status() != "ACTIVE":
            raise RuntimeError("%s is no longer ACTIVE after the socket load" % active.id)
        t0 = cpu_ticks(ceiling.pid)
        w0 = time.monotonic()
        r["socket_ceiling"] = socket_load(ceiling_path, "ceiling", args.clients, args.seconds,
                                          tmp)
        r["ceiling_cpu"] = (cpu_ticks(ceiling.pid) - t0) / CLK_TCK / (time.monotonic() - w0) * 100
        harness.stop_process(ceiling)

        # 2. HTTP: latchd vs HAProxy (one thread; then its default threads, for information).
        secs = max(1, int(round(args.seconds)))
        if args.perf:
            perf = start_perf(active.pid, "http", tmp)
        r["http_latchd"] = wrk("http://127.0.0.1:%d%s" % (active.http_port, STATUS_PATH),
                               "latchd", secs, tmp)
        if args.perf:
            finish_perf(perf, "http")
        hp, hport = start_haproxy(tmp, "haproxy1", 1)
        procs.append(hp)
        r["http_haproxy1"] = wrk("http://127.0.0.1:%d%s" % (hport, STATUS_PATH), "haproxy1",
                                 secs, tmp)
        harness.stop_process(hp)
        hp, hport = start_haproxy(tmp, "haproxy", 0)
        procs.append(hp)
        r["http_haproxy_default"] = wrk("http://127.0.0.1:%d%s" % (hport, STATUS_PATH),
                                        "haproxy", secs, tmp)
        harness.stop_process(hp)
        if active.http_status() != "ACTIVE":
            raise RuntimeError("%s is no longer ACTIVE after the HTTP load" % active.id)

        # 3 + 4. Watchers: connect, measure memory and idle CPU, then trigger the change.
        say("watch_fanout: %d watchers on %s" % (args.watchers, active.id))
        fanout_log = os.path.join(tmp, "watch_fanout.log")
        fanout = harness.spawn([os.path.join(OUT_DIR, "watch_fanout"),
                                "--socket=%s" % active.socket_path,
                                "--watchers=%d" % args.watchers, "--trigger=yield",
                                "--timeout=10", "--stdin"],
                               "watch_fanout", fanout_log, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
        procs.append(fanout)
        line = read_line(fanout.stdout, 60, "watch_fanout READY")
        if not line.startswith("READY"):
            raise RuntimeError("watch_fanout: %r; %s" % (line, harness.tail(fanout_log)))
        say("watch_fanout: %s" % line)
        time.sleep(1.0)  # let the allocator settle after the burst of accepts
        r["rss_watchers_kib"] = vm_rss_kib(active.pid)
        say("idle CPU with %d watchers, %.0f s" % (args.watchers, args.idle_seconds))
        r["idle_cpu_watchers"] = idle_cpu([active.pid], args.idle_seconds)[active.pid]
        r["rss_watchers_after_idle_kib"] = vm_rss_kib(active.pid)
        fanout.stdin.write(b"trigger\n")
        fanout.stdin.flush()
        line = read_line(fanout.stdout, 60, "watch_fanout result")
        r["fanout"] = json.loads(line)
        fanout.stdin.write(b"quit\n")
        fanout.stdin.flush()
        try:
            fanout.wait(15)
        except subprocess.TimeoutExpired:
            pass
        harness.stop_process(fanout)
        if r["fanout"]["first_change"]["received"] == 0:
            raise RuntimeError("no watcher saw the role change: %s" % line)
        # The other agent takes over (a sanity check that the yield did what it should).
        harness.wait_until(lambda: passive.http_status() == "ACTIVE", 15,
                           "%s ACTIVE after the yield" % passive.id)
        ok = True
    except Exception as e:  # noqa: BLE001 - reported, exit 1
        say("FAILED: %s: %s" % (type(e).__name__, e))
        for a in agents:
            say("-- %s log tail:\n%s" % (a.name, a.log_tail(15)))
    finally:
        for p in procs:
            harness.stop_process(p, 5)
        for a in agents:
            a.stop()
        if zk:
            zk.stop()
        if keep or not ok:
            say("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        return 1

    table = build_report(r, args)
    raw = {k: v for k, v in r.items()}
    for k in ("http_latchd", "http_haproxy1", "http_haproxy_default"):
        if k in raw:
            raw[k] = {kk: vv for kk, vv in raw[k].items() if kk != "raw"}
    doc = "\n".join([
        "# latchd benchmark results",
        "",
        "`python3 bench/run.py` on %s, %s; commit %s; latchd from `%s`." % (
            time.strftime("%Y-%m-%d %H:%M"), machine_line(), git_rev(),
            os.path.relpath(harness.bin_dir(), REPO)),
        "Load runs: %.0f s each, socket_load %d clients, wrk -t2 -c16; ZooKeeper standalone "
        "(tickTime 2 s), two agents, session timeout 10 s." % (args.seconds, args.clients),
        "",
        table,
        "",
        "<details><summary>raw figures (JSON)</summary>",
        "",
        "```json",
        json.dumps(raw, indent=1, sort_keys=True),
        "```",
        "</details>",
        "",
    ])
    with open(args.results, "w") as f:
        f.write(doc)
    print(table)
    say("wrote %s" % args.results)
    return 0


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
        subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                        "--percent-limit", "1", "-g", "none"], stdout=f,
                       stderr=subprocess.DEVNULL, timeout=120)
    say("perf profile of the %s load: %s" % (name, out))


if __name__ == "__main__":
    sys.exit(main())
