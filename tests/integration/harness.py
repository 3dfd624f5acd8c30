"""Process harness for latchd's integration tests (standard library only).

Building blocks, reusable by the integration tests, a fault-injection suite and benchmarks:

  free_port()                    a free TCP port on 127.0.0.1 (never handed out twice per process)
  wait_until(pred, timeout, msg) poll until pred() is truthy; AssertionError with msg on deadline
  ZkServer / ZkEnsemble          1 or 3 ZooKeeper servers from Debian's package on loopback
                                 (JVM options, extra jars and a TLS-only client port for the
                                 secured servers of secure_zk.py)
  Agent                          one latchd process: flags, status() via the Unix socket,
                                 http_status() via HTTP, stop/kill/pause/resume by pid
  Observer                       a thread sampling every agent's role every ~2 ms; answers
                                 "were two ever ACTIVE at once?" and handover times
  ZkTool / ZkShell               one-shot / persistent ZooKeeper client (tests/java/ZkTool.java)
  CuratorPeer                    a Curator LeaderLatch participant (tests/java/CuratorParticipant.java)
  LatchdTestCase                 unittest base class: temp dir, cleanup of every process by pid
                                 (also on failure, and at exit), log tails dumped on failure;
                                 assert_refused_at_start() for flags latchd must refuse

Every wait has a deadline. Every process is started through spawn(), which records it; it is
stopped by pid in the test's cleanups and, as a last resort, at interpreter exit. Children are
started under `setpriv --pdeathsig KILL` (when available) so they die with the test process
even if it is killed by the CTest timeout.

Environment:
  LATCHD_BIN_DIR   directory with latchd and latchctl (default: <repo>/build/bin)
  LATCHD_KEEP_TMP  1: keep the temporary directories (their paths are printed)
  LATCHD_IT_VERBOSE 1: print harness progress to stderr
"""

import atexit
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JAVA_SRC_DIR = os.path.join(REPO_ROOT, "tests", "java")
SHARE_JAVA = "/usr/share/java"

ROLES = ("PASSIVE", "BECOMING_ACTIVE", "ACTIVE", "BECOMING_PASSIVE")


def log(msg):
    """Progress line on stderr (always for important facts; see vlog for chatter)."""
    sys.stderr.write("[harness %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def vlog(msg):
    if os.environ.get("LATCHD_IT_VERBOSE") == "1":
        log(msg)


def jar(name):
    return os.path.join(SHARE_JAVA, name)


# --------------------------------------------------------------------------------------------
# Binaries


def bin_dir():
    return os.environ.get("LATCHD_BIN_DIR") or os.path.join(REPO_ROOT, "build", "bin")


def latchd_path():
    return os.path.join(bin_dir(), "latchd")


def latchctl_path():
    return os.path.join(bin_dir(), "latchctl")


def binaries_available():
    return all(os.path.isfile(p) and os.access(p, os.X_OK)
               for p in (latchd_path(), latchctl_path()))


def require_binaries():
    """Skip when the daemon was never built and LATCHD_BIN_DIR is unset; fail when it is set
    (CTest sets it: a missing binary there is a build problem, not a reason to skip)."""
    if binaries_available():
        return
    msg = "latchd/latchctl not found in %s" % bin_dir()
    if os.environ.get("LATCHD_BIN_DIR"):
        raise AssertionError(msg)
    raise unittest.SkipTest(msg + " (build first, or set LATCHD_BIN_DIR)")


# --------------------------------------------------------------------------------------------
# Waiting


class WaitTimeout(AssertionError):
    pass


def wait_until(pred, timeout, message, interval=0.02):
    """Calls pred() until it returns something truthy, and returns that. Exceptions from pred
    count as "not yet". On the deadline raises WaitTimeout (an AssertionError) with message,
    the last value and the last exception."""
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - "not yet"
            last_exc = e
        if time.monotonic() >= deadline:
            detail = "last value %r" % (last,)
            if last_exc is not None:
                detail += "; last error %s: %s" % (type(last_exc).__name__, last_exc)
            raise WaitTimeout("%s (not within %.1f s; %s)" % (message, timeout, detail))
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Ports

_ports_lock = threading.Lock()
_ports_given = set()


def free_port(host="127.0.0.1"):
    """A TCP port that is free now on host. Chosen below Linux's ephemeral range (32768+) so
    that outgoing connections cannot grab it between now and its use; never the same twice in
    one process."""
    with _ports_lock:
        for _ in range(1000):
            port = random.randint(20000, 32000)
            if port in _ports_given:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((host, port))
            except OSError:
                continue
            finally:
                s.close()
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port found")


# --------------------------------------------------------------------------------------------
# Processes

_procs_lock = threading.Lock()
_procs = {}  # pid -> (Popen, name)
_SETPRIV = shutil.which("setpriv")


def spawn(args, name, log_path=None, stdin=subprocess.DEVNULL, stdout=None, env=None,
          cwd=None):
    """Starts a process and records it for cleanup. stdout and stderr go to log_path (appended)
    unless stdout is given (then only stderr goes there)."""
    logf = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        argv = list(args)
        if _SETPRIV:
            argv = [_SETPRIV, "--pdeathsig", "KILL", "--"] + argv
        p = subprocess.Popen(argv, stdin=stdin,
                             stdout=stdout if stdout is not None else logf,
                             stderr=logf, env=env, cwd=cwd, start_new_session=True)
    finally:
        if log_path:
            logf.close()
    with _procs_lock:
        _procs[p.pid] = (p, name)
    vlog("started %s pid %d: %s" % (name, p.pid, " ".join(args)))
    return p


def _forget(p):
    with _procs_lock:
        _procs.pop(p.pid, None)


def stop_process(p, timeout=10.0, sig=signal.SIGTERM):
    """Signals p by pid and waits; SIGKILL if it has not exited within timeout. Returns the
    exit code (negative for a signal, as subprocess reports it)."""
    if p is None:
        return None
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(p.pid, signal.SIGCONT)
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(10)
    _forget(p)
    return p.returncode


def kill_process(p):
    if p is None:
        return None
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(10)
    _forget(p)
    return p.returncode


@atexit.register
def _kill_leftovers():
    with _procs_lock:
        items = list(_procs.values())
        _procs.clear()
    for p, name in items:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)
            except Exception:  # noqa: BLE001
                pass


def live_processes():
    with _procs_lock:
        return [(p.pid, name) for p, name in _procs.values() if p.poll() is None]


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "<cannot read %s: %s>" % (path, e)
    return "\n".join(data.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Java helpers (ZkTool, CuratorParticipant)

ZK_CLIENT_JARS = [jar("zookeeper.jar"), jar("zookeeper-jute.jar")]
CURATOR_JARS = [jar("curator-recipes.jar"), jar("curator-framework.jar"),
                jar("curator-client.jar"), jar("guava.jar")] + ZK_CLIENT_JARS
JAVA_TOOL_OPTS = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                  "-Djava.net.preferIPv4Stack=true"]

_java_lock = threading.Lock()
_java_classes = None


def java_classes():
    """Compiles tests/java/*.java once per source version (cached under the temp dir, shared
    by test processes) and returns the class directory."""
    global _java_classes
    with _java_lock:
        if _java_classes:
            return _java_classes
        sources = sorted(f for f in os.listdir(JAVA_SRC_DIR) if f.endswith(".java"))
        h = hashlib.sha256()
        for f in sources:
            h.update(f.encode())
            with open(os.path.join(JAVA_SRC_DIR, f), "rb") as fh:
                h.update(fh.read())
        cache_root = os.path.join(tempfile.gettempdir(), "latchd-it-java")
        os.makedirs(cache_root, exist_ok=True)
        target = os.path.join(cache_root, h.hexdigest()[:16])
        if not os.path.isfile(os.path.join(target, ".ok")):
            work = tempfile.mkdtemp(prefix="build-", dir=cache_root)
            cp = ":".join(CURATOR_JARS)
            cmd = ["javac", "-proc:none", "-implicit:none", "-nowarn", "-encoding", "UTF-8",
                   "-d", work, "-cp", cp] + [os.path.join(JAVA_SRC_DIR, f) for f in sources]
            t0 = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
            if r.returncode != 0:
                shutil.rmtree(work, ignore_errors=True)
                raise RuntimeError("javac failed:\n%s%s" % (r.stdout, r.stderr))
            open(os.path.join(work, ".ok"), "w").close()
            try:
                os.rename(work, target)
            except OSError:  # another process won the race
                shutil.rmtree(work, ignore_errors=True)
            vlog("compiled %s in %.1f s" % (", ".join(sources), time.monotonic() - t0))
        _java_classes = target
        return target


def zktool_classpath():
    return ":".join([java_classes()] + ZK_CLIENT_JARS + [jar("slf4j-nop.jar")])


def curator_classpath():
    return ":".join([java_classes()] + CURATOR_JARS + [jar("slf4j-simple.jar")])


# --------------------------------------------------------------------------------------------
# ZooKeeper servers


def four_letter(port, cmd, host="127.0.0.1", timeout=2.0, tls=None):
    """Sends a ZooKeeper four-letter command (over TLS with the ssl.SSLContext `tls`); returns
    the answer, or None when the server cannot be reached."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
        with (tls.wrap_socket(raw, server_hostname=host) if tls else raw) as s:
            s.settimeout(timeout)
            s.sendall(cmd.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return None


_SID_RE = re.compile(r"\bsid=0x([0-9a-fA-F]+)")


def parse_session_id(value):
    """Accepts an int, '0x1a2b', '1a2b' (hex) or a decimal string; returns an int."""
    if isinstance(value, int):
        return value
    s = str(value).strip().lower()
    if s.startswith("0x"):
        return int(s, 16)
    if re.fullmatch(r"[0-9]+", s):
        return int(s)
    return int(s, 16)


class ZkServer:
    """One ZooKeeper server (QuorumPeerMain) with its own zoo.cfg, data dir and log."""

    def __init__(self, base_dir, myid=1, tick_time=200, init_limit=10, sync_limit=5,
                 client_port=None, quorum_port=None, election_port=None, logging=True,
                 extra_cfg=None, jvm_opts=(), extra_jars=(), tls_port_context=None):
        """jvm_opts/extra_jars: added to the server's command line and class path.
        tls_port_context: an ssl.SSLContext (with a client certificate): the client port is
        then a secureClientPort only (TLS; the ssl.* settings go in extra_cfg) and four-letter
        commands use that context."""
        self.myid = myid
        self.dir = os.path.join(base_dir, "zk%d" % myid)
        self.data_dir = os.path.join(self.dir, "data")
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.name = "zk%d" % myid
        self.tick_time = tick_time
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.client_port = client_port or free_port()
        self.quorum_port = quorum_port or free_port()
        self.election_port = election_port or free_port()
        self.logging = logging
        self.extra_cfg = dict(extra_cfg or {})
        self.jvm_opts = list(jvm_opts)
        self.extra_jars = list(extra_jars)
        self.tls_port_context = tls_port_context
        self.peers = []  # all ZkServers of the ensemble, self included; [] = standalone
        self.proc = None
        os.makedirs(self.data_dir, exist_ok=True)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.client_port

    def write_config(self):
        lines = [
            "tickTime=%d" % self.tick_time,
            "initLimit=%d" % self.init_limit,
            "syncLimit=%d" % self.sync_limit,
            "dataDir=%s" % self.data_dir,
            ("secureClientPort=%d" if self.tls_port_context else "clientPort=%d") %
            self.client_port,
            "%s=127.0.0.1" % ("secureClientPortAddress" if self.tls_port_context
                              else "clientPortAddress"),
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr,mntr,ruok,cons,stat",
            "maxClientCnxns=0",
        ]
        for k, v in self.extra_cfg.items():
            lines.append("%s=%s" % (k, v))
        if len(self.peers) > 1:
            for p in self.peers:
                lines.append("server.%d=127.0.0.1:%d:%d" % (p.myid, p.quorum_port,
                                                            p.election_port))
            with open(os.path.join(self.data_dir, "myid"), "w") as f:
                f.write("%d\n" % self.myid)
        with open(self.cfg_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def command(self):
        if self.logging:
            logging_jar = jar("slf4j-simple.jar")
            log_opts = ["-Dorg.slf4j.simpleLogger.showDateTime=true",
                        "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
                        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info"]
        else:
            logging_jar = jar("slf4j-nop.jar")
            log_opts = []
        return (["java", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true",
                 "-Dzookeeper.admin.enableServer=false"] + log_opts + self.jvm_opts +
                ["-cp", ":".join([jar("zookeeper.jar"), logging_jar] + self.extra_jars),
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg_path])

    def start(self, wait=False, timeout=30.0):
        if self.running:
            raise RuntimeError("%s already running" % self.name)
        self.write_config()
        with open(self.log_path, "ab") as f:
            f.write(("==== start %s\n" % time.strftime("%H:%M:%S")).encode())
        self.proc = spawn(self.command(), self.name, self.log_path)
        if wait:
            self.wait_serving(timeout)
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout."""
        rc = stop_process(self.proc, timeout)
        return rc

    def kill(self):
        """SIGKILL (a crash)."""
        return kill_process(self.proc)

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def four_letter(self, cmd, timeout=2.0):
        return four_letter(self.client_port, cmd, timeout=timeout, tls=self.tls_port_context)

    def mntr(self):
        """The `mntr` answer as a dict of strings ({} when unreachable)."""
        out = self.four_letter("mntr") or ""
        return dict(l.split("\t", 1) for l in out.splitlines() if "\t" in l)

    def srvr(self):
        """The `srvr` answer as a dict ('Mode', 'Zxid', ...), or None when unreachable or not
        serving."""
        out = self.four_letter("srvr")
        if not out or "Mode:" not in out:
            return None
        d = {}
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                d[k.strip()] = v.strip()
        return d

    def mode(self):
        """'standalone', 'leader', 'follower', or None when not serving."""
        d = self.srvr()
        return d.get("Mode") if d else None

    def serving(self):
        return self.running and self.mode() is not None

    def wait_serving(self, timeout=30.0):
        def ready():
            if not self.running:
                raise AssertionError("%s exited with %s; log:\n%s" % (
                    self.name, self.proc.returncode if self.proc else None,
                    tail(self.log_path, 30)))
            return self.mode()
        try:
            return wait_until(ready, timeout, "%s serving (srvr shows Mode:)" % self.name,
                              interval=0.05)
        except AssertionError:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("%s exited with %s; log:\n%s" % (
                    self.name, self.proc.returncode, tail(self.log_path, 30)))
            raise

    def sessions(self):
        """Session ids (ints) of the clients connected to this server (4lw `cons`)."""
        out = self.four_letter("cons")
        if not out:
            return []
        return [int(m.group(1), 16) for m in _SID_RE.finditer(out)]

    def log_tail(self, lines=40):
        return tail(self.log_path, lines)


class ZkEnsemble:
    """1 (standalone) or N ZooKeeper servers on 127.0.0.1."""

    def __init__(self, base_dir, size=1, tick_time=200, init_limit=10, sync_limit=5,
                 logging=True, extra_cfg=None, **server_kw):
        """server_kw: more ZkServer arguments (jvm_opts, extra_jars, tls_port_context)."""
        self.base_dir = base_dir
        self.tick_time = tick_time
        self.servers = [ZkServer(base_dir, myid=i + 1, tick_time=tick_time,
                                 init_limit=init_limit, sync_limit=sync_limit,
                                 logging=logging, extra_cfg=extra_cfg, **server_kw)
                        for i in range(size)]
        if size > 1:
            for s in self.servers:
                s.peers = self.servers

    def __len__(self):
        return len(self.servers)

    def server(self, myid):
        return self.servers[myid - 1]

    def connect_string(self, chroot=""):
        return ",".join(s.address for s in self.servers) + chroot

    def start(self, wait=True, timeout=60.0):
        t0 = time.monotonic()
        for s in self.servers:
            if not s.running:
                s.start()
        if wait:
            self.wait_serving(timeout)
            vlog("ZooKeeper x%d serving after %.1f s" % (len(self.servers),
                                                        time.monotonic() - t0))
        return self

    def wait_serving(self, timeout=60.0, servers=None):
        """Waits until every given (default: every running) server serves."""
        targets = servers or [s for s in self.servers if s.running]
        deadline = time.monotonic() + timeout
        for s in targets:
            s.wait_serving(max(0.1, deadline - time.monotonic()))

    def stop(self):
        for s in self.servers:
            s.stop()

    def kill(self):
        for s in self.servers:
            s.kill()

    def leader(self):
        """The server whose srvr says leader (or standalone); None if there is none now."""
        for s in self.servers:
            if s.running and s.mode() in ("leader", "standalone"):
                return s
        return None

    def wait_leader(self, timeout=30.0):
        return wait_until(self.leader, timeout, "a ZooKeeper leader", interval=0.05)

    def followers(self):
        return [s for s in self.servers if s.running and s.mode() == "follower"]

    def connected_server(self, session_id):
        """The running server that holds a connection of session_id (int or hex string),
        found with `cons`; None if no server lists it right now."""
        sid = parse_session_id(session_id)
        for s in self.servers:
            if s.running and sid in s.sessions():
                return s
        return None

    def wait_connected_server(self, session_id, timeout=10.0):
        return wait_until(lambda: self.connected_server(session_id), timeout,
                          "a ZooKeeper server listing session 0x%x" %
                          parse_session_id(session_id))

    def log_files(self):
        return [(s.name, s.log_path) for s in self.servers]


# --------------------------------------------------------------------------------------------
# HTTP and Unix-socket clients


class IncompleteResponse(ValueError):
    """The connection closed before the body announced by Content-Length was complete: the status
    line and headers arrived, the rest did not (e.g. HAProxy's `on-marked-down shutdown-sessions`
    cut the request after the server had sent its headers). Any HTTP client reports this as an
    error (Python's http.client: IncompleteRead; curl: exit 18), never as an answer. Carries what
    did arrive: status, headers (lower-case names), body (the partial bytes) and expected (the
    Content-Length)."""

    def __init__(self, status, headers, body, expected):
        super().__init__("incomplete HTTP response: status %d, %d of %d body bytes, then the "
                         "connection closed" % (status, len(body), expected))
        self.status = status
        self.headers = headers
        self.body = body
        self.expected = expected


def http_get(host, port, path, timeout=1.0):
    """Minimal HTTP/1.1 GET with Connection: close. Returns (status, headers dict with lower-case
    names, body bytes). Raises OSError/ValueError on failure; IncompleteResponse (a ValueError)
    when the connection closes before Content-Length body bytes arrived."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
               "Accept: application/json\r\n\r\n" % (path, host, port))
        s.sendall(req.encode())
        data = b""
        header_end = -1
        length = None
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
            if header_end < 0:
                header_end = data.find(b"\r\n\r\n")
                if header_end >= 0:
                    for line in data[:header_end].split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v.strip())
            if header_end >= 0 and length is not None and len(data) >= header_end + 4 + length:
                break
    if header_end < 0:
        raise ValueError("incomplete HTTP response: %r" % data[:200])
    head = data[:header_end].decode("iso-8859-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("bad status line %r" % head[0])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = data[header_end + 4:]
    if length is not None:
        if len(body) < length:
            raise IncompleteResponse(int(parts[1]), headers, body, length)
        body = body[:length]
    return int(parts[1]), headers, body


def unix_request(path, line, timeout=2.0):
    """Sends one line to a Unix stream socket and returns the first line of the answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        data = b""
        while b"\n" not in data:
            b = s.recv(65536)
            if not b:
                break
            data += b
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# latchd agents

STATUS_PATH = "/api/atlas/admin/status"


class Agent:
    """One latchd process. Flags follow the daemon's contract; anything else goes in
    extra_flags (a list of '--flag=value' strings)."""

    def __init__(self, agent_id, zk_connect, workdir, zk_root="/latchd",
                 session_timeout_ms=3000, advertise=None, http_port=None, socket_path=None,
                 extra_flags=(), env=None, name=None):
        self.id = agent_id
        self.name = name or "agent-%s" % agent_id
        self.zk_connect = zk_connect
        self.zk_root = zk_root
        self.session_timeout_ms = session_timeout_ms
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.http_port = http_port or free_port()
        self.advertise = advertise or "http://127.0.0.1:%d" % self.http_port
        # Short path: sun_path is limited to 108 bytes.
        self.socket_path = socket_path or os.path.join(self.dir, "s.sock")
        self.extra_flags = list(extra_flags)
        self.log_path = os.path.join(self.dir, "latchd.log")
        self.env = env
        self.proc = None
        self.started_at = None
        self.stopped_at = None

    @property
    def latch_path(self):
        return self.zk_root.rstrip("/") + "/leader_elector_path"

    @property
    def info_path(self):
        return self.zk_root.rstrip("/") + "/active_server_info"

    def flags(self):
        f = ["--id=%s" % self.id, "--zk_connect=%s" % self.zk_connect]
        if self.zk_root is not None:
            f.append("--zk_root=%s" % self.zk_root)
        if self.session_timeout_ms is not None:
            f.append("--zk_session_timeout_ms=%d" % self.session_timeout_ms)
        f += ["--advertise=%s" % self.advertise,
              "--http_listen=127.0.0.1:%d" % self.http_port,
              "--socket_path=%s" % self.socket_path]
        return f + self.extra_flags

    def start(self, wait=True, timeout=15.0):
        if self.running:
            raise RuntimeError("%s already running" % self.name)
        env = dict(os.environ)
        # If glog ever writes files, keep them in the agent's directory.
        env.setdefault("GLOG_log_dir", self.dir)
        if self.env:
            env.update(self.env)
        with open(self.log_path, "ab") as f:
            f.write(("==== start %s: %s\n" % (time.strftime("%H:%M:%S"),
                                             " ".join(self.flags()))).encode())
        self.started_at = time.monotonic()
        self.stopped_at = None
        self.proc = spawn([latchd_path()] + self.flags(), self.name, self.log_path, env=env,
                          cwd=self.dir)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        """Until both the Unix socket and the HTTP endpoint answer."""
        def ready():
            if not self.running:
                raise AssertionError("%s exited with %s; log:\n%s" % (
                    self.name, self.proc.returncode, self.log_tail(30)))
            return self.status() and self.http_status()
        try:
            return wait_until(ready, timeout, "%s answering on socket and HTTP" % self.name,
                              interval=0.05)
        except AssertionError:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s; log:\n%s" % (
                    self.name, self.proc.returncode, self.log_tail(30)))
            raise

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """SIGTERM (or sig) by pid and wait; SIGKILL after timeout. Returns the exit code."""
        rc = stop_process(self.proc, timeout, sig)
        self.stopped_at = time.monotonic()
        return rc

    def kill(self):
        rc = kill_process(self.proc)
        self.stopped_at = time.monotonic()
        return rc

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %.1f s" % (self.name, timeout))

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def status(self, timeout=2.0):
        """The socket's `status` answer as a dict."""
        return json.loads(unix_request(self.socket_path, "status", timeout))

    def try_status(self, timeout=1.0):
        try:
            return self.status(timeout)
        except (OSError, ValueError):
            return None

    def http(self, path=STATUS_PATH, timeout=1.0):
        return http_get("127.0.0.1", self.http_port, path, timeout)

    def http_status(self, timeout=1.0):
        """The role word from GET /api/atlas/admin/status, or None when the agent cannot be
        reached or answers something else than 200 {"Status": ...}."""
        try:
            code, _, body = self.http(STATUS_PATH, timeout)
            if code != 200:
                return None
            return json.loads(body)["Status"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def latchctl(self, *args, timeout=10.0):
        """Runs latchctl; for `status` adds --socket=<this agent's socket> unless given."""
        argv = [latchctl_path()] + list(args)
        if not any(a.startswith("--socket") for a in args) and args and args[0] == "status":
            argv.append("--socket=%s" % self.socket_path)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def log_tail(self, lines=40):
        return tail(self.log_path, lines)

    def __repr__(self):
        return "<Agent %s pid=%s>" % (self.id, self.pid)


def run_latchd(flags, timeout=10.0, env=None):
    """Runs latchd in the foreground (for flag errors); returns CompletedProcess."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([latchd_path()] + list(flags), capture_output=True, text=True,
                          timeout=timeout, env=e, stdin=subprocess.DEVNULL)


def run_latchctl(args, timeout=10.0):
    return subprocess.run([latchctl_path()] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------------
# Observer


class Observer:
    """Samples each source's role every `interval` seconds and records (t, name, role): t is
    the middle of the request on time.monotonic(); role is None when the source could not be
    reached. Each source is polled by its own thread, so a slow or paused (SIGSTOP) agent does
    not slow down the sampling of the others.

    sources: dict name -> callable returning a role word or None (an Agent's http_status, or a
    CuratorPeer's role). Use as a context manager or start()/stop().

    Overlap is judged from runs: each source's consecutive ACTIVE samples form an interval
    [first sample, last sample]; two sources were ACTIVE at once if such intervals of two
    different sources intersect. That is the observer's resolution (one poll period, ~2-5 ms
    on a loaded 2-core machine): an overlap shorter than that may go unseen."""

    def __init__(self, sources, interval=0.002):
        self.sources = {}
        self.interval = interval
        self.samples = []
        self._counts = {}
        self._threads = []
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._running = False
        self.started_at = None
        self.stopped_at = None
        for name, fn in dict(sources).items():
            self.add_source(name, fn)

    @classmethod
    def for_agents(cls, agents, **kw):
        return cls({a.id: (lambda a=a: a.http_status(timeout=0.5)) for a in agents}, **kw)

    def add_source(self, name, fn):
        """Adds a source (also while running: its polling starts at once)."""
        with self._lock:
            self.sources[name] = fn
            self._counts.setdefault(name, 0)
            running = self._running
        if running:
            self._start_thread(name, fn)

    def _start_thread(self, name, fn):
        t = threading.Thread(target=self._poll, args=(name, fn), daemon=True,
                             name="observer-%s" % name)
        self._threads.append(t)
        t.start()

    def _poll(self, name, fn):
        while not self._stop_event.is_set():
            t0 = time.monotonic()
            try:
                role = fn()
            except Exception:  # noqa: BLE001
                role = None
            t1 = time.monotonic()
            with self._lock:
                self.samples.append(((t0 + t1) / 2, name, role))
                self._counts[name] += 1
            self._stop_event.wait(self.interval)

    def start(self):
        self.started_at = time.monotonic()
        with self._lock:
            self._running = True
            items = list(self.sources.items())
        for name, fn in items:
            self._start_thread(name, fn)
        return self

    def stop(self):
        if self._stop_event.is_set():
            return
        self._stop_event.set()
        for t in self._threads:
            t.join(5)
        with self._lock:
            self._running = False
        self.stopped_at = time.monotonic()

    def is_alive(self):
        return self._running and not self._stop_event.is_set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def sweeps(self):
        """Samples taken of the least-sampled source (a 'sweep' = every source sampled once)."""
        with self._lock:
            return min(self._counts.values()) if self._counts else 0

    def wait_sweeps(self, n=5, timeout=5.0):
        start = self.sweeps
        wait_until(lambda: self.sweeps >= start + n, timeout, "observer sweeps")

    # -- queries (safe while running) --

    def snapshot(self):
        """All samples so far, ordered by time."""
        with self._lock:
            out = list(self.samples)
        out.sort(key=lambda x: x[0])
        return out

    def latest(self):
        """name -> last sampled role."""
        out = {}
        for t, name, role in self.snapshot():
            out[name] = role
        return out

    def timeline(self, name):
        """[(t, role)] at each change of name's role."""
        out = []
        for t, n, role in self.snapshot():
            if n == name and (not out or out[-1][1] != role):
                out.append((t, role))
        return out

    def runs(self, roles=("ACTIVE",)):
        """name -> list of (t_first, t_last) of consecutive samples in `roles`."""
        out = {}
        cur = {}
        for t, name, role in self.snapshot():
            if role in roles:
                if name in cur:
                    cur[name][1] = t
                else:
                    cur[name] = [t, t]
            elif name in cur:
                out.setdefault(name, []).append(tuple(cur.pop(name)))
        for name, iv in cur.items():
            out.setdefault(name, []).append(tuple(iv))
        return out

    def overlaps(self, roles=("ACTIVE",)):
        """[(name_a, name_b, start, end)] where two different sources were in `roles` at once."""
        runs = self.runs(roles)
        names = sorted(runs)
        out = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                for s1, e1 in runs[a]:
                    for s2, e2 in runs[b]:
                        s, e = max(s1, s2), min(e1, e2)
                        if s <= e:
                            out.append((a, b, s, e))
        return out

    def max_concurrent(self, roles=("ACTIVE",)):
        """The largest number of sources whose latest samples were in `roles` at once (each
        source counted by its last sample at every instant)."""
        best = 0
        cur = {}
        for t, name, role in self.snapshot():
            cur[name] = role
            best = max(best, sum(1 for r in cur.values() if r in roles))
        return best

    def first(self, name, role, after=None):
        """Time of the first sample of name in role (after `after`), or None."""
        for t, n, r in self.snapshot():
            if n == name and r == role and (after is None or t >= after):
                return t
        return None

    def last(self, name, role, before=None):
        out = None
        for t, n, r in self.snapshot():
            if n == name and r == role and (before is None or t <= before):
                out = t
        return out

    def roles_seen(self, name, after=None, before=None):
        return {r for t, n, r in self.snapshot()
                if n == name and (after is None or t >= after)
                and (before is None or t <= before)}

    def sample_period(self):
        """Average seconds between two sweeps."""
        end = self.stopped_at or time.monotonic()
        if not self.started_at or self.sweeps < 2:
            return None
        return (end - self.started_at) / self.sweeps

    def assert_no_overlap(self, roles=("ACTIVE",)):
        ov = self.overlaps(roles)
        if ov:
            msg = "two sources in %s at once: %s" % (
                "/".join(roles),
                "; ".join("%s and %s for %.1f ms at t=%.3f" % (a, b, (e - s) * 1000, s)
                          for a, b, s, e in ov[:10]))
            raise AssertionError(msg)

    def describe(self, name, t0=None):
        """'name: +0.000s PASSIVE, +0.058s ACTIVE' with times relative to t0 (default: the
        observer's start)."""
        tl = self.timeline(name)
        if not tl:
            return "%s: no samples" % name
        if t0 is None:
            t0 = self.started_at or tl[0][0]
        return "%s: " % name + ", ".join("%+.3fs %s" % (t - t0, r) for t, r in tl)


def handover(observer, old, new, t_signal=None):
    """Handover figures from an observer: gap = first ACTIVE of new - last ACTIVE of old
    (negative = overlap), since_signal = first ACTIVE of new - t_signal."""
    first_new = observer.first(new, "ACTIVE", after=t_signal)
    last_old = observer.last(old, "ACTIVE")
    out = {"first_new_active": first_new, "last_old_active": last_old}
    if first_new is not None and last_old is not None:
        out["gap"] = first_new - last_old
    if first_new is not None and t_signal is not None:
        out["since_signal"] = first_new - t_signal
    return out


# --------------------------------------------------------------------------------------------
# ZooKeeper client for the tests


class ZkError(Exception):
    def __init__(self, rc, name, command, message=None):
        super().__init__("%s: %s%s" % (name, command, " (%s)" % message if message else ""))
        self.rc = rc
        self.name = name
        self.command = command


class ZkResult:
    def __init__(self, rc, data, stderr=""):
        self.rc = rc
        self.data = data or {}
        self.stderr = stderr

    @property
    def error(self):
        return self.data.get("error")

    def check(self):
        if self.rc != 0:
            raise ZkError(self.rc, self.error or "rc %d" % self.rc, self.data.get("command"),
                          self.data.get("message") or self.stderr.strip())
        return self.data

    def __repr__(self):
        return "ZkResult(rc=%d, %r)" % (self.rc, self.data)


# ZkTool's exit codes
RC_NOAUTH, RC_NONODE, RC_NODEEXISTS, RC_NOTEMPTY, RC_CONNECTION = 3, 4, 5, 6, 7


class _ZkOps:
    """Convenience methods over run(*args) -> ZkResult."""

    def ls(self, path):
        return self.run("ls", path).check()["children"]

    def get(self, path):
        """{'data', 'czxid', 'mzxid', 'ephemeralOwner', 'version', 'numChildren', ...}"""
        return self.run("get", path).check()

    def exists(self, path):
        r = self.run("exists", path)
        if r.rc == RC_NONODE:
            return None
        return r.check()

    def getacl(self, path):
        return self.run("getacl", path).check()["acl"]

    def set(self, path, data):
        return self.run("set", path, data).check()

    def create(self, path, data="", ephemeral=False, sequential=False):
        args = ["create"] + (["-e"] if ephemeral else []) + (["-s"] if sequential else [])
        return self.run(*(args + [path, data])).check()["path"]

    def delete(self, path):
        return self.run("delete", path).check()

    def rmr(self, path):
        return self.run("rmr", path).check()

    def latch_children(self, latch_path):
        """The latch's children sorted by sequence (text after the last 'latch-')."""
        try:
            kids = self.ls(latch_path)
        except ZkError as e:
            if e.rc == RC_NONODE:
                return []
            raise
        return sorted(kids, key=lambda c: c.rsplit("latch-", 1)[-1])

    def latch_participants(self, latch_path):
        """[(child name, data = participant id, czxid, ephemeralOwner)] in latch order."""
        out = []
        for c in self.latch_children(latch_path):
            r = self.run("get", latch_path + "/" + c)
            if r.rc == RC_NONODE:
                continue
            d = r.check()
            out.append((c, d["data"], d["czxid"], d["ephemeralOwner"]))
        return out


class ZkTool(_ZkOps):
    """One JVM per call (~0.3 s): `java ZkTool [--auth A] CONNECT cmd args`. java_opts and
    extra_jars go to the JVM (SASL: a JAAS Client section; TLS: zookeeper.ssl.* and Netty)."""

    def __init__(self, connect, auth=None, timeout_ms=10000, java_opts=(), extra_jars=()):
        self.connect = connect
        self.auth = [auth] if isinstance(auth, str) else list(auth or [])
        self.timeout_ms = timeout_ms
        self.java_opts = list(java_opts)
        self.extra_jars = list(extra_jars)

    def argv(self, *args):
        cp = ":".join([zktool_classpath()] + self.extra_jars)
        a = ["java"] + JAVA_TOOL_OPTS + self.java_opts + ["-cp", cp, "ZkTool"]
        for x in self.auth:
            a += ["--auth", x]
        return a + ["--timeout-ms", str(self.timeout_ms), self.connect] + list(args)

    def run(self, *args):
        r = subprocess.run(self.argv(*args), capture_output=True, text=True,
                           timeout=self.timeout_ms / 1000.0 + 30, stdin=subprocess.DEVNULL)
        data = None
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                data = json.loads(line)
        if data is None:
            data = {"rc": r.returncode, "error": "NoOutput", "message": r.stderr.strip()}
        return ZkResult(r.returncode, data, r.stderr)


class ZkShell(_ZkOps):
    """One persistent ZkTool process ("shell" mode, one session): fast repeated calls."""

    def __init__(self, connect, workdir, auth=None, timeout_ms=10000, name="zkshell",
                 java_opts=(), extra_jars=()):
        self.connect = connect
        self.auth = [auth] if isinstance(auth, str) else list(auth or [])
        self.timeout_ms = timeout_ms
        self.java_opts = list(java_opts)
        self.extra_jars = list(extra_jars)
        self.name = name
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self.proc = None
        self._lock = threading.Lock()

    def start(self):
        tool = ZkTool(self.connect, self.auth, self.timeout_ms, self.java_opts, self.extra_jars)
        self.proc = spawn(tool.argv("shell"), self.name, self.log_path,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self

    def run(self, *args):
        line = " ".join(args)
        if "\n" in line:
            raise ValueError("newline in ZkShell command")
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
            out = _readline_with_timeout(self.proc.stdout, self.timeout_ms / 1000.0 + 20)
        if out is None:
            self.close()
            raise AssertionError("ZkShell: no answer to %r; log:\n%s" % (line,
                                                                        tail(self.log_path)))
        data = json.loads(out)
        return ZkResult(data.get("rc", 9), data)

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        kill_process(self.proc)
        try:
            self.proc.stdout.close()
        except OSError:
            pass


def _readline_with_timeout(stream, timeout):
    """Reads one line from a pipe with a deadline (a helper thread does the blocking read)."""
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box or not box[0]:
        return None
    return box[0].decode("utf-8", "replace")


def zk_digest(user_password):
    """ZooKeeper's own digest, via DigestAuthenticationProvider's main:
    'user:password' -> 'user:<base64 sha1>'."""
    r = subprocess.run(["java"] + JAVA_TOOL_OPTS +
                       ["-cp", jar("zookeeper.jar") + ":" + jar("slf4j-nop.jar"),
                        "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
                        user_password], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("DigestAuthenticationProvider failed: %s" % r.stderr)
    # Prints "user:password->user:hash"
    line = r.stdout.strip().splitlines()[-1]
    return line.split("->", 1)[1]


# --------------------------------------------------------------------------------------------
# Curator peer


class CuratorPeer:
    """A Curator LeaderLatch participant (tests/java/CuratorParticipant.java). Its role is the
    last ROLE line it printed; requests go over stdin."""

    def __init__(self, connect, latch_path, peer_id, workdir, session_timeout_ms=4000,
                 name=None):
        self.connect = connect
        self.latch_path = latch_path
        self.id = peer_id
        self.name = name or "curator-%s" % peer_id
        self.session_timeout_ms = session_timeout_ms
        self.log_path = os.path.join(workdir, "%s.log" % self.name)
        self.proc = None
        self.lines = []  # (t, line)
        self._cv = threading.Condition()
        self._role = None
        self.session_id = None
        self._reader = None

    def start(self, wait=True, timeout=30.0):
        argv = (["java"] + JAVA_TOOL_OPTS +
                ["-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                 "-cp", curator_classpath(), "CuratorParticipant",
                 self.connect, self.latch_path, self.id, str(self.session_timeout_ms)])
        self.proc = spawn(argv, self.name, self.log_path, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="reader-" + self.name)
        self._reader.start()
        if wait:
            self.wait_line(lambda l: l.startswith("SESSION "), timeout, "connected")
            self.wait_line(lambda l: l == "STARTED", timeout, "started")
        return self

    def _read(self):
        with open(self.log_path, "ab") as logf:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                t = time.monotonic()
                logf.write(("%.3f %s\n" % (t, line)).encode())
                logf.flush()
                with self._cv:
                    self.lines.append((t, line))
                    if line.startswith("ROLE "):
                        self._role = line[5:]
                    elif line.startswith("SESSION ") and self.session_id is None:
                        self.session_id = parse_session_id(line[8:])
                    self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def role(self):
        """'ACTIVE' / 'PASSIVE' as last reported; None once the process has exited."""
        if not self.running:
            return None
        return self._role

    def wait_line(self, pred, timeout, what, start=0):
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for t, line in self.lines[start:]:
                    if pred(line):
                        return line
                if self.proc.poll() is not None and (self._reader is None or
                                                     not self._reader.is_alive()):
                    raise AssertionError("%s exited (%s) before %s; log:\n%s" % (
                        self.name, self.proc.returncode, what, tail(self.log_path)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout("%s: no %s within %.1f s; log:\n%s" % (
                        self.name, what, timeout, tail(self.log_path)))
                self._cv.wait(min(left, 0.2))

    def request(self, cmd, prefix, timeout=10.0):
        with self._cv:
            start = len(self.lines)
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()
        line = self.wait_line(lambda l: l.startswith(prefix + " ") or l == prefix
                              or l.startswith("ERROR "), timeout, "answer to " + cmd, start)
        if line.startswith("ERROR "):
            raise AssertionError("%s: %s" % (self.name, line))
        return line[len(prefix) + 1:]

    def leader(self):
        return self.request("leader", "LEADER")

    def participants(self):
        s = self.request("participants", "PARTICIPANTS")
        return s.split(",") if s else []

    def our_path(self):
        return self.request("ourpath", "OURPATH")

    def has_leadership(self):
        return self.request("hasleadership", "HASLEADERSHIP") == "true"

    def stop(self, timeout=15.0):
        """Closes stdin (the peer closes its latch and exits); SIGTERM, then SIGKILL if slow."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        rc = stop_process(self.proc, 5)
        if self._reader:
            self._reader.join(5)
        return rc

    def terminate(self, timeout=15.0):
        """SIGTERM (the shutdown hook closes the latch)."""
        return stop_process(self.proc, timeout)

    def kill(self):
        return kill_process(self.proc)


# --------------------------------------------------------------------------------------------
# unittest base class


class LatchdTestCase(unittest.TestCase):
    """Base class: a temp dir per test (and per class), every process stopped by pid in the
    cleanups, and log tails of every registered process dumped on failure.

    Class-level resources (e.g. a ZooKeeper shared by the tests of a module) are made in
    setUpClass with cls.class_zk(...) and friends; they are cleaned by addClassCleanup."""

    keep_tmp = os.environ.get("LATCHD_KEEP_TMP") == "1"
    _class_logs = None
    _class_tmp = None

    # -- class level --

    @classmethod
    def class_tmp(cls):
        if cls._class_tmp is None:
            cls._class_tmp = tempfile.mkdtemp(prefix="latchd-it-%s-" % cls.__name__)
            cls._class_logs = []
            if cls.keep_tmp:
                log("class temp dir %s" % cls._class_tmp)
            else:
                cls.addClassCleanup(shutil.rmtree, cls._class_tmp, True)
        return cls._class_tmp

    @classmethod
    def class_zk(cls, size=1, tick_time=200, **kw):
        ens = ZkEnsemble(os.path.join(cls.class_tmp(), "zk"), size=size, tick_time=tick_time,
                         **kw)
        cls.addClassCleanup(ens.stop)
        cls._class_logs.extend(ens.log_files())
        ens.start(wait=True)
        return ens

    # -- test level --

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="latchd-it-%s-" % self._testMethodName)
        self._logs = []
        self._observers = []
        self._dump_extra = []
        self._deferred = []
        self._deferred_checked = 0
        # Registered first, so it runs last: deferred failures never go unreported.
        self.addCleanup(self._check_deferred_at_end)
        self.t_start = time.monotonic()

    def _check_deferred_at_end(self):
        if len(self._deferred) > self._deferred_checked:
            self.assert_no_deferred()

    def defer_failure(self, msg):
        """Records a failure and carries on, so the rest of the test still runs; call
        assert_no_deferred() at the end of the test."""
        log("FAILURE (deferred): %s" % msg)
        self._deferred.append(msg)

    def assert_no_deferred(self):
        self._deferred_checked = len(self._deferred)
        if self._deferred:
            self.fail("%d deferred failure(s):\n  %s" % (len(self._deferred),
                                                         "\n  ".join(self._deferred)))

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        failed = len(result.failures) + len(result.errors) > before
        if failed:
            self._dump_logs()
        tmp = getattr(self, "tmp", None)
        if tmp and os.path.isdir(tmp):
            if self.keep_tmp or (failed and os.environ.get("LATCHD_KEEP_FAILED") == "1"):
                log("kept temp dir %s" % tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        return out

    def _dump_logs(self):
        logs = list(getattr(self, "_logs", [])) + list(type(self)._class_logs or [])
        out = ["", "=" * 30 + " logs of %s " % self.id() + "=" * 30]
        for obs in getattr(self, "_observers", []):
            out.append("-- observer timelines:")
            for name in sorted(obs.sources):
                out.append("   " + obs.describe(name))
        for name, path in logs:
            out.append("-- %s (%s), last lines:" % (name, path))
            out.append(tail(path, 40))
        for fn in getattr(self, "_dump_extra", []):
            try:
                out.append(fn())
            except Exception as e:  # noqa: BLE001
                out.append("<dump failed: %s>" % e)
        out.append("=" * 80)
        sys.stderr.write("\n".join(out) + "\n")
        sys.stderr.flush()

    def register_log(self, name, path):
        self._logs.append((name, path))

    def start_zk(self, size=1, tick_time=200, **kw):
        ens = ZkEnsemble(os.path.join(self.tmp, "zk"), size=size, tick_time=tick_time, **kw)
        self.addCleanup(ens.stop)
        for name, path in ens.log_files():
            self.register_log(name, path)
        ens.start(wait=True)
        return ens

    def make_agent(self, agent_id, zk_connect, **kw):
        a = Agent(agent_id, zk_connect, self.tmp, **kw)
        self.addCleanup(a.stop)
        self.register_log(a.name, a.log_path)
        return a

    def start_agent(self, agent_id, zk_connect, wait=True, **kw):
        require_binaries()
        a = self.make_agent(agent_id, zk_connect, **kw)
        a.start(wait=wait)
        return a

    def start_agents(self, ids, zk_connect, **kw):
        """Starts all, then waits for all (so their joins overlap)."""
        require_binaries()
        agents = [self.make_agent(i, zk_connect, **kw) for i in ids]
        for a in agents:
            a.start(wait=False)
        for a in agents:
            a.wait_ready()
        return agents

    def start_observer(self, agents, **kw):
        obs = Observer.for_agents(agents, **kw)
        self._observers.append(obs)
        self.addCleanup(obs.stop)
        obs.start()
        obs.wait_sweeps(3)
        return obs

    def zk_shell(self, connect, auth=None, **kw):
        """kw: more ZkShell arguments (java_opts, extra_jars: SASL or TLS as JVM settings)."""
        sh = ZkShell(connect, self.tmp, auth=auth,
                     name="zkshell%d" % len(self._logs), **kw)
        self.addCleanup(sh.close)
        self.register_log(sh.name, sh.log_path)
        return sh

    def start_curator(self, connect, latch_path, peer_id, **kw):
        p = CuratorPeer(connect, latch_path, peer_id, self.tmp, **kw)
        self.addCleanup(p.stop)
        self.register_log(p.name, p.log_path)
        p.start()
        return p

    # -- assertions and waits on agents --

    def assert_refused_at_start(self, name, flags, pattern, env=None, timeout=15.0):
        """Runs latchd with `flags` (and a --socket_path of its own): it must exit with status 2
        within `timeout` s, print exactly one line to stderr, matching the regex `pattern`
        (what is wrong), and create no socket. Returns that line."""
        sock = os.path.join(self.tmp, "refused.sock")
        t0 = time.monotonic()
        r = run_latchd(list(flags) + ["--socket_path=%s" % sock], timeout=timeout, env=env)
        took = time.monotonic() - t0
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        log("%s: exit %d in %.2f s, stderr %r" % (name, r.returncode, took, r.stderr))
        self.assertEqual(r.returncode, 2, "%s: exit code (stderr %r)" % (name, r.stderr))
        self.assertEqual(len(lines), 1, "%s: want one stderr line, got %r" % (name, r.stderr))
        self.assertRegex(lines[0], pattern, "%s: the message must say what is wrong" % name)
        self.assertFalse(os.path.exists(sock), "%s: socket created" % name)
        return lines[0]

    def roles(self, agents):
        return {a.id: a.http_status() for a in agents}

    def actives(self, agents):
        return [a for a in agents if a.running and a.http_status() == "ACTIVE"]

    def wait_one_active(self, agents, timeout=15.0, stable=0.3):
        """Waits until exactly one running agent is ACTIVE and every other running agent is
        PASSIVE, and that stays so for `stable` seconds. Returns the ACTIVE agent."""
        running = [a for a in agents if a.running]

        def one():
            roles = {a.id: a.http_status() for a in running}
            act = [a for a in running if roles[a.id] == "ACTIVE"]
            if len(act) == 1 and all(r == "PASSIVE" for i, r in roles.items()
                                     if i != act[0].id):
                return act[0]
            return None

        deadline = time.monotonic() + timeout
        while True:
            a = wait_until(one, max(0.1, deadline - time.monotonic()),
                           "exactly one of %s ACTIVE, the others PASSIVE (roles now %s)" % (
                               [x.id for x in running], self.roles(running)))
            t_end = time.monotonic() + stable
            ok = True
            while time.monotonic() < t_end:
                if one() is not a:
                    ok = False
                    break
                time.sleep(0.02)
            if ok:
                return a
            if time.monotonic() > deadline:
                raise AssertionError("no stable single ACTIVE among %s: %s" % (
                    [x.id for x in running], self.roles(running)))
