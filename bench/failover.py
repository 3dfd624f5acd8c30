#!/usr/bin/env python3
"""Failover benchmark: latchd side by side with an Atlas-like Curator LeaderLatch sidecar.

    python3 bench/failover.py [--reps=3] [--scenarios=graceful,crash,...] [--session-ms=4000]
                              [--warmup=3]

One run, one ensemble: a 3-node ZooKeeper (tickTime 200 ms) on loopback; three latchd agents
(zk_root /latchd-bench) and three bench/CuratorSidecar.java processes (zk_root /atlas-bench),
every one reaching ZooKeeper only through proxies of its own (tests/integration/faults.py).
Both groups get the same faults at the same moment (the ZooKeeper-server loss is aimed at
each group's leader's server in turn); an independent observer polls every contender's
GET /api/atlas/admin/status (and latchd's socket) every 2 ms; every contender journals its role
changes on CLOCK_MONOTONIC. Figures come from the journals (cross-checked by the observer):

  new ACTIVE     fault -> first ACTIVE of another contender
  old stops      fault -> end of the old leader's ACTIVE (pause: SIGCONT -> end)
  overlap        total time two contenders answered ACTIVE at once (a stopped process answers
                 nothing; for latchd the observer's figure is shown next to it)
  no ACTIVE      time without any ACTIVE contender in the window after the fault
  leader not ACTIVE / moved   (ZooKeeper server loss, ZooKeeper leader kill, connection reset)

Scenarios: graceful (SIGTERM of the ACTIVE), crash (SIGKILL), crash_restart (SIGKILL and an
immediate restart, as systemd's Restart= would), partition (the ACTIVE cut off from every
ZooKeeper server for 2 x session timeout), pause (SIGSTOP of the ACTIVE for session timeout +
2 s), zk_server_loss (SIGKILL of the ZooKeeper server the ACTIVE is connected to), zk_leader_kill,
conn_reset (the ACTIVE's ZooKeeper connection reset), quorum_loss (2 of 3 servers down for
session timeout + 1.5 s), parent_deleted (another client deletes the latch parent), and the
server binding: server_kill (the latchd agents run with --server_hold beside their own
build/bin/gated_server --hold; SIGKILL of the ACTIVE host's gated_server) and server_hung (the
agents probe their gated_server's GET /health: --health_url, --health_interval_ms=200
--health_timeout_ms=200 --health_fall=2; SIGSTOP of the ACTIVE host's gated_server, SIGCONT once
another agent is ACTIVE). The Curator sidecar has the latch in-process, so there the same faults
hit the JVM itself (SIGKILL; SIGSTOP then SIGCONT). For these two the latchd agents are restarted
with the binding's flags first (and without them before any other scenario).

Before the scenarios, --warmup graceful handovers of each group are made and not counted: the
ZooKeeper and Curator JVMs run interpreted code at first, which makes the first commits (and so
the first handovers) slower than in a ZooKeeper ensemble that has been up for a while;
--warmup=0 measures from a cold start.

Writes the raw results (every run's figures, the event log, the commit, a dirty-tree flag, the
date, the machine and this command line; bench/rawout.py) to bench/out/failover-<date>-<commit>.json
and the table to bench/out/failover.md (not tracked); `python3 bench/tables.py` puts the tables
into bench/results.md and docs/failover.md.
Exit status 0 when everything ran and latchd broke no invariant, 1 otherwise. Every process is
started through the harness's spawn() and stopped by pid.
"""

import argparse
import hashlib
import os
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

import faults  # noqa: E402
import harness  # noqa: E402
from faults import MS, NS, now_ns  # noqa: E402

sys.path.insert(0, BENCH_DIR)
import rawout  # noqa: E402
import tables  # noqa: E402
from tables import fmt  # noqa: E402


def say(msg):
    sys.stderr.write("[failover %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------
# The Curator sidecar

_classes = None


def sidecar_classes():
    """Compiles bench/CuratorSidecar.java once per source version; returns the class dir."""
    global _classes
    if _classes:
        return _classes
    src = os.path.join(BENCH_DIR, "CuratorSidecar.java")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    target = os.path.join(tempfile.gettempdir(), "latchd-bench-java", digest)
    if not os.path.isfile(os.path.join(target, ".ok")):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        work = tempfile.mkdtemp(prefix="build-", dir=os.path.dirname(target))
        r = subprocess.run(["javac", "-proc:none", "-nowarn", "-encoding", "UTF-8", "-d", work,
                            "-cp", ":".join(harness.CURATOR_JARS), src],
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError("javac CuratorSidecar failed:\n%s%s" % (r.stdout, r.stderr))
        open(os.path.join(work, ".ok"), "w").close()
        try:
            os.rename(work, target)
        except OSError:
            pass
    _classes = target
    return target


class OwnProcess:
    """pid and running of a process started here as self.proc (a Popen, or None)."""

    proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None


class CuratorContender(OwnProcess, faults.Contender):
    kind = "curator"
    socket_path = None
    lease_ns = None

    def __init__(self, cid, proxies, workdir, root, session_ms):
        super().__init__(cid, proxies)
        self.session_ms = session_ms
        self.root = root
        self.dir = os.path.join(workdir, "curator-%s" % cid)
        os.makedirs(self.dir, exist_ok=True)
        self.journal_path = os.path.join(self.dir, "journal.jsonl")
        self.log_path = os.path.join(self.dir, "sidecar.log")
        self.http_port = harness.free_port()
        self.proc = None

    def proc_obj(self):
        return self.proc

    def _spawn(self):
        self._monos_before = len(self._monos())
        cp = ":".join([sidecar_classes()] + harness.CURATOR_JARS + [harness.jar("slf4j-simple.jar")])
        argv = (["java"] + harness.JAVA_TOOL_OPTS +
                # TCP_NODELAY on the status endpoint's sockets: without it every answer
                # waits ~40 ms for a delayed ACK (Nagle), which Jetty in Atlas does not.
                ["-Dsun.net.httpserver.nodelay=true",
                 "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                 "-Dorg.slf4j.simpleLogger.showDateTime=true",
                 "-cp", cp, "CuratorSidecar", self.id, self.connect_string, self.root,
                 str(self.http_port), str(self.session_ms), self.journal_path])
        self.proc = harness.spawn(argv, "curator-%s" % self.id, self.log_path)

    def _monos(self):
        out = []
        try:
            with open(self.log_path, "rb") as f:
                for line in f:
                    if line.startswith(b"MONO "):
                        out.append(int(line.split()[1]))
        except OSError:
            pass
        return out

    def wait_ready(self, timeout=60.0):
        def ready():
            if not self.running:
                raise AssertionError("curator-%s exited: %s" % (self.id,
                                                               harness.tail(self.log_path)))
            if len(self._monos()) <= self._monos_before:
                return False
            code, _, body = harness.http_get("127.0.0.1", self.http_port,
                                             harness.STATUS_PATH, 1.0)
            return code == 200
        harness.wait_until(ready, timeout, "curator-%s answering" % self.id, interval=0.1)
        # The journal's clock: System.nanoTime() must be CLOCK_MONOTONIC (it is on Linux).
        t_start = max(t for t, w in self.lifecycle if w == "start")
        mono = self._monos()[-1]
        if not t_start <= mono <= now_ns():
            raise AssertionError("curator-%s: System.nanoTime() %d is not CLOCK_MONOTONIC "
                                 "(started at %d)" % (self.id, mono, t_start))

    def _terminate_wait(self, timeout):
        if self.paused:
            self.resume()
        return harness.stop_process(self.proc, timeout)

    def _kill_wait(self):
        return harness.kill_process(self.proc)


def add_curator_group(cl, name, root, ids, session_ms):
    g = faults.Group(cl, name, root, session_ms, strict=False)
    for cid in ids:
        c = CuratorContender(cid, cl.proxies_for(cid), cl.workdir, root, session_ms)
        g.contenders.append(c)
        cl.registered_logs.append(("curator-" + cid, c.log_path))
    return cl.add_group(g)


# ------------------------------------------------------------------------------------------
# Scenarios: each returns {group name: metrics dict}


def parallel(fns):
    """Runs the callables at once (threads); returns their results in order."""
    out = [None] * len(fns)
    errs = []

    def run(i, fn):
        try:
            out[i] = fn()
        except Exception as e:  # noqa: BLE001
            errs.append(e)
    ts = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    if errs:
        raise errs[0]
    return out


def last_life(c, what):
    return max(t for t, w in c.lifecycle if w == what)


def leaders(cl, groups):
    out = {}
    for g in groups:
        a = g.active()
        if a is None:
            a, _ = g.wait_settled(now_ns(), limit_s=30, record=False)
        if a is None:
            raise RuntimeError("%s has no ACTIVE before the fault" % g.name)
        out[g.name] = a
    return out


class Hit:
    """What a fault did to one group: its ACTIVE before (old), the fault time, extra figures
    taken during the scenario, and a function computing more from the journals afterwards."""

    def __init__(self, old, t_fault, extra=None, post=None):
        self.old = old
        self.t_fault = t_fault
        self.extra = dict(extra or {})
        self.post = post


def metrics(g, hit, t_to):
    """The figures of one group for one run, over [fault, t_to] (after the post-heal checks,
    so that a late second ACTIVE is counted)."""
    m = faults.measure(g, hit.old, hit.t_fault, t_to)
    act = g.active()
    m["moved"] = act is not None and act is not hit.old
    m["leader_after"] = act.id if act else None
    # first ACTIVE of anybody (the old leader included) after the old leader's claim ended
    end = faults.end_of_claim(hit.old, hit.t_fault, t_to=t_to)
    again = None
    if end is not None:
        for c in g.contenders:
            for s, e in faults.answer_intervals(c, ("ACTIVE",), t_to):
                if s >= end and (again is None or s < again):
                    again = s
    m["active_again_ms"] = (again - hit.t_fault) / MS if again is not None else None
    # the observer's view of the first ACTIVE elsewhere: the first answer saying so (its
    # receive time, so an upper bound by one poll)
    obs_new = None
    for c in g.contenders:
        if c is hit.old:
            continue
        for ch in g.cluster.observer.channels(c.id):
            for a, b, r, _ in ch.snapshot(hit.t_fault, t_to):
                if a >= hit.t_fault and r == faults.ROLE_CODES["ACTIVE"]:
                    obs_new = b if obs_new is None else min(obs_new, b)
                    break
    m["observer_new_active_ms"] = (obs_new - hit.t_fault) / MS if obs_new is not None else None
    m.update(hit.extra)
    if hit.post:
        m.update(hit.post(t_to))
    return m


def restart_after_new_active(groups, old, hits, timeout_s):
    """Waits (up to timeout_s) for a new ACTIVE in every group, then restarts the old leaders;
    returns (hits, heal time)."""
    for g in groups:
        faults.wait_new_active(g, old[g.name], hits[g.name].t_fault, timeout_s)
    time.sleep(0.5)
    for g in groups:
        old[g.name].start(wait=False)
    for g in groups:
        old[g.name].wait_ready(60)
    return hits, now_ns()


def sc_graceful(cl, groups, T):
    old = leaders(cl, groups)
    parallel([lambda g=g: old[g.name].terminate(15) for g in groups])
    cl.note("SIGTERM of the ACTIVEs %s" % {k: v.id for k, v in old.items()})
    hits = {g.name: Hit(old[g.name], last_life(old[g.name], "term")) for g in groups}
    return restart_after_new_active(groups, old, hits, 10)


def sc_yield(cl, groups, T):
    """`yield` on the ACTIVE's socket (latchd only): it hands over and rejoins at the back."""
    old = leaders(cl, groups)
    hits = {}
    for g in groups:
        o = old[g.name]
        t = now_ns()
        answer = harness.unix_request(o.socket_path, "yield", 5.0)
        cl.note("yield on the socket of %s: %s" % (o.id, answer.strip()))
        hits[g.name] = Hit(o, t)
    for g in groups:
        faults.wait_new_active(g, old[g.name], hits[g.name].t_fault, 10)
    return hits, now_ns()


def sc_crash(cl, groups, T):
    old = leaders(cl, groups)
    hits = {g.name: Hit(old[g.name], cl.crash(old[g.name])) for g in groups}
    return restart_after_new_active(groups, old, hits, T + 10)


def sc_crash_restart(cl, groups, T):
    old = leaders(cl, groups)
    hits = {}
    for g in groups:
        hits[g.name] = Hit(old[g.name], cl.crash(old[g.name]))
        old[g.name].start(wait=False)
    for g in groups:
        act, t_ok = g.wait_settled(hits[g.name].t_fault, limit_s=T + 15, record=False)
        h = hits[g.name]
        # time until leadership is settled again (exactly one ACTIVE, the rest PASSIVE)
        h.extra["settled_ms"] = (t_ok - h.t_fault) / MS if t_ok else None
        h.extra["same_leader"] = act is old[g.name]
    return hits, now_ns()


def sc_partition(cl, groups, T):
    old = leaders(cl, groups)
    hits = {g.name: Hit(old[g.name], cl.partition(old[g.name])) for g in groups}
    time.sleep(2 * T + 1)
    for g in groups:
        cl.heal_partition(old[g.name])
    return hits, now_ns()


def _after_resume(g, o, t_cont=None):
    """After SIGCONT (of o, or at t_cont()): how long o still answered ACTIVE, and the
    overlap then."""
    def post(t_to):
        tc = t_cont() if t_cont else last_life(o, "cont")
        # after SIGCONT: how long the old leader still answers ACTIVE, and the overlap then
        after = [(s, e) for s, e in faults.answer_intervals(o, ("ACTIVE",), t_to) if e > tc]
        ivs = {c.id: [(max(s, tc), e) for s, e in faults.answer_intervals(c, ("ACTIVE",), t_to)
                      if e > tc] for c in g.contenders}
        return {"old_stop_after_resume_ms":
                max(0.0, (max(e for s, e in after) - tc) / MS) if after else 0.0,
                "overlap_after_resume_ms": faults.overlap_length(ivs) / MS}
    return post


def sc_pause(cl, groups, T):
    old = leaders(cl, groups)
    hits = {}
    for g in groups:
        cl.pause(old[g.name])
        hits[g.name] = Hit(old[g.name], last_life(old[g.name], "stop"),
                           post=_after_resume(g, old[g.name]))
    time.sleep(T + 2)
    for g in groups:
        cl.resume(old[g.name])
    return hits, now_ns()


def sc_zk_server_loss(cl, groups, T):
    hits = {}
    for g in groups:
        o = leaders(cl, [g])[g.name]
        s = cl.server_of(o)
        if s is None:
            raise RuntimeError("cannot tell which server %s uses" % o.id)
        mode = s.mode()
        t = cl.zk_kill(s)
        time.sleep(T + 2)
        # this group's figures end here (the next kill is aimed at the other group)
        hits[g.name] = Hit(o, t, {"server_mode": mode}, post=None)
        hits[g.name].t_to = now_ns()
        cl.zk_start(s)
        cl.zk_wait_serving()
        for g2 in cl.groups:
            g2.wait_settled(now_ns(), limit_s=T + 15, record=False)
    return hits, now_ns()


def sc_zk_leader_kill(cl, groups, T):
    old = leaders(cl, groups)
    s = cl.ens.wait_leader()
    t = cl.zk_kill(s)
    time.sleep(T + 2)
    cl.zk_start(s)
    return {g.name: Hit(old[g.name], t) for g in groups}, cl.zk_wait_serving()


def sc_conn_reset(cl, groups, T):
    old = leaders(cl, groups)
    hits = {g.name: Hit(old[g.name], cl.reset_connections(old[g.name])) for g in groups}
    time.sleep(T + 1)
    return hits, now_ns()


def sc_quorum_loss(cl, groups, T):
    import random
    old = leaders(cl, groups)
    t = cl.lose_quorum(random.Random(7), include_leader=True)
    time.sleep(T + 1.5)
    t_restart = now_ns()
    t_back = cl.zk_restore()
    extra = {"quorum_down_ms": (t_restart - t) / MS}
    return {g.name: Hit(old[g.name], t, extra) for g in groups}, t_back


def sc_parent_deleted(cl, groups, T):
    old = leaders(cl, groups)
    hits = {g.name: Hit(old[g.name], cl.delete_latch_parent(g)) for g in groups}
    return hits, now_ns()


# ------------------------------------------------------------------------------------------
# The server binding: each latchd agent beside its own gated_server (examples/gated_server)


def gated_server_path():
    return os.path.join(harness.bin_dir(), "gated_server")


class GatedServer(OwnProcess):
    """build/bin/gated_server --hold beside one agent: holds the agent (socket command `hold`,
    reconnecting) and answers GET /health on its TCP port. Started and stopped by pid."""

    def __init__(self, contender, workdir):
        self.c = contender
        self.dir = os.path.join(workdir, "gated-%s" % contender.id)
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.store = os.path.join(self.dir, "store.log")
        self.log_path = os.path.join(self.dir, "gated_server.log")
        self.proc = None
        self.paused = False

    @property
    def health_url(self):
        return "http://127.0.0.1:%d/health" % self.port

    def argv(self):
        return [gated_server_path(), "--socket=%s" % self.c.socket_path, "--port=%d" % self.port,
                "--store=%s" % self.store, "--hold"]

    def start(self):
        if self.running:
            raise RuntimeError("gated_server of %s already running" % self.c.id)
        with open(self.log_path, "ab") as f:
            f.write(("==== start %s: %s\n" % (time.strftime("%H:%M:%S"),
                                             " ".join(self.argv()))).encode())
        self.proc = harness.spawn(self.argv(), "gated-%s" % self.c.id, self.log_path)
        self.paused = False

    def wait_health(self, timeout=15.0):
        """Until GET /health answers 2xx; fails at once if the process exited."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError("gated_server of %s exited with %s: %s" % (
                    self.c.id, self.proc.returncode if self.proc else None,
                    harness.tail(self.log_path, 20)))
            try:
                code, _, _ = harness.http_get("127.0.0.1", self.port, "/health", 1.0)
                if 200 <= code < 300:
                    return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gated_server of %s: no 2xx answer to GET /health on port %d "
                                   "within %.0f s; log:\n%s" % (
                                       self.c.id, self.port, timeout,
                                       harness.tail(self.log_path, 20)))
            time.sleep(0.05)

    def kill(self):
        """SIGKILL by pid; returns the time just before the signal."""
        t = now_ns()
        harness.kill_process(self.proc)
        return t

    def pause(self):
        """SIGSTOP by pid; returns the time just before the signal."""
        t = now_ns()
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True
        harness.wait_until(lambda: faults.proc_all_stopped(self.proc.pid), 5.0,
                           "gated_server of %s stopped (SIGSTOP)" % self.c.id, interval=0.001)
        return t

    def resume(self):
        """SIGCONT; returns the time just before the signal."""
        t = now_ns()
        if self.paused and self.running:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False
        return t

    def stop(self):
        if self.paused:
            self.resume()
        harness.stop_process(self.proc, 5)


def wait_server_healthy(c, timeout=20.0):
    """Until the agent's status says its server is healthy (held, probes up)."""
    def healthy():
        st = c.status()
        return bool(st and (st.get("server") or {}).get("healthy"))
    harness.wait_until(healthy, timeout, "%s: its server healthy in `status`" % c.id,
                       interval=0.05)


# Agent flags of each binding (the GatedServer beside the agent as argument).
BINDINGS = {
    "server_kill": lambda gs: ["--server_hold"],
    "server_hung": lambda gs: ["--health_url=%s" % gs.health_url, "--health_interval_ms=200",
                               "--health_timeout_ms=200", "--health_fall=2"],
}


class Binding:
    """Which binding the latchd group runs with: none (the plain agents of the other
    scenarios) or one of BINDINGS, each agent restarted with its flags and its gated_server."""

    def __init__(self, cl, group):
        self.cl = cl
        self.g = group
        self.name = None
        self.base_flags = {c.id: list(c.agent.extra_flags) for c in group.contenders}
        self.servers = {c.id: GatedServer(c, cl.workdir) for c in group.contenders}
        self.used = {}  # binding -> {"agent_flags": [...], "server": "..."}

    def set(self, name):
        if name == self.name:
            return
        self.cl.note("latchd group: binding %s -> %s" % (self.name, name))
        say("latchd group: restarting the agents %s" % (
            "with the binding of %s" % name if name else "without a server binding"))
        for c in self.g.contenders:
            c.terminate(15)
        for s in self.servers.values():
            s.stop()
        for c in self.g.contenders:
            flags = BINDINGS[name](self.servers[c.id]) if name else []
            c.agent.extra_flags = self.base_flags[c.id] + flags
            if name:
                self.used[name] = {
                    "agent_flags": [f.replace(self.servers[c.id].health_url, "http://127.0.0.1:"
                                              "PORT/health") for f in flags],
                    "server": "gated_server --socket=<agent socket> --port=PORT "
                              "--store=<file of its own> --hold"}
        for c in self.g.contenders:
            c.start(wait=False)
        for c in self.g.contenders:
            c.wait_ready(60)
        if name:
            for s in self.servers.values():
                s.start()
            for s in self.servers.values():
                s.wait_health(30)
            for c in self.g.contenders:
                wait_server_healthy(c, 30)
        self.name = name
        self.g.wait_settled(now_ns(), limit_s=60, record=False)
        self.g.take_baselines()

    def stop(self):
        for s in self.servers.values():
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 - the others are stopped all the same
                say("stopping gated_server of %s: %s" % (s.c.id, e))


def _server_scenario(cl, groups, T, binding, hang):
    """server_kill (hang False) / server_hung (hang True): the ACTIVE host's server is killed
    (or stopped); for latchd that is the gated_server beside the agent, for the Curator sidecar
    (the latch in-process) the JVM itself. Each group is healed when another contender is
    ACTIVE in it: the server restarted (SIGCONT), the Curator sidecar restarted (SIGCONT)."""
    old = leaders(cl, groups)
    hits = {}
    for g in groups:
        o = old[g.name]
        if g.name == "latchd":
            srv = binding.servers[o.id]
            cl.note("%s the gated_server of %s (pid %d)" % (
                "SIGSTOP" if hang else "SIGKILL", o.id, srv.pid))
            t = srv.pause() if hang else srv.kill()
            post = _after_resume(g, o, lambda srv=srv: srv.t_cont) if hang else None
        else:
            if hang:
                cl.pause(o)
                t = last_life(o, "stop")
                post = _after_resume(g, o)
            else:
                t, post = cl.crash(o), None
        hits[g.name] = Hit(o, t, post=post)
    def heal(g):
        o = old[g.name]
        if g.name == "latchd":
            srv = binding.servers[o.id]
            if hang:
                srv.t_cont = srv.resume()
                cl.note("SIGCONT the gated_server of %s" % o.id)
            else:
                cl.note("restart the gated_server of %s" % o.id)
                srv.start()
        elif hang:
            cl.resume(o)
        else:
            o.start(wait=False)

    pending = list(groups)
    deadline = time.monotonic() + T + 10
    while pending:
        for g in list(pending):
            o = old[g.name]
            if any(c is not o and cl.observer.latest_role(c.id, hits[g.name].t_fault)
                   == "ACTIVE" for c in g.answering()):
                pending.remove(g)
                time.sleep(0.2)
                heal(g)
        if pending and time.monotonic() > deadline:
            # a result (no new ACTIVE), not a failure of the run: heal all the same
            for g in pending:
                say("%s: no other contender ACTIVE within %.0f s of the fault; healing" % (
                    g.name, T + 10))
                cl.note("%s: no other contender ACTIVE within %.0f s" % (g.name, T + 10))
                heal(g)
            pending = []
        time.sleep(0.003)
    for g in groups:
        o = old[g.name]
        if g.name == "latchd":
            binding.servers[o.id].wait_health(30)
            wait_server_healthy(o, 30)
        elif not hang:
            o.wait_ready(60)
    return hits, now_ns()


def latch_broken(g):
    """True if the group's latch children are not exactly its running contenders, one each
    (check_orphans has waited for that already; e.g. Curator participants that never recreate
    their nodes after another client deleted the latch parent)."""
    try:
        return sorted(cid for _, cid in g.participants()) != sorted(c.id for c in g.running())
    except Exception as e:  # noqa: BLE001 - ZooKeeper trouble: the next check will tell
        say("%s: cannot list the latch: %s" % (g.name, e))
        return False


def sc_server_kill(cl, groups, T, binding=None):
    return _server_scenario(cl, groups, T, binding, hang=False)


def sc_server_hung(cl, groups, T, binding=None):
    return _server_scenario(cl, groups, T, binding, hang=True)


class Scenario:
    """One row of SCENARIOS. fn(cl, groups, T[, binding]) makes the fault and returns (hits,
    heal time). groups: the contender kinds it is run on (None: every group of the run).
    binding: the server binding the latchd agents run with (a key of BINDINGS) or None.
    planned: a planned handover (the leader hands over on purpose; bench/handover_floor's
    operations are its floor, and `--handover` runs it next to that floor). handover_groups: the
    kinds `--handover` runs it on (the Curator sidecar's graceful handover is its latch closed
    on SIGTERM; its server faults are session expiries, not handovers)."""

    def __init__(self, name, fn, desc, groups=None, binding=None, planned=False,
                 handover_groups=("latchd",)):
        self.name, self.fn, self.desc = name, fn, desc
        self.groups, self.binding, self.planned = groups, binding, planned
        self.handover_groups = handover_groups

    def run(self, cl, groups, T, binding):
        return self.fn(cl, groups, T, binding) if self.binding else self.fn(cl, groups, T)


# One row per scenario. The planned handovers that are coming (`latchctl switchover`, and
# preemption by a higher-priority member) are rows like "yield": a function making the leader
# hand over (switchover: `latchctl switchover --to=<a PASSIVE>`; preempt: start a member with a
# higher --priority and --preempt), groups=("latchd",), planned=True. The handover table
# (bench/tables.py, "handover") then lists them next to the floor without other changes.
SCENARIOS = [
    Scenario("graceful", sc_graceful, "SIGTERM of the ACTIVE", planned=True,
             handover_groups=("latchd", "curator")),
    Scenario("yield", sc_yield, tables.SCENARIO_TEXT["yield"], groups=("latchd",), planned=True),
    Scenario("crash", sc_crash, "SIGKILL of the ACTIVE"),
    Scenario("crash_restart", sc_crash_restart, "SIGKILL + immediate restart of the ACTIVE"),
    Scenario("partition", sc_partition, "ACTIVE cut off from all ZooKeeper servers (2 x session)"),
    Scenario("pause", sc_pause, "SIGSTOP of the ACTIVE for session + 2 s, then SIGCONT"),
    Scenario("zk_server_loss", sc_zk_server_loss, "SIGKILL of the ZooKeeper server the ACTIVE uses"),
    Scenario("zk_leader_kill", sc_zk_leader_kill, "SIGKILL of the ZooKeeper leader"),
    Scenario("conn_reset", sc_conn_reset, "the ACTIVE's ZooKeeper connection reset"),
    Scenario("quorum_loss", sc_quorum_loss, "2 of 3 ZooKeeper servers down for session + 1.5 s"),
    Scenario("parent_deleted", sc_parent_deleted, "another client deletes the latch parent"),
    Scenario("server_kill", sc_server_kill, tables.SCENARIO_TEXT["server_kill"],
             binding="server_kill", planned=True),
    Scenario("server_hung", sc_server_hung, tables.SCENARIO_TEXT["server_hung"],
             binding="server_hung", planned=True),
]
SCENARIO_NAMES = [sc.name for sc in SCENARIOS]


# ------------------------------------------------------------------------------------------
# The floor of a planned handover: bench/handover_floor.cc


def floor_path():
    return os.path.join(harness.bin_dir(), "handover_floor")


def run_floor(cl, reps, session_ms):
    """Runs build/bin/handover_floor once, its two sessions each through proxies of their own
    (to every server, as a contender's), on the run's ensemble; returns its JSON output."""
    import json
    pa, pb = cl.proxies_for("floor-old"), cl.proxies_for("floor-new")
    try:
        argv = [floor_path(), "--old=" + ",".join(p.address for p in pa),
                "--new=" + ",".join(p.address for p in pb), "--root=/handover-floor",
                "--reps=%d" % reps, "--session_ms=%d" % session_ms]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("handover_floor failed (%d): %s" % (r.returncode, r.stderr.strip()))
        return json.loads(r.stdout)
    finally:
        for p in pa + pb:
            cl.hub.remove(p)


# ------------------------------------------------------------------------------------------
# Report


def zk_fsync(ens):
    """'zk1 1.6/7, zk2 ...': each server's average and maximum txn-log fsync time (ms) from
    `mntr` (since its last start)."""
    out = []
    for s in ens.servers:
        d = {}
        for line in (s.four_letter("mntr") or "").splitlines():
            k, _, v = line.partition("\t")
            d[k] = v
        if "zk_avg_fsynctime" in d:
            out.append("%s %s/%s" % (s.name, d["zk_avg_fsynctime"], d.get("zk_max_fsynctime")))
    return ", ".join(out) or "—"


# ------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--session-ms", type=int, default=4000)
    ap.add_argument("--scenarios", default=None,
                    help="comma-separated (default: every row of SCENARIOS; with --handover, "
                    "the planned handovers)")
    ap.add_argument("--handover", action="store_true",
                    help="the planned handovers (SCENARIOS rows with planned=True) next to their "
                    "floor: bench/handover_floor before every run, Curator only where a row has "
                    "it (graceful), each group's handover after the other's (not at the same "
                    "moment); the raw file is handover-<date>-<commit>.json")
    ap.add_argument("--agent_flags", default="",
                    help="extra flags for every latchd agent, space-separated (e.g. --v=1: every "
                    "ZooKeeper request, answer and watch in the agent logs; use with --keep)")
    ap.add_argument("--floor_reps", type=int, default=3,
                    help="handover_floor repetitions before each run of a planned handover")
    ap.add_argument("--groups", default="latchd,curator",
                    help="which contenders to run: latchd, curator or both (comma-separated)")
    ap.add_argument("--out", default=os.path.join(OUT_DIR, "failover.md"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--warmup", type=int, default=3,
                    help="graceful handovers of every group before the scenarios, not counted "
                    "(the JVMs of ZooKeeper and Curator run interpreted code at first; a "
                    "production ensemble is warm); invariants are checked all the same")
    ap.add_argument("--max_background", type=float, default=15.0,
                    help="before each scenario wait until other processes use less than this "
                    "%% of the machine ...")
    ap.add_argument("--quiet_wait", type=float, default=60.0, help="... for at most this long (s)")
    ap.add_argument("--zk_dir", default="",
                    help="parent directory of the ZooKeeper data dirs (default: the temp dir; "
                    "/dev/shm takes the disk's fsync out of every write)")
    ap.add_argument("--observer_ms", type=float, default=1.7,
                    help="observer poll period per contender (HTTP and socket), ms; nine "
                    "contenders on two cores need a little below 2 to average 2")
    args = ap.parse_args()
    os.environ.setdefault("LATCHD_BIN_DIR", os.path.join(REPO, "build", "bin"))
    harness.require_binaries()
    if args.scenarios is None:
        args.scenarios = ",".join(sc.name for sc in SCENARIOS if sc.planned or not args.handover)
    wanted = args.scenarios.split(",")
    unknown = set(wanted) - set(SCENARIO_NAMES)
    if unknown:
        ap.error("unknown scenarios %s" % sorted(unknown))
    want_groups = set(args.groups.split(","))
    if not want_groups or want_groups - {"latchd", "curator"}:
        ap.error("--groups takes latchd and/or curator")
    planned = {sc.name for sc in SCENARIOS if sc.planned} & set(wanted)
    if "latchd" in want_groups and planned and not os.access(floor_path(), os.X_OK):
        say("%s not found (make -C build handover_floor); needed by %s" % (
            floor_path(), ", ".join(sorted(planned))))
        return 1
    if "latchd" in want_groups and set(wanted) & set(BINDINGS) and not os.access(
            gated_server_path(), os.X_OK):
        say("%s not found (make -C build gated_server); needed by %s" % (
            gated_server_path(), ", ".join(sorted(set(wanted) & set(BINDINGS)))))
        return 1
    prov = rawout.provenance(binaries=os.path.relpath(harness.bin_dir(), REPO))
    if prov["dirty"]:
        say("the tree is dirty (%d changed file(s)): tables.py will need --allow-dirty" %
            len(prov["dirty_files"]))
    T = args.session_ms / 1000.0
    tmp = tempfile.mkdtemp(prefix="latchd-failover-")
    say("temp dir %s; binaries %s" % (tmp, harness.bin_dir()))
    if "curator" in want_groups:
        sidecar_classes()
    zk_base = tempfile.mkdtemp(prefix="latchd-failover-zk-", dir=args.zk_dir) if args.zk_dir \
        else os.path.join(tmp, "zk")
    ens = harness.ZkEnsemble(zk_base, size=3, tick_time=200)
    cl = None
    binding = None
    results = {}
    floors = []
    ok = True
    t_begin = time.monotonic()
    try:
        ens.start(wait=True)
        cl = faults.FaultCluster(ens, tmp, observer_interval=args.observer_ms / 1000.0)
        groups = []
        if "latchd" in want_groups:
            groups.append(cl.add_latchd_group("latchd", "/latchd-bench", ["l1", "l2", "l3"],
                                              session_ms=args.session_ms,
                                              extra_flags=args.agent_flags.split()))
        if "curator" in want_groups:
            groups.append(add_curator_group(cl, "curator", "/atlas-bench", ["c1", "c2", "c3"],
                                            args.session_ms))
        cl.start()
        if "latchd" in want_groups:
            binding = Binding(cl, groups[0])
        say("ACTIVE: %s; observer %s" % (
            ", ".join("%s %s" % (g.name, g.active().id) for g in groups),
            {k: "%.1f ms" % v[1] for k, v in cl.observer.period_stats().items()}))
        for i in range(args.warmup):
            t_from = now_ns()
            cl.note("== warm-up #%d (not counted)" % (i + 1))
            hits, t_heal = sc_graceful(cl, groups, T)
            settled = cl.check_after_heal(t_heal, t_from=t_from)
            say("warm-up #%d: %s" % (i + 1, ", ".join(
                "%s %s" % (k, "settled" if v[0] is not None else "NOT settled")
                for k, v in settled.items())))
        for sc in SCENARIOS:
            name = sc.name
            if name not in wanted:
                continue
            sc_groups = [g for g in groups if (sc.groups is None or g.name in sc.groups) and
                         (not args.handover or g.name in sc.handover_groups)]
            if not sc_groups:
                continue
            if binding:
                binding.set(sc.binding)
            faults.wait_quiet(args.max_background, args.quiet_wait, say)
            for rep in range(args.reps):
                if sc.planned and "latchd" in want_groups:
                    fl = run_floor(cl, args.floor_reps, args.session_ms)
                    fl.update({"scenario": name, "rep": rep + 1})
                    floors.append(fl)
                    say("floor before %s #%d: %s ms" % (name, rep + 1, ", ".join(
                        "%.1f" % v for v in fl.get("floor_ms", []))))
                t_from = now_ns()
                cl.note("== %s #%d" % (name, rep + 1))
                meter = faults.CpuMeter().start()
                if args.handover:
                    # one group after the other: each handover has the ensemble to itself, as
                    # the floor had (at the same moment, latchd's and Curator's graceful
                    # handovers share the ZooKeeper leader's commits and the two cores)
                    hits = {}
                    for g in sc_groups:
                        h, t_heal = sc.run(cl, [g], T, binding)
                        hits.update(h)
                else:
                    hits, t_heal = sc.run(cl, sc_groups, T, binding)
                background = meter.stop()[2]
                settled = cl.check_after_heal(t_heal, t_from=t_from)
                time.sleep(1.0)
                res = {}
                for g in sc_groups:
                    h = hits[g.name]
                    res[g.name] = metrics(g, h, getattr(h, "t_to", None) or now_ns())
                    res[g.name]["settled"] = settled[g.name][0] is not None
                    res[g.name]["background_pct"] = background
                    ps = cl.observer.period_stats(t_from)
                    res[g.name]["observer_period_ms"] = max(
                        v[1] for k, v in ps.items()
                        if k.split("/")[0] in {c.id for c in g.contenders}) if ps else None
                    results.setdefault(name, {}).setdefault(g.name, []).append(res[g.name])
                for g in sc_groups:
                    if settled[g.name][0] is None or (not g.strict and latch_broken(g)):
                        # leave the next scenario a working group: restart every contender
                        say("%s did not settle after %s #%d (or its latch nodes are not its "
                            "running contenders'): restarting its contenders" % (
                                g.name, name, rep + 1))
                        cl.note("restart every contender of %s" % g.name)
                        for c in g.contenders:
                            c.kill()
                        for c in g.contenders:
                            c.start(wait=False)
                        for c in g.contenders:
                            c.wait_ready(60)
                        g.wait_settled(now_ns(), limit_s=60, record=False)
                        g.take_baselines()
                say("%s #%d: %s" % (name, rep + 1, "; ".join(
                    "%s: new ACTIVE %s, old stops %s, overlap %s, no ACTIVE %s, moved %s" % (
                        k, fmt(v.get("new_active_ms")), fmt(v.get("old_stop_ms")),
                        fmt(v.get("overlap_ms")), fmt(v.get("no_active_ms")), v.get("moved"))
                    for k, v in res.items())))
                cl.observer.trim(now_ns() - 60 * NS)
        stats = cl.observer.period_stats(now_ns() - 30 * NS)
        fsync = zk_fsync(ens)
    except Exception as e:  # noqa: BLE001
        ok = False
        say("FAILED: %r" % e)
        import traceback
        traceback.print_exc()
        stats = {}
        fsync = "—"
    finally:
        if binding:
            binding.stop()
        if cl:
            cl.stop()
        ens.stop()
    if cl and cl.violations:
        ok = False
        say("latchd invariant violations:\n%s" % "\n".join(str(v) for v in cl.violations))
    meta = {
        "command": "python3 bench/failover.py --reps=%d --session-ms=%d%s%s%s%s%s" % (
            args.reps, args.session_ms,
            "" if args.warmup == ap.get_default("warmup") else " --warmup=%d" % args.warmup,
            " --handover" if args.handover else "",
            "" if args.scenarios == ",".join(sc.name for sc in SCENARIOS
                                             if sc.planned or not args.handover)
            else " --scenarios=" + args.scenarios,
            "" if want_groups == {"latchd", "curator"} else " --groups=" + args.groups,
            " --agent_flags='%s'" % args.agent_flags if args.agent_flags else ""),
        "binaries": harness.bin_dir(),
        "warm-up": "%d graceful handovers of each group before the scenarios, not counted"
                   % args.warmup,
        "machine": "%d CPUs, %s" % (os.cpu_count(), os.uname().release),
        "duration": "%.0f s" % (time.monotonic() - t_begin),
        "observer period (mean per channel, last 30 s)": ", ".join(
            "%s %.1f ms" % (k, v[1]) for k, v in sorted(stats.items())) or "—",
        "ZooKeeper data": zk_base + (" (tmpfs)" if zk_base.startswith("/dev/shm") else ""),
        "ZooKeeper txn-log fsync over the run (mntr: avg / max ms, per server)": fsync,
        "latchd invariant violations": len(cl.violations) if cl else "—",
        "Curator invariant findings (not failures)": len(
            [f for f in (cl.findings if cl else [])]),
    }
    data = {"results": results, "meta": meta, "session_ms": args.session_ms, "reps": args.reps,
            "scenarios": [n for n in SCENARIO_NAMES if n in wanted],
            "planned": [sc.name for sc in SCENARIOS if sc.planned and sc.name in wanted],
            "floor": floors,
            "groups": sorted(want_groups), "args": vars(args), "completed": ok,
            "server_binding": binding.used if binding else {},
            "violations": [str(v) for v in (cl.violations if cl else [])],
            "findings": [str(v) for v in (cl.findings if cl else [])],
            "events": cl.event_log() if cl else []}
    raw_path = rawout.write_raw("handover" if args.handover else "failover", prov, data) \
        if results else None
    table = tables.failover_full_table({"data": data})
    if floors:
        table += "\n\n" + tables.handover_table({"data": data})
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(table + "\n")
    print(table)
    if cl and cl.findings:
        say("findings (Curator, or outside latchd's model):\n%s" % "\n".join(
            v.message for v in cl.findings))
    if raw_path:
        say("wrote %s; the tables: python3 bench/tables.py" % os.path.relpath(raw_path, REPO))
    import shutil
    if args.keep or not ok:
        say("kept %s%s" % (tmp, " and " + zk_base if args.zk_dir else ""))
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.zk_dir:
            shutil.rmtree(zk_base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
