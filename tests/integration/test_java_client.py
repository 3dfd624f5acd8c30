"""The Java client (java/: latchd-client.jar, io.latchd.client and io.latchd.servlet) against
real latchd agents on a real ZooKeeper: this test builds the jar and the JUnit 5 tests with
java/build.sh (offline, Debian's jars), starts ZooKeeper and three pairs of agents through the
harness, and runs Debian's JUnit console launcher with the agents' sockets as system
properties:

  latchd.it.plain   two agents                                  (AgentIT: status, isActive, yield)
  latchd.it.ack     two agents with --activation_ack_timeout_ms (AgentIT: the ack path, a failed
                                                                 activation is not acked)
  latchd.it.gate    two agents with --server_hold, each advertising the URL of a Jetty that the
                    JUnit test starts with ActiveGateFilter      (JettyGateIT: refuse/redirect on
                    the PASSIVE, failover after a lost hold and after SIGTERM, no two accepting)

A harness Observer polls the gate agents' roles meanwhile (no two ACTIVE at once). Skipped only
when Java (java, javac) is missing."""

import os
import shutil
import subprocess
import time
import unittest

import harness
from harness import log

SESSION_MS = 4000
ACK_TIMEOUT_MS = 3000
JAVA_DIR = os.path.join(harness.REPO_ROOT, "java")


def java_out_dir():
    """build/java beside the binaries under test (CTest: <build>/java), else <repo>/build/java."""
    if os.environ.get("LATCHD_BIN_DIR"):
        return os.path.join(os.path.dirname(os.path.abspath(os.environ["LATCHD_BIN_DIR"])), "java")
    return os.path.join(harness.REPO_ROOT, "build", "java")


class JavaClientTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        if not (shutil.which("java") and shutil.which("javac")):
            raise unittest.SkipTest("Java (java, javac) not installed")
        harness.require_binaries()
        cls.out = java_out_dir()
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(JAVA_DIR, "build.sh"), cls.out], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("java/build.sh failed:\n%s%s" % (r.stdout, r.stderr))
        log("java/build.sh: %.1f s" % (time.monotonic() - t0))
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def test_example_compiles(self):
        """examples/java-gated-server/GatedServer.java against the jar just built."""
        j = harness.jar
        cp = ":".join([os.path.join(self.out, "latchd-client.jar"), j("servlet-api.jar"),
                       j("jetty9-server.jar"), j("jetty9-servlet.jar"), j("jetty9-util.jar")])
        src = os.path.join(harness.REPO_ROOT, "examples", "java-gated-server", "GatedServer.java")
        r = subprocess.run(["javac", "-Xlint:all,-path", "-Werror", "-cp", cp, "-d",
                            os.path.join(self.tmp, "example"), src],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def agents(self, prefix, extra, advertise=None):
        agents = []
        for i in (1, 2):
            kw = {}
            if advertise:
                kw["advertise"] = advertise[i - 1]
            agents.append(self.make_agent("%s%d" % (prefix, i), self.zk.connect_string(),
                                          zk_root="/java-%s" % prefix,
                                          session_timeout_ms=SESSION_MS,
                                          extra_flags=extra, **kw))
        return agents

    def test_junit_against_real_agents(self):
        plain = self.agents("plain", [])
        ack = self.agents("ack", ["--activation_ack_timeout_ms=%d" % ACK_TIMEOUT_MS])
        ports = [harness.free_port(), harness.free_port()]
        gate = self.agents("gate", ["--server_hold"],
                           advertise=["http://127.0.0.1:%d" % p for p in ports])
        everyone = plain + ack + gate
        for a in everyone:
            a.start(wait=False)
        for a in everyone:
            a.wait_ready()
        obs = self.start_observer(gate)

        with open(os.path.join(self.out, "test-classpath.txt")) as f:
            cp = f.read().strip()
        launcher = harness.jar("junit-platform-console-standalone.jar")
        props = {
            "latchd.it.plain": ",".join(a.socket_path for a in plain),
            "latchd.it.ack": ",".join(a.socket_path for a in ack),
            "latchd.it.ackTimeoutMs": str(ACK_TIMEOUT_MS),
            "latchd.it.gate": ",".join(a.socket_path for a in gate),
            "latchd.it.gate.ports": ",".join(str(p) for p in ports),
            "latchd.it.gate.pids": ",".join(str(a.pid) for a in gate),
            "latchd.it.sessionMs": str(SESSION_MS),
        }
        argv = (["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"] +
                ["-D%s=%s" % kv for kv in sorted(props.items())] +
                ["-cp", launcher + ":" + cp, "org.junit.platform.console.ConsoleLauncher",
                 "--disable-banner", "--disable-ansi-colors", "--details=tree",
                 "--fail-if-no-tests", "--select-package=io.latchd", "--include-classname=.*(Test|IT)$",
                 "--reports-dir=%s" % os.path.join(self.tmp, "junit-reports")])
        log_path = os.path.join(self.tmp, "junit.log")
        self.register_log("junit", log_path)
        t0 = time.monotonic()
        p = harness.spawn(argv, "junit", log_path)
        try:
            rc = p.wait(240)
        except subprocess.TimeoutExpired:
            harness.kill_process(p)
            raise AssertionError("JUnit did not finish within 240 s:\n" + harness.tail(log_path))
        harness.stop_process(p)
        took = time.monotonic() - t0
        text = harness.tail(log_path, 200)
        for line in text.splitlines():
            if line.startswith(("AgentIT:", "JettyGateIT:")) or "tests successful" in line \
                    or "tests failed" in line or "tests skipped" in line:
                log(line.strip())
        log("JUnit: %.1f s, exit %d" % (took, rc))
        self.assertEqual(rc, 0, "JUnit failed:\n" + text)
        self.assertIn("JettyGateIT", text)
        skipped = [l for l in text.splitlines() if "tests skipped" in l]
        self.assertTrue(skipped and skipped[0].strip().startswith("[") and
                        skipped[0].split()[1] == "0", "no test may be skipped here: %s" % skipped)
        obs.stop()
        obs.assert_no_overlap()


if __name__ == "__main__":
    unittest.main()
