"""Command line: bad flags, and credentials that could never work (issue 13: a misspelt auth
scheme, an auth: ACL without credentials, a sasl: auth without SASL settings, a missing keytab,
password file or certificate, a Kerberized Atlas properties file without its keytab), are
refused before anything touches ZooKeeper; an unreachable ZooKeeper at start is waited for;
latchctl status."""

import os
import re
import signal
import socket
import time
import unittest
from xml.etree import ElementTree

import harness
import secure_zk
from harness import RC_NONODE, log, wait_until


class CliTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def test_1_bad_flags(self):
        connect = self.zk.connect_string()
        common = ["--zk_session_timeout_ms=3000"]
        # (name, flags, the flag the message must name, zk_root used or None)
        plain = os.path.join(self.tmp, "not-executable")
        with open(plain, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(plain, 0o644)
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
            # The server binding (docs/operations.md): contradictions and what cannot work.
            ("probe timeout above its interval",
             ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=/cli-probe-t",
              "--health_url=http://127.0.0.1:21000/", "--health_interval_ms=200",
              "--health_timeout_ms=500"], "health_timeout_ms", "/cli-probe-t"),
            ("probe URL that does not parse",
             ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=/cli-probe-u",
              "--health_url=http//127.0.0.1"], "health_url", "/cli-probe-u"),
            ("probe program not executable",
             ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=/cli-probe-x",
              "--health_exec=%s" % plain], "health_exec", "/cli-probe-x"),
            ("hold timeout without --server_hold",
             ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=/cli-hold-t",
              "--hold_timeout_ms=1000"], "hold_timeout_ms", "/cli-hold-t"),
        ]
        for name, flags, flag, root in cases:
            with self.subTest(case=name):
                self.assert_refused_at_start(
                    name, flags + common,
                    r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(flag))
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

    def test_7_credentials_that_can_never_work(self):
        """Issue 13, item 4: each is exit 2 at once with one line naming what is wrong, and
        nothing is written to ZooKeeper (the case's root znode does not exist afterwards)."""
        connect = self.zk.connect_string()
        tmp = self.tmp

        def write(name, text, mode=0o600):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
            return path

        missing = lambda name: os.path.join(tmp, "missing", name)  # noqa: E731
        typo_auth = write("typo.auth", "digets:atlas:Secret-pw\n")
        sasl_auth = write("sasl.auth", "sasl:atlas@EXAMPLE.COM\n")
        pki = secure_zk.Pki(os.path.join(tmp, "pki"))
        _, client_key = pki.issue("client", "latchd-client")
        atlas_port = harness.free_port()

        def atlas_file(name, root, extra):
            return write(name, "\n".join([
                "atlas.server.ha.enabled=true",
                "atlas.server.ids=id1",
                "atlas.server.address.id1=127.0.0.1:%d" % atlas_port,
                "atlas.enableTLS=false",
                "atlas.server.http.port=%d" % atlas_port,
                "atlas.server.ha.zookeeper.connect=%s" % connect,
                "atlas.server.ha.zookeeper.zkroot=%s" % root,
                "atlas.server.ha.zookeeper.acl=sasl:atlas@EXAMPLE.COM",
                "atlas.server.ha.zookeeper.auth=sasl:atlas@EXAMPLE.COM"] + extra) + "\n", 0o640)

        kerberized = atlas_file("kerberized.properties", "/cli-atlas-keytab", [
            "atlas.jaas.Client.loginModuleName=com.sun.security.auth.module.Krb5LoginModule",
            "atlas.jaas.Client.loginModuleControlFlag=required",
            "atlas.jaas.Client.option.useKeyTab=true",
            "atlas.jaas.Client.option.storeKey=true",
            "atlas.jaas.Client.option.keyTab=%s" % missing("atlas.service.keytab"),
            "atlas.jaas.Client.option.principal=atlas/_HOST@EXAMPLE.COM"])
        no_jaas = atlas_file("no-jaas.properties", "/cli-atlas-nojaas", [])

        q = re.escape
        # (name, flags, zk_root, regex the one stderr line must match)
        cases = [
            ("misspelt auth scheme", ["--zk_auth_file=" + typo_auth], "/cli-auth-typo",
             r"^latchd: --zk_auth_file: unknown scheme \"digets\""),
            ("auth: ACL without an auth file", ["--zk_acl=auth:"], "/cli-auth-acl",
             r"^latchd: --zk_acl: auth: grants the creator's authenticated ids, and latchd has "
             r"none"),
            ("sasl: auth without SASL settings", ["--zk_auth_file=" + sasl_auth,
                                                  "--zk_acl=sasl:atlas@EXAMPLE.COM"],
             "/cli-sasl-auth",
             r"^latchd: --zk_auth_file: sasl:atlas@EXAMPLE\.COM needs the SASL settings: "
             r"--zk_sasl_mechanism=GSSAPI with --zk_sasl_keytab"),
            ("missing keytab", ["--zk_sasl_mechanism=GSSAPI",
                                "--zk_sasl_keytab=" + missing("latchd.keytab")], "/cli-keytab",
             r"^latchd: --zk_sasl_keytab: %s does not exist$" % q(missing("latchd.keytab"))),
            ("missing password file", ["--zk_sasl_mechanism=DIGEST-MD5", "--zk_sasl_user=latchd",
                                       "--zk_sasl_password_file=" + missing("latchd.password")],
             "/cli-password",
             r"^latchd: --zk_sasl_password_file: %s does not exist$" %
             q(missing("latchd.password"))),
            ("missing certificate", ["--zk_tls_ca=" + pki.ca_cert,
                                     "--zk_tls_cert=" + missing("client.pem"),
                                     "--zk_tls_key=" + client_key], "/cli-cert",
             r"^latchd: --zk_tls_cert: %s does not exist$" % q(missing("client.pem"))),
            ("Kerberized Atlas properties without its keytab",
             ["--atlas_properties=" + kerberized], "/cli-atlas-keytab",
             r"^latchd: atlas\.jaas\.Client\.option\.keyTab in %s: %s does not exist$" % (
                 q(kerberized), q(missing("atlas.service.keytab")))),
            ("Kerberized Atlas properties without a JAAS section",
             ["--atlas_properties=" + no_jaas], "/cli-atlas-nojaas",
             r"^latchd: atlas\.server\.ha\.zookeeper\.auth in %s: sasl:atlas@EXAMPLE\.COM needs "
             r"the SASL settings: atlas\.jaas\.Client\.\* in %s \(loginModuleName=" % (
                 q(no_jaas), q(no_jaas))),
        ]
        for name, flags, root, pattern in cases:
            with self.subTest(case=name):
                if not any(f.startswith("--atlas_properties=") for f in flags):
                    flags = flags + ["--id=a1", "--zk_connect=%s" % connect, "--zk_root=%s" % root]
                line = self.assert_refused_at_start(name, flags, pattern)
                self.assertNotIn("Secret-pw", line, "%s: the message shows the secret" % name)
        # Nothing in ZooKeeper: no case's root exists.
        sh = self.zk_shell(connect)
        for name, flags, root, pattern in cases:
            self.assertIsNone(sh.exists(root), "%s: %s was created" % (name, root))


if __name__ == "__main__":
    unittest.main(verbosity=2)
