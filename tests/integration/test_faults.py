"""Fault injection (CI-sized): a 3-node ZooKeeper ensemble, three latchd agents each reaching
ZooKeeper only through proxies of their own, an independent observer polling every agent's
HTTP status and socket every 2 ms, and each agent's --journal.

After every scenario (tests/integration/faults.py, docs/failover.md):
  * never two agents ACTIVE at the same instant (journals, and the observer), nor two claims
    (BECOMING_ACTIVE/ACTIVE) per the journals; the observer's answers agree with the journals;
  * every new term's epoch is above every earlier term's;
  * after the heal: exactly one ACTIVE within session timeout + 2 s, the latch's children are
    the running agents, one each;
  * no agent crashed, leaked descriptors or threads, or stopped answering.

The last test runs a seeded random schedule: LATCHD_FAULT_SEED=<seed> replays one (the seed
is printed), LATCHD_FAULT_ROUNDS sets its length (default 8), LATCHD_FAULT_EXCLUDE the fault
kinds left out (default: the deletes by another client, which tests 08 and 09 cover).
LATCHD_FAULT_REPEAT=<n> repeats the delete of tests 08 and 09 n times. bench/soak runs longer
schedules.
"""

import json
import os
import socket
import time
import unittest

import faults
import harness
from faults import MS, NS, fmt_ms, log, now_ns

SESSION_MS = 4000
T = SESSION_MS / 1000.0
LEASE_MS = SESSION_MS * 0.75


class FaultsTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.ens = cls.class_zk(size=3, tick_time=200)
        cls.hub = faults.ProxyHub()
        cls.addClassCleanup(cls.hub.stop)

    def setUp(self):
        super().setUp()
        self.cl = faults.FaultCluster(self.ens, self.tmp, hub=self.hub)
        self.addCleanup(self._cleanup_cluster)
        self._dump_extra.append(self._dump_cluster)
        self.t_test = now_ns()

    def _cleanup_cluster(self):
        self.cl.stop()
        for c in self.cl.contenders():
            for p in c.proxies:
                self.hub.remove(p)
        # the next test gets a whole ensemble
        self.cl.zk_restore()

    def _dump_cluster(self):
        out = ["-- fault log:"] + ["   " + x for x in self.cl.event_log()]
        if self.cl.observer:
            out.append("-- observer (role changes):")
            for c in self.cl.contenders():
                out += ["   " + x for x in self.cl.observer.describe(
                    c.id, t0=self.cl.t0).splitlines()]
        out.append("-- journals:")
        for c in self.cl.contenders():
            out += ["   " + x for x in faults.journal_excerpt(c, 0, now_ns(), self.cl.t0)]
        return "\n".join(out)

    # -- helpers --

    def start_group(self, n=3, **kw):
        ids = ["a%d" % (i + 1) for i in range(n)]
        g = self.cl.add_latchd_group("latchd", "/faults-%s" % self._testMethodName, ids,
                                     session_ms=SESSION_MS, **kw)
        for c in g.contenders:
            self.register_log(c.agent.name, c.log_path)
        self.cl.start()
        act = g.active()
        self.assertIsNotNone(act, "no ACTIVE after start")
        log("%s: ACTIVE %s (epoch %s), observer period %s" % (
            self._testMethodName, act.id, act.status()["epoch"],
            {k: "%.1f ms" % v[1] for k, v in self.cl.observer.period_stats().items()}))
        return g, act

    def finish(self, t_heal):
        """The checks after the heal, then: no violations."""
        res = self.cl.check_after_heal(t_heal)
        stats = self.cl.observer.period_stats(self.t_test)
        worst = max(v[1] for v in stats.values()) if stats else float("nan")
        log("%s: settled after the heal in %s; observer mean period (worst channel) %.2f ms" % (
            self._testMethodName,
            {k: (fmt_ms(t - t_heal) if t else None) for k, (a, t) in res.items()}, worst))
        for f in self.cl.findings:
            log("finding (outside the model, not a failure): %s" % f)
        self.assert_no_violations()
        return res

    def assert_no_violations(self):
        if self.cl.violations:
            self.fail("%d invariant violation(s):\n%s\nfault log:\n  %s" % (
                len(self.cl.violations), "\n".join(str(v) for v in self.cl.violations),
                "\n  ".join(self.cl.event_log())))

    def new_active(self, g, old, t, timeout):
        new = faults.wait_new_active(g, old, t, timeout)
        self.assertIsNotNone(new, "no new ACTIVE within %.1f s; roles %s" % (
            timeout, g.roles_now(now_ns() - 20 * MS)))
        return new

    # -- the checkers themselves --

    def test_00_checkers_catch_violations(self):
        """The invariant checkers on made-up journals: each must fire when it should (a check
        that never fires proves nothing), and the SIGSTOP rule must not hide a real claim."""
        class FakeCluster:
            t0 = 0
            observer = None

        class Fake(faults.Contender):
            kind = "latchd"

            def __init__(self, cid, path, lease_ns):
                super().__init__(cid, [])
                self.journal_path = path
                self.lease_ns = lease_ns

        def journal(cid, rows):
            path = os.path.join(self.tmp, "%s.jsonl" % cid)
            with open(path, "w") as f:
                for t_ms, frm, to, epoch, why in rows:
                    f.write(json.dumps({"mono_ns": t_ms * MS, "id": cid, "from": frm, "to": to,
                                        "epoch": epoch, "reason": why}) + "\n")
            return path

        def group(spec):
            g = faults.Group(FakeCluster(), "g", "/x", SESSION_MS)
            for cid, rows, life in spec:
                c = Fake(cid, journal(cid, rows), int(LEASE_MS * MS))
                c.lifecycle = [(t * MS, w) for t, w in life]
                g.contenders.append(c)
            return g

        up = [("PASSIVE", "BECOMING_ACTIVE"), ("BECOMING_ACTIVE", "ACTIVE")]
        # a1 ACTIVE 100..1000, a2 ACTIVE from 900: 100 ms of two ACTIVE
        g = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 5, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 5, ""),
                    (1000, "ACTIVE", "BECOMING_PASSIVE", 5, "x"),
                    (1000, "BECOMING_PASSIVE", "PASSIVE", 5, "x")], [(0, "start")]),
            ("a2", [(890, "PASSIVE", "BECOMING_ACTIVE", 7, ""), (900, "BECOMING_ACTIVE", "ACTIVE", 7, "")],
             [(0, "start")]),
        ])
        v = faults.check_journal_overlap(g, ("ACTIVE",), t_to=2000 * MS)
        self.assertEqual(len(v), 1, v)
        self.assertIn("100.0 ms", v[0].message)
        self.assertEqual(len(faults.check_journal_overlap(g, faults.CLAIMS, t_to=2000 * MS)), 1)
        self.assertEqual(faults.check_epochs(g), [])
        # a crash ends a claim at the exit; a later claim elsewhere is fine
        g = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 5, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 5, "")],
             [(0, "start"), (500, "kill"), (501, "exit")]),
            ("a2", [(600, "PASSIVE", "BECOMING_ACTIVE", 7, ""), (610, "BECOMING_ACTIVE", "ACTIVE", 7, "")],
             [(0, "start")]),
        ])
        self.assertEqual(faults.check_journal_overlap(g, faults.CLAIMS, t_to=2000 * MS), [])
        # epochs: a new term below an earlier one, and one epoch claimed by two agents
        g = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 9, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 9, "")],
             [(0, "start"), (500, "kill"), (501, "exit")]),
            ("a2", [(600, "PASSIVE", "BECOMING_ACTIVE", 8, ""), (610, "BECOMING_ACTIVE", "ACTIVE", 8, ""),
                    (700, "ACTIVE", "BECOMING_PASSIVE", 8, ""), (700, "BECOMING_PASSIVE", "PASSIVE", 8, "")],
             [(0, "start")]),
            ("a3", [(800, "PASSIVE", "BECOMING_ACTIVE", 8, "")], [(0, "start")]),
        ])
        kinds = [x.message for x in faults.check_epochs(g)]
        self.assertEqual(len(kinds), 2, kinds)
        self.assertEqual({x.kind for x in faults.check_epochs(g)}, {"epoch"})
        # ... inside a window of deletions by another client they are findings, outside not
        self.assertEqual([x.kind for x in faults.check_epochs(g, exempt=[(550 * MS, 900 * MS)])],
                         ["finding", "finding"])
        # ... but one epoch claimed by two agents is a violation even there
        g2 = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 9, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 9, "")],
             [(0, "start"), (500, "kill"), (501, "exit")]),
            ("a2", [(600, "PASSIVE", "BECOMING_ACTIVE", 9, "")], [(0, "start")]),
        ])
        self.assertEqual([x.kind for x in faults.check_epochs(g2, exempt=[(0, 900 * MS)])],
                         ["epoch"])
        self.assertEqual([x.kind for x in faults.check_epochs(g, exempt=[(650 * MS, 750 * MS)])],
                         ["epoch", "epoch"])
        # SIGSTOP longer than the lease: the lapse journaled after SIGCONT does not count ...
        long_stop = [(0, "start"), (200, "stop"), (200 + LEASE_MS + 2000, "cont")]
        resumed = 200 + LEASE_MS + 2010
        g = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 5, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 5, ""),
                    (resumed, "ACTIVE", "BECOMING_PASSIVE", 5, "lease lapsed")], long_stop),
            ("a2", [(200 + LEASE_MS + 500, "PASSIVE", "BECOMING_ACTIVE", 7, ""),
                    (200 + LEASE_MS + 510, "BECOMING_ACTIVE", "ACTIVE", 7, "")], [(0, "start")]),
        ])
        self.assertEqual(faults.check_journal_overlap(g, faults.CLAIMS, t_to=10000 * MS), [])
        # ... but a claim of the lease's own length, overlapped before it ends, does
        g = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 5, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 5, ""),
                    (resumed, "ACTIVE", "BECOMING_PASSIVE", 5, "lease lapsed")], long_stop),
            ("a2", [(200 + LEASE_MS - 500, "PASSIVE", "BECOMING_ACTIVE", 7, "")], [(0, "start")]),
        ])
        self.assertEqual(len(faults.check_journal_overlap(g, faults.CLAIMS, t_to=10000 * MS,
                                                          clip=True)), 1)
        # a short SIGSTOP (shorter than the lease) is never clipped
        g = group([
            ("a1", [(90, "PASSIVE", "BECOMING_ACTIVE", 5, ""), (100, "BECOMING_ACTIVE", "ACTIVE", 5, ""),
                    (3000, "ACTIVE", "BECOMING_PASSIVE", 5, "x")],
             [(0, "start"), (200, "stop"), (1200, "cont")]),
            ("a2", [(2000, "PASSIVE", "BECOMING_ACTIVE", 7, "")], [(0, "start")]),
        ])
        self.assertEqual(len(faults.check_journal_overlap(g, faults.CLAIMS, t_to=10000 * MS)), 1)
        # the proxy: bytes pass, stop on cut, flow again on heal, reset closes
        hub = self.hub
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        p = hub.add(srv.getsockname()[1], "selftest")
        try:
            c = socket.create_connection(("127.0.0.1", p.port), timeout=5)
            s2, _ = srv.accept()
            s2.settimeout(5)
            c.sendall(b"ping")
            self.assertEqual(s2.recv(10), b"ping")
            p.cut()
            c.sendall(b"cut")
            s2.settimeout(0.3)
            self.assertRaises(socket.timeout, s2.recv, 10)
            p.heal()
            s2.settimeout(5)
            self.assertEqual(s2.recv(10), b"cut")
            s2.sendall(b"back")
            self.assertEqual(c.recv(10), b"back")
            self.assertEqual(p.reset(), 1)
            c.settimeout(5)
            try:
                self.assertEqual(c.recv(10), b"")
            except ConnectionResetError:
                pass
            c.close()
            s2.close()
        finally:
            hub.remove(p)
            srv.close()

    # -- scenarios --

    def test_01_graceful_stop_of_active(self):
        g, act = self.start_group()
        t = self.cl.graceful_stop(act)
        new = self.new_active(g, act, t, 5)
        time.sleep(0.3)
        m = faults.measure(g, act, t)
        log("SIGTERM of the ACTIVE %s: %s ACTIVE after %.1f ms, %s stopped claiming after "
            "%.2f ms, overlap %.1f ms" % (act.id, new.id, m["new_active_ms"], act.id,
                                          m["old_stop_ms"], m["overlap_ms"]))
        self.assertEqual(m["overlap_ms"], 0.0)
        self.assertLess(m["new_active_ms"], 2000, "graceful handover took too long")
        self.finish(self.cl.restart(act))

    def test_02_crash_of_active(self):
        g, act = self.start_group()
        t = self.cl.crash(act)
        new = self.new_active(g, act, t, T + 10)
        m = faults.measure(g, act, t)
        log("SIGKILL of the ACTIVE %s: %s ACTIVE after %.0f ms (session timeout %d ms)" % (
            act.id, new.id, m["new_active_ms"], SESSION_MS))
        self.assertLessEqual(m["new_active_ms"], SESSION_MS + 2000,
                             "failover after a crash slower than session timeout + 2 s")
        self.finish(self.cl.restart(act))

    def test_03_partition_of_active(self):
        g, act = self.start_group()
        epoch = act.status()["epoch"]
        t = self.cl.partition(act)
        new = self.new_active(g, act, t, T + 10)
        m = faults.measure(g, act, t)
        log("partition of the ACTIVE %s: it stopped claiming after %.0f ms (lease %d ms), %s "
            "ACTIVE after %.0f ms, overlap %.1f ms" % (act.id, m["old_stop_ms"], LEASE_MS,
                                                     new.id, m["new_active_ms"],
                                                     m["overlap_ms"]))
        self.assertIsNotNone(m["old_stop_ms"], "the partitioned ACTIVE still claims")
        # It stops claiming before its session can expire (session timeout after its last
        # contact, which was at most one renewal interval before the cut) ...
        self.assertLess(m["old_stop_ms"], SESSION_MS - SESSION_MS / 10)
        # ... and before anybody else claims.
        self.assertLess(m["old_stop_ms"], m["new_active_ms"])
        time.sleep(1.0)
        t_heal = self.cl.heal_partition(act)
        self.finish(t_heal)
        self.assertGreater(new.status()["epoch"], epoch)

    def test_04_pause_longer_than_session(self):
        g, act = self.start_group()
        self.cl.pause(act)
        t = now_ns()
        new = self.new_active(g, act, t, T + 10)
        time.sleep(1.0)
        self.assertTrue(act.paused)
        t_resume = self.cl.resume(act)
        # The resumed agent's answers: never ACTIVE again (it must learn that its session is
        # gone; meanwhile its lease has lapsed).
        time.sleep(2.0)
        seen = set()
        for ch in self.cl.observer.channels(act.id):
            for a, b, r, _ in ch.snapshot(t_resume + 0, None):
                if a >= t_resume and r:
                    seen.add(faults.CODE_ROLES[r])
        log("SIGSTOP of the ACTIVE %s for %.1f s: %s ACTIVE meanwhile; after SIGCONT %s "
            "answered %s" % (act.id, (t_resume - t) / NS, new.id, act.id, sorted(seen)))
        self.assertNotIn("ACTIVE", seen)
        self.assertNotIn("BECOMING_ACTIVE", seen)
        self.finish(t_resume)

    def test_05_loss_of_connected_server(self):
        g, act = self.start_group()
        epoch = act.status()["epoch"]
        server = self.cl.server_of(act)
        self.assertIsNotNone(server)
        by_cons = self.ens.connected_server(act.session_id())
        self.assertIs(by_cons, server, "proxy and `cons` disagree on the ACTIVE's server")
        mode = server.mode()
        t = self.cl.zk_kill(server)
        others = [s for s in self.ens.servers if s is not server]
        self.ens.wait_serving(30, servers=others)
        time.sleep(T + 1)
        m = faults.measure(g, act, t)
        log("loss of %s (%s), the ACTIVE %s's server: %s not ACTIVE for %.1f ms (journal), "
            "%.1f ms (observer); ACTIVE now %s" % (server.name, mode, act.id, act.id,
                                                   m["old_not_active_ms"],
                                                   m["observer_old_not_active_ms"],
                                                   g.active().id if g.active() else None))
        self.assertIs(g.active(), act, "leadership moved")
        self.assertEqual(act.status()["epoch"], epoch)
        self.assertEqual(m["old_not_active_ms"], 0.0, "the ACTIVE left ACTIVE")
        self.assertIsNone(m["new_active_ms"], "another agent became ACTIVE")
        self.cl.zk_start(server)
        t_heal = self.cl.zk_wait_serving()
        self.finish(t_heal)

    def test_06_zk_leader_kill(self):
        g, act = self.start_group()
        leader = self.ens.wait_leader()
        t = self.cl.zk_kill(leader)
        self.ens.wait_serving(30, servers=[s for s in self.ens.servers if s is not leader])
        time.sleep(T + 1)
        m = faults.measure(g, act, t)
        log("ZooKeeper leader %s killed: ACTIVE %s not ACTIVE for %.1f ms; new ACTIVE "
            "elsewhere: %s" % (leader.name, act.id, m["old_not_active_ms"], m["new_active_id"]))
        self.cl.zk_start(leader)
        self.finish(self.cl.zk_wait_serving())

    def test_07_quorum_loss_and_recovery(self):
        g, act = self.start_group()
        t = self.cl.lose_quorum(include_leader=True)
        time.sleep(T + 1.5)
        t_check = now_ns()
        m = faults.measure(g, act, t)
        log("quorum loss: the ACTIVE %s stopped claiming after %s ms (lease %d ms)" % (
            act.id, m["old_stop_ms"], LEASE_MS))
        self.assertIsNotNone(m["old_stop_ms"], "the ACTIVE still claims without a quorum")
        self.assertLess(m["old_stop_ms"], SESSION_MS)
        # Nobody claims without a quorum.
        for c in g.contenders:
            for s, e, ep, _ in faults.claim_intervals(c, faults.CLAIMS):
                self.assertFalse(s > t and s < t_check,
                                 "%s claimed at %+.3fs without a quorum" % (c.id, (s - t) / NS))
        t_heal = self.cl.zk_restore()
        res = self.finish(t_heal)
        log("quorum back: ACTIVE %s (was %s)" % (res["latchd"][0].id, act.id))

    # Deletes by another client are outside latchd's model (docs/design.md, Assumptions); the
    # invariants are checked all the same. LATCHD_FAULT_REPEAT=<n> repeats the delete n times
    # (each followed by the checks), to reproduce a rare interleaving (docs/failover.md).

    def test_08_latch_parent_deleted(self):
        g, act = self.start_group()
        for i in range(int(os.environ.get("LATCHD_FAULT_REPEAT", "1"))):
            # (wait: on a loaded machine the observer's latest sample may be older than 50 ms)
            epoch = harness.wait_until(g.active, 5, "an ACTIVE before the delete").status()["epoch"]
            t = self.cl.delete_latch_parent(g)
            res = self.finish(t)
            new = res["latchd"][0]
            self.assertGreater(new.status()["epoch"], epoch,
                               "epoch after the latch was recreated")

    def test_09_data_wipe_of_latch_znodes(self):
        g, act = self.start_group()
        for i in range(int(os.environ.get("LATCHD_FAULT_REPEAT", "1"))):
            # (wait: on a loaded machine the observer's latest sample may be older than 50 ms)
            epoch = harness.wait_until(g.active, 5, "an ACTIVE before the delete").status()["epoch"]
            t = self.cl.wipe_root(g)
            res = self.finish(t)
            new = res["latchd"][0]
            self.assertGreater(new.status()["epoch"], epoch)
            info = self.cl.shell().get(new.agent.info_path)
            self.assertEqual(info["data"], new.agent.advertise, "active_server_info republished")

    def test_10_crash_restart_resumes_session(self):
        g, act = self.start_group()
        epoch = act.status()["epoch"]
        t = self.cl.crash(act)
        self.cl.restart(act, wait=False)
        back, t_ok = g.wait_settled(t, limit_s=T + 10)
        self.assertIs(back, act, "leadership moved after a restart within the session")
        # When was it ACTIVE again (journal), and did anyone else claim meanwhile?
        fc = faults.first_claim_after(g, t)
        self.assertEqual(fc[1], act.id, "first ACTIVE after the crash: %s" % (fc,))
        took = (fc[0] - t) / MS
        self.assertEqual(act.status()["epoch"], epoch, "epoch changed")
        log("SIGKILL + immediate restart of the ACTIVE %s: ACTIVE again (same epoch) after "
            "%.0f ms, settled after %.0f ms" % (act.id, took, (t_ok - t) / MS))
        self.assertLessEqual(took, 1000, "leadership not back within 1 s")
        self.finish(t)

    def test_11_rolling_restart(self):
        g, act = self.start_group()
        t = self.cl.rolling_restart()
        m = faults.measure(g, act, t)
        log("rolling restart took %.1f s; ACTIVE %s not ACTIVE for %.0f ms; new ACTIVE %s" % (
            (now_ns() - t) / NS, act.id, m["old_not_active_ms"], m["new_active_id"]))
        self.finish(now_ns())

    def test_12_pause_of_connected_zk_server(self):
        g, act = self.start_group()
        server = self.cl.server_of(act)
        self.cl.zk_pause(server)
        time.sleep(T + 1)
        t_heal = self.cl.zk_resume(server)
        self.finish(t_heal)

    def test_13_seeded_random_schedule(self):
        # CI runs one fixed schedule (it covers 9 fault kinds) so that its result does not
        # depend on a draw; LATCHD_FAULT_SEED=<n> runs another, bench/soak runs random ones.
        seed = faults.seed_from_env(default=31337)
        rounds = int(os.environ.get("LATCHD_FAULT_ROUNDS", "8"))
        # Deletes by another client have their own tests (08, 09) and are mixed in by the soak;
        # here the mix stays inside latchd's model so that a failure points at one cause.
        # LATCHD_FAULT_EXCLUDE="" mixes them in too.
        exclude = [k for k in os.environ.get("LATCHD_FAULT_EXCLUDE",
                                             "delete_latch_parent,wipe_root").split(",") if k]
        sched = faults.Schedule(seed, rounds, SESSION_MS, exclude)
        replay = "LATCHD_FAULT_SEED=%d LATCHD_FAULT_ROUNDS=%d LATCHD_FAULT_EXCLUDE=%s" % (
            seed, rounds, ",".join(exclude))
        log("random schedule, replay with %s:\n%s" % (replay, sched.describe()))
        g, act = self.start_group()
        import random
        rng = random.Random(seed ^ 0x5EED)
        for i, round_faults in enumerate(sched.rounds):
            t_start, t_heal = faults.run_round(self.cl, g, round_faults, rng)
            self.cl.check_after_heal(t_heal)
            log("round %d/%d done (%s): %d violation(s) so far" % (
                i + 1, rounds, [f["kind"] for f in round_faults], len(self.cl.violations)))
            if self.cl.violations:
                break
        if self.cl.violations:
            log("seed %d: replay with %s" % (seed, replay))
        self.assert_no_violations()


if __name__ == "__main__":
    unittest.main(verbosity=2)
