"""Clients of the agent against live agents on a standalone ZooKeeper: every latchctl command
(exit codes and output), the Java example docs/java/LatchdStatus.java, and the example server
examples/gated_server built against an installed latchd CMake package."""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import log, wait_until

SESSION_MS = 3000
REPO = harness.REPO_ROOT
ROLE_LINE_RE = re.compile(r"^(PASSIVE|BECOMING_ACTIVE|ACTIVE|BECOMING_PASSIVE) epoch=(\d+) "
                          r"leader=(\S+)$")


class LineReader:
    """Collects a child's stdout lines on a thread; waits on them with deadlines."""

    def __init__(self, proc, name):
        self.proc = proc
        self.name = name
        self.lines = []
        self._cv = threading.Condition()
        self._done = False
        self._t = threading.Thread(target=self._run, daemon=True, name="reader-" + name)
        self._t.start()

    def _run(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self._cv:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._done = True
            self._cv.notify_all()

    def wait_line(self, pred, timeout, what, start=0):
        """The first line at index >= start that satisfies pred, and its index."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for i in range(start, len(self.lines)):
                    if pred(self.lines[i]):
                        return i, self.lines[i]
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    raise AssertionError("%s: no line with %s within %.1f s (eof=%s); lines: %r"
                                         % (self.name, what, timeout, self._done, self.lines))
                self._cv.wait(min(left, 0.2))

    def wait_eof(self, timeout):
        self._t.join(timeout)
        return not self._t.is_alive()


def tcp_request(port, line, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(line.encode() + b"\n")
        data = b""
        while b"\n" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def run(argv, timeout, cwd=None):
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("%s failed (exit %d) after %.1f s:\n%s\n%s" % (
            " ".join(argv), r.returncode, time.monotonic() - t0, r.stdout[-3000:],
            r.stderr[-3000:]))
    return r


class ClientExamplesTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def setUp(self):
        super().setUp()
        self.root = "/latchd-ce-%s" % self._testMethodName

    # -- helpers --

    def ctl(self, *args, timeout=15.0):
        r = harness.run_latchctl(list(args), timeout=timeout)
        harness.vlog("latchctl %s -> %d %r %r" % (" ".join(args), r.returncode, r.stdout,
                                                   r.stderr))
        return r

    def sock(self, agent):
        return "--socket=%s" % agent.socket_path

    def two_agents(self, **kw):
        connect = self.zk.connect_string()
        a1 = self.start_agent("c1", connect, zk_root=self.root, session_timeout_ms=SESSION_MS,
                              **kw)
        wait_until(lambda: a1.http_status() == "ACTIVE", 15, "c1 ACTIVE")
        a2 = self.start_agent("c2", connect, zk_root=self.root, session_timeout_ms=SESSION_MS,
                              **kw)
        self.wait_one_active([a1, a2], timeout=15)
        return a1, a2

    def one_stderr_line(self, r):
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "want one stderr line, got %r" % r.stderr)
        return lines[0]

    def start_watch(self, agent, *flags):
        argv = [harness.latchctl_path(), "watch", self.sock(agent)] + list(flags)
        log_path = os.path.join(self.tmp, "watch-%s-%d.err" % (agent.id, len(self._logs)))
        p = harness.spawn(argv, "latchctl-watch-%s" % agent.id, log_path,
                          stdout=subprocess.PIPE)
        self.addCleanup(p.stdout.close)  # cleanups run last-first: after the stop
        self.addCleanup(harness.stop_process, p, 5)
        self.register_log("latchctl watch %s" % agent.id, log_path)
        return p, LineReader(p, "watch-%s" % agent.id), log_path

    # -- latchctl --

    def test_1_latchctl_commands(self):
        a1, a2 = self.two_agents()
        epoch = a1.status()["epoch"]

        # status: the role word; --json: the agent's line.
        for a, word in ((a1, "ACTIVE"), (a2, "PASSIVE")):
            r = self.ctl("status", self.sock(a))
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, word + "\n", ""))
        r = self.ctl("status", "--json", self.sock(a1))
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual((st["role"], st["id"], st["epoch"]), ("ACTIVE", "c1", epoch))
        # Flags before the command and the environment variable work too.
        r = subprocess.run([harness.latchctl_path(), "status"], capture_output=True,
                                   text=True, timeout=10,
                                   env=dict(os.environ, LATCHD_SOCKET=a2.socket_path))
        self.assertEqual(r.stdout, "PASSIVE\n", r.stderr)

        # is-active: silent, exit code only.
        r = self.ctl("is-active", self.sock(a1))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        r = self.ctl("is-active", self.sock(a2))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", ""))
        missing = os.path.join(self.tmp, "missing.sock")
        r = self.ctl("is-active", "--socket=%s" % missing)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", ""))
        r = self.ctl("is-active", "--json", self.sock(a2))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["role"], "PASSIVE")

        # status on a missing socket: exit 1, one line naming the path.
        r = self.ctl("status", "--socket=%s" % missing)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn(missing, self.one_stderr_line(r))

        # leader, from the follower's point of view.
        r = self.ctl("leader", self.sock(a2))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "id=c1 address=%s epoch=%d\n" % (a1.advertise, epoch))
        r = self.ctl("leader", "--json", self.sock(a2))
        self.assertEqual(json.loads(r.stdout), {"id": "c1", "address": a1.advertise,
                                                "epoch": epoch})

        # participants: ids in latch order (the follower reads ids lazily: wait for them).
        def participants():
            r = self.ctl("participants", self.sock(a1))
            return r.returncode == 0 and r.stdout == "c1\nc2\n" and r
        wait_until(participants, 10, "participants c1, c2 in order")
        r = self.ctl("participants", "--json", self.sock(a1))
        self.assertEqual(json.loads(r.stdout)["participants"], ["c1", "c2"])

        # ack on an agent that does not wait for one: refused, exit 1, one line.
        r = self.ctl("ack", str(epoch + 1000), self.sock(a1))
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn("ack", self.one_stderr_line(r))

        # digest needs no agent.
        want = "bob:" + base64.b64encode(hashlib.sha1(b"bob:s3cret").digest()).decode()
        r = self.ctl("digest", "bob:s3cret")
        self.assertEqual((r.returncode, r.stdout), (0, want + "\n"))

        # help lists every command.
        for argv in (["--help"], ["help"]):
            r = self.ctl(*argv)
            self.assertEqual(r.returncode, 0)
            for cmd in ("status", "is-active", "watch", "leader", "participants", "yield",
                        "ack EPOCH", "digest", "find-active"):
                self.assertIn(cmd, r.stdout)

        # Bad usage: exit 2, a message and the usage line on stderr, nothing on stdout.
        for argv in ([], ["frobnicate"], ["status", "extra"], ["ack"], ["ack", "x"],
                     ["ack", "-3"], ["status", "--frob"], ["status", "--timeout_ms=0"],
                     ["status", "--servers=http://x"], ["digest"], ["find-active"],
                     ["find-active", "--servers=https://127.0.0.1:1"],
                     ["find-active", "--servers=ftp://x"]):
            with self.subTest(argv=argv):
                r = self.ctl(*(argv + [self.sock(a1)]))
                self.assertEqual(r.returncode, 2, (argv, r.stdout, r.stderr))
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("latchctl: "), r.stderr)
        r = self.ctl("find-active", "--servers=https://127.0.0.1:1")
        self.assertIn("https is not supported", r.stderr)

        # yield: the ACTIVE steps down; the other takes over.
        r = self.ctl("yield", self.sock(a1))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^yielded; role now (PASSIVE|BECOMING_PASSIVE)\n$")
        self.assertIs(self.wait_one_active([a1, a2], timeout=15), a2)

    def test_2_latchctl_watch(self):
        a1, a2 = self.two_agents()
        w1, r1, _ = self.start_watch(a1)
        w2, r2, err2 = self.start_watch(a2)
        wj, rj, _ = self.start_watch(a2, "--json")
        _, first1 = r1.wait_line(lambda l: True, 10, "first line")
        _, first2 = r2.wait_line(lambda l: True, 10, "first line")
        m1, m2 = ROLE_LINE_RE.match(first1), ROLE_LINE_RE.match(first2)
        self.assertTrue(m1 and m2, (first1, first2))
        self.assertEqual((m1.group(1), m1.group(3)), ("ACTIVE", "c1"))
        self.assertEqual((m2.group(1), m2.group(3)), ("PASSIVE", "c1"))
        self.assertEqual(json.loads(rj.wait_line(lambda l: True, 10, "first")[1])["role"],
                         "PASSIVE")

        # yield of c1: c1's watch sees it step down, c2's watch sees it take over, in order.
        t0 = time.monotonic()
        self.assertEqual(self.ctl("yield", self.sock(a1)).returncode, 0)
        i, _ = r1.wait_line(lambda l: l.startswith("BECOMING_PASSIVE "), 10, "BECOMING_PASSIVE")
        r1.wait_line(lambda l: l.startswith("PASSIVE "), 10, "PASSIVE", start=i + 1)
        i, _ = r2.wait_line(lambda l: l.startswith("BECOMING_ACTIVE "), 10, "BECOMING_ACTIVE")
        _, line = r2.wait_line(lambda l: l.startswith("ACTIVE "), 10, "ACTIVE", start=i + 1)
        log("watch saw c2 ACTIVE %.0f ms after yield: %r" % ((time.monotonic() - t0) * 1000,
                                                             line))
        self.assertTrue(line.endswith(" leader=c2"), line)
        _, jline = rj.wait_line(lambda l: json.loads(l)["role"] == "ACTIVE", 10, "ACTIVE json")
        self.assertEqual(json.loads(jline)["leader"]["id"], "c2")

        # Stopping c2: its watches print the step-down, then exit 1 with one stderr line.
        a2.stop()
        r2.wait_line(lambda l: l.startswith("PASSIVE "), 10, "PASSIVE before exit")
        self.assertTrue(r2.wait_eof(10), "watch did not exit")
        self.assertEqual(w2.wait(10), 1)
        self.assertEqual(wj.wait(10), 1)
        with open(err2) as f:
            err = [l for l in f.read().splitlines() if l.strip()]
        self.assertEqual(len(err), 1, err)
        self.assertIn("closed the connection", err[0])
        self.assertIsNone(w1.poll(), "c1's watch must keep running")

    def test_3_find_active(self):
        a1, a2 = self.two_agents()
        url1 = "http://127.0.0.1:%d" % a1.http_port
        url2 = "http://127.0.0.1:%d" % a2.http_port
        bogus = "http://127.0.0.1:%d" % harness.free_port()
        for servers in ((url1, url2), (url2, url1), (bogus, url2 + "/", url1)):
            r = self.ctl("find-active", "--servers=" + ",".join(servers), "--retries=1",
                         "--timeout_ms=1000")
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, url1 + "\n", ""), servers)
        r = self.ctl("find-active", "--servers=%s,%s" % (url2, url1), "--json", "--retries=1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"active": url1,
                                                "answers": {url2: "PASSIVE", url1: "ACTIVE"}})

        # None ACTIVE: every round is tried, then exit 1 naming each server's answer.
        t0 = time.monotonic()
        r = self.ctl("find-active", "--servers=%s,%s" % (bogus, url2), "--retries=3",
                     "--retry_interval_ms=200", "--timeout_ms=500")
        took = time.monotonic() - t0
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        line = self.one_stderr_line(r)
        log("find-active without an ACTIVE server: %.2f s, %r" % (took, line))
        self.assertIn("3 rounds", line)
        self.assertIn(bogus + " -> error:", line)
        self.assertIn(url2 + " -> PASSIVE", line)
        self.assertGreaterEqual(took, 0.4)  # two pauses between three rounds

        # A server that accepts but never answers: bounded by --timeout_ms.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        t0 = time.monotonic()
        r = self.ctl("find-active", "--servers=http://127.0.0.1:%d" % silent.getsockname()[1],
                     "--retries=1", "--timeout_ms=300")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(took, 3.0)
        self.assertIn("within 300 ms", r.stderr)

        # The failover case: the ACTIVE stops, find-active finds the new one.
        a1.stop()
        wait_until(lambda: a2.http_status() == "ACTIVE", 15, "c2 ACTIVE")
        r = self.ctl("find-active", "--servers=%s,%s" % (url1, url2), "--retries=2",
                     "--retry_interval_ms=100", "--timeout_ms=500")
        self.assertEqual((r.returncode, r.stdout), (0, url2 + "\n"), r.stderr)

    def test_4_ack_handshake(self):
        a = self.start_agent("h1", self.zk.connect_string(), zk_root=self.root,
                             session_timeout_ms=SESSION_MS,
                             extra_flags=["--activation_ack_timeout_ms=20000"])
        st = wait_until(lambda: (lambda s: s["role"] == "BECOMING_ACTIVE" and s)(a.status()),
                        15, "h1 BECOMING_ACTIVE")
        r = self.ctl("is-active", self.sock(a))
        self.assertEqual(r.returncode, 1)
        r = self.ctl("ack", str(st["epoch"] + 1), self.sock(a))
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.one_stderr_line(r)
        r = self.ctl("ack", str(st["epoch"]), self.sock(a))
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)
        wait_until(lambda: a.http_status() == "ACTIVE", 10, "h1 ACTIVE after ack")
        self.assertEqual(self.ctl("is-active", self.sock(a)).returncode, 0)

    # -- Java example --

    def test_5_java_example(self):
        if not shutil.which("javac"):
            self.skipTest("javac not installed")
        a1, a2 = self.two_agents()
        classes = os.path.join(self.tmp, "java")
        os.makedirs(classes)
        run(["javac", "-d", classes, os.path.join(REPO, "docs", "java", "LatchdStatus.java")],
            timeout=180)
        java = ["java", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", classes, "LatchdStatus"]
        for a, word in ((a1, "ACTIVE"), (a2, "PASSIVE")):
            r = subprocess.run(java + [self.sock(a)], capture_output=True, text=True, timeout=60)
            log("java LatchdStatus on %s: exit %d %r" % (a.id, r.returncode, r.stdout))
            self.assertEqual((r.returncode, r.stdout.strip()), (0, word), r.stderr)
        r = subprocess.run(java + ["--socket=%s" % os.path.join(self.tmp, "none.sock")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)

        # watch mode: the current role, then the change when c1 stops; exit 1 when c2 goes.
        log_path = os.path.join(self.tmp, "java-watch.log")
        p = harness.spawn(java + ["watch", self.sock(a2)], "java-watch", log_path,
                          stdout=subprocess.PIPE)
        self.addCleanup(p.stdout.close)
        self.addCleanup(harness.stop_process, p, 5)
        self.register_log("java-watch", log_path)
        reader = LineReader(p, "java-watch")
        reader.wait_line(lambda l: l.startswith("PASSIVE epoch="), 30, "PASSIVE")
        a1.stop()
        reader.wait_line(lambda l: l.startswith("ACTIVE epoch="), 15, "ACTIVE after c1 stop")
        a2.stop()
        self.assertEqual(p.wait(10), 1)

    # -- the example server, built against the installed package --

    def install_package(self):
        """Installs latchd::client into a temp prefix: `cmake --install` of the project's build
        when it has the package's install rules, else a client-only build (cmake/client)."""
        prefix = os.path.join(self.tmp, "prefix")
        build = os.path.dirname(os.path.abspath(harness.bin_dir()))
        rules = os.path.join(build, "cmake_install.cmake")
        has_rules = False
        if os.path.isfile(rules):
            with open(rules) as f:
                has_rules = "latchdTargets" in f.read()
        t0 = time.monotonic()
        if has_rules:
            run(["cmake", "--build", build, "--target", "latchd_client"], timeout=600)
            # Only the client component: the daemon's component has absolute destinations (/etc).
            run(["cmake", "--install", build, "--prefix", prefix, "--component", "client"],
                timeout=120)
            how = "cmake --install %s" % build
        else:
            pkg = os.path.join(self.tmp, "pkg-build")
            run(["cmake", "-S", os.path.join(REPO, "cmake", "client"), "-B", pkg], timeout=120)
            run(["cmake", "--build", pkg, "-j2"], timeout=600)
            run(["cmake", "--install", pkg, "--prefix", prefix, "--component", "client"],
                timeout=120)
            how = "client-only build (the project's build has no install rules for the package)"
        log("package installed in %.1f s via %s" % (time.monotonic() - t0, how))
        for rel in ("include/latchd/lib/client/role_client.h",
                    "include/latchd/lib/client/client_status.h", "include/latchd/lib/core/role.h",
                    "include/latchd/lib/util/status.h"):
            self.assertTrue(os.path.isfile(os.path.join(prefix, rel)), rel)
        return prefix

    def start_gated_server(self, name, agent, store):
        exe = os.path.join(self.examples_build, "gated_server", "gated_server")
        port = harness.free_port()
        log_path = os.path.join(self.tmp, "%s.log" % name)
        p = harness.spawn([exe, self.sock(agent), "--port=%d" % port, "--store=%s" % store],
                          name, log_path)
        self.addCleanup(harness.stop_process, p, 5)
        self.register_log(name, log_path)
        wait_until(lambda: tcp_request(port, "ROLE", 1.0).startswith("ROLE "), 10,
                   "%s answering" % name)
        return p, port

    def test_6_gated_server_from_installed_package(self):
        prefix = self.install_package()
        self.examples_build = os.path.join(self.tmp, "examples-build")
        t0 = time.monotonic()
        run(["cmake", "-S", os.path.join(REPO, "examples"), "-B", self.examples_build,
             "-DCMAKE_PREFIX_PATH=%s" % prefix], timeout=120)
        run(["cmake", "--build", self.examples_build, "-j2"], timeout=600)
        log("examples built against the package in %.1f s" % (time.monotonic() - t0))

        store = os.path.join(self.tmp, "meta.log")
        connect = self.zk.connect_string()
        flags = ["--activation_ack_timeout_ms=20000"]
        g1 = self.start_agent("g1", connect, zk_root=self.root, session_timeout_ms=SESSION_MS,
                              extra_flags=flags)
        # g1 waits in BECOMING_ACTIVE for an ack: the server's activation sends it.
        wait_until(lambda: g1.status()["role"] == "BECOMING_ACTIVE", 15, "g1 BECOMING_ACTIVE")
        s1, port1 = self.start_gated_server("gated-g1", g1, store)
        wait_until(lambda: g1.http_status() == "ACTIVE", 15, "g1 ACTIVE after the server's ack")
        e1 = g1.status()["epoch"]
        answer = wait_until(lambda: (lambda a: a.startswith("OK") and a)(
            tcp_request(port1, "PUT model v1")), 5, "write accepted on g1's server")
        self.assertEqual(answer, "OK epoch=%d" % e1)
        self.assertEqual(tcp_request(port1, "GET model"), "VALUE v1 epoch=%d" % e1)

        g2 = self.start_agent("g2", connect, zk_root=self.root, session_timeout_ms=SESSION_MS,
                              extra_flags=flags)
        s2, port2 = self.start_gated_server("gated-g2", g2, store)
        self.wait_one_active([g1, g2], timeout=15)
        self.assertEqual(tcp_request(port2, "PUT model v2"), "ERR not active (PASSIVE)")

        # Failover: g1 stops; g2's server reloads the store, fences it, acks; writes go there.
        g1.stop()
        self.assertTrue(tcp_request(port1, "PUT model v3").startswith("ERR not active"))
        wait_until(lambda: g2.http_status() == "ACTIVE", 20, "g2 ACTIVE after g1 stopped")
        e2 = g2.status()["epoch"]
        self.assertGreater(e2, e1)
        self.assertEqual(wait_until(lambda: (lambda a: a.startswith("VALUE") and a)(
            tcp_request(port2, "GET model")), 5, "g2 serves"), "VALUE v1 epoch=%d" % e1)
        self.assertEqual(tcp_request(port2, "PUT model v4"), "OK epoch=%d" % e2)
        with open(store) as f:
            records = [l.split("\t") for l in f.read().splitlines()]
        self.assertEqual([r[1:] for r in records if r[1]], [["model", "v1"], ["model", "v4"]])
        self.assertIn([str(e2), "", ""], records, "g2 fenced the store with its epoch")


if __name__ == "__main__":
    unittest.main(verbosity=2)
