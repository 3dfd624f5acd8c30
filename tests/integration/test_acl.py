"""Digest ACLs: latchd's znodes are readable by anyone, writable only with its credentials."""

import os
import unittest

import harness
from harness import RC_NOAUTH, log, wait_until

USER, PASSWORD = "latchd", "s3cret-pw"
ZK_PERM_READ, ZK_PERM_ALL = 1, 31


class AclTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def latchctl_digest(self, cred):
        r = harness.run_latchctl(["digest", cred])
        self.assertEqual(r.returncode, 0, "latchctl digest %s: %r %r" % (cred, r.stdout,
                                                                        r.stderr))
        return r.stdout.strip()

    def test_1_digest_matches_zookeeper(self):
        for cred in ("%s:%s" % (USER, PASSWORD), "bob:secret", "u:p:with:colons"):
            with self.subTest(cred=cred):
                ours = self.latchctl_digest(cred)
                theirs = harness.zk_digest(cred)
                log("latchctl digest %s -> %s (ZooKeeper: %s)" % (cred, ours, theirs))
                self.assertEqual(ours, theirs)

    def test_2_acl_protects_znodes(self):
        digest = self.latchctl_digest("%s:%s" % (USER, PASSWORD))
        auth_file = os.path.join(self.tmp, "zk.auth")
        with open(auth_file, "w") as f:
            f.write("digest:%s:%s\n" % (USER, PASSWORD))
        os.chmod(auth_file, 0o600)
        root = "/latchd-acl"
        agents = self.start_agents(
            ["a1", "a2"], self.zk.connect_string(), zk_root=root, session_timeout_ms=3000,
            extra_flags=["--zk_acl=digest:%s" % digest, "--zk_auth_file=%s" % auth_file])
        active = self.wait_one_active(agents, timeout=20)
        passive = [a for a in agents if a is not active][0]

        authed = self.zk_shell(self.zk.connect_string(), auth="digest:%s:%s" % (USER, PASSWORD))
        anon = self.zk_shell(self.zk.connect_string())
        parts = authed.latch_participants(active.latch_path)
        self.assertEqual([p[1] for p in parts][0], active.id)
        leader_node = active.latch_path + "/" + parts[0][0]
        passive_node = active.latch_path + "/" + [p for p in parts if p[1] == passive.id][0][0]

        # ACLs as configured: digest gets everything; active_server_info also world READ.
        for path in (leader_node, active.info_path):
            acl = authed.getacl(path)
            log("ACL of %s: %s" % (path, acl))
            self.assertIn({"scheme": "digest", "id": digest, "perms": ZK_PERM_ALL}, acl)
            self.assertFalse(any(e["scheme"] == "world" and e["perms"] & ~ZK_PERM_READ
                                 for e in acl), "world may only READ: %s" % acl)
        self.assertTrue(any(e["scheme"] == "world" and e["perms"] & ZK_PERM_READ
                            for e in authed.getacl(active.info_path)))

        # Without credentials: reading works ...
        self.assertEqual(anon.get(leader_node)["data"], active.id)
        self.assertEqual(anon.get(active.info_path)["data"], active.advertise)
        # ... changing does not.
        r = anon.run("delete", leader_node)
        log("anonymous delete %s -> %s" % (leader_node, r.data))
        self.assertEqual((r.rc, r.error), (RC_NOAUTH, "NoAuth"))
        r = anon.run("set", active.info_path, "http://evil:1")
        log("anonymous set %s -> %s" % (active.info_path, r.data))
        self.assertEqual((r.rc, r.error), (RC_NOAUTH, "NoAuth"))
        r = anon.run("delete", active.info_path)
        self.assertEqual((r.rc, r.error), (RC_NOAUTH, "NoAuth"))
        r = anon.run("create", root + "/intruder", "x")
        self.assertEqual((r.rc, r.error), (RC_NOAUTH, "NoAuth"))
        # Nothing changed.
        self.assertEqual(authed.get(active.info_path)["data"], active.advertise)
        self.assertEqual(self.wait_one_active(agents, timeout=5), active)

        # A one-shot ZkTool (its own JVM, no credentials) says NoAuth with exit code 3.
        tool = harness.ZkTool(self.zk.connect_string())
        r = tool.run("delete", leader_node)
        self.assertEqual(r.rc, RC_NOAUTH, r)
        self.assertIn("NoAuth", r.stderr)

        # With the credentials, changes are allowed.
        authed.set(active.info_path, active.advertise)  # same value: harmless
        authed.create(root + "/scratch", "x")
        authed.delete(root + "/scratch")
        authed.delete(passive_node)
        self.assertIsNone(authed.exists(passive_node))
        log("with credentials: set, create, delete allowed")
        # The ACTIVE is not disturbed by a follower's node vanishing.
        self.assertEqual(active.http_status(), "ACTIVE")


if __name__ == "__main__":
    unittest.main(verbosity=2)
