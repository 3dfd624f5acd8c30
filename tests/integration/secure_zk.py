"""Secured ZooKeeper for the integration tests: a Kerberos KDC of the test's own, JAAS files,
certificates, and the JVM settings of a SASL or TLS ZooKeeper server and Java client.

  Kdc             MIT krb5kdc (Debian's krb5-kdc) on a loopback port: realm, principals and
                  keytabs in the test's directory; env() is KRB5_CONFIG for latchd
  jaas_file()     a JAAS login configuration (Server / Client sections)
  kerberos_server(kdc, ...), digest_server(...), tls_server(pki, ...)
                  ZkEnsemble arguments (extra_cfg, jvm_opts, extra_jars, tls_port_context)
                  of a server that authenticates with Kerberos, DIGEST-MD5 or client
                  certificates; the SASL ones set enforce.auth (unauthenticated clients are
                  refused with SESSIONCLOSEDREQUIRESASLAUTH)
  kerberos_client(kdc, ...), digest_client(...), tls_client(pki, ...)
                  ZkTool / ZkShell arguments (java_opts, extra_jars) of a Java client that
                  authenticates the same way (to read ACLs, check what others see)
  Pki             a CA and certificates made with openssl

Every server is started through harness.spawn() and stopped by pid by the caller's cleanups.
"""

import os
import socket
import ssl
import subprocess
import time

import harness
from harness import log, wait_until

REALM = "LATCHD.TEST"
NETTY_JARS = [harness.jar("netty-%s.jar" % n) for n in (
    "buffer", "codec", "common", "handler", "resolver", "transport",
    "transport-native-epoll", "transport-native-unix-common")]
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"


def _run(argv, env=None, timeout=60):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                   r.stderr))
    return r.stdout


def have_kdc():
    return all(os.path.exists(p) for p in ("/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util",
                                           "/usr/sbin/kadmin.local"))


# --------------------------------------------------------------------------------------------
# Kerberos


class Kdc:
    """A KDC of its own: database, stash, krb5.conf and kdc.conf below `base_dir`."""

    def __init__(self, base_dir, realm=REALM):
        self.dir = os.path.join(base_dir, "kdc")
        os.makedirs(self.dir, exist_ok=True)
        self.realm = realm
        self.port = harness.free_port()
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.log_path = os.path.join(self.dir, "kdc.log")
        self.proc = None

    def env(self):
        """What a Kerberos client (latchd, kinit) and the KDC tools need."""
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf}

    def _tool_env(self):
        e = dict(os.environ)
        e.update(self.env())
        return e

    def start(self, timeout=15.0):
        with open(self.krb5_conf, "w") as f:
            f.write("[libdefaults]\n"
                    "  default_realm = %(r)s\n"
                    "  dns_lookup_kdc = false\n"
                    "  dns_lookup_realm = false\n"
                    "  dns_canonicalize_hostname = false\n"
                    "  rdns = false\n"
                    "  udp_preference_limit = 1\n"
                    "  ticket_lifetime = 1h\n"
                    "[realms]\n"
                    "  %(r)s = {\n    kdc = 127.0.0.1:%(p)d\n  }\n"
                    "[domain_realm]\n"
                    "  localhost = %(r)s\n" % {"r": self.realm, "p": self.port})
        with open(self.kdc_conf, "w") as f:
            f.write("[kdcdefaults]\n"
                    "  kdc_listen = 127.0.0.1:%(p)d\n"
                    "  kdc_tcp_listen = 127.0.0.1:%(p)d\n"
                    "[realms]\n"
                    "  %(r)s = {\n"
                    "    database_name = %(d)s/principal\n"
                    "    key_stash_file = %(d)s/stash\n"
                    "    acl_file = %(d)s/kadm5.acl\n"
                    "    max_life = 1h\n"
                    "    supported_enctypes = aes256-cts-hmac-sha1-96:normal "
                    "aes128-cts-hmac-sha1-96:normal\n"
                    "  }\n"
                    "[logging]\n"
                    "  kdc = FILE:%(d)s/kdc.log\n" % {"r": self.realm, "p": self.port,
                                                      "d": self.dir})
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()
        t0 = time.monotonic()
        _run(["kdb5_util", "create", "-s", "-r", self.realm, "-P", "master-" + self.realm],
             env=self._tool_env())
        self.proc = harness.spawn(["/usr/sbin/krb5kdc", "-n", "-r", self.realm], "krb5kdc",
                                  os.path.join(self.dir, "krb5kdc.out"), env=self._tool_env())

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("krb5kdc exited with %s: %s" % (
                    self.proc.returncode, harness.tail(self.log_path)))
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        wait_until(listening, timeout, "krb5kdc listening on 127.0.0.1:%d" % self.port)
        harness.vlog("KDC %s on port %d in %.1f s" % (self.realm, self.port,
                                                     time.monotonic() - t0))
        return self

    def stop(self):
        harness.stop_process(self.proc)

    def principal(self, name):
        return name if "@" in name else "%s@%s" % (name, self.realm)

    def kadmin(self, query):
        return _run(["kadmin.local", "-r", self.realm, "-q", query], env=self._tool_env())

    def add_principal(self, name):
        self.kadmin("addprinc -randkey %s" % self.principal(name))
        return self.principal(name)

    def keytab(self, path, *names):
        """Exports the keys of `names` to a new keytab at path (mode 0600)."""
        for n in names:
            self.kadmin("ktadd -norandkey -k %s %s" % (path, self.principal(n)))
        os.chmod(path, 0o600)
        return path

    def change_keys(self, name):
        """New random keys: keytabs exported before are stale (wrong credentials)."""
        self.kadmin("cpw -randkey %s" % self.principal(name))


# --------------------------------------------------------------------------------------------
# JAAS, servers and clients


def jaas_file(path, sections):
    """sections: {name: (login module class, {option: value})}."""
    out = []
    for name, (module, options) in sections.items():
        out.append("%s {\n  %s required" % (name, module))
        for k, v in options.items():
            out.append('  %s=%s' % (k, v if isinstance(v, bool) or v in ("true", "false")
                                     else '"%s"' % v))
        out[-1] += ";"
        out.append("};")
    with open(path, "w") as f:
        f.write("\n".join(out).replace("=True", "=true").replace("=False", "=false") + "\n")
    return path


def krb5_module(keytab, principal):
    return ("com.sun.security.auth.module.Krb5LoginModule",
            {"useKeyTab": "true", "keyTab": keytab, "storeKey": "true",
             "useTicketCache": "false", "principal": principal})


def kerberos_server(kdc, directory, keytab, principal="zookeeper/localhost"):
    """A Kerberized server with enforce.auth; sasl ids without host and realm (atlas/h@R ->
    atlas), as Kerberized Hadoop clusters configure ZooKeeper."""
    jaas = jaas_file(os.path.join(directory, "server-jaas.conf"),
                     {"Server": krb5_module(keytab, kdc.principal(principal))})
    return {"extra_cfg": {"authProvider.1": SASL_PROVIDER, "enforce.auth.enabled": "true",
                          "enforce.auth.schemes": "sasl",
                          "kerberos.removeHostFromPrincipal": "true",
                          "kerberos.removeRealmFromPrincipal": "true"},
            "jvm_opts": ["-Djava.security.auth.login.config=" + jaas,
                         "-Djava.security.krb5.conf=" + kdc.krb5_conf]}


def kerberos_client(kdc, directory, keytab, principal):
    jaas = jaas_file(os.path.join(directory, "client-jaas-%s.conf" % principal.split("@")[0]
                                  .replace("/", "_")),
                     {"Client": krb5_module(keytab, kdc.principal(principal))})
    return {"java_opts": ["-Djava.security.auth.login.config=" + jaas,
                          "-Djava.security.krb5.conf=" + kdc.krb5_conf]}


DIGEST_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"


def digest_server(directory, users):
    """DIGEST-MD5 through a JAAS Server section (user_<name>="<password>"), enforce.auth."""
    jaas = jaas_file(os.path.join(directory, "server-jaas.conf"),
                     {"Server": (DIGEST_MODULE, {"user_%s" % u: p for u, p in users.items()})})
    return {"extra_cfg": {"authProvider.1": SASL_PROVIDER, "enforce.auth.enabled": "true",
                          "enforce.auth.schemes": "sasl"},
            "jvm_opts": ["-Djava.security.auth.login.config=" + jaas]}


def digest_client(directory, user, password):
    jaas = jaas_file(os.path.join(directory, "client-jaas-%s.conf" % user),
                     {"Client": (DIGEST_MODULE, {"username": user, "password": password})})
    return {"java_opts": ["-Djava.security.auth.login.config=" + jaas]}


# --------------------------------------------------------------------------------------------
# TLS


class Pki:
    """A CA and certificates (RSA 2048, PEM), made with openssl in `directory`."""

    def __init__(self, directory, name="ca"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = os.path.join(directory, "%s.key" % name)
        self.ca_cert = os.path.join(directory, "%s.pem" % name)
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", "/CN=latchd test %s" % name, "-keyout", self.ca_key, "-out",
              self.ca_cert])

    def issue(self, name, cn, server=False):
        """(cert, key) paths of a certificate for CN=cn signed by this CA; a server one for
        localhost and 127.0.0.1."""
        key = os.path.join(self.dir, "%s.key" % name)
        csr = os.path.join(self.dir, "%s.csr" % name)
        cert = os.path.join(self.dir, "%s.pem" % name)
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % cn,
              "-keyout", key, "-out", csr])
        ext = os.path.join(self.dir, "%s.ext" % name)
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if server else
                    "extendedKeyUsage=clientAuth\n")
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
              "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext])
        os.chmod(key, 0o600)
        return cert, key

    def context(self, cert, key):
        """An ssl.SSLContext of a client with this certificate, trusting this CA."""
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        ctx.load_cert_chain(cert, key)
        return ctx


def tls_server(pki, directory):
    """A server whose only client port is a secureClientPort (Netty) that requires client
    certificates of `pki`'s CA; x509 ids are the certificates' subject DNs."""
    cert, key = pki.issue("zk-server", "localhost", server=True)
    bundle = os.path.join(directory, "zk-server-keystore.pem")
    os.makedirs(directory, exist_ok=True)
    with open(bundle, "w") as out:
        for p in (key, cert):
            with open(p) as f:
                out.write(f.read())
    probe_cert, probe_key = pki.issue("zk-probe", "zk-probe")
    return {"extra_cfg": {
                "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
                "ssl.keyStore.location": bundle, "ssl.keyStore.type": "PEM",
                "ssl.trustStore.location": pki.ca_cert, "ssl.trustStore.type": "PEM",
                "ssl.clientAuth": "need",
                "authProvider.x509": "org.apache.zookeeper.server.auth.X509AuthenticationProvider"},
            "extra_jars": NETTY_JARS,
            "tls_port_context": pki.context(probe_cert, probe_key)}


def tls_client(pki, cert, key, directory):
    """ZkTool arguments: the Netty client socket with this certificate (a PEM bundle)."""
    bundle = os.path.join(directory, "%s-keystore.pem" % os.path.basename(cert))
    with open(bundle, "w") as out:
        for p in (key, cert):
            with open(p) as f:
                out.write(f.read())
    return {"java_opts": ["-Dzookeeper.client.secure=true",
                          "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
                          "-Dzookeeper.ssl.keyStore.location=" + bundle,
                          "-Dzookeeper.ssl.keyStore.type=PEM",
                          "-Dzookeeper.ssl.trustStore.location=" + pki.ca_cert,
                          "-Dzookeeper.ssl.trustStore.type=PEM"],
            "extra_jars": NETTY_JARS}


def connection_requests(server):
    """The server's count of connection requests (each one a session it creates or resumes;
    mntr zk_connection_request_count)."""
    return int(server.mntr().get("zk_connection_request_count", "0"))


# --------------------------------------------------------------------------------------------
# The cases every secured setup must pass (mixed into a harness.LatchdTestCase)

PERM_ALL, PERM_READ = 31, 1


class SecureLatchCases:
    """Test bodies shared by the Kerberos, DIGEST-MD5 and TLS setups. A subclass sets, in
    setUpClass, cls.zk (a started ZkEnsemble of one server), cls.acl_entry ({'scheme', 'id'}:
    what the agents' nodes must carry) and defines:
      agent_flags(i)      latchd flags (and cls.agent_env) of the i-th good agent
      bad_flags()         flags with wrong credentials (the server refuses them)
      trusted_client()    ZkShell kwargs of a client with the agents' identity
      other_client()      ZkShell kwargs of an authenticated client of another identity
      anonymous_client()  ZkTool kwargs of a client without credentials
      missing_file()      (flags with a missing file, the flag the message must name)
      why_refused         a regex the wrong-credential agent's log must match
      min_attempts, max_attempts  bounds on the server's connection requests (sessions)
                          in the wrong-credential window
    """

    agent_env = None
    why_refused = r"SASL authentication failed"
    min_attempts = 1
    max_attempts = 5
    window = 6.0  # seconds the wrong-credential agent is watched

    def start_secure_agents(self, root, count=2):
        agents = [self.make_agent("a%d" % (i + 1), self.zk.connect_string(), zk_root=root,
                                  session_timeout_ms=8000, env=self.agent_env,
                                  extra_flags=self.agent_flags(i) +
                                  ["--zk_acl=%s:%s" % (self.acl_entry["scheme"],
                                                       self.acl_entry["id"])])
                  for i in range(count)]
        for a in agents:
            a.start(wait=False)
        for a in agents:
            a.wait_ready()
        return agents

    def test_1_one_active_acl_and_outsiders(self):
        agents = self.start_secure_agents("/sec-elect")
        obs = self.start_observer(agents)
        active = self.wait_one_active(agents, timeout=20)
        trusted = self.zk_shell(self.zk.connect_string(), **self.trusted_client())
        parts = trusted.latch_participants(active.latch_path)
        self.assertEqual(sorted(p[1] for p in parts), sorted(a.id for a in agents))
        leader_node = active.latch_path + "/" + parts[0][0]
        self.assertEqual(parts[0][1], active.id)
        for path in (leader_node, active.info_path, active.latch_path):
            acl = trusted.getacl(path)
            log("ACL of %s: %s" % (path, acl))
            self.assertIn(dict(self.acl_entry, perms=PERM_ALL), acl, path)
            self.assertFalse(any(e["perms"] & ~PERM_READ for e in acl if e != dict(
                self.acl_entry, perms=PERM_ALL)), "only the agents' id may write: %s" % acl)
        self.assertEqual(trusted.get(active.info_path)["data"], active.advertise)

        # Another authenticated identity reads (world READ) but cannot change anything.
        other = self.zk_shell(self.zk.connect_string(), **self.other_client())
        log("the other client is %s" % other.run("whoami").data)
        self.assertEqual(other.get(active.info_path)["data"], active.advertise)
        r = other.run("set", active.info_path, "http://evil:1")
        self.assertEqual(r.rc, harness.RC_NOAUTH, r)
        r = other.run("delete", leader_node)
        self.assertEqual(r.rc, harness.RC_NOAUTH, r)

        # Without credentials: nothing at all.
        anon = harness.ZkTool(self.zk.connect_string(), timeout_ms=4000,
                              **self.anonymous_client())
        r = anon.run("get", active.info_path)
        log("anonymous get %s -> rc %d %s" % (active.info_path, r.rc, r.data))
        self.assertNotEqual(r.rc, 0, r)
        self.assertNotIn("data", r.data)
        self.assertEqual(self.wait_one_active(agents, timeout=5), active)
        obs.assert_no_overlap()

    def test_2_wrong_credentials(self):
        server = self.zk.servers[0]
        before = connection_requests(server)
        agent = self.make_agent("wrong", self.zk.connect_string(), zk_root="/sec-wrong",
                                session_timeout_ms=8000, env=self.agent_env,
                                extra_flags=self.bad_flags() + [
                                    "--zk_acl=%s:%s" % (self.acl_entry["scheme"],
                                                        self.acl_entry["id"])])
        agent.start()
        roles = set()
        t_end = time.monotonic() + self.window
        while time.monotonic() < t_end:
            roles.add(agent.http_status())
            time.sleep(0.05)
        attempts = connection_requests(server) - before
        log("wrong credentials: roles seen %s, %d connection requests in %.0f s" % (
            roles, attempts, self.window))
        self.assertEqual(roles, {"PASSIVE"})
        self.assertTrue(agent.running, "a refused credential is not a reason to exit")
        self.assertRegex(agent.log_tail(200), self.why_refused)
        self.assertGreaterEqual(attempts, self.min_attempts)
        self.assertLessEqual(attempts, self.max_attempts, "no session storm")
        trusted = self.zk_shell(self.zk.connect_string(), **self.trusted_client())
        self.assertIsNone(trusted.exists("/sec-wrong/leader_elector_path"))

    def test_3_reconnect_after_server_restart(self):
        agents = self.start_secure_agents("/sec-restart")
        active = self.wait_one_active(agents, timeout=20)
        server = self.zk.servers[0]
        log("killing ZooKeeper (SIGKILL) and starting it again")
        server.kill()
        t0 = time.monotonic()
        server.start(wait=True)
        log("ZooKeeper serving again after %.1f s" % (time.monotonic() - t0))
        # The sessions survive (8 s): the agents reconnect and authenticate again.
        again = self.wait_one_active(agents, timeout=20)
        for a in agents:
            wait_until(lambda a=a: a.status()["zk"]["state"] == "CONNECTED", 10,
                       "%s reconnected" % a.id)
        log("after the restart: %s ACTIVE" % again.id)
        # Writes need the re-authenticated identity: a graceful handover.
        passive = [a for a in agents if a is not again][0]
        again.stop()
        self.assertEqual(self.wait_one_active([passive], timeout=20), passive)
        trusted = self.zk_shell(self.zk.connect_string(), **self.trusted_client())
        self.assertEqual(trusted.get(passive.info_path)["data"], passive.advertise)

    def test_4_missing_file_exit_2(self):
        flags, flag = self.missing_file()
        r = harness.run_latchd(["--id=m1", "--zk_connect=%s" % self.zk.connect_string(),
                                "--zk_root=/sec-missing",
                                "--socket_path=%s" % os.path.join(self.tmp, "m.sock")] + flags,
                               env=self.agent_env)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        log("missing file: exit %d, %r" % (r.returncode, r.stderr))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("--" + flag, lines[0])
        trusted = self.zk_shell(self.zk.connect_string(), **self.trusted_client())
        self.assertIsNone(trusted.exists("/sec-missing"))
