"""SASL to ZooKeeper against real servers on loopback: Kerberos (GSSAPI, a KDC made by the
test) and DIGEST-MD5 (a JAAS Server section), both with enforce.auth. In each: one ACTIVE, the
latch carries the sasl ACL, other identities cannot write, an unauthenticated client gets
nothing, wrong credentials never become ACTIVE (a log line says why, connection attempts are
bounded by the backoff), the agents authenticate again after their server was killed and
restarted, and a missing keytab or password file is exit code 2 naming the flag. The same
through --atlas_properties: Atlas's JAAS Client section (keytab and principal, or DIGEST-MD5's
username and inline password) and its sasl: ACL are all latchd needs."""

import os
import unittest

import harness
import secure_zk
from harness import log


def write_atlas_properties(path, ids, zk, acl, auth, jaas):
    """An atlas-application.properties of a Kerberized (or DIGEST-MD5) Atlas HA pair: `jaas`
    is {option or key: value} of the ZooKeeper client's JAAS section atlas.jaas.Client, e.g.
    {"loginModuleName": ..., "option.keyTab": ...}. KafkaClient keys ride along, as in a real
    file (latchd names them in warnings)."""
    lines = ["atlas.server.ha.enabled=true", "atlas.server.ids=" + ",".join(ids),
             "atlas.enableTLS=false",
             "atlas.server.ha.zookeeper.connect=" + zk.connect_string(),
             "atlas.server.ha.zookeeper.acl=" + acl,
             "atlas.jaas.KafkaClient.loginModuleName=com.sun.security.auth.module.Krb5LoginModule",
             "atlas.jaas.KafkaClient.option.serviceName=kafka"]
    lines += ["atlas.server.address.%s=127.0.0.1:%d" % (i, harness.free_port()) for i in ids]
    if auth:
        lines.append("atlas.server.ha.zookeeper.auth=" + auth)
    lines += ["atlas.jaas.Client.%s=%s" % kv for kv in jaas.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


class AtlasPropertiesCase:
    """With --atlas_properties and nothing but Atlas's own settings for the credentials (the
    JAAS section, the sasl: ACL and auth): the agents authenticate with SASL and elect one
    ACTIVE whose nodes carry the sasl ACL. A subclass defines atlas_jaas() and atlas_auth
    and keeps acl_entry."""

    def test_5_atlas_properties(self):
        props = write_atlas_properties(
            os.path.join(self.tmp, "atlas-application.properties"), ["a1", "a2"], self.zk,
            "sasl:" + self.acl_entry["id"], self.atlas_auth, self.atlas_jaas())
        agents = [self.make_agent(i, self.zk.connect_string(), zk_root="/sec-atlas",
                                  session_timeout_ms=8000, env=self.agent_env,
                                  extra_flags=["--atlas_properties=" + props] +
                                  self.atlas_extra_flags)
                  for i in ("a1", "a2")]
        for a in agents:
            a.start(wait=False)
        for a in agents:
            a.wait_ready()
        active = self.wait_one_active(agents, timeout=20)
        log_text = active.log_tail(400)
        self.assertRegex(log_text, r"ZooKeeper SASL [A-Z0-9-]+ from atlas\.jaas\.Client\.\* in ")
        self.assertRegex(log_text, r"W.*atlas\.jaas\.KafkaClient\.option\.serviceName in .* is "
                                   r"not used")
        trusted = self.zk_shell(self.zk.connect_string(), **self.trusted_client())
        parts = trusted.latch_participants(active.latch_path)
        self.assertEqual(sorted(p[1] for p in parts), ["a1", "a2"])
        for path in (active.latch_path + "/" + parts[0][0], active.info_path):
            acl = trusted.getacl(path)
            log("ACL of %s: %s" % (path, acl))
            self.assertIn(dict(self.acl_entry, perms=secure_zk.PERM_ALL), acl, path)
        self.assertEqual(trusted.get(active.info_path)["data"], active.advertise)


class KerberosTest(AtlasPropertiesCase, secure_zk.SecureLatchCases, harness.LatchdTestCase):
    """GSSAPI: principals atlas/localhost (the agents), other/localhost (another identity),
    stale/localhost (its keytab is outdated: the wrong credential). The server strips host and
    realm from sasl ids (atlas/localhost@LATCHD.TEST -> atlas), as Kerberized clusters do."""

    acl_entry = {"scheme": "sasl", "id": "atlas"}

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        if not secure_zk.have_kdc():
            raise unittest.SkipTest("krb5-kdc and krb5-admin-server are not installed")
        tmp = cls.class_tmp()
        cls.kdc = secure_zk.Kdc(tmp)
        cls.addClassCleanup(cls.kdc.stop)
        cls.kdc.start()
        for p in ("zookeeper/localhost", "atlas/localhost", "other/localhost", "stale/localhost"):
            cls.kdc.add_principal(p)
        k = lambda name, *p: cls.kdc.keytab(os.path.join(tmp, name), *p)  # noqa: E731
        cls.zk_keytab = k("zk.keytab", "zookeeper/localhost")
        cls.atlas_keytab = k("atlas.keytab", "atlas/localhost")
        # other first: --zk_sasl_principal must pick atlas out of it.
        cls.two_keytab = k("two.keytab", "other/localhost", "atlas/localhost")
        cls.other_keytab = k("other.keytab", "other/localhost")
        cls.stale_keytab = k("stale.keytab", "stale/localhost")
        cls.kdc.change_keys("stale/localhost")
        cls.agent_env = cls.kdc.env()
        cls.zk = cls.class_zk(size=1, tick_time=400,
                              **secure_zk.kerberos_server(cls.kdc, tmp, cls.zk_keytab))
        auth = os.path.join(tmp, "sasl.auth")
        with open(auth, "w") as f:
            f.write("sasl:atlas/localhost@%s\n" % cls.kdc.realm)
        os.chmod(auth, 0o600)
        cls.sasl_auth_file = auth

    def agent_flags(self, i):
        common = ["--zk_sasl_mechanism=GSSAPI", "--zk_sasl_host=localhost"]
        if i % 2 == 0:
            return common + ["--zk_sasl_keytab=" + self.two_keytab,
                             "--zk_sasl_principal=atlas/localhost@" + self.kdc.realm]
        # The principal from a sasl: auth (Atlas's atlas.server.ha.zookeeper.auth).
        return common + ["--zk_sasl_keytab=" + self.atlas_keytab,
                         "--zk_auth_file=" + self.sasl_auth_file]

    def bad_flags(self):
        return ["--zk_sasl_mechanism=GSSAPI", "--zk_sasl_host=localhost",
                "--zk_sasl_keytab=" + self.stale_keytab,
                "--zk_sasl_principal=stale/localhost@" + self.kdc.realm]

    # The client cannot get a ticket with outdated keys: the C client's SASL line says so.
    why_refused = r"(?s)SASL.*(Preauthentication failed|Password incorrect|GSSAPI).*" \
                  r"SASL authentication failed"

    def trusted_client(self):
        return secure_zk.kerberos_client(self.kdc, self.tmp, self.atlas_keytab, "atlas/localhost")

    def other_client(self):
        return secure_zk.kerberos_client(self.kdc, self.tmp, self.other_keytab, "other/localhost")

    def anonymous_client(self):
        return {}

    def missing_file(self):
        return (["--zk_sasl_mechanism=GSSAPI",
                 "--zk_sasl_keytab=" + os.path.join(self.tmp, "missing.keytab")],
                "zk_sasl_keytab")

    # Atlas's Kerberos settings for its ZooKeeper client; the server name is this test's.
    atlas_extra_flags = ["--zk_sasl_host=localhost"]

    @property
    def atlas_auth(self):
        return "sasl:atlas/localhost@" + self.kdc.realm

    def atlas_jaas(self):
        return {"loginModuleName": "com.sun.security.auth.module.Krb5LoginModule",
                "loginModuleControlFlag": "required",
                "option.useKeyTab": "true", "option.storeKey": "true",
                "option.keyTab": self.atlas_keytab,
                "option.principal": "atlas/localhost@" + self.kdc.realm}


class DigestTest(AtlasPropertiesCase, secure_zk.SecureLatchCases, harness.LatchdTestCase):
    """DIGEST-MD5: the server's JAAS Server section knows latchd and reader."""

    acl_entry = {"scheme": "sasl", "id": "latchd"}
    PASSWORD = "latchd-pw"

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        tmp = cls.class_tmp()
        cls.zk = cls.class_zk(size=1, tick_time=400, **secure_zk.digest_server(
            tmp, {"latchd": cls.PASSWORD, "reader": "reader-pw"}))
        cls.password_file = os.path.join(tmp, "latchd.password")
        with open(cls.password_file, "w") as f:
            f.write(cls.PASSWORD + "\n")
        os.chmod(cls.password_file, 0o600)
        cls.wrong_file = os.path.join(tmp, "wrong.password")
        with open(cls.wrong_file, "w") as f:
            f.write("not-the-password\n")

    def agent_flags(self, i):
        return ["--zk_sasl_mechanism=DIGEST-MD5", "--zk_sasl_user=latchd",
                "--zk_sasl_password_file=" + self.password_file]

    def bad_flags(self):
        return ["--zk_sasl_mechanism=DIGEST-MD5", "--zk_sasl_user=latchd",
                "--zk_sasl_password_file=" + self.wrong_file]

    def trusted_client(self):
        return secure_zk.digest_client(self.tmp, "latchd", self.PASSWORD)

    def other_client(self):
        return secure_zk.digest_client(self.tmp, "reader", "reader-pw")

    def anonymous_client(self):
        return {}

    def missing_file(self):
        return (["--zk_sasl_mechanism=DIGEST-MD5", "--zk_sasl_user=latchd",
                 "--zk_sasl_password_file=" + os.path.join(self.tmp, "missing.password")],
                "zk_sasl_password_file")

    # The password inline in the properties file (Atlas's DigestLoginModule option).
    atlas_extra_flags = []
    atlas_auth = None

    def atlas_jaas(self):
        return {"loginModuleName": secure_zk.DIGEST_MODULE, "option.username": "latchd",
                "option.password": self.PASSWORD}


if __name__ == "__main__":
    unittest.main(verbosity=2)
