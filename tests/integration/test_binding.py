"""The server binding with real processes: latchd agents with --server_hold and probes, each
beside its own gated_server (examples/gated_server, `--hold`: RoleClient::Hold; `GET /health`
answered by its main loop), on a real ZooKeeper.

Each test runs an observer that polls every agent's socket and HTTP role every ~2 ms and fails
on any instant at which two agents claim ACTIVE; the latch never holds more than one node of an
agent. What a user checks: who is ACTIVE after the server of the ACTIVE host dies or hangs, how
fast, and that the agent says why (status `server`, metrics)."""

import os
import re
import signal
import time
import unittest

import harness
from harness import log, wait_until

SESSION_MS = 4000


def gated_server_path():
    return os.path.join(harness.bin_dir(), "gated_server")


class GatedServer:
    """One gated_server process (the "server" an agent stands for), started by pid."""

    def __init__(self, case, agent, store, hold=True):
        self.case = case
        self.agent = agent
        self.store = store
        self.hold = hold
        self.port = harness.free_port()
        self.log_path = os.path.join(case.tmp, "gated-%s.log" % agent.id)
        self.proc = None
        case.register_log("gated-%s" % agent.id, self.log_path)
        case.addCleanup(self.stop)

    @property
    def health_url(self):
        return "http://127.0.0.1:%d/health" % self.port

    def start(self):
        argv = [gated_server_path(), "--socket=%s" % self.agent.socket_path,
                "--port=%d" % self.port, "--store=%s" % self.store]
        if self.hold:
            argv.append("--hold")
        self.proc = harness.spawn(argv, "gated-%s" % self.agent.id, self.log_path)
        wait_until(lambda: self._answers(), 10, "gated_server of %s listening" % self.agent.id)
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("gated_server of %s exited: %s" % (self.agent.id,
                                                                    harness.tail(self.log_path)))
        try:
            code, _, _ = harness.http_get("127.0.0.1", self.port, "/health", timeout=0.5)
            return code == 200
        except (OSError, ValueError):
            return False

    def kill(self):
        t = time.monotonic()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return t

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        harness.stop_process(self.proc)


def metric(agent, name, labels=""):
    """The value of one series of the agent's /metrics (labels as Prometheus prints them)."""
    _, _, body = agent.http("/metrics")
    text = body.decode() if isinstance(body, bytes) else body
    series = name + ("{%s}" % labels if labels else "")
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError("no series %s in /metrics" % series)


class BindingTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        if not os.access(gated_server_path(), os.X_OK):
            raise unittest.SkipTest("gated_server not built")
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def group(self, ids, flags, hold=True, probe=False):
        """Agents with `flags`, each with a gated_server (probe: --health_url at it)."""
        store = os.path.join(self.tmp, "store.log")
        agents, servers = [], {}
        root = "/binding-%s" % self._testMethodName
        for i in ids:
            a = self.make_agent(i, self.zk.connect_string(), zk_root=root,
                                session_timeout_ms=SESSION_MS)
            s = GatedServer(self, a, store, hold=hold)
            a.extra_flags = list(flags) + (["--health_url=%s" % s.health_url] if probe else [])
            agents.append(a)
            servers[i] = s
        for a in agents:
            a.start(wait=False)
        for a in agents:
            a.wait_ready()
        # Nobody stands before its server is there.
        for a in agents:
            st = a.status()
            self.assertFalse(st["server"]["healthy"], st)
            self.assertEqual(st["role"], "PASSIVE")
        for s in servers.values():
            s.start()
        return agents, servers

    def latch_nodes_by_agent(self, agent):
        sh = self.zk_shell(self.zk.connect_string())
        counts = {}
        for _, data, _, _ in sh.latch_participants(agent.latch_path):
            counts[data] = counts.get(data, 0) + 1
        return counts

    def check_invariants(self, obs, agents):
        obs.assert_no_overlap()
        counts = self.latch_nodes_by_agent(agents[0])
        self.assertTrue(all(n == 1 for n in counts.values()), "an agent with two latch nodes: %s" %
                        counts)

    def wait_new_active(self, agents, old, timeout):
        others = [a for a in agents if a is not old]
        return wait_until(lambda: next((a for a in others if a.http_status() == "ACTIVE"), None),
                          timeout, "another agent than %s ACTIVE (roles %s)" % (
                              old.id, self.roles(agents)), interval=0.005)

    def test_1_server_sigkill_hands_over_at_once(self):
        agents, servers = self.group(["b1", "b2", "b3"], ["--server_hold"])
        old = self.wait_one_active(agents, timeout=20)
        self.assertEqual(old.status()["server"]["holds"], 1)
        obs = self.start_observer(agents)
        t = servers[old.id].kill()
        new = self.wait_new_active(agents, old, SESSION_MS / 1000.0)
        took = (time.monotonic() - t) * 1000
        log("server of the ACTIVE %s SIGKILLed: %s ACTIVE after %.0f ms (session %d ms)" % (
            old.id, new.id, took, SESSION_MS))
        self.assertLess(took, 1000, "leadership did not move within 1 s of the server's death")
        st = old.status()
        self.assertFalse(st["server"]["healthy"], st)
        self.assertEqual(st["role"], "PASSIVE")
        self.assertEqual(metric(old, "latchd_handovers_total", 'reason="server_unhealthy"'), 1)
        self.assertEqual(metric(old, "latchd_server_healthy"), 0)
        wait_until(lambda: old.id not in self.latch_nodes_by_agent(old), 5,
                   "%s to leave the latch" % old.id)
        self.wait_one_active(agents, timeout=5)
        self.check_invariants(obs, agents)
        r = old.latchctl("status")
        self.assertEqual(r.stdout.splitlines()[0], "PASSIVE", r.stdout)
        self.assertRegex(r.stdout.splitlines()[1], r"^server: unhealthy: no hold")

    def test_2_server_restart_returns_as_passive_and_takes_nothing(self):
        agents, servers = self.group(["r1", "r2"], ["--server_hold"])
        old = self.wait_one_active(agents, timeout=20)
        obs = self.start_observer(agents)
        servers[old.id].kill()
        new = self.wait_new_active(agents, old, 3)
        servers[old.id].start()
        wait_until(lambda: old.status()["server"]["healthy"], 5, "%s healthy again" % old.id)
        wait_until(lambda: old.id in self.latch_nodes_by_agent(old), 5,
                   "%s back in the latch" % old.id)
        time.sleep(1.0)
        self.assertEqual(self.wait_one_active(agents, timeout=5), new,
                         "the restarted server's agent took leadership back")
        self.assertEqual(old.http_status(), "PASSIVE")
        self.check_invariants(obs, agents)

    def test_3_hung_server_is_found_by_hold_timeout_and_probe(self):
        flags = ["--server_hold", "--hold_timeout_ms=600", "--health_interval_ms=200",
                 "--health_timeout_ms=200", "--health_fall=2"]
        agents, servers = self.group(["h1", "h2", "h3"], flags, probe=True)
        old = self.wait_one_active(agents, timeout=20)
        obs = self.start_observer(agents)
        s = servers[old.id]
        t = time.monotonic()
        os.kill(s.proc.pid, signal.SIGSTOP)
        new = self.wait_new_active(agents, old, 3)
        took = (time.monotonic() - t) * 1000
        reason = old.status()["server"]["reason"]
        log("server of the ACTIVE %s SIGSTOPped: %s ACTIVE after %.0f ms; %s says %r" % (
            old.id, new.id, took, old.id, reason))
        self.assertLess(took, 2000)
        self.assertFalse(old.status()["server"]["healthy"])
        os.kill(s.proc.pid, signal.SIGCONT)
        # Back: its client holds again, the probe rises, it rejoins at the back.
        wait_until(lambda: old.status()["server"]["healthy"], 8, "%s healthy after SIGCONT" % old.id)
        self.wait_one_active(agents, timeout=5)
        self.assertEqual(new.http_status(), "ACTIVE")
        self.check_invariants(obs, agents)

    def test_4_every_server_dead_then_one_back_on_a_standby(self):
        agents, servers = self.group(["d1", "d2", "d3"], ["--server_hold"])
        old = self.wait_one_active(agents, timeout=20)
        obs = self.start_observer(agents)
        for s in servers.values():
            s.kill()
        # The leader keeps leadership: nobody healthy could take it. It says so.
        wait_until(lambda: old.status()["server"]["waiting"], 5, "%s waiting for a candidate" %
                   old.id)
        self.assertEqual(old.http_status(), "ACTIVE")
        self.assertEqual(metric(old, "latchd_leader_waiting_for_candidate"), 1)
        for a in agents:
            if a is not old:
                wait_until(lambda a=a: a.id not in self.latch_nodes_by_agent(a), 5,
                           "%s out of the latch" % a.id)
        back = next(a for a in agents if a is not old)
        t = time.monotonic()
        servers[back.id].start()
        wait_until(lambda: back.http_status() == "ACTIVE", 5,
                   "leadership to move to %s, whose server is back" % back.id)
        log("every server dead, leader %s kept it; %s's server back: %s ACTIVE after %.0f ms" % (
            old.id, back.id, back.id, (time.monotonic() - t) * 1000))
        self.assertEqual(metric(old, "latchd_leader_waiting_for_candidate"), 0)
        self.assertEqual(old.http_status(), "PASSIVE")
        self.check_invariants(obs, agents)

    def test_5_a_flapping_server_moves_leadership_once(self):
        """f1's server answers its probe only while a flag file exists; the file flips every
        250 ms for 6 s. With fall 2, rise 2 at 100 ms, leadership leaves f1 once and stays
        with f2: a recovered server rejoins at the back, so flapping cannot pull it back."""
        flag = os.path.join(self.tmp, "f1-healthy")
        probe = os.path.join(self.tmp, "probe.sh")
        with open(probe, "w") as f:
            f.write("#!/bin/sh\ntest -e %s\n" % flag)
        os.chmod(probe, 0o755)
        open(flag, "w").close()
        root = "/binding-%s" % self._testMethodName
        f1 = self.start_agent("f1", self.zk.connect_string(), zk_root=root,
                              session_timeout_ms=SESSION_MS,
                              extra_flags=["--health_exec=%s" % probe, "--health_interval_ms=100",
                                           "--health_timeout_ms=100", "--health_fall=2",
                                           "--health_rise=2"])
        wait_until(lambda: f1.http_status() == "ACTIVE", 10, "f1 ACTIVE")
        f2 = self.start_agent("f2", self.zk.connect_string(), zk_root=root,
                              session_timeout_ms=SESSION_MS)
        agents = [f1, f2]
        self.wait_one_active(agents, timeout=10)
        obs = self.start_observer(agents)
        t_end = time.monotonic() + 6
        flips = 0
        while time.monotonic() < t_end:
            if os.path.exists(flag):
                os.unlink(flag)
            else:
                open(flag, "w").close()
            flips += 1
            time.sleep(0.25)
        open(flag, "w").close()
        time.sleep(1)
        # Leadership moves = changes of the ACTIVE host along the timeline.
        runs = sorted((start, name) for name, ivs in obs.runs().items() for start, _ in ivs)
        holders = [name for _, name in runs]
        moves = sum(1 for x, y in zip(holders, holders[1:]) if x != y)
        log("flapping server: %d flips; ACTIVE holders in order %s; f1 says %r" % (
            flips, holders, f1.status()["server"]))
        self.assertEqual(f2.http_status(), "ACTIVE")
        self.assertLessEqual(moves, 1, "leadership moved %d times" % moves)
        self.assertLessEqual(metric(f1, "latchd_handovers_total", 'reason="server_unhealthy"'), 1)
        self.check_invariants(obs, agents)

    def test_6_a_curator_participant_counts_as_a_healthy_candidate(self):
        agents, servers = self.group(["c1"], ["--server_hold"])
        a = agents[0]
        wait_until(lambda: a.http_status() == "ACTIVE", 10, "c1 ACTIVE")
        peer = self.start_curator(self.zk.connect_string(), a.latch_path, "curator-1")
        wait_until(lambda: len(self.latch_nodes_by_agent(a)) == 2, 10, "the Curator participant joined")
        obs = self.start_observer(agents)
        servers["c1"].kill()
        wait_until(lambda: peer.has_leadership(), 5, "the Curator participant to lead")
        self.assertNotEqual(a.http_status(), "ACTIVE")
        self.assertFalse(a.status()["server"]["waiting"])
        obs.assert_no_overlap()

    def test_7_the_java_example_holds(self):
        """docs/java/LatchdStatus.java `hold` binds an agent to a JVM: ACTIVE while it lives,
        handed over when it is SIGKILLed."""
        import shutil
        import subprocess
        if not shutil.which("javac"):
            self.skipTest("javac not installed")
        classes = os.path.join(self.tmp, "java")
        os.makedirs(classes)
        repo = os.path.dirname(os.path.dirname(os.path.abspath(os.path.dirname(__file__))))
        subprocess.run(["javac", "-d", classes, os.path.join(repo, "docs", "java", "LatchdStatus.java")],
                       check=True, timeout=180)
        root = "/binding-%s" % self._testMethodName
        j1 = self.start_agent("j1", self.zk.connect_string(), zk_root=root,
                              session_timeout_ms=SESSION_MS, extra_flags=["--server_hold"])
        j2 = self.start_agent("j2", self.zk.connect_string(), zk_root=root,
                              session_timeout_ms=SESSION_MS)
        wait_until(lambda: j2.http_status() == "ACTIVE", 10, "j2 ACTIVE (j1 has no server)")
        j2.stop()
        log_path = os.path.join(self.tmp, "java-hold.log")
        self.register_log("java-hold", log_path)
        jvm = harness.spawn(["java", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", classes,
                             "LatchdStatus", "--socket=%s" % j1.socket_path, "hold"],
                            "java-hold", log_path)
        self.addCleanup(harness.stop_process, jvm, 5)
        wait_until(lambda: j1.http_status() == "ACTIVE", 30, "j1 ACTIVE once the JVM holds")
        self.assertEqual(j1.status()["server"]["holds"], 1)
        j2.start()
        obs = self.start_observer([j1, j2])
        t = time.monotonic()
        harness.kill_process(jvm)
        wait_until(lambda: j2.http_status() == "ACTIVE", 3, "j2 ACTIVE after the JVM died")
        log("JVM holding j1 SIGKILLed: j2 ACTIVE after %.0f ms" % ((time.monotonic() - t) * 1000))
        obs.assert_no_overlap()


if __name__ == "__main__":
    unittest.main()
