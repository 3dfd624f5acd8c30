"""Wire compatibility with Curator's LeaderLatch: a Curator participant and latchd agents in one
latch elect one leader, agree on who it is and on the order, and hand over in that order."""

import json
import time
import unittest

import harness
from harness import log, wait_until

SESSION_MS = 3000


class CuratorInteropTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        harness.java_classes()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def setUp(self):
        super().setUp()
        self.root = "/latchd-%s" % self._testMethodName
        self.latch = self.root + "/leader_elector_path"
        self.sh = self.zk_shell(self.zk.connect_string())

    def wait_children(self, n):
        return wait_until(lambda: len(self.sh.latch_children(self.latch)) == n, 20,
                          "%d latch nodes under %s" % (n, self.latch))

    def join_curator(self, peer_id):
        n = len(self.sh.latch_children(self.latch))
        peer = self.start_curator(self.zk.connect_string(), self.latch, peer_id,
                                  session_timeout_ms=SESSION_MS)
        self.wait_children(n + 1)
        return peer

    def join_agent(self, agent_id):
        n = len(self.sh.latch_children(self.latch))
        a = self.start_agent(agent_id, self.zk.connect_string(), zk_root=self.root,
                             session_timeout_ms=SESSION_MS)
        self.wait_children(n + 1)
        return a

    def zk_order(self):
        return [p[1] for p in self.sh.latch_participants(self.latch)]

    def latchd_view(self, agent):
        """latchd's own participant list (the socket's `participants`, as of its last listing)
        as latch node names, or None if the socket does not offer it. Understands
        {"nodes":[{"id","node"}...]} and {"participants":[node names]}."""
        try:
            doc = json.loads(harness.unix_request(agent.socket_path, "participants"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict):
            return None
        nodes = doc.get("nodes")
        if isinstance(nodes, list) and all(isinstance(n, dict) and "node" in n for n in nodes):
            return [n["node"] for n in nodes]
        names = doc.get("participants")
        if isinstance(names, list) and all(isinstance(n, str) and "latch-" in n
                                           for n in names):
            return names
        return None

    def check_agreement(self, curator, agents, leader_id):
        order = self.zk_order()
        log("latch order in ZooKeeper: %s" % order)
        self.assertEqual(order[0], leader_id)
        if curator is not None and curator.running:
            wait_until(lambda: curator.participants() == order, 5,
                       "Curator's participants equal the ZooKeeper order %s" % order)
            self.assertEqual(curator.leader(), leader_id)
            self.assertEqual(curator.role(), "ACTIVE" if curator.id == leader_id else "PASSIVE")
        for a in agents:
            if not a.running:
                continue
            try:
                wait_until(lambda: a.status()["leader"]["id"] == leader_id, 5, "")
            except AssertionError:
                self.defer_failure("%s does not name the leader %s within 5 s: status %s" % (
                    a.id, leader_id, a.status()))
            st = a.status()
            expected = "ACTIVE" if a.id == leader_id else "PASSIVE"
            self.assertEqual(st["role"], expected, st)
            self.assertEqual(a.http_status(), expected)
            view = self.latchd_view(a)
            if view is not None:
                # latchd lists node names as of its last getChildren: every node it lists that
                # still exists must be in ZooKeeper's (= Curator's) order.
                nodes = self.sh.latch_participants(self.latch)
                by_name = {n[0]: n[1] for n in nodes}
                seen = [by_name[n] for n in view if n in by_name]
                log("%s's participants (its last listing): %s" % (
                    a.id, [by_name.get(n, "<gone>") for n in view]))
                self.assertEqual(seen, [n[1] for n in nodes if n[0] in view],
                                 "%s's participant order differs from ZooKeeper's" % a.id)
                own = [n[0] for n in nodes if n[1] == a.id]
                self.assertTrue(own and own[0] in view, "%s's own node %s not in its view %s"
                                % (a.id, own, view))
        return order

    def test_1_curator_leads_first(self):
        cur = self.join_curator("curator")
        wait_until(lambda: cur.role() == "ACTIVE", 15, "Curator leads alone")
        a1 = self.join_agent("a1")
        a2 = self.join_agent("a2")
        agents = [a1, a2]
        order = self.check_agreement(cur, agents, "curator")
        self.assertEqual(order, ["curator", "a1", "a2"])

        obs = self.start_observer(agents)
        obs.add_source("curator", cur.role)
        t_stop = time.monotonic()
        rc = cur.stop()  # stdin EOF: latch.close(), client.close()
        new = self.wait_one_active(agents, timeout=10)
        obs.wait_sweeps(5)
        obs.stop()
        self.assertEqual(new.id, order[1], "the next in latch order takes over")
        h = harness.handover(obs, "curator", new.id, t_stop)
        log("Curator closed (rc %s): %s ACTIVE %.1f ms later; Curator's last ACTIVE report "
            "to %s's first ACTIVE: %.1f ms (Curator reports its own role asynchronously)" % (
                rc, new.id, h["since_signal"] * 1000, new.id, h.get("gap", 0) * 1000))
        # Among the latchd agents, never two ACTIVE.
        ov = [o for o in obs.overlaps() if "curator" not in o[:2]]
        self.assertEqual(ov, [])
        self.check_agreement(None, agents, new.id)

        # And latchd hands over to latchd in order as well.
        new.stop()
        last = self.wait_one_active([a for a in agents if a is not new], timeout=10)
        self.assertEqual(last.id, order[2])
        self.check_agreement(None, agents, last.id)
        self.assert_no_deferred()

    def test_2_latchd_leads_first(self):
        a1 = self.join_agent("a1")
        self.wait_one_active([a1], timeout=15)
        cur = self.join_curator("curator")
        a2 = self.join_agent("a2")
        agents = [a1, a2]
        order = self.check_agreement(cur, agents, "a1")
        self.assertEqual(order, ["a1", "curator", "a2"])

        obs = self.start_observer(agents)
        obs.add_source("curator", cur.role)
        t_stop = time.monotonic()
        rc = a1.stop()
        self.assertEqual(rc, 0)
        wait_until(lambda: cur.role() == "ACTIVE", 10, "Curator takes over from a1")
        time.sleep(0.3)
        obs.stop()
        h = harness.handover(obs, "a1", "curator", t_stop)
        log("a1 SIGTERMed (rc %s): Curator reports ACTIVE %.1f ms later; gap %.1f ms" % (
            rc, h["since_signal"] * 1000, h.get("gap", float("nan")) * 1000))
        # latchd stops claiming before its node goes, and Curator leads only once the node is
        # gone, so no overlap in this direction.
        obs.assert_no_overlap()
        self.assertNotIn("ACTIVE", obs.roles_seen("a2"))
        self.check_agreement(cur, [a2], "curator")
        self.assertEqual(self.zk_order(), ["curator", "a2"])

        # Curator leaves: a2, the next in order, takes over.
        cur.stop()
        self.assertEqual(self.wait_one_active([a2], timeout=10), a2)
        self.check_agreement(None, [a2], "a2")
        self.assert_no_deferred()


if __name__ == "__main__":
    unittest.main(verbosity=2)
