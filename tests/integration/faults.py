"""Fault injection for latchd (standard library only): proxies, an independent observer,
journals, invariant checkers and a seeded scenario runner. Used by test_faults.py (CI-sized),
bench/soak.py (as long as asked) and bench/failover.py (latchd next to a Curator sidecar).

Pieces:

  ProxyHub / Proxy   TCP forwarders run by one selectors thread in this process. Every
                     contender reaches each ZooKeeper server only through a proxy of its own
                     (so its connect string lists 3 proxy ports). cut(): bytes stop both ways,
                     sockets stay open (a partition; what was sent is delivered after heal(),
                     like TCP after a partition heals); reset(): every connection closed with a
                     RST (as when a server dies); refuse(): new connections are reset at once.
  Contender          one participant process: LatchdContender (a latchd agent with --journal)
                     here, CuratorContender in bench/failover.py. Records its lifecycle (start,
                     SIGTERM, exit, SIGSTOP confirmed, SIGCONT) on CLOCK_MONOTONIC.
  FaultObserver      one thread per contender polling its role every 2 ms over a keep-alive
                     HTTP connection (GET /api/atlas/admin/status) and over its Unix socket
                     (`status`), recording (t_sent, t_answered, role, epoch) in compact arrays.
  Group              contenders sharing one latch (one zk_root) and its invariants.
  FaultCluster       the ensemble, the proxy hub, the groups, the observer, a ZkShell, a fault
                     log; the fault actions (agent and ZooKeeper faults) and heal_all().
  check_*            invariant checkers; each returns a list of Violation (never raises), so a
                     scenario collects everything it can find before it fails.
  Schedule           a seeded random schedule of fault rounds (print the seed, replay it with
                     LATCHD_FAULT_SEED=<seed>).

Time: every timestamp here is time.monotonic_ns(), the same CLOCK_MONOTONIC the agents write
to their journals ("mono_ns").

What a claim is, and how journals are read (docs/failover.md has the long form):
  * A contender claims a role at instant t if an answer computed at t says so. latchd writes a
    journal line for every role change before it answers anything in the new role, and after
    every answer of the old role, so the journal's intervals contain every answer.
  * A process claims nothing after it exited: an interval open at a crash ends at the time the
    harness reaped the process.
  * A latchd agent stopped with SIGSTOP for longer than its lease length L (session timeout x
    (1 - lease margin)) cannot claim after SIGCONT without first journaling a lapse: a lease
    obtained before the stop ends no later than t_stop + L. Its journal line of the lapse is
    only written after SIGCONT; the claim interval is cut at t_stop + L (t_stop = when /proc
    showed every thread stopped). This rule is applied only to contenders with a lease.
"""

import array
import collections
import errno
import json
import os
import random
import re
import selectors
import signal
import socket
import struct
import sys
import threading
import time

import harness
from harness import log, vlog

NS = 1_000_000_000
MS = 1_000_000


def now_ns():
    return time.monotonic_ns()


def fmt_ms(ns):
    return "%.1f ms" % (ns / MS)


# ============================================================================================
# TCP proxy


class _Pipe:
    """One proxied connection: client socket <-> upstream socket, a buffer each way."""

    LIMIT = 1 << 20

    def __init__(self, proxy, csock):
        self.proxy = proxy
        self.c = csock
        self.u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.c.setblocking(False)
        self.u.setblocking(False)
        for s in (self.c, self.u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.c2u = bytearray()
        self.u2c = bytearray()
        self.c_eof = False
        self.u_eof = False
        self.closed = False
        self.connecting = True
        self.opened_ns = now_ns()
        self.last_ns = self.opened_ns
        self._reg = {}  # socket -> registered mask
        err = self.u.connect_ex(proxy.upstream)
        if err not in (0, errno.EINPROGRESS):
            self.close(rst=True)
            return
        self.update()

    def _want(self, sock):
        cut = self.proxy.is_cut
        ev = 0
        if sock is self.c:
            if not cut and not self.c_eof and len(self.c2u) < self.LIMIT:
                ev |= selectors.EVENT_READ
            if not cut and self.u2c:
                ev |= selectors.EVENT_WRITE
        else:
            if self.connecting:
                ev |= selectors.EVENT_WRITE
            else:
                if not cut and not self.u_eof and len(self.u2c) < self.LIMIT:
                    ev |= selectors.EVENT_READ
                if not cut and self.c2u:
                    ev |= selectors.EVENT_WRITE
        return ev

    def update(self):
        if self.closed:
            return
        sel = self.proxy.hub.sel
        for s in (self.c, self.u):
            want = self._want(s)
            have = self._reg.get(s, 0)
            if want == have:
                continue
            if want == 0:
                sel.unregister(s)
                del self._reg[s]
            elif have == 0:
                sel.register(s, want, ("pipe", self))
                self._reg[s] = want
            else:
                sel.modify(s, want, ("pipe", self))
                self._reg[s] = want

    def on_event(self, sock, mask):
        if self.closed:
            return
        try:
            if sock is self.u and self.connecting:
                if mask & selectors.EVENT_WRITE:
                    err = self.u.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        return self.close(rst=True)  # upstream refused: like a dead server
                    self.connecting = False
                return self.update()
            if self.proxy.is_cut:
                return self.update()
            if mask & selectors.EVENT_READ:
                data = sock.recv(65536)
                if sock is self.c:
                    if data:
                        self.c2u += data
                    else:
                        self.c_eof = True
                else:
                    if data:
                        self.u2c += data
                    else:
                        self.u_eof = True
                if data:
                    self.last_ns = now_ns()
                    self.proxy.bytes += len(data)
            if mask & selectors.EVENT_WRITE:
                if sock is self.c and self.u2c:
                    n = sock.send(self.u2c)
                    del self.u2c[:n]
                elif sock is self.u and self.c2u:
                    n = sock.send(self.c2u)
                    del self.c2u[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return self.close(rst=True)
        # A side that ended: pass on what it sent, then close both (ZooKeeper connections are
        # never half-closed on purpose).
        if (self.c_eof and not self.c2u) or (self.u_eof and not self.u2c):
            return self.close(rst=False)
        self.update()

    def close(self, rst):
        if self.closed:
            return
        self.closed = True
        sel = self.proxy.hub.sel
        for s in (self.c, self.u):
            if s in self._reg:
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
            if rst:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            try:
                s.close()
            except OSError:
                pass
        self._reg.clear()
        self.proxy.pipes.discard(self)


class Proxy:
    """Listens on 127.0.0.1:<port> and forwards every connection to upstream."""

    def __init__(self, hub, upstream_port, name, upstream_host="127.0.0.1"):
        self.hub = hub
        self.name = name
        self.upstream = (upstream_host, upstream_port)
        self.is_cut = False
        self.refusing = False
        self.pipes = set()
        self.bytes = 0
        self.accepted = 0
        self.lsock = None
        self.port = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _open(self):
        for _ in range(20):
            port = harness.free_port()
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            s.listen(64)
            s.setblocking(False)
            self.lsock, self.port = s, port
            self.hub.sel.register(s, selectors.EVENT_READ, ("listen", self))
            return
        raise RuntimeError("proxy %s: no port" % self.name)

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.accepted += 1
            if self.refusing:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
                continue
            p = _Pipe(self, c)
            if not p.closed:
                self.pipes.add(p)

    def _set_cut(self, cut):
        self.is_cut = cut
        for p in list(self.pipes):
            p.update()

    def _reset(self):
        n = len(self.pipes)
        for p in list(self.pipes):
            p.close(rst=True)
        return n

    # -- API (any thread) --

    def cut(self):
        self.hub.call(lambda: self._set_cut(True))

    def heal(self):
        def f():
            self.refusing = False
            self._set_cut(False)
        self.hub.call(f)

    def reset(self):
        return self.hub.call(self._reset)

    def refuse(self, on=True):
        """on: new connections are reset at once and current ones are reset now."""
        def f():
            self.refusing = on
            if on:
                self._reset()
        self.hub.call(f)

    def live_pipes(self):
        """[(opened_ns, last_ns)] of the connections that are open now."""
        return self.hub.call(lambda: [(p.opened_ns, p.last_ns) for p in self.pipes
                                      if not p.closed and not p.connecting])

    def _close(self):
        self._reset()
        if self.lsock is not None:
            try:
                self.hub.sel.unregister(self.lsock)
            except (KeyError, ValueError):
                pass
            self.lsock.close()
            self.lsock = None


class ProxyHub:
    """One thread, one selector, every proxy. API calls run on the hub thread (call())."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self._wr, self._ww = socket.socketpair()
        self._wr.setblocking(False)
        self.sel.register(self._wr, selectors.EVENT_READ, ("wake", None))
        self._calls = collections.deque()
        self._lock = threading.Lock()
        self._stop = False
        self.proxies = []
        self.errors = []
        self._thread = threading.Thread(target=self._run, name="proxyhub", daemon=True)
        self._thread.start()

    def call(self, fn, timeout=10.0):
        if threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        box = {}

        def wrapper():
            try:
                box["r"] = fn()
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                box["e"] = e
            finally:
                done.set()
        with self._lock:
            if self._stop:
                raise RuntimeError("proxy hub stopped")
            self._calls.append(wrapper)
        try:
            self._ww.send(b"x")
        except OSError:
            pass
        if not done.wait(timeout):
            raise harness.WaitTimeout("proxy hub did not answer within %.0f s" % timeout)
        if "e" in box:
            raise box["e"]
        return box.get("r")

    def add(self, upstream_port, name):
        p = Proxy(self, upstream_port, name)
        self.call(p._open)
        self.proxies.append(p)
        return p

    def remove(self, proxy):
        self.call(proxy._close)
        if proxy in self.proxies:
            self.proxies.remove(proxy)

    def _run(self):
        while True:
            with self._lock:
                if self._stop and not self._calls:
                    break
            try:
                events = self.sel.select(0.5)
            except OSError as e:
                self.errors.append(repr(e))
                time.sleep(0.01)
                continue
            for key, mask in events:
                kind, obj = key.data
                try:
                    if kind == "wake":
                        try:
                            while self._wr.recv(4096):
                                pass
                        except (BlockingIOError, InterruptedError):
                            pass
                        while True:
                            with self._lock:
                                fn = self._calls.popleft() if self._calls else None
                            if fn is None:
                                break
                            fn()
                    elif kind == "listen":
                        obj._accept()
                    else:
                        obj.on_event(key.fileobj, mask)
                except Exception as e:  # noqa: BLE001 - the hub must keep running
                    self.errors.append(repr(e))
                    log("proxy hub error: %r" % e)

    def stop(self):
        if self._stop:
            return
        try:
            self.call(lambda: [p._close() for p in self.proxies], timeout=5)
        except Exception:  # noqa: BLE001
            pass
        with self._lock:
            self._stop = True
        try:
            self._ww.send(b"x")
        except OSError:
            pass
        self._thread.join(5)
        for s in (self._wr, self._ww):
            s.close()
        try:
            self.sel.close()
        except Exception:  # noqa: BLE001
            pass


# ============================================================================================
# /proc helpers


def proc_fds(pid):
    """{fd: link target} of pid, or None if it cannot be read."""
    out = {}
    d = "/proc/%d/fd" % pid
    try:
        for name in os.listdir(d):
            try:
                out[int(name)] = os.readlink(os.path.join(d, name))
            except OSError:
                pass
    except OSError:
        return None
    return out


def proc_threads(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_all_stopped(pid):
    """True when every thread of pid is in state T (stopped)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        for tid in tids:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                data = f.read()
            state = data[data.rindex(")") + 2]
            if state not in "Tt":
                return False
        return True
    except (OSError, ValueError, IndexError):
        return False


def fd_kinds(fds):
    c = collections.Counter()
    for target in (fds or {}).values():
        if target.startswith("socket:"):
            c["socket"] += 1
        elif target.startswith("pipe:"):
            c["pipe"] += 1
        elif target.startswith("anon_inode:"):
            c[target] += 1
        else:
            c["file"] += 1
    return dict(c)


class CpuMeter:
    """Machine CPU during a stretch, split into ours (this process, the processes it started,
    the children it reaped) and the background (everything else), in % of the whole machine.
    Figures measured on a shared machine are read with the background next to them."""

    TCK = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _machine():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        total = sum(v)
        return total - v[3] - v[4], total

    @staticmethod
    def _ticks(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                d = f.read()
            fl = d[d.rindex(")") + 2:].split()
            return int(fl[11]) + int(fl[12])
        except (OSError, ValueError, IndexError):
            return None

    def start(self):
        import resource
        self.m0 = self._machine()
        self.pids0 = {pid: t for pid, _ in harness.live_processes()
                      for t in [self._ticks(pid)] if t is not None}
        self.self0 = self._ticks(os.getpid()) or 0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.ch0 = ru.ru_utime + ru.ru_stime
        return self

    def stop(self):
        """Returns (busy %, ours %, background %) since start()."""
        import resource
        busy1, total1 = self._machine()
        busy = busy1 - self.m0[0]
        total = max(1, total1 - self.m0[1])
        own = (self._ticks(os.getpid()) or 0) - self.self0
        live = {pid for pid, _ in harness.live_processes()}
        for pid in live:
            t = self._ticks(pid)
            if t is not None:
                own += t - self.pids0.get(pid, 0)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = (ru.ru_utime + ru.ru_stime - self.ch0) * self.TCK
        reaped -= sum(t for pid, t in self.pids0.items() if pid not in live)
        own += max(0.0, reaped)
        busy_pct = busy / total * 100.0
        own_pct = min(busy_pct, own / total * 100.0)
        return busy_pct, own_pct, max(0.0, busy_pct - own_pct)


def wait_quiet(max_background=15.0, max_wait=60.0, say=log):
    """Waits (at most max_wait s) until other processes use less than max_background % of the
    machine. Returns the last background figure."""
    deadline = time.monotonic() + max_wait
    noted = False
    while True:
        m = CpuMeter().start()
        time.sleep(1.0)
        bg = m.stop()[2]
        if bg < max_background or time.monotonic() >= deadline:
            return bg
        if not noted:
            say("background load %.0f %% of the machine; waiting up to %.0f s" % (bg, max_wait))
            noted = True


# ============================================================================================
# Contenders

ROLE_CODES = {None: 0, "PASSIVE": 1, "BECOMING_ACTIVE": 2, "ACTIVE": 3, "BECOMING_PASSIVE": 4}
CODE_ROLES = {v: k for k, v in ROLE_CODES.items()}
BAD = 5  # an answer that is not a well-formed role
CODE_ROLES[BAD] = "BAD_ANSWER"
CLAIMS = ("BECOMING_ACTIVE", "ACTIVE")


class Contender:
    """Base class for one participant process (see LatchdContender). Subclasses provide
    _spawn(), _terminate_wait(), pid, running, http_port, http_path, socket_path, log_path,
    journal_path, session_ms, lease_ns (None without a lease), kind."""

    kind = "?"
    http_path = harness.STATUS_PATH
    socket_path = None
    lease_ns = None

    def __init__(self, cid, proxies):
        self.id = cid
        self.proxies = proxies
        self.lifecycle = []  # (t_ns, what): start, term, kill, exit, stop, cont
        self.expected_exit = True  # False while it runs: an exit then is a crash
        self.paused = False
        self.baseline = None  # (fds dict, threads) of this incarnation
        self.exits = []  # (t_ns, returncode, expected)

    @property
    def connect_string(self):
        return ",".join(p.address for p in self.proxies)

    def note(self, what, t=None):
        self.lifecycle.append((t if t is not None else now_ns(), what))

    def start(self, wait=True, timeout=60.0):
        self.note("start")
        self.expected_exit = False
        self.baseline = None
        self._spawn()
        if wait:
            self.wait_ready(timeout)

    def _reaped(self, rc, expected):
        self.note("exit")
        self.exits.append((now_ns(), rc, expected))

    def terminate(self, timeout=15.0):
        """SIGTERM, wait for the exit (SIGKILL after timeout). Returns the exit code."""
        if not self.running:
            return None
        self.expected_exit = True
        self.note("term")
        rc = self._terminate_wait(timeout)
        self._reaped(rc, True)
        return rc

    def kill(self):
        if not self.running:
            return None
        self.expected_exit = True
        if self.paused:
            self.paused = False
        self.note("kill")
        rc = self._kill_wait()
        self._reaped(rc, True)
        return rc

    def pause(self):
        os.kill(self.pid, signal.SIGSTOP)
        harness.wait_until(lambda: proc_all_stopped(self.pid), 5.0,
                           "%s stopped (SIGSTOP)" % self.id, interval=0.001)
        self.paused = True
        self.note("stop")

    def resume(self):
        if not self.paused:
            return
        self.note("cont")
        self.paused = False
        os.kill(self.pid, signal.SIGCONT)

    def check_unexpected_exit(self):
        """Records and returns the exit code if the process died without being asked."""
        if self.proc_obj() is None:
            return None
        rc = self.proc_obj().poll()
        if rc is not None and not self.expected_exit:
            self.expected_exit = True
            self._reaped(rc, False)
            harness._forget(self.proc_obj())
            return rc
        return None

    def resources(self):
        pid = self.pid
        if not self.running or pid is None:
            return None
        return proc_fds(pid), proc_threads(pid)


class LatchdContender(Contender):
    kind = "latchd"

    def __init__(self, cid, proxies, workdir, zk_root, session_ms=4000, lease_margin=0.25,
                 extra_flags=()):
        super().__init__(cid, proxies)
        self.session_ms = session_ms
        self.lease_margin = lease_margin
        self.agent = harness.Agent(cid, self.connect_string, workdir, zk_root=zk_root,
                                   session_timeout_ms=session_ms,
                                   extra_flags=list(extra_flags))
        self.journal_path = os.path.join(self.agent.dir, "journal.jsonl")
        self.agent.extra_flags.append("--journal=%s" % self.journal_path)
        if lease_margin != 0.25:
            self.agent.extra_flags.append("--lease_margin=%g" % lease_margin)
        self.lease_ns = int(session_ms * (1.0 - lease_margin) * MS)

    # properties used by the observer and the checks
    @property
    def pid(self):
        return self.agent.pid

    @property
    def running(self):
        return self.agent.running

    @property
    def http_port(self):
        return self.agent.http_port

    @property
    def socket_path(self):
        return self.agent.socket_path

    @property
    def log_path(self):
        return self.agent.log_path

    @property
    def latch_path(self):
        return self.agent.latch_path

    def proc_obj(self):
        return self.agent.proc

    def _spawn(self):
        self.agent.start(wait=False)

    def wait_ready(self, timeout=15.0):
        self.agent.wait_ready(timeout)

    def _terminate_wait(self, timeout):
        if self.paused:
            self.resume()
        return self.agent.stop(timeout)

    def _kill_wait(self):
        return self.agent.kill()

    def status(self):
        return self.agent.try_status()

    def session_id(self):
        st = self.agent.try_status()
        if not st:
            return None
        try:
            return harness.parse_session_id(st["zk"]["session_id"])
        except (KeyError, ValueError, TypeError):
            return None


# ============================================================================================
# Journals


def read_journal(path):
    """Lines of a --journal file as dicts (in file order); a torn last line is ignored."""
    out = []
    try:
        with open(path, "rb") as f:
            for raw in f:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def role_steps(contender, lines=None):
    """The contender's role over time as [(t_ns, role or None)] change points from its journal
    and lifecycle: None = no process; a started process is PASSIVE until its first line."""
    if lines is None:
        lines = read_journal(contender.journal_path)
    ev = []
    for t, what in contender.lifecycle:
        if what in ("start", "exit"):
            ev.append((t, 0 if what == "exit" else 1, what, None))
    for ln in lines:
        ev.append((int(ln["mono_ns"]), 2, "line", ln))
    ev.sort(key=lambda e: (e[0], e[1]))
    steps = []
    cur = None
    for t, _, what, ln in ev:
        if what == "start":
            cur = "PASSIVE"
        elif what == "exit":
            cur = None
        else:
            cur = ln["to"]
        if not steps or steps[-1][1] != cur:
            steps.append((t, cur))
        elif steps and steps[-1][1] == cur:
            pass
    return steps


def claim_intervals(contender, roles=("ACTIVE",), t_end=None, lines=None, clip=True):
    """[(start, end, epoch, end_reason)] during which the contender was in `roles`, from its
    journal and lifecycle (see the module doc for the rules). end = t_end (default: now) for an
    interval still open."""
    if lines is None:
        lines = read_journal(contender.journal_path)
    if t_end is None:
        t_end = now_ns()
    ev = []
    for t, what in contender.lifecycle:
        if what in ("start", "exit", "stop", "cont"):
            ev.append((t, 0 if what == "exit" else 1, what, None))
    for ln in lines:
        ev.append((int(ln["mono_ns"]), 2, "line", ln))
    ev.sort(key=lambda e: (e[0], e[1]))
    out = []
    open_at = None
    open_epoch = None
    stop_at = None
    clip_end = None  # a lease obtained before a long SIGSTOP ends by then
    for t, _, what, ln in ev:
        if what == "stop":
            stop_at = t
            continue
        if what == "cont":
            if (clip and stop_at is not None and contender.lease_ns is not None and
                    open_at is not None and t - stop_at > contender.lease_ns):
                clip_end = stop_at + contender.lease_ns
            stop_at = None
            continue
        if what == "start":
            continue
        if what == "exit":
            if (clip and stop_at is not None and contender.lease_ns is not None and
                    open_at is not None and t - stop_at > contender.lease_ns):
                clip_end = stop_at + contender.lease_ns  # killed while stopped
            stop_at = None
            if open_at is not None:
                end = t if clip_end is None else min(t, clip_end)
                out.append((open_at, end, open_epoch, "process exited"))
                open_at = None
            clip_end = None
            continue
        in_now = ln["to"] in roles
        was_in = ln["from"] in roles
        if open_at is not None and not in_now:
            end = t if clip_end is None else min(t, clip_end)
            out.append((open_at, end, open_epoch, ln.get("reason", "")))
            open_at = None
            clip_end = None
        elif open_at is None and in_now:
            open_at = t
            open_epoch = ln.get("epoch")
            clip_end = None
        elif open_at is not None and in_now and not was_in:
            pass
    if open_at is not None:
        end = t_end if clip_end is None else min(t_end, clip_end)
        out.append((open_at, end, open_epoch, "open"))
    return out


def role_at_steps(steps, t):
    """The role of a step function at t (None before the first step)."""
    cur = None
    for ts, r in steps:
        if ts > t:
            break
        cur = r
    return cur


def roles_within(steps, a, b):
    """Roles the step function takes anywhere in [a, b]."""
    out = {role_at_steps(steps, a)}
    for ts, r in steps:
        if a < ts <= b:
            out.add(r)
    return out


# ============================================================================================
# Observer


class _Channel:
    __slots__ = ("cid", "kind", "t0", "t1", "role", "epoch", "lock")

    def __init__(self, cid, kind):
        self.cid = cid
        self.kind = kind
        self.t0 = array.array("q")
        self.t1 = array.array("q")
        self.role = array.array("b")
        self.epoch = array.array("q")
        self.lock = threading.Lock()

    def add(self, t0, t1, role, epoch):
        with self.lock:
            self.t0.append(t0)
            self.t1.append(t1)
            self.role.append(role)
            self.epoch.append(epoch)

    def snapshot(self, t_from=None, t_to=None):
        """[(t0, t1, role_code, epoch)] with t1 >= t_from and t0 <= t_to."""
        with self.lock:
            n = len(self.t0)
            t0, t1, role, epoch = self.t0[:n], self.t1[:n], self.role[:n], self.epoch[:n]
        lo = 0
        if t_from is not None:
            # t1 is non-decreasing per channel (one poller thread): bisect
            import bisect
            lo = bisect.bisect_left(t1, t_from)
        out = []
        for i in range(lo, n):
            if t_to is not None and t0[i] > t_to:
                break
            out.append((t0[i], t1[i], role[i], epoch[i]))
        return out

    def latest(self):
        with self.lock:
            if not self.t0:
                return None
            return (self.t0[-1], self.t1[-1], self.role[-1], self.epoch[-1])

    def count(self):
        return len(self.t0)

    def trim(self, before_ns):
        import bisect
        with self.lock:
            k = bisect.bisect_left(self.t1, before_ns)
            if k > 0:
                del self.t0[:k]
                del self.t1[:k]
                del self.role[:k]
                del self.epoch[:k]


_HTTP_STATUS_RE = re.compile(rb'"Status"\s*:\s*"([A-Z_]+)"')
_SOCK_ROLE_RE = re.compile(rb'"role":"([A-Z_]+)"')
_SOCK_EPOCH_RE = re.compile(rb'"epoch":(-?[0-9]+)')


class _Poller:
    """Polls one contender: HTTP (keep-alive) then its Unix socket, every `interval`."""

    def __init__(self, observer, contender):
        self.obs = observer
        self.c = contender
        self.http = _Channel(contender.id, "http")
        self.sock = _Channel(contender.id, "sock") if contender.socket_path else None
        self.hs = None
        self.us = None
        self.timeout = observer.timeout
        path = contender.http_path
        self.req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
                    % path).encode()
        self.thread = threading.Thread(target=self._run, name="observer-%s" % contender.id,
                                       daemon=True)

    def channels(self):
        return [ch for ch in (self.http, self.sock) if ch is not None]

    def _close(self, which):
        s = getattr(self, which)
        if s is not None:
            try:
                s.close()
            except OSError:
                pass
            setattr(self, which, None)

    def _http_once(self):
        if self.hs is None:
            s = socket.create_connection(("127.0.0.1", self.c.http_port), timeout=self.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(self.timeout)
            self.hs = s
            fresh = True
        else:
            fresh = False
        s = self.hs
        try:
            s.sendall(self.req)
            buf = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
                he = buf.find(b"\r\n\r\n")
                if he >= 0:
                    head = buf[:he]
                    m = re.search(rb"(?i)\r\ncontent-length:\s*([0-9]+)", head)
                    length = int(m.group(1)) if m else 0
                    if len(buf) >= he + 4 + length:
                        break
            body = buf[he + 4:he + 4 + length]
            if b"connection: close" in head.lower():
                self._close("hs")
            if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
                return BAD
            m = _HTTP_STATUS_RE.search(body)
            if not m:
                return BAD
            return ROLE_CODES.get(m.group(1).decode(), BAD)
        except (OSError, ValueError):
            self._close("hs")
            if not fresh:
                raise _Retry()
            raise

    def _sock_once(self):
        if self.us is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            try:
                s.connect(self.c.socket_path)
            except OSError:
                s.close()
                raise
            self.us = s
            fresh = True
        else:
            fresh = False
        s = self.us
        try:
            s.sendall(b"status\n")
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            line = buf.split(b"\n", 1)[0]
            m = _SOCK_ROLE_RE.search(line)
            if not m:
                return BAD, 0
            e = _SOCK_EPOCH_RE.search(line)
            return ROLE_CODES.get(m.group(1).decode(), BAD), int(e.group(1)) if e else 0
        except (OSError, ValueError):
            self._close("us")
            if not fresh:
                raise _Retry()
            raise

    def _poll(self, ch, fn):
        t0 = now_ns()
        epoch = 0
        try:
            try:
                r = fn()
            except _Retry:
                t0 = now_ns()
                r = fn()
            if isinstance(r, tuple):
                r, epoch = r
        except (OSError, ValueError):
            r = 0
        t1 = now_ns()
        ch.add(t0, t1, r, epoch)
        return r

    def _run(self):
        period = int(self.obs.interval * NS)
        nxt = now_ns()
        stop = self.obs._stop
        while not stop.is_set():
            ok = self._poll(self.http, self._http_once)
            if self.sock is not None:
                ok = self._poll(self.sock, self._sock_once) or ok
            nxt += period
            t = now_ns()
            delay = nxt - t
            if not ok:
                # nothing answered (not running / restarting): do not spin
                delay = max(delay, 5 * MS)
                nxt = t + delay
            if delay > 0:
                time.sleep(delay / NS)
            elif delay < -20 * MS:
                nxt = t  # far behind (a stall): start afresh; a little behind: catch up
        self._close("hs")
        self._close("us")


class _Retry(Exception):
    pass


class FaultObserver:
    """An independent observer: one thread per contender, each polling HTTP and the socket
    every `interval` (keep-alive connections). Samples are (t_sent, t_answered, role, epoch);
    role code 0 = no answer."""

    def __init__(self, contenders, interval=0.0019, timeout=0.5):
        self.interval = interval
        self.timeout = timeout
        self._stop = threading.Event()
        self.pollers = {}
        self.started_ns = None
        self.stopped_ns = None
        for c in contenders:
            self.pollers[c.id] = _Poller(self, c)

    def add(self, contender):
        p = _Poller(self, contender)
        self.pollers[contender.id] = p
        if self.started_ns is not None and not self._stop.is_set():
            p.thread.start()

    def start(self):
        self.started_ns = now_ns()
        for p in self.pollers.values():
            p.thread.start()
        return self

    def stop(self):
        if self._stop.is_set():
            return
        self._stop.set()
        for p in self.pollers.values():
            if p.thread.is_alive():
                p.thread.join(5)
        self.stopped_ns = now_ns()

    def channels(self, cid=None):
        out = []
        for k, p in self.pollers.items():
            if cid is None or k == cid:
                out.extend(p.channels())
        return out

    def latest_role(self, cid, since_ns):
        """The role both channels of cid answered in their latest samples sent after since_ns;
        'MIXED' if they disagree, False if some channel has no such sample yet."""
        roles = set()
        for ch in self.channels(cid):
            s = ch.latest()
            if s is None or s[0] < since_ns:
                return False
            roles.add(CODE_ROLES.get(s[2]))
        if len(roles) != 1:
            return "MIXED"
        return roles.pop()

    def wait_sweeps(self, n=3, timeout=10.0):
        target = {id(ch): ch.count() + n for ch in self.channels()}
        harness.wait_until(lambda: all(ch.count() >= target[id(ch)] for ch in self.channels()),
                           timeout, "observer sweeps", interval=0.005)

    def trim(self, before_ns):
        for ch in self.channels():
            ch.trim(before_ns)

    def period_stats(self, t_from=None, t_to=None):
        """{channel name: (samples, mean interval ms, p99 interval ms)} between consecutive
        answered samples (stretches without answers - a stopped or restarting contender - are
        left out)."""
        out = {}
        for ch in self.channels():
            s = ch.snapshot(t_from, t_to)
            gaps = sorted(s[i + 1][0] - s[i][0] for i in range(len(s) - 1)
                          if s[i][2] and s[i + 1][2])
            if len(gaps) < 2:
                continue
            mean = sum(gaps) / len(gaps)
            out["%s/%s" % (ch.cid, ch.kind)] = (len(s), mean / MS,
                                               gaps[int(0.99 * (len(gaps) - 1))] / MS)
        return out

    def describe(self, cid, t_from=None, t_to=None, t0=None, max_items=60):
        """Role changes of each channel of cid, with times relative to t0."""
        lines = []
        for ch in self.channels(cid):
            items = []
            last = -1
            for a, b, r, e in ch.snapshot(t_from, t_to):
                if r != last:
                    tag = CODE_ROLES.get(r)
                    if ch.kind == "sock" and r in (2, 3, 4):
                        tag += "(e%d)" % e
                    items.append("%+.3fs %s" % (((a + b) // 2 - (t0 or 0)) / NS, tag))
                    last = r
            if len(items) > max_items:
                items = items[:max_items // 2] + ["..."] + items[-max_items // 2:]
            lines.append("%s/%s: %s" % (cid, ch.kind, ", ".join(items) or "no samples"))
        return "\n".join(lines)


# ============================================================================================
# Violations and checks


class Violation:
    def __init__(self, kind, message, details=()):
        self.kind = kind
        self.message = message
        self.details = list(details)

    def __str__(self):
        s = "[%s] %s" % (self.kind, self.message)
        if self.details:
            s += "\n      " + "\n      ".join(self.details)
        return s

    __repr__ = __str__


def _overlaps(intervals_by_id):
    """[(id_a, id_b, start, end)] where intervals of two different ids intersect (> 0 ns)."""
    items = []
    for cid, ivs in intervals_by_id.items():
        for s, e in ivs:
            items.append((s, e, cid))
    items.sort()
    out = []
    for i, (s1, e1, a) in enumerate(items):
        for s2, e2, b in items[i + 1:]:
            if s2 >= e1:
                break
            if a != b:
                out.append((a, b, s2, min(e1, e2)))
    return out


def union_length(intervals):
    total = 0
    cur_s = cur_e = None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def overlap_length(intervals_by_id):
    """Total time during which at least two ids were in their intervals."""
    ov = [(s, e) for a, b, s, e in _overlaps(intervals_by_id)]
    return union_length(ov)


def journal_excerpt(contender, t_from, t_to, t0):
    out = []
    for ln in read_journal(contender.journal_path):
        t = int(ln["mono_ns"])
        if t_from <= t <= t_to:
            out.append("%s %+.3fs %s -> %s epoch=%s (%s)" % (
                ln.get("id"), (t - t0) / NS, ln.get("from"), ln.get("to"), ln.get("epoch"),
                ln.get("reason")))
    for t, what in contender.lifecycle:
        if t_from <= t <= t_to:
            out.append("%s %+.3fs process %s" % (contender.id, (t - t0) / NS, what))
    return out


def check_journal_overlap(group, roles=("ACTIVE",), t_from=None, t_to=None, clip=True,
                          exempt=()):
    """No two contenders of the group in `roles` at the same instant, from the journals. An
    overlap that intersects one of the `exempt` windows [(start, end)] is returned with kind
    "finding" instead (see Group.third_party_windows)."""
    t_end = now_ns() if t_to is None else t_to
    ivs = {}
    for c in group.contenders:
        if c.lease_ns is not None:
            # the lease rule itself: a claim lasts until the journal says otherwise, or until
            # t_stop + lease for a SIGSTOP longer than the lease (see the module doc)
            iv = [(s, e) for s, e, _, _ in claim_intervals(c, roles, t_end, clip=clip)]
        else:
            iv = answer_intervals(c, roles, t_end, clip=clip)
        ivs[c.id] = [(s, e) for s, e in iv if (t_from is None or e > t_from) and s < t_end]
    out = []
    for a, b, s, e in _overlaps(ivs):
        t0 = group.cluster.t0
        det = ["journal lines around it:"]
        for c in group.contenders:
            if c.id in (a, b):
                det += ["  " + x for x in journal_excerpt(c, s - 2 * NS, e + NS, t0)]
        det.append("observer:")
        if group.cluster.observer:
            for c in group.contenders:
                if c.id in (a, b):
                    det += ["  " + x for x in group.cluster.observer.describe(
                        c.id, s - NS, e + NS, t0).splitlines()]
        kind = "journal-overlap"
        if any(s < we and e > ws for ws, we in exempt):
            kind = "finding"
        out.append(Violation(kind, "%s: %s and %s both %s for %s from %+.3fs "
                             "(journals)" % (group.name, a, b, "/".join(roles), fmt_ms(e - s),
                                             (s - t0) / NS), det))
    return out


def observer_runs(channel_samples, role_code, max_latency_ns=20 * MS):
    """Runs of consecutive samples answering role_code: [(first_mid, last_mid)]. A sample whose
    answer took longer than max_latency_ns does not extend a run (its instant is uncertain),
    any other sample ends it."""
    out = []
    cur = None
    for t0, t1, r, _ in channel_samples:
        fast = t1 - t0 <= max_latency_ns
        if r == role_code and fast:
            mid = (t0 + t1) // 2
            if cur is None:
                cur = [mid, mid]
            else:
                cur[1] = mid
        elif r == role_code:
            continue
        else:
            if cur is not None:
                out.append(tuple(cur))
                cur = None
    if cur is not None:
        out.append(tuple(cur))
    return out


def check_observer_overlap(group, observer, t_from=None, t_to=None, role="ACTIVE"):
    code = ROLE_CODES[role]
    ivs = collections.defaultdict(list)
    for c in group.contenders:
        for ch in observer.channels(c.id):
            for s, e in observer_runs(ch.snapshot(t_from, t_to), code):
                ivs[c.id].append((s, e + 1))
    out = []
    t0 = group.cluster.t0
    for a, b, s, e in _overlaps(ivs):
        det = []
        for c in group.contenders:
            if c.id in (a, b):
                det += observer.describe(c.id, s - NS, e + NS, t0).splitlines()
                det += journal_excerpt(c, s - 2 * NS, e + NS, t0)
        out.append(Violation("observer-overlap", "%s: observer saw %s and %s both %s for %s at "
                             "%+.3fs" % (group.name, a, b, role, fmt_ms(e - s), (s - t0) / NS),
                             det))
    return out


def check_agreement(group, observer, t_from=None, t_to=None):
    """Every answered sample agrees with the journal: the journal shows the sampled role at some
    instant while the request was out (ACTIVE exactly; other roles with 5 ms of slack after the
    answer, or 250 ms for a lease lapse that the answer saw before the timer journaled it); a
    socket ACTIVE answer carries the epoch of the journal's term."""
    out = []
    t0 = group.cluster.t0
    for c in group.contenders:
        lines = read_journal(c.journal_path)
        steps = role_steps(c, lines)
        epochs = [(s, e, ep) for s, e, ep, _ in claim_intervals(c, ("ACTIVE",), lines=lines,
                                                                  clip=False)]
        bad = []
        for ch in observer.channels(c.id):
            for a, b, r, ep in ch.snapshot(t_from, t_to):
                if r == 0:
                    continue
                role = CODE_ROLES.get(r)
                if r == BAD:
                    bad.append("%s %+.3fs: malformed answer" % (ch.kind, (a - t0) / NS))
                    continue
                if role == "ACTIVE":
                    seen = roles_within(steps, a - MS // 5, b + MS // 5)
                else:
                    seen = roles_within(steps, a - MS // 5, b + 5 * MS)
                    if role == "BECOMING_PASSIVE" and not (seen & {role}):
                        seen |= roles_within(steps, b, b + 250 * MS)
                if role not in seen:
                    bad.append("%s sample [%+.4fs, %+.4fs] answered %s; journal shows %s" % (
                        ch.kind, (a - t0) / NS, (b - t0) / NS, role,
                        sorted(map(str, seen))))
                elif role == "ACTIVE" and ch.kind == "sock":
                    eps = {ep2 for s, e, ep2 in epochs if s <= b + MS // 5 and e >= a - MS // 5}
                    if eps and ep not in eps:
                        bad.append("sock sample at %+.4fs: ACTIVE epoch %d, journal term epoch "
                                   "%s" % ((a - t0) / NS, ep, sorted(eps)))
        if bad:
            out.append(Violation("agreement", "%s: %d observer sample(s) of %s disagree with its "
                                 "journal" % (group.name, len(bad), c.id),
                                 bad[:8] + journal_excerpt(c, (t_from or 0), t_to or now_ns(),
                                                           t0)[-12:]))
    return out


def check_epochs(group, resets=(), exempt=()):
    """Every new term's epoch is greater than every earlier term's; one contender per epoch;
    no term re-entered after another term began. `resets`: times (ns) after which epochs may
    start over (a full ZooKeeper data wipe). A term below an earlier one, or re-entered, that
    begins inside one of the `exempt` windows [(start, end)] is returned with kind "finding"
    instead (one epoch claimed by two agents never is): while another client deletes
    latch nodes, an agent whose server lags learns of its node's deletion after the next leader
    claimed, so its claim, valid in ZooKeeper's order, can be journaled after a newer term began
    (docs/failover.md; see Group.third_party_windows)."""
    terms = []
    for c in group.contenders:
        for ln in read_journal(c.journal_path):
            if ln.get("to") in CLAIMS:
                terms.append((int(ln["mono_ns"]), c.id, int(ln.get("epoch") or 0), ln))
    terms.sort(key=lambda x: x[0])
    out = []
    seen = {}
    max_epoch = 0
    last = None
    bad_terms = set()
    resets = sorted(resets)
    t0 = group.cluster.t0
    for t, cid, ep, ln in terms:
        while resets and t >= resets[0]:
            resets.pop(0)
            seen, max_epoch, last = {}, 0, None
        desc = "%s %+.3fs %s -> %s epoch %d" % (cid, (t - t0) / NS, ln["from"], ln["to"], ep)

        def details():
            det = ["journal lines around it:"]
            for c in group.contenders:
                det += ["  " + x for x in journal_excerpt(c, t - NS, t + NS // 2, t0)]
            obs = group.cluster.observer
            if obs is not None:
                det.append("observer:")
                for c in group.contenders:
                    det += ["  " + x for x in obs.describe(c.id, t - NS, t + NS // 2,
                                                            t0).splitlines()]
            return det
        if ep <= 0:
            out.append(Violation("epoch", "%s: claim without an epoch: %s" % (group.name, desc)))
            continue
        if last == (cid, ep) or (cid, ep) in bad_terms:
            continue
        bad = None
        late = False  # an old term showing up late: what third-party deletes can cause
        if ep in seen:
            if seen[ep] != cid:
                bad = "%s: epoch %d claimed by %s and %s" % (group.name, ep, seen[ep], cid)
            else:
                bad = "%s: %s re-entered its old term %d after term %s" % (group.name, cid, ep,
                                                                         last)
                late = True
        elif ep <= max_epoch:
            bad = "%s: new term %d of %s not above an earlier term %d (%s)" % (
                group.name, ep, cid, max_epoch, desc)
            late = True
        if bad:
            # reported once; a bad term is no reference for the terms after it. One epoch
            # claimed by two agents is never exempt: no late delivery explains it.
            exempted = late and any(ws <= t < we for ws, we in exempt)
            kind = "finding" if exempted else "epoch"
            out.append(Violation(kind, bad, details()))
            bad_terms.add((cid, ep))
            continue
        seen.setdefault(ep, cid)
        max_epoch = max(max_epoch, ep)
        last = (cid, ep)
    return out


def _up_windows(contender, successes, t_to):
    """Windows [s, e) in which the contender must answer: from its first answer after a start
    (or 10 s after the start if it never answered) or 600 ms after a SIGCONT, until the next
    SIGTERM/SIGKILL/SIGSTOP/exit."""
    import bisect
    wins = []
    up_from = None
    for t, what in sorted(contender.lifecycle):
        if what == "start":
            k = bisect.bisect_left(successes, t)
            up_from = successes[k] if k < len(successes) else t + 10 * NS
        elif what == "cont":
            up_from = t + 600 * MS
        elif what in ("term", "kill", "stop", "exit"):
            if up_from is not None and t > up_from:
                wins.append((up_from, t))
            up_from = None
    if up_from is not None and t_to > up_from:
        wins.append((up_from, t_to))
    return wins


def check_responsive(group, observer, t_from=None, t_to=None, max_gap_ns=1500 * MS):
    """While a contender's process runs and is not stopped (and is not being terminated), each
    of its channels answers: no stretch without an answer longer than max_gap_ns."""
    out = []
    t_to = t_to or now_ns()
    t0 = group.cluster.t0
    for c in group.contenders:
        for ch in observer.channels(c.id):
            samples = ch.snapshot(t_from, t_to)
            if not samples:
                continue
            ok = [b for a, b, r, _ in samples if r != 0]
            wins = _up_windows(c, ok, t_to)
            marks = [samples[0][0]] + ok + [samples[-1][1]]
            worst = None
            for x, y in zip(marks, marks[1:]):
                if y - x <= max_gap_ns:
                    continue
                covered = sum(max(0, min(y, e) - max(x, s)) for s, e in wins)
                if covered > max_gap_ns and (worst is None or covered > worst[0]):
                    worst = (covered, x)
            if worst:
                out.append(Violation("responsive", "%s: %s/%s answered nothing for %s (from "
                                     "%+.3fs) while running" % (group.name, c.id, ch.kind,
                                                               fmt_ms(worst[0]),
                                                               (worst[1] - t0) / NS)))
    return out


def check_alive(group):
    out = []
    for c in group.contenders:
        rc = c.check_unexpected_exit()
        if rc is not None:
            out.append(Violation("crash", "%s: %s exited with %s without being asked; log:\n%s" % (
                group.name, c.id, rc, harness.tail(c.log_path, 30))))
    return out


# ============================================================================================
# Groups


class Group:
    """Contenders sharing one latch."""

    def __init__(self, cluster, name, root, session_ms, strict=True):
        self.cluster = cluster
        self.name = name
        # strict: violations fail the run; otherwise (a comparison contender such as the
        # Curator sidecar) they are recorded as findings
        self.strict = strict
        self.root = root
        self.session_ms = session_ms
        self.contenders = []
        self.epoch_resets = []
        # [start, end] around deletions of latch nodes by another client. Since the lock-delay
        # (docs/design.md) two claims at once are violations there too; what remains exempt is
        # the order of epochs as journals record them (a late delivery of a deleted leader's
        # last lines), reported as findings.
        self.third_party_windows = []

    @property
    def latch_path(self):
        return self.root.rstrip("/") + "/leader_elector_path"

    def report(self, v):
        if self.strict and v.kind != "finding":
            self.cluster.violate(v)
        else:
            self.cluster.find(v)

    def by_id(self, cid):
        for c in self.contenders:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def running(self):
        return [c for c in self.contenders if c.running]

    def answering(self):
        return [c for c in self.contenders if c.running and not c.paused]

    def active(self, since_ns=None):
        """The contender whose latest samples (both channels) say ACTIVE, or None."""
        since = since_ns if since_ns is not None else now_ns() - 50 * MS
        for c in self.answering():
            if self.cluster.observer.latest_role(c.id, since) == "ACTIVE":
                return c
        return None

    def roles_now(self, since_ns):
        return {c.id: self.cluster.observer.latest_role(c.id, since_ns) for c in self.answering()}

    def wait_settled(self, t_heal_ns, limit_s=None, stable_s=0.3, record=True):
        """Waits until exactly one answering contender is ACTIVE and all others PASSIVE (on
        every channel, for stable_s). Records a violation when that took longer than the session
        timeout + 2 s after t_heal_ns. Returns (active contender or None, settle time ns)."""
        bound = (self.session_ms + 2000) * MS
        limit = limit_s if limit_s is not None else (self.session_ms / 1000.0 + 15)
        deadline = now_ns() + int(limit * NS)
        ok_since = None
        ok_who = None
        while now_ns() < deadline:
            t = now_ns()
            roles = self.roles_now(t - 30 * MS)
            if any(v is False for v in roles.values()) or not roles:
                time.sleep(0.005)
                continue
            act = [k for k, v in roles.items() if v == "ACTIVE"]
            good = len(act) == 1 and all(v == "PASSIVE" for k, v in roles.items()
                                          if k != act[0])
            if good and ok_who == act[0]:
                if t - ok_since >= stable_s * NS:
                    ok_since = self._settled_since(t_heal_ns, ok_since, ok_who)
                    took = ok_since - t_heal_ns
                    if record and took > bound:
                        self.report(Violation(
                            "settle", "%s: exactly one ACTIVE only %s after the heal (bound: "
                            "session timeout + 2 s = %s)" % (self.name, fmt_ms(took),
                                                            fmt_ms(bound))))
                    return self.by_id(act[0]), ok_since
            elif good:
                ok_since, ok_who = t, act[0]
            else:
                ok_since, ok_who = None, None
            time.sleep(0.005)
        if record:
            self.report(Violation(
                "settle", "%s: no single ACTIVE within %.0f s of the heal; roles now %s" % (
                    self.name, limit, self.roles_now(now_ns() - 20 * MS)),
                [self.cluster.observer.describe(c.id, t_heal_ns, None, self.cluster.t0)
                 for c in self.contenders]))
        return None, None

    def _settled_since(self, t_heal_ns, t_seen, who):
        """When the final roles (who ACTIVE, every other answering contender PASSIVE) began:
        the end of the last sample of any channel that answered otherwise, between the heal and
        t_seen (the first time this process looked and saw them)."""
        t = t_heal_ns
        for c in self.answering():
            final = ROLE_CODES["ACTIVE" if c.id == who else "PASSIVE"]
            for ch in self.cluster.observer.channels(c.id):
                for a, b, r, _ in reversed(ch.snapshot(t_heal_ns, t_seen)):
                    if r != final:
                        t = max(t, b)
                        break
        return min(t, t_seen)

    def participants(self):
        """[(node name, participant id)] of the latch in order."""
        sh = self.cluster.shell()
        return [(n, pid) for n, pid, _, _ in sh.latch_participants(self.latch_path)]

    def check_orphans(self, limit_s=None):
        """The latch's children are exactly the running contenders, one each (waits, since a
        crashed contender's node lives until its session expires)."""
        want = sorted(c.id for c in self.running())
        limit = limit_s if limit_s is not None else self.session_ms / 1000.0 + 6
        deadline = time.monotonic() + limit
        got = None
        while True:
            try:
                got = sorted(pid for _, pid in self.participants())
                if got == want:
                    return []
            except Exception as e:  # noqa: BLE001 - ZooKeeper trouble: try again
                got = "error %s" % e
                self.cluster.reset_shell()
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        v = Violation("orphans", "%s: latch children %s, running contenders %s (after %.0f s)" % (
            self.name, got, want, limit), self._orphan_details())
        self.report(v)
        return [v]

    def _orphan_details(self):
        """Who owns what: every child's session, every contender's session, and what each
        ZooKeeper server says (a stale server would show a node the leader no longer has)."""
        out = []
        try:
            for name, pid, czxid, owner in self.cluster.shell().latch_participants(
                    self.latch_path):
                out.append("child %s data=%s czxid=%s ephemeralOwner=%s" % (
                    name, pid, czxid, owner))
        except Exception as e:  # noqa: BLE001
            out.append("listing failed: %s" % e)
        for c in self.running():
            sid = c.session_id() if hasattr(c, "session_id") else None
            out.append("contender %s session %s" % (c.id, hex(sid) if sid else sid))
        for s in self.cluster.ens.servers:
            if not s.running:
                continue
            try:
                stat = s.four_letter("stat") or ""
                mode = [x for x in stat.splitlines() if x.startswith(("Mode:", "Zxid:"))]
                out.append("%s %s" % (s.name, " ".join(mode)))
            except Exception as e:  # noqa: BLE001
                out.append("%s: %s" % (s.name, e))
        return out

    def take_baselines(self):
        for c in self.running():
            if c.kind != "latchd":
                continue
            r = c.resources()
            if r and r[0] is not None:
                c.baseline = r

    def check_resources(self, wait_s=6.0):
        """fds and threads of each running latchd agent back to its baseline."""
        out = []
        for c in self.running():
            if c.kind != "latchd" or c.paused:
                continue
            if c.baseline is None:
                r = c.resources()
                if r and r[0] is not None:
                    c.baseline = r
                continue
            b_fds, b_thr = c.baseline
            deadline = time.monotonic() + wait_s
            while True:
                r = c.resources()
                if r is None or r[0] is None:
                    break
                fds, thr = r
                if len(fds) <= len(b_fds) and thr == b_thr:
                    break
                if time.monotonic() > deadline:
                    v = Violation("resources", "%s: %s has %d fds (baseline %d) and %s threads "
                                  "(baseline %s)" % (self.name, c.id, len(fds), len(b_fds), thr,
                                                     b_thr),
                                  ["fds now %s; baseline %s" % (fd_kinds(fds), fd_kinds(b_fds)),
                                   "new: %s" % sorted(set(fds.values()) - set(b_fds.values()))[:20]])
                    out.append(v)
                    self.report(v)
                    break
                time.sleep(0.1)
        return out

    def check_safety(self, t_from=None, t_to=None):
        """The safety invariants over [t_from, t_to]: no two ACTIVE (journals, also for any
        claim, and observer), observer and journals agree, epochs grow, processes alive,
        interfaces answer."""
        obs = self.cluster.observer
        vs = []
        vs += check_journal_overlap(self, ("ACTIVE",), t_from, t_to)
        lease = all(c.lease_ns is not None for c in self.contenders)
        if lease:
            vs += check_journal_overlap(self, CLAIMS, t_from, t_to)
        vs += check_observer_overlap(self, obs, t_from, t_to)
        if all(c.kind == "latchd" for c in self.contenders):
            vs += check_agreement(self, obs, t_from, t_to)
            vs += check_epochs(self, self.epoch_resets, exempt=self.third_party_windows)
        vs += check_alive(self)
        vs += check_responsive(self, obs, t_from, t_to)
        for v in vs:
            self.report(v)
        return [v for v in vs if v.kind != "finding" and self.strict]


# ============================================================================================
# The cluster: ensemble + proxies + groups + observer + faults


class FaultCluster:
    """Owns the proxy hub, the groups and the observer; uses (does not own) the ensemble."""

    def __init__(self, ensemble, workdir, hub=None, observer_interval=0.0019):
        self.ens = ensemble
        self.workdir = workdir
        # The proxies, the observer threads and the test share one interpreter: hand the GIL
        # over quickly so that a busy thread does not delay the proxies' forwarding.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.hub = hub or ProxyHub()
        self._own_hub = hub is None
        self.groups = []
        self.observer = None
        self.observer_interval = observer_interval
        self.events = []  # (t_ns, text)
        self.violations = []
        self.findings = []
        self.t0 = now_ns()
        self._shell = None
        self._shell_n = 0
        self.fault_count = 0
        self.registered_logs = []  # (name, path)

    # -- bookkeeping --

    def note(self, text):
        t = now_ns()
        self.events.append((t, text))
        vlog("fault t=%+.3fs %s" % ((t - self.t0) / NS, text))
        return t

    def find(self, v):
        """Records something outside the model that is worth reporting but not a failure."""
        if any(str(v) == str(x) for x in self.findings):
            return
        self.findings.append(v)
        log("FINDING %s" % v.message)

    def violate(self, v):
        if any(str(v) == str(x) for x in self.violations):
            return
        self.violations.append(v)
        log("VIOLATION %s" % v)

    def event_log(self, t_from=None):
        return ["%+.3fs %s" % ((t - self.t0) / NS, x) for t, x in self.events
                if t_from is None or t >= t_from]

    def shell(self):
        if self._shell is None:
            self._shell_n += 1
            self._shell = harness.ZkShell(self.ens.connect_string(), self.workdir,
                                          name="faults-zkshell%d" % self._shell_n)
            self.registered_logs.append((self._shell.name, self._shell.log_path))
        return self._shell

    def reset_shell(self):
        if self._shell is not None:
            self._shell.close()
            self._shell = None

    def proxies_for(self, cid):
        return [self.hub.add(s.client_port, "%s->%s" % (cid, s.name)) for s in self.ens.servers]

    # -- groups --

    def add_latchd_group(self, name, root, ids, session_ms=4000, lease_margin=0.25,
                         extra_flags=()):
        g = Group(self, name, root, session_ms)
        for cid in ids:
            c = LatchdContender(cid, self.proxies_for(cid), self.workdir, root, session_ms,
                                lease_margin, extra_flags)
            g.contenders.append(c)
            self.registered_logs.append((c.agent.name, c.log_path))
        self.groups.append(g)
        return g

    def add_group(self, group):
        self.groups.append(group)
        return group

    def contenders(self):
        return [c for g in self.groups for c in g.contenders]

    def start(self, settle=True):
        """Starts every contender (in parallel), the observer, and waits for one ACTIVE per
        group."""
        harness.require_binaries()
        cs = self.contenders()
        for c in cs:
            c.start(wait=False)
        for c in cs:
            c.wait_ready(60)
        self.observer = FaultObserver(cs, interval=self.observer_interval)
        self.observer.start()
        self.observer.wait_sweeps(3)
        t = now_ns()
        if settle:
            for g in self.groups:
                g.wait_settled(t, limit_s=60, record=False)
                g.take_baselines()
        return self

    def stop(self):
        if self.observer:
            self.observer.stop()
        for c in self.contenders():
            try:
                if c.paused:
                    c.resume()
                if c.running:
                    c.terminate(10)
            except Exception as e:  # noqa: BLE001
                log("stopping %s: %s" % (c.id, e))
        self.reset_shell()
        if self._own_hub:
            self.hub.stop()

    # -- agent faults --

    def graceful_stop(self, c):
        t = self.note("SIGTERM %s" % c.id)
        rc = c.terminate(15)
        if rc != 0:
            self.violate(Violation("exit", "%s exited %s after SIGTERM (expected 0); log:\n%s" % (
                c.id, rc, harness.tail(c.log_path, 20))))
        self.note("%s exited %s" % (c.id, rc))
        return t

    def crash(self, c):
        t = self.note("SIGKILL %s" % c.id)
        c.kill()
        return t

    def restart(self, c, wait=True):
        t = self.note("start %s" % c.id)
        c.start(wait=wait)
        return t

    def partition(self, c):
        t = self.note("partition %s from all ZooKeeper servers" % c.id)
        for p in c.proxies:
            p.cut()
        return t

    def heal_partition(self, c):
        for p in c.proxies:
            p.heal()
        return self.note("heal partition of %s" % c.id)

    def reset_connections(self, c):
        n = sum(p.reset() or 0 for p in c.proxies)
        return self.note("reset %d ZooKeeper connection(s) of %s" % (n, c.id))

    def pause(self, c):
        c.pause()
        return self.note("SIGSTOP %s (stopped)" % c.id)

    def resume(self, c):
        t = self.note("SIGCONT %s" % c.id)
        c.resume()
        return t

    # -- ZooKeeper faults --

    def zk_leader(self):
        return self.ens.leader()

    def server_of(self, c):
        """The ZooKeeper server c is connected to now (the proxy with the most recently used
        live connection), or None."""
        best = None
        for p, s in zip(c.proxies, self.ens.servers):
            for opened, last in p.live_pipes():
                if best is None or last > best[0]:
                    best = (last, s)
        return best[1] if best else None

    def zk_kill(self, s):
        t = self.note("SIGKILL ZooKeeper %s (%s)" % (s.name, s.mode() if s.running else "down"))
        s.kill()
        return t

    def zk_term(self, s):
        t = self.note("SIGTERM ZooKeeper %s" % s.name)
        s.stop()
        return t

    def zk_start(self, s, wait=False):
        self.note("start ZooKeeper %s" % s.name)
        s.start(wait=wait)

    def zk_pause(self, s):
        os.kill(s.pid, signal.SIGSTOP)
        s._paused = True
        return self.note("SIGSTOP ZooKeeper %s" % s.name)

    def zk_resume(self, s):
        if getattr(s, "_paused", False):
            s._paused = False
            os.kill(s.pid, signal.SIGCONT)
            return self.note("SIGCONT ZooKeeper %s" % s.name)
        return now_ns()

    def zk_wait_serving(self, timeout=60):
        """Until every server runs, serves, and one of them leads. Returns the time."""
        self.ens.wait_serving(timeout)
        harness.wait_until(lambda: self.ens.leader() is not None and
                           len([s for s in self.ens.servers if s.serving()]) == len(self.ens),
                           timeout, "ZooKeeper ensemble serving with a leader", interval=0.05)
        return self.note("ZooKeeper ensemble serving (leader %s)" % self.ens.leader().name)

    def zk_restore(self, timeout=60):
        """Resumes paused servers, starts dead ones, waits until all serve."""
        for s in self.ens.servers:
            self.zk_resume(s)
        for s in self.ens.servers:
            if not s.running:
                self.zk_start(s)
        return self.zk_wait_serving(timeout)

    def lose_quorum(self, rng=None, include_leader=True):
        rng = rng or random.Random(0)
        leader = self.ens.leader()
        others = [s for s in self.ens.servers if s is not leader]
        if include_leader and leader is not None:
            victims = [leader, rng.choice(others)]
        else:
            victims = others[:2]
        t = self.note("quorum loss: SIGKILL %s" % ", ".join(s.name for s in victims))
        for s in victims:
            s.kill()
        return t

    def rolling_restart(self, timeout=60):
        t = self.note("rolling restart of the ensemble")
        order = sorted(self.ens.servers, key=lambda s: s is self.ens.leader())  # leader last
        for s in order:
            self.zk_term(s)
            self.zk_start(s)
            self.zk_wait_serving(timeout)
        return t

    def delete_latch_parent(self, group):
        """Another client deletes the latch parent: its children one by one (agents recreate
        theirs meanwhile), then the parent; again until the parent delete succeeds."""
        t = self.note("another client deletes %s" % group.latch_path)
        win = [t, now_ns() + 3600 * NS]
        group.third_party_windows.append(win)
        try:
            self._zk_retry(lambda sh: sh.rmr(group.latch_path))
        finally:
            win[1] = self.note("%s deleted" % group.latch_path) + 2 * NS
        return t

    def wipe_root(self, group):
        """Another client deletes every znode under the group's root (latch nodes, the latch
        parent, active_server_info) and the root."""
        t = self.note("another client wipes %s (every latch znode, active_server_info)" %
                      group.root)
        win = [t, now_ns() + 3600 * NS]
        group.third_party_windows.append(win)
        try:
            self._zk_retry(lambda sh: sh.rmr(group.root))
        finally:
            win[1] = self.note("%s wiped" % group.root) + 2 * NS
        return t

    def _zk_retry(self, fn, attempts=60):
        """Runs fn(shell); on NotEmpty (agents recreate nodes while a recursive delete runs)
        at once again, on other errors with a fresh shell after 0.5 s."""
        last = None
        for _ in range(attempts):
            try:
                return fn(self.shell())
            except harness.ZkError as e:
                last = e
                if e.rc == harness.RC_NOTEMPTY:
                    self.note("recursive delete: %s (agents recreated nodes); again" % e)
                    continue
                self.reset_shell()
                time.sleep(0.5)
            except Exception as e:  # noqa: BLE001
                last = e
                self.reset_shell()
                time.sleep(0.5)
        raise last

    def heal_all(self, restart_dead=True):
        """Undoes every fault: proxies healed, contenders resumed (and restarted when
        restart_dead), ZooKeeper servers resumed/started. Returns the heal time (the ensemble
        serving and every contender answering), or None when there was nothing to undo."""
        acted = False
        for p in self.hub.proxies:
            if p.is_cut or p.refusing:
                p.heal()
                acted = True
        for c in self.contenders():
            if c.paused:
                self.resume(c)
                acted = True
        need_zk = any(not s.running or getattr(s, "_paused", False) for s in self.ens.servers)
        if need_zk:
            self.zk_restore()
            acted = True
        if restart_dead:
            for c in self.contenders():
                if not c.running:
                    c.check_unexpected_exit()
                    self.restart(c, wait=False)
                    acted = True
            for c in self.contenders():
                c.wait_ready(60)
        t = self.note("healed" if acted else "nothing left to heal")
        return t if acted else None

    # -- checks --

    def check_after_heal(self, t_heal, t_from=None, check_settle=True):
        """Convergence and safety checks after every fault was healed: exactly one ACTIVE per
        group within session timeout + 2 s, no orphans, no leaks, the safety invariants."""
        res = {}
        for g in self.groups:
            if check_settle:
                act, t_ok = g.wait_settled(t_heal)
                res[g.name] = (act, t_ok)
            g.check_orphans()
            g.check_resources()
            g.check_safety(t_from)
        return res


# ============================================================================================
# Scenarios (each takes the cluster and a group list; the fault hits every group at once)


def wait_new_active(group, old, t_from, timeout_s):
    """Waits until a contender other than old is ACTIVE (observer). Returns it or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for c in group.answering():
            if c is not old and group.cluster.observer.latest_role(c.id, t_from) == "ACTIVE":
                return c
        time.sleep(0.003)
    return None


def answer_intervals(contender, roles=("ACTIVE",), t_end=None, clip=True):
    """claim_intervals minus the windows in which every thread of the process was stopped
    (SIGSTOP, confirmed in /proc): a stopped process computes no answer."""
    ivs = [(s, e) for s, e, _, _ in claim_intervals(contender, roles, t_end, clip=clip)]
    stops = []
    t_stop = None
    for t, what in sorted(contender.lifecycle):
        if what == "stop":
            t_stop = t
        elif what in ("cont", "exit") and t_stop is not None:
            stops.append((t_stop, t))
            t_stop = None
    if t_stop is not None:
        stops.append((t_stop, t_end or now_ns()))
    for ws, we in stops:
        nxt = []
        for s, e in ivs:
            if e <= ws or s >= we:
                nxt.append((s, e))
                continue
            if s < ws:
                nxt.append((s, ws))
            if e > we:
                nxt.append((we, e))
        ivs = nxt
    return ivs


def first_claim_after(group, t_from, exclude=None, role="ACTIVE"):
    """(t, contender id) of the first journaled start of `role` after t_from by a contender
    other than exclude."""
    best = None
    for c in group.contenders:
        if exclude is not None and c.id == exclude:
            continue
        for s, e, ep, _ in claim_intervals(c, (role,)):
            if s >= t_from and (best is None or s < best[0]):
                best = (s, c.id)
    return best


def end_of_claim(contender, t_at, role="ACTIVE", t_to=None):
    """End (ns) of the contender's `role` interval that contains t_at (journal, clipped), or
    t_at if it was not in that role then; None if still open."""
    for s, e, ep, why in claim_intervals(contender, (role,), t_to):
        if s <= t_at <= e:
            return None if why == "open" else e
    return t_at


def measure(group, old, t_fault, t_to=None):
    """Failover figures for one group after a fault at t_fault that hit its ACTIVE `old`:
    new_active_ms (first journaled ACTIVE elsewhere), old_stop_ms (end of old's ACTIVE
    interval that contained the fault), overlap_ms (journal: two ACTIVE at once), observer
    overlap, old's time not ACTIVE (journal) and whether leadership moved."""
    t_to = t_to or now_ns()
    out = {}
    fc = first_claim_after(group, t_fault, exclude=old.id)
    out["new_active_ms"] = (fc[0] - t_fault) / MS if fc else None
    out["new_active_id"] = fc[1] if fc else None
    e = end_of_claim(old, t_fault, t_to=t_to)
    out["old_stop_ms"] = (e - t_fault) / MS if e is not None else None
    ivs = {c.id: [(max(s, t_fault), min(e2, t_to)) for s, e2 in answer_intervals(c, ("ACTIVE",),
                                                                                  t_to)
                  if e2 > t_fault and s < t_to]
           for c in group.contenders}
    out["overlap_ms"] = overlap_length(ivs) / MS
    out["no_active_ms"] = (t_to - t_fault - union_length(
        [iv for v in ivs.values() for iv in v])) / MS
    obs = group.cluster.observer
    oivs = collections.defaultdict(list)
    for c in group.contenders:
        for ch in obs.channels(c.id):
            for s, e2 in observer_runs(ch.snapshot(t_fault - 50 * MS, t_to), ROLE_CODES["ACTIVE"]):
                oivs[c.id].append((s, e2 + 1))
    out["observer_overlap_ms"] = overlap_length(oivs) / MS
    old_ivs = [(max(s, t_fault), min(e2, t_to)) for s, e2 in ivs.get(old.id, [])]
    out["old_not_active_ms"] = (t_to - t_fault - union_length(
        [x for x in old_ivs if x[1] > x[0]])) / MS
    # observer's view of the same: time old answered anything but ACTIVE (no answer counts)
    notact = 0
    for ch in obs.channels(old.id)[:1]:
        prev = None
        for a, b, r, _ in ch.snapshot(t_fault, t_to):
            mid = (a + b) // 2
            if prev is not None and prev[1] != ROLE_CODES["ACTIVE"]:
                notact += mid - prev[0]
            prev = (mid, r)
    out["observer_old_not_active_ms"] = notact / MS
    # the observer's view of when old stopped claiming: its last ACTIVE answer before its
    # first answer that was not ACTIVE (or no answer) after the fault; None if it never stopped
    stops = []
    for ch in obs.channels(old.id):
        last = None
        stopped = False
        for a, b, r, _ in ch.snapshot(t_fault, t_to):
            if a < t_fault:
                continue
            if r == ROLE_CODES["ACTIVE"]:
                last = b
            else:
                stopped = True
                break
        if stopped:
            stops.append((last - t_fault) if last is not None else 0)
    out["observer_old_last_active_ms"] = max(stops) / MS if stops else None
    return out


# ============================================================================================
# Seeded random schedules

FAULT_KINDS = [
    # name, weight
    ("agent_sigterm", 3), ("agent_sigkill", 3), ("agent_sigkill_restart", 2),
    ("agent_partition", 3), ("agent_reset", 2), ("agent_pause", 3),
    ("zk_kill_connected", 2), ("zk_kill_leader", 2), ("zk_term", 1), ("zk_pause", 1),
    ("quorum_loss", 1), ("rolling_restart", 1), ("delete_latch_parent", 1), ("wipe_root", 1),
]
AGENT_FAULTS = {"agent_sigterm", "agent_sigkill", "agent_sigkill_restart", "agent_partition",
                "agent_reset", "agent_pause"}
EXCLUSIVE = {"quorum_loss", "rolling_restart"}  # not combined with another fault


class Schedule:
    """A seeded list of rounds; each round is 1-2 faults with their parameters. The schedule
    depends only on the seed, the number of rounds and the session timeout, so a seed replays
    exactly (targets are symbolic: 'the ACTIVE', 'a PASSIVE #k', 'the ZooKeeper leader')."""

    def __init__(self, seed, rounds, session_ms=4000, exclude=()):
        self.seed = seed
        self.rng = random.Random(seed)
        self.exclude = sorted(exclude)
        T = session_ms / 1000.0
        kinds = [k for k, w in FAULT_KINDS for _ in range(w) if k not in exclude]
        self.rounds = []
        for i in range(rounds):
            first = self.rng.choice(kinds)
            faults = [self._params(first, T)]
            if first not in EXCLUSIVE and self.rng.random() < 0.35:
                second = self.rng.choice([k for k in kinds if k not in EXCLUSIVE])
                p = self._params(second, T)
                p["delay"] = round(self.rng.uniform(0.0, 1.5 * T), 3)
                faults.append(p)
            self.rounds.append(faults)

    def _params(self, kind, T):
        r = self.rng
        p = {"kind": kind, "delay": 0.0}
        if kind in AGENT_FAULTS:
            p["target"] = "active" if r.random() < 0.7 else "passive%d" % r.randrange(2)
        if kind == "agent_sigkill_restart":
            p["down"] = round(r.choice([0.0, r.uniform(0, T), r.uniform(T, 2 * T)]), 3)
        elif kind in ("agent_partition", "agent_pause"):
            p["duration"] = round(r.choice([r.uniform(0.2, 0.8 * T), r.uniform(T, 2.2 * T)]), 3)
        elif kind == "agent_sigterm":
            p["down"] = round(r.uniform(0.2, T), 3)
        elif kind == "agent_sigkill":
            p["down"] = round(r.uniform(T, 2 * T), 3)
        elif kind in ("zk_kill_connected", "zk_kill_leader", "zk_term"):
            p["down"] = round(r.uniform(0.5, 2 * T), 3)
        elif kind == "zk_pause":
            p["duration"] = round(r.uniform(0.5, 2 * T), 3)
            p["which"] = r.choice(["leader", "connected", "follower"])
        elif kind == "quorum_loss":
            p["duration"] = round(r.uniform(0.5, 2.5 * T), 3)
            p["include_leader"] = r.random() < 0.6
        return p

    def describe(self):
        out = ["seed %d: %d rounds%s" % (self.seed, len(self.rounds), (
            " (without %s)" % ", ".join(self.exclude)) if self.exclude else "")]
        for i, faults in enumerate(self.rounds):
            out.append("  round %d: %s" % (i + 1, "; ".join(
                ", ".join("%s=%s" % (k, v) for k, v in f.items()) for f in faults)))
        return "\n".join(out)


def _pick_target(group, spec, since):
    act = group.active(since) or None
    if spec == "active" and act is not None:
        return act
    passives = [c for c in group.answering() if c is not act]
    if not passives:
        return act
    k = int(spec[len("passive"):]) if spec.startswith("passive") else 0
    return passives[k % len(passives)]


def run_fault(cluster, group, f, rng, stop_event=None):
    """Applies one fault of a schedule; returns a list of undo callables to run at heal (in
    order), each returning nothing. Faults with a duration schedule their own undo through the
    returned list too (run_round waits for the longest)."""
    kind = f["kind"]
    undo = []
    since = now_ns() - 50 * MS
    if kind in AGENT_FAULTS:
        c = _pick_target(group, f["target"], since)
        if c is None or not c.running or c.paused:
            cluster.note("skip %s: no target" % kind)
            return undo, 0.0
        if kind == "agent_sigterm":
            cluster.graceful_stop(c)
            return [lambda c=c: cluster.restart(c, wait=False)], f["down"]
        if kind == "agent_sigkill":
            cluster.crash(c)
            return [lambda c=c: cluster.restart(c, wait=False)], f["down"]
        if kind == "agent_sigkill_restart":
            cluster.crash(c)
            if f["down"] <= 0:
                cluster.restart(c, wait=False)
                return [], 0.0
            return [lambda c=c: cluster.restart(c, wait=False)], f["down"]
        if kind == "agent_partition":
            cluster.partition(c)
            return [lambda c=c: cluster.heal_partition(c)], f["duration"]
        if kind == "agent_reset":
            cluster.reset_connections(c)
            return [], 0.0
        if kind == "agent_pause":
            cluster.pause(c)
            return [lambda c=c: cluster.resume(c)], f["duration"]
    ens = cluster.ens
    if kind in ("zk_kill_connected", "zk_kill_leader", "zk_term"):
        if kind == "zk_kill_leader":
            s = ens.leader()
        elif kind == "zk_kill_connected":
            act = group.active(since)
            s = cluster.server_of(act) if act else None
        else:
            s = rng.choice([x for x in ens.servers if x.running] or [None])
        live = [x for x in ens.servers if x.running and not getattr(x, "_paused", False)]
        if s is None or not s.running or len(live) < 3:
            cluster.note("skip %s: no target" % kind)
            return undo, 0.0
        (cluster.zk_term if kind == "zk_term" else cluster.zk_kill)(s)
        return [lambda s=s: cluster.zk_start(s)], f["down"]
    if kind == "zk_pause":
        live = [x for x in ens.servers if x.running and not getattr(x, "_paused", False)]
        if len(live) < 3:
            cluster.note("skip zk_pause: ensemble already degraded")
            return undo, 0.0
        if f["which"] == "leader":
            s = ens.leader()
        elif f["which"] == "connected":
            act = group.active(since)
            s = cluster.server_of(act) if act else None
        else:
            fol = ens.followers()
            s = fol[0] if fol else None
        if s is None:
            cluster.note("skip zk_pause: no target")
            return undo, 0.0
        cluster.zk_pause(s)
        return [lambda s=s: cluster.zk_resume(s)], f["duration"]
    if kind == "quorum_loss":
        cluster.lose_quorum(rng, f["include_leader"])
        return [lambda: None], f["duration"]  # heal_all restarts them
    if kind == "rolling_restart":
        cluster.rolling_restart()
        return [], 0.0
    if kind in ("delete_latch_parent", "wipe_root"):
        live = [x for x in ens.servers if x.running and not getattr(x, "_paused", False)]
        if len(live) < 2:
            cluster.note("skip %s: no quorum" % kind)
            return undo, 0.0
        try:
            if kind == "delete_latch_parent":
                cluster.delete_latch_parent(group)
            else:
                cluster.wipe_root(group)
        except Exception as e:  # noqa: BLE001
            cluster.note("%s failed: %s" % (kind, e))
        return [], 0.0
    raise ValueError("unknown fault %s" % kind)


def run_round(cluster, group, faults, rng):
    """Runs one round: the faults (the second after its delay), waits for their durations,
    heals everything, then checks convergence. Returns (t_start, t_heal)."""
    t_start = cluster.note("round: %s" % [f["kind"] for f in faults])
    pending = []  # (due time, undo fns)
    t_first = time.monotonic()
    for f in faults:
        wait = t_first + f.get("delay", 0.0) - time.monotonic()
        if wait > 0:
            # undo anything due meanwhile
            _sleep_running_undos(pending, wait)
        undos, dur = run_fault(cluster, group, f, rng)
        cluster.fault_count += 1
        pending.append((time.monotonic() + dur, undos))
    t_last = now_ns()
    while pending:
        pending.sort(key=lambda x: x[0])
        due, undos = pending.pop(0)
        left = due - time.monotonic()
        if left > 0:
            time.sleep(left)
        for u in undos:
            try:
                u()
            except Exception as e:  # noqa: BLE001
                cluster.note("undo failed: %r" % e)
        t_last = now_ns()
    t_heal = cluster.heal_all(restart_dead=True)
    return t_start, t_heal if t_heal is not None else t_last


def _sleep_running_undos(pending, wait):
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        pending.sort(key=lambda x: x[0])
        if pending and pending[0][0] <= time.monotonic() + left:
            due, undos = pending[0]
            if due > time.monotonic():
                time.sleep(min(left, due - time.monotonic()))
            if due <= time.monotonic():
                pending.pop(0)
                for u in undos:
                    try:
                        u()
                    except Exception:  # noqa: BLE001
                        pass
                continue
        time.sleep(min(left, 0.05))


def seed_from_env(default=None):
    s = os.environ.get("LATCHD_FAULT_SEED")
    if s:
        return int(s)
    if default is not None:
        return default
    return random.SystemRandom().randrange(1, 2 ** 31)
