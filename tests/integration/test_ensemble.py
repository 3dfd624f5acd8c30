"""A 3-server ensemble: losing the ZooKeeper server the ACTIVE talks to must not cost it the
lease. Its session moves to another server; it stays ACTIVE with the same epoch throughout."""

import time
import unittest

import harness
from harness import log, wait_until

# The largest session timeout a tickTime of 200 ms allows (20 x tickTime): the most room for
# the reconnect, and for a ZooKeeper leader election when the killed server was the leader.
SESSION_MS = 4000


class EnsembleTest(harness.LatchdTestCase):

    def test_kill_connected_server_keeps_active(self):
        harness.require_binaries()
        ens = self.start_zk(size=3, tick_time=200)
        zk_leader = ens.wait_leader()
        log("ZooKeeper leader: %s; modes %s" % (
            zk_leader.name, {s.name: s.mode() for s in ens.servers}))
        agents = self.start_agents(["a1", "a2", "a3"], ens.connect_string(),
                                   session_timeout_ms=SESSION_MS)
        active = self.wait_one_active(agents, timeout=20)
        st = active.status()
        epoch, sid = st["epoch"], harness.parse_session_id(st["zk"]["session_id"])
        self.assertEqual(st["zk"]["state"], "CONNECTED", st)
        server = ens.wait_connected_server(sid)
        mode = server.mode()
        log("ACTIVE %s (epoch %d, session 0x%x) is connected to %s (%s)" % (
            active.id, epoch, sid, server.name, mode))
        sh = self.zk_shell(ens.connect_string())
        owner_before = sh.get(active.info_path)["ephemeralOwner"]
        self.assertEqual(owner_before, sid)

        obs = self.start_observer(agents)
        t_kill = time.monotonic()
        server.kill()
        others = [s for s in ens.servers if s is not server]
        # The rest of the ensemble serves again (after an election if the leader died) ...
        ens.wait_serving(30, servers=others)
        t_served = time.monotonic()
        # ... and the ACTIVE's session is on one of them.
        moved_to = wait_until(lambda: ens.connected_server(sid), SESSION_MS / 1000.0 + 10,
                              "session 0x%x of %s on a surviving server" % (sid, active.id))
        t_moved = time.monotonic()
        self.assertIsNot(moved_to, server)
        wait_until(lambda: active.status()["zk"]["state"] == "CONNECTED", 10,
                   "%s reports CONNECTED again" % active.id)
        # Hold on past a full session timeout: a lost session would show by now.
        time.sleep(SESSION_MS / 1000.0 + 1.0)
        obs.stop()

        log("killed %s (%s) at t=0; survivors serving at +%.2f s; session 0x%x on %s at "
            "+%.2f s" % (server.name, mode, t_served - t_kill, sid, moved_to.name,
                         t_moved - t_kill))
        for a in agents:
            log(obs.describe(a.id))
        seen = obs.roles_seen(active.id)
        log("roles of the ACTIVE %s seen by the observer over %.1f s (%d sweeps, period %.1f "
            "ms): %s" % (active.id, obs.stopped_at - obs.started_at, obs.sweeps,
                         obs.sample_period() * 1000, sorted(map(str, seen))))
        self.assertEqual(seen, {"ACTIVE"}, "the ACTIVE left ACTIVE: %s" %
                         obs.describe(active.id))
        for a in agents:
            if a is not active:
                self.assertNotIn("ACTIVE", obs.roles_seen(a.id), obs.describe(a.id))
                self.assertNotIn("BECOMING_ACTIVE", obs.roles_seen(a.id), obs.describe(a.id))
        obs.assert_no_overlap()

        st2 = active.status()
        self.assertEqual(st2["role"], "ACTIVE", st2)
        self.assertEqual(st2["epoch"], epoch, "epoch changed: %s" % st2)
        self.assertEqual(harness.parse_session_id(st2["zk"]["session_id"]), sid,
                         "session changed: %s" % st2)
        for a in agents:
            s = a.status()
            self.assertEqual(s["leader"]["id"], active.id, s)
            self.assertEqual(s["leader"]["epoch"], epoch, s)
        self.assertEqual(sh.get(active.info_path)["ephemeralOwner"], sid)

        # The killed server comes back and rejoins; nothing changes for the agents.
        server.start()
        ens.wait_serving(30)
        self.assertEqual(self.wait_one_active(agents, timeout=10), active)
        self.assertEqual(active.status()["epoch"], epoch)


if __name__ == "__main__":
    unittest.main(verbosity=2)
