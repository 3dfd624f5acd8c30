"""Slow and idle HTTP clients cannot take `/active` away from the load balancer (issue 13, item 2).

One ACTIVE agent on a standalone ZooKeeper, started with RLIMIT_NOFILE's soft limit at 1024 (as
systemd gives it) so that the agent has to raise it itself. The test process then holds

  - 2,000 idle keep-alive connections: each sends one `GET /healthz`, reads the answer and stays
    open (a pool of monitoring clients);
  - 1,100 trickling connections: each sends one byte of a request head every 2 s and never ends
    the head (Slowloris). A trickler the agent closes (408 or eviction) connects again at once, so
    1,100 of them are trickling all the time;

and, for 10 s, polls `GET /active` on a fresh connection every 200 ms, as HAProxy's health check
does. Every answer must be 200 within 1 s (the worst latency is reported); the 2,000 idle clients
must all still be connected at the end (they fit under the agent's connection limit), and the
tricklers must have been answered 408 (the head deadline). The agent's VmRSS under that load is
reported and must stay under 64 MiB. Every socket of the test is closed in a cleanup, every
process stopped by pid (harness.py).
"""

import os
import resource
import selectors
import socket
import threading
import time

import harness
from harness import LatchdTestCase, log, wait_until

IDLE_CLIENTS = 2000
TRICKLE_CLIENTS = 1100
TRICKLE_PERIOD_S = 2.0
POLL_SECONDS = 10.0
POLL_INTERVAL_S = 0.2
ANSWER_DEADLINE_S = 1.0
RSS_LIMIT_KIB = 64 * 1024
SYSTEMD_SOFT_NOFILE = 1024

TICK_S = 0.05
SLOTS = int(round(TRICKLE_PERIOD_S / TICK_S))  # tricklers are spread over these ticks
# A head that never ends: a request line and then a header growing by one byte a send.
TRICKLE_HEAD = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 4096


class _Client:
    __slots__ = ("kind", "sock", "index", "sent", "buf", "answered")

    def __init__(self, kind, index):
        self.kind = kind  # "idle" or "trickle"
        self.index = index
        self.sock = None
        self.sent = 0  # trickle: bytes of TRICKLE_HEAD sent
        self.buf = b""
        self.answered = False  # idle: its one answer arrived


class SlowClients(threading.Thread):
    """The idle and trickling clients, on one selector thread. Counts what the agent does to
    them; stop() closes every socket."""

    def __init__(self, port):
        super().__init__(daemon=True, name="slow-clients")
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error = None
        self.idle = [_Client("idle", i) for i in range(IDLE_CLIENTS)]
        self.trickle = [_Client("trickle", i) for i in range(TRICKLE_CLIENTS)]
        self.reopen = []  # clients to connect again at the next tick
        # Counters (read under lock by the test thread).
        self.idle_answered = 0      # idle clients that have their answer and are open
        self.idle_closed = 0        # idle connections the agent closed
        self.trickle_open = 0
        self.trickle_408 = 0        # tricklers answered 408
        self.trickle_closed = 0     # trickler connections closed by the agent (any way)
        self.connect_errors = 0

    def counts(self):
        with self.lock:
            return dict(idle_answered=self.idle_answered, idle_closed=self.idle_closed,
                        trickle_open=self.trickle_open, trickle_408=self.trickle_408,
                        trickle_closed=self.trickle_closed, connect_errors=self.connect_errors)

    def _open(self, c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", self.port))
        if err not in (0, 115):  # EINPROGRESS
            s.close()
            with self.lock:
                self.connect_errors += 1
            self.reopen.append(c)
            return
        c.sock, c.sent, c.buf, c.answered = s, 0, b"", False
        if c.kind == "idle":
            self.sel.register(s, selectors.EVENT_WRITE, c)  # send the request once connected
        else:
            self.sel.register(s, selectors.EVENT_READ, c)
            with self.lock:
                self.trickle_open += 1

    def _closed_by_agent(self, c, got):
        self.sel.unregister(c.sock)
        c.sock.close()
        c.sock = None
        with self.lock:
            if c.kind == "idle":
                if c.answered:
                    self.idle_answered -= 1
                self.idle_closed += 1
            else:
                self.trickle_open -= 1
                self.trickle_closed += 1
                if got.startswith(b"HTTP/1.1 408"):
                    self.trickle_408 += 1
        self.reopen.append(c)

    def _on_event(self, c, mask):
        if c.kind == "idle" and mask & selectors.EVENT_WRITE:
            try:
                c.sock.send(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            except OSError:
                return self._closed_by_agent(c, b"")
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return self._closed_by_agent(c, c.buf)
        c.buf += data
        if c.kind == "idle" and not c.answered and b"\r\n\r\n" in c.buf:
            if not c.buf.startswith(b"HTTP/1.1 200"):
                raise AssertionError("idle client got %r" % c.buf[:80])
            c.answered = True
            with self.lock:
                self.idle_answered += 1

    def _trickle_tick(self, tick):
        for c in self.trickle[tick % SLOTS::SLOTS]:
            if c.sock is None or c.sent >= len(TRICKLE_HEAD):
                continue
            try:
                c.sock.send(TRICKLE_HEAD[c.sent:c.sent + 1])
                c.sent += 1
            except (BlockingIOError, OSError):
                pass  # not connected yet, or closed: the read side will tell

    def run(self):
        try:
            for c in self.idle + self.trickle:
                self._open(c)
            tick = 0
            next_tick = time.monotonic()
            while not self.stopping.is_set():
                timeout = max(0.0, next_tick - time.monotonic())
                for key, mask in self.sel.select(timeout):
                    self._on_event(key.data, mask)
                if time.monotonic() >= next_tick:
                    self._trickle_tick(tick)
                    tick += 1
                    next_tick += TICK_S
                    again, self.reopen = self.reopen, []
                    for c in again:
                        self._open(c)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
            log("slow clients failed: %s: %s" % (type(e).__name__, e))

    def stop(self):
        self.stopping.set()
        self.join(10)
        for c in self.idle + self.trickle:
            if c.sock is not None:
                c.sock.close()
                c.sock = None
        self.sel.close()


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_files_limit(pid):
    """(soft, hard) "Max open files" of pid, from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                parts = line.split()
                return int(parts[3]), int(parts[4])
    raise AssertionError("no Max open files line for pid %d" % pid)


class SlowClientsTest(LatchdTestCase):
    def setUp(self):
        super().setUp()
        harness.require_binaries()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = IDLE_CLIENTS + TRICKLE_CLIENTS + 500
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        self.nofile_hard = hard

    def start_agent_like_systemd(self, zk):
        """The agent with RLIMIT_NOFILE soft limit 1024 and the test's hard limit, as systemd
        starts services; the test process itself then gets its soft limit raised to the hard
        one for its 3,100 sockets."""
        hard = self.nofile_hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (SYSTEMD_SOFT_NOFILE, hard))
        try:
            agent = self.start_agent("slow1", zk.connect_string(), zk_root="/slow-clients")
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return agent

    def test_active_answers_under_slow_and_idle_clients(self):
        t_test = time.monotonic()
        zk = self.start_zk()
        agent = self.start_agent_like_systemd(zk)
        wait_until(lambda: agent.http_status() == "ACTIVE", 15, "slow1 ACTIVE")
        soft, hard = open_files_limit(agent.pid)
        log("agent RLIMIT_NOFILE soft %d, hard %d (started with soft %d)" % (
            soft, hard, SYSTEMD_SOFT_NOFILE))
        if soft != hard:
            self.defer_failure("latchd did not raise its RLIMIT_NOFILE soft limit (%d, hard %d)"
                               % (soft, hard))
        elif "RLIMIT_NOFILE soft limit raised from %d" % SYSTEMD_SOFT_NOFILE not in \
                agent.log_tail(200):
            self.defer_failure("latchd raised RLIMIT_NOFILE without saying so in its log")

        load = SlowClients(agent.http_port)
        self.addCleanup(load.stop)
        load.start()
        try:
            wait_until(lambda: (load.error is None and
                                load.counts()["idle_answered"] >= IDLE_CLIENTS and
                                load.counts()["trickle_open"] >= TRICKLE_CLIENTS) or load.error,
                       20, "2,000 idle clients answered and 1,100 tricklers connected")
        except AssertionError as e:
            log("load not fully up: %s; counts %s" % (e, load.counts()))
        if load.error:
            raise load.error
        # One trickle period more, so every trickler is in the middle of a head.
        time.sleep(TRICKLE_PERIOD_S)
        before = load.counts()
        log("load up after %.1f s: %s" % (time.monotonic() - t_test, before))

        results = []  # (latency s or None, status or error text)
        t_end = time.monotonic() + POLL_SECONDS
        next_poll = time.monotonic()
        rss_max = 0
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            try:
                status, _, body = harness.http_get("127.0.0.1", agent.http_port, "/active",
                                                   timeout=ANSWER_DEADLINE_S)
                results.append((time.monotonic() - t0, "%d %s" % (status, body.decode().strip())))
            except (OSError, ValueError) as e:
                results.append((None, "%s: %s" % (type(e).__name__, e)))
            rss_max = max(rss_max, vm_rss_kib(agent.pid))
            next_poll += POLL_INTERVAL_S
            time.sleep(max(0.0, next_poll - time.monotonic()))
        after = load.counts()
        if load.error:
            raise load.error

        answered = [lat for lat, what in results if lat is not None and what.startswith("200")]
        worst = max((lat for lat, _ in results if lat is not None), default=None)
        bad = [(lat, what) for lat, what in results
               if lat is None or lat > ANSWER_DEADLINE_S or not what.startswith("200")]
        log("/active: %d polls, %d answered 200, worst latency %s, failures %s" % (
            len(results), len(answered),
            "%.1f ms" % (worst * 1000) if worst is not None else "none", bad[:5]))
        log("agent VmRSS max %.1f MiB under the load; counts at the end %s" % (
            rss_max / 1024.0, after))
        log("test took %.1f s" % (time.monotonic() - t_test))

        self.assertEqual(bad, [], "/active did not answer 200 within %.1f s every time" %
                         ANSWER_DEADLINE_S)
        self.assertGreaterEqual(len(results), int(POLL_SECONDS / POLL_INTERVAL_S) - 5)
        self.assertGreater(after["trickle_408"], before["trickle_408"],
                           "no trickler was answered 408 while polling: no head deadline?")
        self.assertEqual(after["idle_closed"], 0,
                         "idle keep-alive clients were closed: they should fit under the limit")
        self.assertGreaterEqual(after["idle_answered"], IDLE_CLIENTS)
        self.assertLess(rss_max, RSS_LIMIT_KIB, "agent VmRSS %.1f MiB" % (rss_max / 1024.0))
        self.assert_no_deferred()


if __name__ == "__main__":
    import unittest
    unittest.main()
