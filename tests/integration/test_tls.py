"""TLS to ZooKeeper against a real server on loopback: its only client port is a Netty
secureClientPort that requires client certificates (ssl.clientAuth=need), certificates made by
the test with openssl. One ACTIVE, the latch carries the x509 ACL of the agents' certificate,
another certificate reads but cannot write, a client without a certificate gets nothing, a
certificate of another CA never becomes ACTIVE (the log says why: OpenSSL's reason), the
agents reconnect after their server was killed and restarted, and a missing certificate is exit
code 2 naming the flag. The ZooKeeper 3.8 C client has no SASL over TLS: latchd refuses the
combination (tests/unit/zk_security_config_test.cc)."""

import os
import unittest

import harness
import secure_zk


class TlsTest(secure_zk.SecureLatchCases, harness.LatchdTestCase):

    # X509AuthenticationProvider's id: the certificate's subject DN.
    acl_entry = {"scheme": "x509", "id": "CN=latchd-agent"}
    why_refused = r"error in ssl connect \(TLS handshake failed: .+\)"
    # A refused handshake creates no session: the server sees no connection request. (The C
    # client retries the handshake like an unreachable server: every session timeout / 60
    # after a pass over all servers, ~130 ms here.)
    min_attempts = 0
    max_attempts = 0

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        tmp = cls.class_tmp()
        cls.pki = secure_zk.Pki(os.path.join(tmp, "pki"))
        cls.agent_cert, cls.agent_key = cls.pki.issue("agent", "latchd-agent")
        cls.other_cert, cls.other_key = cls.pki.issue("other", "other-client")
        cls.rogue = secure_zk.Pki(os.path.join(tmp, "rogue"), name="rogue-ca")
        cls.rogue_cert, cls.rogue_key = cls.rogue.issue("rogue", "latchd-agent")
        cls.zk = cls.class_zk(size=1, tick_time=400,
                              **secure_zk.tls_server(cls.pki, os.path.join(tmp, "zk-tls")))

    def tls_flags(self, cert, key):
        return ["--zk_tls_ca=" + self.pki.ca_cert, "--zk_tls_cert=" + cert, "--zk_tls_key=" + key]

    def agent_flags(self, i):
        return self.tls_flags(self.agent_cert, self.agent_key)

    def bad_flags(self):
        # Same subject, signed by a CA the server does not trust.
        return self.tls_flags(self.rogue_cert, self.rogue_key)

    def trusted_client(self):
        return secure_zk.tls_client(self.pki, self.agent_cert, self.agent_key, self.tmp)

    def other_client(self):
        return secure_zk.tls_client(self.pki, self.other_cert, self.other_key, self.tmp)

    def anonymous_client(self):
        # TLS with the server's CA but no certificate of its own.
        kw = secure_zk.tls_client(self.pki, self.other_cert, self.other_key, self.tmp)
        kw["java_opts"] = [o for o in kw["java_opts"] if "keyStore" not in o]
        return kw

    def missing_file(self):
        return (self.tls_flags(os.path.join(self.tmp, "missing.pem"), self.agent_key),
                "zk_tls_cert")


if __name__ == "__main__":
    unittest.main(verbosity=2)
