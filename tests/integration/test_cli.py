"""Command line: bad flags are refused before anything touches ZooKeeper; an unreachable
ZooKeeper at start is waited for; latchctl status."""

import os
import re
import signal
import socket
import time
import unittest
from xml.etree import ElementTree

import harness
from harness import RC_NONODE, log, wait_until


class CliTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def test_1_bad_flags(self):
        connect = self.zk.connect_string()
        sock = os.path.join(self.tmp, "bad.sock")
        common = ["--socket_path=%s" % sock, "--zk_session_timeout_ms=3000"]
        # (name, flags, the flag the message must name, zk_root used or None)
        cases = [
            ("missing --id", ["--zk_connect=%s" % connect, "--zk_root=/cli-noid"], "id",
             "/cli-noid"),
            ("missing --zk_connect", ["--id=a1", "--zk_root=/cli-noconnect"], "zk_connect",
             "/cli-noconnect"),
            ("--id with ','", ["--id=a,b", "--zk_connect=%s" % connect,
                               "--zk_root=/cli-comma"], "id", "/cli-comma"),
            ("--id with '/'", ["--id=a/b", "--zk_connect=%s" % connect,
                               "--zk_root=/cli-slash"], "id", "/cli-slash"),
            ("empty --id", ["--id=", "--zk_connect=%s" % connect, "--zk_root=/cli-emptyid"],
             "id", "/cli-emptyid"),
            ("unknown flag", ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=/cli-unknown",
                              "--frobnicate=1"], "frobnicate", "/cli-unknown"),
            ("bad --zk_acl", ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=/cli-acl",
                              "--zk_acl=nonsense"], "zk_acl", "/cli-acl"),
            ("number that is not one", ["--id=a1", "--zk_connect=%s" % connect,
                                        "--zk_root=/cli-nan", "--zk_session_timeout_ms=4000x"],
             "zk_session_timeout_ms", "/cli-nan"),
            ("bool that is not one", ["--id=a1", "--zk_connect=%s" % connect,
                                      "--zk_root=/cli-bool", "--logtostderr=maybe"],
             "logtostderr", "/cli-bool"),
        ]
        for name, flags, flag, root in cases:
            with self.subTest(case=name):
                t0 = time.monotonic()
                r = harness.run_latchd(flags + common, timeout=15)
                took = time.monotonic() - t0
                lines = [l for l in r.stderr.splitlines() if l.strip()]
                log("%s: exit %d in %.2f s, stderr %r" % (name, r.returncode, took, r.stderr))
                self.assertEqual(r.returncode, 2, "%s: exit code (stderr %r)" % (name,
                                                                                 r.stderr))
                self.assertEqual(len(lines), 1, "%s: want one stderr line, got %r" % (
                    name, r.stderr))
                self.assertRegex(lines[0], r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" %
                                 re.escape(flag), "%s: message must name --%s" % (name, flag))
                self.assertFalse(os.path.exists(sock), "%s: socket created" % name)
        # Nothing in ZooKeeper: no root of any case exists, and / holds only /zookeeper
        # (this module's other tests use their own roots and run later).
        sh = self.zk_shell(connect)
        for name, flags, flag, root in cases:
            r = sh.run("ls", root)
            self.assertEqual(r.rc, RC_NONODE, "%s: %s exists: %s" % (name, root, r.data))
        self.assertEqual(sh.ls("/"), ["zookeeper"])

    def test_2_zookeeper_unreachable_at_start(self):
        harness.require_binaries()
        zk = harness.ZkEnsemble(os.path.join(self.tmp, "zk-late"), size=1, tick_time=200)
        self.addCleanup(zk.stop)
        for name, path in zk.log_files():
            self.register_log(name, path)
        agent = self.start_agent("late", zk.connect_string(), zk_root="/latchd-late",
                                 session_timeout_ms=3000)
        self.assertEqual(agent.http_status(), "PASSIVE")
        st = agent.status()
        log("with ZooKeeper down: %s" % st)
        self.assertEqual(st["role"], "PASSIVE")
        self.assertNotEqual(st["zk"]["state"], "CONNECTED")
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            self.assertTrue(agent.running, "agent exited: %s" % agent.log_tail(20))
            self.assertEqual(agent.http_status(), "PASSIVE")
            time.sleep(0.1)
        t_up = time.monotonic()
        zk.start(wait=True)
        t_serving = time.monotonic()
        wait_until(lambda: agent.http_status() == "ACTIVE", 30,
                   "agent ACTIVE after ZooKeeper came up")
        t_active = time.monotonic()
        log("ZooKeeper started at t=0, serving at +%.2f s, agent ACTIVE at +%.2f s" % (
            t_serving - t_up, t_active - t_up))
        st = agent.status()
        self.assertEqual(st["zk"]["state"], "CONNECTED")
        self.assertEqual(st["role"], "ACTIVE")

    def test_3_latchctl_status(self):
        connect = self.zk.connect_string()
        a1 = self.start_agent("c1", connect, zk_root="/latchd-ctl", session_timeout_ms=3000)
        wait_until(lambda: a1.http_status() == "ACTIVE", 15, "c1 ACTIVE")
        a2 = self.start_agent("c2", connect, zk_root="/latchd-ctl", session_timeout_ms=3000)
        self.wait_one_active([a1, a2], timeout=10)
        for a, word in ((a1, "ACTIVE"), (a2, "PASSIVE")):
            r = harness.run_latchctl(["status", "--socket=%s" % a.socket_path])
            log("latchctl status --socket=<%s> -> exit %d, %r" % (a.id, r.returncode,
                                                                 r.stdout))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), word)
        missing = os.path.join(self.tmp, "no-such.sock")
        r = harness.run_latchctl(["status", "--socket=%s" % missing])
        log("latchctl status on a missing socket -> exit %d, stderr %r" % (r.returncode,
                                                                          r.stderr))
        self.assertEqual(r.returncode, 1)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertEqual(r.stdout.strip(), "")
        # A socket path that exists but nobody listens on (a stale socket file).
        stale = os.path.join(self.tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()
        r = harness.run_latchctl(["status", "--socket=%s" % stale])
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertEqual(len([l for l in r.stderr.splitlines() if l.strip()]), 1, r.stderr)

    def test_4_flagfile(self):
        connect = self.zk.connect_string()
        a = self.make_agent("ff", connect, zk_root="/latchd-flagfile", session_timeout_ms=3000)
        flagfile = os.path.join(self.tmp, "latchd.flags")
        with open(flagfile, "w") as f:
            f.write("# latchd flags\n" + "\n".join(a.flags()) + "\n")
        # Only --flagfile on the command line.
        a.flags = lambda: ["--flagfile=%s" % flagfile]
        a.start(wait=True)
        wait_until(lambda: a.http_status() == "ACTIVE", 15, "flagfile agent ACTIVE")
        st = a.status()
        self.assertEqual((st["id"], st["zk"]["timeout_ms"]), ("ff", 3000), st)
        sh = self.zk_shell(connect)
        self.assertEqual(sh.get("/latchd-flagfile/active_server_info")["data"], a.advertise)
        # An unknown flag inside a flagfile is refused like one on the command line.
        bad = os.path.join(self.tmp, "bad.flags")
        with open(bad, "w") as f:
            f.write("--id=x\n--zk_connect=%s\n--zk_root=/cli-badfile\n--no_such_flag=1\n"
                    % connect)
        r = harness.run_latchd(["--flagfile=%s" % bad,
                                "--socket_path=%s" % os.path.join(self.tmp, "b.sock")])
        log("unknown flag in a flagfile: exit %d, stderr %r" % (r.returncode, r.stderr))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len([l for l in r.stderr.splitlines() if l.strip()]), 1, r.stderr)
        self.assertIn("no_such_flag", r.stderr)
        self.assertEqual(sh.run("ls", "/cli-badfile").rc, RC_NONODE)

    def test_5_sigint_single_agent(self):
        connect = self.zk.connect_string()
        a = self.start_agent("int", connect, zk_root="/latchd-sigint", session_timeout_ms=3000)
        wait_until(lambda: a.http_status() == "ACTIVE", 15, "agent ACTIVE")
        sh = self.zk_shell(connect)
        self.assertEqual(len(sh.latch_children(a.latch_path)), 1)
        self.assertIsNotNone(sh.exists(a.info_path))
        t0 = time.monotonic()
        rc = a.stop(sig=signal.SIGINT)
        log("SIGINT: exit %s after %.1f ms" % (rc, (time.monotonic() - t0) * 1000))
        self.assertEqual(rc, 0, a.log_tail(10))
        # Its session is closed, not left to expire: the nodes are gone at once.
        self.assertEqual(sh.latch_children(a.latch_path), [])
        self.assertIsNone(sh.exists(a.info_path))

    def test_6_help(self):
        """--help lists latchd's own flags and no glog ones, exit 0; --helpfull lists every
        flag, latchd's first, exit 0. Flags come from --helpxml (gflags' own list)."""
        r = harness.run_latchd(["--helpxml"])
        root = ElementTree.fromstring(r.stdout)
        own, others = [], []
        for flag in root.iter("flag"):
            name = flag.findtext("name")
            if flag.findtext("file", "").endswith("agent/latchd/flags.cc"):
                own.append(name)
            else:
                others.append(name)
        self.assertIn("zk_connect", own)
        self.assertIn("logtostderr", others)

        for argv in (["--help"], ["-help"], ["--helpshort"]):
            with self.subTest(argv=argv):
                r = harness.run_latchd(argv)
                self.assertEqual((r.returncode, r.stderr), (0, ""), r.stdout)
                listed = re.findall(r"(?m)^  --([a-z0-9_]+)=", r.stdout)
                self.assertEqual(listed[:len(own)], sorted(own), r.stdout)
                self.assertEqual(sorted(listed[len(own):]), ["flagfile", "v"], r.stdout)
                self.assertNotIn("logtostderr", r.stdout)
                self.assertIn("--helpfull", r.stdout)

        r = harness.run_latchd(["--helpfull"])
        self.assertEqual((r.returncode, r.stderr), (0, ""), r.stdout[:500])
        listed = re.findall(r"(?m)^  --([a-z0-9_]+)=", r.stdout)
        self.assertEqual(listed[:len(own)], sorted(own), r.stdout[:2000])
        self.assertEqual(sorted(listed), sorted(own + others))
        self.assertLess(r.stdout.index("--zk_connect="), r.stdout.index("--logtostderr="))

        # An unknown flag is still refused first.
        r = harness.run_latchd(["--help", "--frobnicate"])
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertIn("frobnicate", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
