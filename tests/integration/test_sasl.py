"""SASL to ZooKeeper against real servers on loopback: Kerberos (GSSAPI, a KDC made by the
test) and DIGEST-MD5 (a JAAS Server section), both with enforce.auth. In each: one ACTIVE, the
latch carries the sasl ACL, other identities cannot write, an unauthenticated client gets
nothing, wrong credentials never become ACTIVE (a log line says why, connection attempts are
bounded by the backoff), the agents authenticate again after their server was killed and
restarted, and a missing keytab or password file is exit code 2 naming the flag."""

import os
import unittest

import harness
import secure_zk
from harness import log


class KerberosTest(secure_zk.SecureLatchCases, harness.LatchdTestCase):
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


class DigestTest(secure_zk.SecureLatchCases, harness.LatchdTestCase):
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
