"""Election on a standalone ZooKeeper: one ACTIVE, failover on SIGKILL, handover on SIGTERM."""

import re
import signal
import threading
import time
import unittest

import harness
from harness import log, wait_until

SESSION_MS = 3000
LATCH_NODE_RE = re.compile(
    r"^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-latch-[0-9]{10}$")


class ElectionTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def setUp(self):
        super().setUp()
        self.root = "/latchd-%s" % self._testMethodName
        self.sh = self.zk_shell(self.zk.connect_string())

    # -- helpers --

    def start_three(self):
        agents = self.start_agents(["a1", "a2", "a3"], self.zk.connect_string(),
                                   zk_root=self.root, session_timeout_ms=SESSION_MS)
        active = self.wait_one_active(agents, timeout=20)
        return agents, active

    def assert_consistent(self, agents, active, followers=True):
        """Socket and HTTP agree on each agent's role; the ACTIVE's epoch is the czxid of the
        first latch node, whose data is its id; active_server_info holds its advertise URL and
        belongs to its session. With followers, every running agent also names the ACTIVE as
        leader with its epoch (see assert_followers_agree)."""
        running = [a for a in agents if a.running]
        participants = self.sh.latch_participants(active.latch_path)
        self.assertTrue(participants, "no latch nodes")
        first_name, first_id, first_czxid, first_owner = participants[0]
        self.assertEqual(first_id, active.id, "first latch node belongs to %s, ACTIVE is %s" % (
            first_id, active.id))
        for a in running:
            st = a.status()
            expected = "ACTIVE" if a is active else "PASSIVE"
            self.assertEqual(st["role"], expected, "%s socket role: %s" % (a.id, st))
            self.assertEqual(a.http_status(), expected, "%s HTTP role" % a.id)
            self.assertEqual(st["id"], a.id)
            self.assertIsInstance(st["epoch"], int)
            self.assertIn("lease_ms", st)
            self.assertIn("state", st["zk"])
            self.assertIn("timeout_ms", st["zk"])
        ast = active.status()
        self.assertEqual(ast["epoch"], first_czxid,
                         "ACTIVE's epoch vs czxid of %s: %s" % (first_name, ast))
        self.assertEqual(ast["leader"]["id"], active.id, ast)
        self.assertEqual(ast["leader"]["epoch"], first_czxid, ast)
        self.assertEqual(ast["leader"].get("address"), active.advertise, ast)
        self.assertEqual(harness.parse_session_id(ast["zk"]["session_id"]), first_owner,
                         "ACTIVE's latch node is owned by its session")
        info = self.sh.get(active.info_path)
        self.assertEqual(info["data"], active.advertise, "active_server_info data")
        self.assertEqual(info["ephemeralOwner"], first_owner,
                         "active_server_info is ephemeral of the ACTIVE's session")
        if followers:
            self.assert_followers_agree(running, active, first_czxid, timeout=3.0)
        return ast["epoch"]

    def assert_followers_agree(self, agents, active, epoch, timeout=5.0):
        """Every running agent names the ACTIVE as leader, with its address and epoch (allowing
        `timeout` for the news to travel)."""
        for a in agents:
            if not a.running:
                continue

            def agrees():
                ld = a.status()["leader"]
                return (ld["id"], ld.get("address"), ld["epoch"]) == (
                    active.id, active.advertise, epoch)
            try:
                wait_until(agrees, timeout, "")
                ok = True
            except AssertionError:
                ok = False
            if not ok:
                self.defer_failure(
                    "%s does not name the current leader %s (epoch %d) within %.1f s: its "
                    "status is %s" % (a.id, active.id, epoch, timeout, a.status()))

    def assert_no_orphans(self, agents):
        running = sorted(a.id for a in agents if a.running)

        def ids():
            return sorted(p[1] for p in self.sh.latch_participants(agents[0].latch_path))
        wait_until(lambda: ids() == running, 2 * SESSION_MS / 1000.0 + 5,
                   "latch children are exactly the running agents %s (now %s)" % (
                       running, ids()))
        for name in self.sh.latch_children(agents[0].latch_path):
            self.assertRegex(name, LATCH_NODE_RE)

    # -- tests --

    def test_1_exactly_one_active(self):
        agents, active = self.start_three()
        log("ACTIVE: %s" % active.id)
        epoch = self.assert_consistent(agents, active)
        log("epoch %d (0x%x)" % (epoch, epoch))
        # The Atlas status endpoint, byte for byte.
        for a in agents:
            code, headers, body = a.http()
            self.assertEqual(code, 200)
            self.assertTrue(headers.get("content-type", "").startswith("application/json"),
                            headers)
            role = "ACTIVE" if a is active else "PASSIVE"
            self.assertEqual(body, b'{"Status":"%s"}' % role.encode())
        # Latch nodes: one per agent, data = id, protected names, ephemeral.
        parts = self.sh.latch_participants(active.latch_path)
        self.assertEqual(sorted(p[1] for p in parts), ["a1", "a2", "a3"])
        for name, pid, czxid, owner in parts:
            self.assertRegex(name, LATCH_NODE_RE)
            self.assertNotEqual(owner, 0, "%s is not ephemeral" % name)
        # Stable: one ACTIVE for a while, the observer sees no second one.
        obs = self.start_observer(agents)
        time.sleep(1.0)
        obs.stop()
        obs.assert_no_overlap()
        for a in agents:
            expected = {"ACTIVE"} if a is active else {"PASSIVE"}
            self.assertEqual(obs.roles_seen(a.id), expected, obs.describe(a.id))
        self.assert_no_orphans(agents)
        self.assert_no_deferred()

    def test_2_sigkill_failover(self):
        agents, active = self.start_three()
        old_epoch = self.assert_consistent(agents, active)
        obs = self.start_observer(agents)
        t_kill = time.monotonic()
        active.kill()
        rest = [a for a in agents if a is not active]
        new = self.wait_one_active(rest, timeout=SESSION_MS / 1000.0 + 15)
        obs.wait_sweeps(5)
        obs.stop()
        first = obs.first(new.id, "ACTIVE", after=t_kill)
        self.assertIsNotNone(first, obs.describe(new.id))
        took = first - t_kill
        log("SIGKILL of %s: %s ACTIVE after %.3f s (session timeout %.1f s); observer period "
            "%.1f ms" % (active.id, new.id, took, SESSION_MS / 1000.0,
                         obs.sample_period() * 1000))
        self.assertLessEqual(took, SESSION_MS / 1000.0 + 2.0,
                             "failover slower than session timeout + 2 s")
        obs.assert_no_overlap()
        new_epoch = self.assert_consistent(rest, new, followers=False)
        self.assertGreater(new_epoch, old_epoch, "epoch must grow across terms")
        self.assert_no_orphans(agents)
        self.assert_followers_agree(rest, new, new_epoch)
        self.assert_no_deferred()

    def test_3_sigterm_handover(self):
        agents, active = self.start_three()
        old_epoch = self.assert_consistent(agents, active)
        old_node = self.sh.latch_participants(active.latch_path)[0][0]
        obs = self.start_observer(agents)
        exited = {}
        waiter = threading.Thread(
            target=lambda: exited.update(rc=active.proc.wait(15), t=time.monotonic()),
            daemon=True)
        t_term = time.monotonic()
        active.send_signal(signal.SIGTERM)
        waiter.start()
        rest = [a for a in agents if a is not active]
        new = self.wait_one_active(rest, timeout=10)
        waiter.join(15)
        obs.wait_sweeps(5)
        obs.stop()
        self.assertIn("rc", exited, "%s did not exit within 15 s after SIGTERM" % active.id)
        self.assertEqual(exited["rc"], 0, "exit code of the SIGTERMed ACTIVE; log:\n%s" %
                         active.log_tail(15))
        h = harness.handover(obs, active.id, new.id, t_term)
        self.assertIn("since_signal", h, obs.describe(new.id))
        log("SIGTERM of %s: %s ACTIVE %.1f ms after the signal; gap between the last ACTIVE "
            "sample of %s and the first of %s: %.1f ms; %s exited 0 after %.1f ms; observer "
            "period %.1f ms" % (active.id, new.id, h["since_signal"] * 1000, active.id, new.id,
                                h.get("gap", float("nan")) * 1000, active.id,
                                (exited["t"] - t_term) * 1000, obs.sample_period() * 1000))
        log(obs.describe(active.id))
        log(obs.describe(new.id))
        obs.assert_no_overlap()
        self.assertLess(h["since_signal"], 2.0, "handover on SIGTERM took too long")
        # The old latch node is gone at once (not after a session expiry).
        names = self.sh.latch_children(active.latch_path)
        self.assertNotIn(old_node, names)
        new_epoch = self.assert_consistent(rest, new, followers=False)
        self.assertGreater(new_epoch, old_epoch, "epoch must grow across terms")
        self.assert_no_orphans(agents)
        self.assert_followers_agree(rest, new, new_epoch)
        self.assert_no_deferred()


if __name__ == "__main__":
    unittest.main(verbosity=2)
