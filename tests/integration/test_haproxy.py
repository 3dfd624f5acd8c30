"""HAProxy in front of three hosts, steered by latchd's `GET /active` (deploy/haproxy/haproxy.cfg).

Setup: a standalone ZooKeeper (tickTime 200 ms), three agents (session 3000 ms), three tiny HTTP
backends standing in for the service (each answers 200 with its host id), and Debian's haproxy in
the foreground (`haproxy -f cfg -db`) with a config generated from deploy/haproxy/haproxy.cfg: same
sections and rules, the test's ports, and fast checks (inter 100ms fall 2 rise 1, timeout check
100ms). A client thread sends a request through HAProxy every ~5 ms (0.5 s timeout) from before
HAProxy starts until the end, while the test
  (a) stops the ACTIVE agent with SIGTERM,
  (b) kills the new ACTIVE agent with SIGKILL,
  (c) pauses the next ACTIVE agent (SIGSTOP) for longer than its session, then resumes it (SIGCONT).
An Observer (harness) samples every agent's role every ~2 ms.

The rule every answer must follow. HAProxy learns a role change only by its next check: it puts a
host into rotation after `rise` good checks and takes it out after `fall` failed checks in a row; a
check starts `inter` after the previous one and fails at the latest after `timeout check` (a paused
agent accepts the connection - the kernel does - but never answers; a dead or non-ACTIVE one fails
at once). So while HAProxy still routes to host H, H answered a check `ACTIVE` no longer than
    W = fall x (inter + timeout check) + 50 ms slack = 2 x (100 + 100) + 50 = 450 ms
ago. A request sent at t_s and answered at t_r was dispatched at some instant in [t_s, t_r]; hence:

    a 200 answered by host H (request sent at t_s, answer received at t_r) requires that the
    observer saw H ACTIVE at some instant in [t_s - W, t_r].

"Saw ACTIVE" is a run of consecutive ACTIVE samples of H, widened to the observer's resolution:
back to the sample before the run and on to the sample after it, and at least 50 ms each way (a
check can catch an answer between two samples). In particular no request is ever answered by a
host that was never ACTIVE. HAProxy's own 503s ("no server available", or the frontend's guard
"no unique ACTIVE server" while more than one server is UP), refused connections before HAProxy
listens, timeouts, and requests cut by `on-marked-down shutdown-sessions` are allowed: the rule
only forbids wrong answers, not missing ones.

A request cut by `shutdown-sessions` reaches the client as a 502 if HAProxy cut it before the
backend's response headers, and otherwise as a truncated response: the backend's status line (200)
and headers, fewer body bytes than its Content-Length, then the connection closes. That is not an
answer but a failed request - every HTTP client reports it as an error (Python's http.client:
IncompleteRead, curl: exit 18) - so harness.http_get raises IncompleteResponse for it and the
client records it as failed. A cut is still checked: the backend names itself in an X-Backend
header, and the host that got the request must follow the same rule as one that answered 200; and
HAProxy must have marked that host DOWN while the request ran (a truncated response for any other
reason fails the test). test_cut_after_headers_is_an_error shows the cut on purpose.

Switch time of a fault = first 200 from the new host minus the last instant the observer saw the
old host ACTIVE. Bound (generous): inter x fall + inter x rise + session timeout + 2 s.

The control test shows why deploy/haproxy/haproxy.cfg does not use Atlas's documented check
(`http-check expect string ACTIVE` on /api/atlas/admin/status): an agent started with
--activation_ack_timeout_ms=5000 stays BECOMING_ACTIVE until acked, and HAProxy routes to it with
Atlas's check, but not with `/active` (nor with the exact-word match suggested in the config).
"""

import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import log, wait_until

DEPLOY_CFG = os.path.join(harness.REPO_ROOT, "deploy", "haproxy", "haproxy.cfg")
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK)
                                      else None)

SESSION_MS = 3000
INTER_MS = 100
FALL = 2
RISE = 1
CHECK_TIMEOUT_MS = 100
SLACK = 0.050
WINDOW = FALL * (INTER_MS + CHECK_TIMEOUT_MS) / 1000.0 + SLACK
SWITCH_BOUND = (INTER_MS * FALL + INTER_MS * RISE + SESSION_MS) / 1000.0 + 2.0
REQUEST_PERIOD = 0.005
REQUEST_TIMEOUT = 0.5

# A stand-in for the service on one host: answers every GET with 200 and the host id, in the
# body and in an X-Backend header (so that a response cut after its headers still names the host).
# The headers and the body go out in two writes, as from a real service; with an optional third
# argument (seconds) it sleeps between them. The Content-Length is what lets a client tell a cut
# response from a complete one: without it (HTTP/1.0, body up to the close) a cut looks complete.
BACKEND_SRC = r"""
import http.server, sys, time
host, port = sys.argv[1], int(sys.argv[2])
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = host.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", host)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        if delay:
            sys.stderr.write("%s: headers sent\n" % host)
            sys.stderr.flush()
            time.sleep(delay)
        try:
            self.wfile.write(body)
        except OSError as e:  # HAProxy cut the request (shutdown-sessions) after the headers
            sys.stderr.write("%s: body not sent, the connection is gone (%s)\n" % (host, e))
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def require_haproxy():
    if not HAPROXY:
        raise unittest.SkipTest("haproxy is not installed (apt-get install haproxy)")


# --------------------------------------------------------------------------------------------
# Config generation


def _sections(text):
    """[(header line, [body lines])] in file order; lines before the first header go under ''."""
    out = [("", [])]
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            out.append((line, []))
        else:
            out[-1][1].append(line)
    return out


def render_config(deploy_text, frontend_port, servers, stats_socket, inter_ms=INTER_MS,
                  check_timeout_ms=CHECK_TIMEOUT_MS):
    """The deploy config with the test's ports: `global` replaced (foreground, log to stdout,
    a stats socket in the temp dir), `bind` -> 127.0.0.1:frontend_port, `timeout check` ->
    check_timeout_ms, and each `server NAME ADDR:21000 check port 21100 inter 1s ...` line ->
    the test's (name, backend port, agent port) in order, with inter_ms. Fails if the deploy file
    no longer has that shape (so the test keeps testing the shipped file)."""
    out = []
    counts = {"bind": 0, "server": 0, "timeout check": 0}
    servers = list(servers)
    for header, body in _sections(deploy_text):
        if header.startswith("global"):
            out += ["global",
                    "    log stdout format raw local0 info",
                    "    maxconn 4000",
                    "    stats socket %s mode 600 level admin" % stats_socket]
            continue
        if header:
            out.append(header)
        for line in body:
            m = re.match(r"^(\s*)bind\s+\S+\s*$", line)
            if m:
                counts["bind"] += 1
                line = "%sbind 127.0.0.1:%d" % (m.group(1), frontend_port)
            m = re.match(r"^(\s*)timeout check\s+\S+\s*$", line)
            if m:
                counts["timeout check"] += 1
                line = "%stimeout check %dms" % (m.group(1), check_timeout_ms)
            m = re.match(r"^(\s*)server\s+\S+\s+\S+:21000\s+(.*)$", line)
            if m:
                counts["server"] += 1
                if not servers:
                    raise AssertionError("deploy config has more server lines than the test")
                name, be_port, check_port = servers.pop(0)
                rest = m.group(2)
                rest, n1 = re.subn(r"\bport 21100\b", "port %d" % check_port, rest)
                rest, n2 = re.subn(r"\binter \S+", "inter %dms" % inter_ms, rest)
                if n1 != 1 or n2 != 1:
                    raise AssertionError("server line without 'port 21100' / 'inter': %r" % line)
                line = "%sserver %s 127.0.0.1:%d %s" % (m.group(1), name, be_port, rest)
            out.append(line)
            if header.startswith("defaults") and line.strip() == "option httplog":
                # Only abnormal requests in the log (the client sends ~200 per second), still in
                # httplog's format: its termination flags tell why a request ended (e.g. "DD" for
                # one cut by shutdown-sessions).
                out.append(line.replace("option httplog", "option dontlog-normal"))
    expected = {"bind": 1, "server": 3, "timeout check": 1}
    if counts != expected or servers:
        raise AssertionError("deploy/haproxy/haproxy.cfg changed shape: found %s, expected %s"
                             % (counts, expected))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Processes


class Backend:
    """The service on one host (a subprocess, so the test process keeps its GIL for sampling)."""

    def __init__(self, test, host_id, body_delay=0.0):
        self.id = host_id
        self.body_delay = body_delay
        self.port = harness.free_port()
        self.log_path = os.path.join(test.tmp, "backend-%s.log" % host_id)
        test.register_log("backend-" + host_id, self.log_path)
        argv = [sys.executable, "-c", BACKEND_SRC, host_id, str(self.port)]
        if body_delay:
            argv.append(str(body_delay))
        self.proc = harness.spawn(argv, "backend-" + host_id, self.log_path)
        test.addCleanup(harness.stop_process, self.proc)

    def headers_sent(self):
        """How many delayed answers have sent their headers (from the backend's log)."""
        with open(self.log_path) as f:
            return f.read().count("headers sent")

    def wait_ready(self, timeout=10.0):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError("backend %s exited: %s" % (self.id, harness.tail(self.log_path)))
            code, _, body = harness.http_get("127.0.0.1", self.port, "/",
                                             timeout=0.5 + self.body_delay)
            return code == 200 and body.decode() == self.id
        wait_until(up, timeout, "backend %s answering" % self.id, interval=0.05)


class HAProxy:
    """haproxy -f cfg -db as a child; its log (stdout) is read by a thread that timestamps every
    line on time.monotonic() (server UP/DOWN events)."""

    def __init__(self, test, cfg_text, name="haproxy"):
        self.dir = os.path.join(test.tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cfg_path = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg_path, "w") as f:
            f.write(cfg_text)
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.name = name
        self.events = []  # (t, line)
        self._lock = threading.Lock()
        test.register_log(name, self.log_path)
        test._dump_extra.append(self.describe)
        r = subprocess.run([HAPROXY, "-c", "-f", self.cfg_path], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError("haproxy -c rejects the generated config:\n%s%s\n%s" % (
                r.stdout, r.stderr, cfg_text))
        self.proc = harness.spawn([HAPROXY, "-f", self.cfg_path, "-db"], name, self.log_path,
                                  stdout=subprocess.PIPE)
        test.addCleanup(self.stop)
        self.t_started = time.monotonic()
        self._reader = threading.Thread(target=self._read, daemon=True, name="reader-" + name)
        self._reader.start()

    def _read(self):
        with open(self.log_path + ".events", "ab") as f:
            for raw in iter(self.proc.stdout.readline, b""):
                t = time.monotonic()
                line = raw.decode("utf-8", "replace").rstrip("\n")
                f.write(("%.3f %s\n" % (t, line)).encode())
                f.flush()
                with self._lock:
                    self.events.append((t, line))

    def stop(self):
        harness.stop_process(self.proc, 5)
        self._reader.join(5)
        try:
            self.proc.stdout.close()
        except OSError:
            pass

    def server_events(self):
        """[(t, server, 'UP'|'DOWN')] from the log."""
        out = []
        with self._lock:
            ev = list(self.events)
        for t, line in ev:
            m = re.match(r"^Server \S+/(\S+) is (UP|DOWN)\b", line)
            if m:
                out.append((t, m.group(1), m.group(2)))
        return out

    def describe(self, t0=None):
        t0 = self.t_started if t0 is None else t0
        return "-- %s server events: %s" % (self.name, ", ".join(
            "%+.3fs %s %s" % (t - t0, s, st) for t, s, st in self.server_events()))


class Client(threading.Thread):
    """Sends GET / through HAProxy every REQUEST_PERIOD; records (t_sent, t_answered, status,
    body-or-error) for every request. A truncated response is a failed request (status None,
    "IncompleteResponse"); it is also kept in `cut` as (t_sent, t_answered, status, X-Backend)."""

    def __init__(self, port):
        super().__init__(daemon=True, name="haproxy-client")
        self.port = port
        self.records = []
        self.cut = []
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        while not self._stop_event.is_set():
            t_s = time.monotonic()
            try:
                code, _, body = harness.http_get("127.0.0.1", self.port, "/",
                                                 timeout=REQUEST_TIMEOUT)
                rec = (t_s, time.monotonic(), code, body.decode("utf-8", "replace")[:200])
            except harness.IncompleteResponse as e:  # cut after the headers: see the docstring
                rec = (t_s, time.monotonic(), None, type(e).__name__)
                with self._lock:
                    self.cut.append((t_s, rec[1], e.status, e.headers.get("x-backend")))
            except Exception as e:  # noqa: BLE001 - connection refused before HAProxy binds, timeouts
                rec = (t_s, time.monotonic(), None, type(e).__name__)
            with self._lock:
                self.records.append(rec)
            self._stop_event.wait(REQUEST_PERIOD)

    def stop(self):
        self._stop_event.set()
        self.join(5)

    def snapshot(self):
        with self._lock:
            return list(self.records)

    def cut_snapshot(self):
        with self._lock:
            return list(self.cut)

    def first_200_from(self, host, after):
        """(t_s, t_r) of the first request sent at or after `after` answered 200 by host."""
        for t_s, t_r, code, body in self.snapshot():
            if t_s >= after and code == 200 and body == host:
                return t_s, t_r
        return None


def classify(body):
    """A short name for a non-200 answer: HAProxy's guard, HAProxy's own error page, or the
    client's exception name."""
    if "no unique ACTIVE server" in body:
        return "(guard: more than one server UP)"
    if body.startswith("<html>"):
        return "(HAProxy error page)"
    return "(%s)" % body[:40]


def possibly_active(observer, name):
    """H's ACTIVE runs widened to the observer's resolution: from the sample before the run (or
    50 ms before it, whichever is earlier) to the sample after it (or 50 ms after)."""
    samples = [(t, r) for t, n, r in observer.snapshot() if n == name]
    out = []
    i = 0
    while i < len(samples):
        if samples[i][1] != "ACTIVE":
            i += 1
            continue
        j = i
        while j + 1 < len(samples) and samples[j + 1][1] == "ACTIVE":
            j += 1
        start = samples[i][0] - SLACK
        if i > 0:
            start = min(start, samples[i - 1][0])
        end = samples[j][0] + SLACK
        if j + 1 < len(samples):
            end = max(end, samples[j + 1][0])
        out.append((start, end))
        i = j + 1
    return out


# --------------------------------------------------------------------------------------------


class HAProxyTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        require_haproxy()
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def start_observer_fast(self, agents):
        """The harness Observer with a 0.2 s sample timeout (a paused agent's samples end
        sooner, so the timeline stays fine-grained)."""
        obs = harness.Observer({a.id: (lambda a=a: a.http_status(timeout=0.2)) for a in agents})
        self._observers.append(obs)
        self.addCleanup(obs.stop)
        obs.start()
        obs.wait_sweeps(3)
        return obs

    def start_client(self, port):
        c = Client(port)
        self.addCleanup(c.stop)
        c.start()
        return c

    # ----------------------------------------------------------------------------------------

    def test_deploy_config_is_valid(self):
        """`haproxy -c` accepts deploy/haproxy/haproxy.cfg (host names replaced by 127.0.0.1,
        which needs no DNS), and the test can derive its config from it."""
        with open(DEPLOY_CFG) as f:
            text = f.read()
        path = os.path.join(self.tmp, "deploy.cfg")
        with open(path, "w") as f:
            f.write(re.sub(r"\bhost(\d)\.example\.com\b", "127.0.0.1", text))
        r = subprocess.run([HAPROXY, "-c", "-f", path], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for needle in ("option httpchk GET /active", "http-check expect status 200",
                       "on-marked-down shutdown-sessions", "check port 21100 inter 1s fall 2 rise 1"):
            self.assertIn(needle, text)
        render_config(text, 1, [("h1", 2, 3), ("h2", 4, 5), ("h3", 6, 7)], "/tmp/x.sock")

    def test_cut_after_headers_is_an_error(self):
        """What `on-marked-down shutdown-sessions` does to a request whose response has begun: a
        backend that sends its headers and the body 2 s later, behind the deploy config (the other
        two servers have no agent), and two requests in flight when the ACTIVE agent stops. With
        the deploy config HAProxy cuts both when it marks the host DOWN: the clients get the status
        line and headers (200, X-Backend c1) and then the close, without the Content-Length body -
        Python's http.client raises IncompleteRead, harness.http_get IncompleteResponse, and
        HAProxy logs the request with termination flags "D" (killed: server down). Without
        shutdown-sessions both complete with 200 from a host that is no longer ACTIVE."""
        t_test = time.monotonic()
        agent = self.make_agent("c1", self.zk.connect_string(), zk_root="/haproxy-cut",
                                session_timeout_ms=SESSION_MS)
        backend = Backend(self, "c1", body_delay=2.0)
        backend.wait_ready()
        with open(DEPLOY_CFG) as f:
            deploy = f.read()
        servers = [("c1", backend.port, agent.http_port)] + [
            ("none%d" % i, harness.free_port(), harness.free_port()) for i in (2, 3)]

        def in_flight(port):
            """Two requests (harness.http_get and http.client) sent now; returns a function that
            waits for both and returns their outcomes."""
            out = {}

            def via_harness():
                try:
                    out["harness"] = harness.http_get("127.0.0.1", port, "/", timeout=10)
                except Exception as e:  # noqa: BLE001 - the outcome is what the test looks at
                    out["harness"] = e

            def via_http_client():
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                try:
                    c.request("GET", "/")
                    r = c.getresponse()
                    out["http.client status"] = r.status
                    out["http.client"] = r.read()
                except Exception as e:  # noqa: BLE001
                    out["http.client"] = e
                finally:
                    c.close()

            threads = [threading.Thread(target=f, daemon=True) for f in (via_harness,
                                                                         via_http_client)]
            for t in threads:
                t.start()

            def join():
                for t in threads:
                    t.join(15)
                    self.assertFalse(t.is_alive(), "a request through HAProxy did not end")
                return out
            return join

        results = {}
        for variant in ("deploy", "without-shutdown-sessions"):
            agent.start(wait=True)
            wait_until(lambda: agent.http_status() == "ACTIVE", 10, "c1 ACTIVE")
            fe_port = harness.free_port()
            cfg = render_config(deploy, fe_port, servers,
                                os.path.join(self.tmp, "%s.sock" % variant))
            if variant == "without-shutdown-sessions":
                cfg, n = re.subn(r"(?m)^(\s*server .*) on-marked-down shutdown-sessions",
                                 r"\1", cfg)
                self.assertEqual(n, 3, "shutdown-sessions is gone from the deploy config")
            hap = HAProxy(self, cfg, name="haproxy-" + variant)

            def routed():
                try:
                    return harness.http_get("127.0.0.1", fe_port, "/", timeout=5)[2] == b"c1"
                except (OSError, ValueError):
                    return False
            wait_until(routed, 15, "%s: HAProxy routes to c1" % variant, interval=0.1)
            sent = backend.headers_sent()
            join = in_flight(fe_port)
            # Both have their headers; the body follows after 2 s.
            wait_until(lambda: backend.headers_sent() >= sent + 2, 1.5,
                       "%s: the backend sent the headers of both requests" % variant)
            time.sleep(0.05)  # HAProxy forwards them
            t_stop = time.monotonic()
            agent.stop()
            out = join()
            hap.stop()  # and the reader has read all it logged (it timestamps lines as it reads)
            t_end = time.monotonic()
            downs = [t for t, srv, st in hap.server_events() if srv == "c1" and st == "DOWN"]
            # The request log (httplog with dontlog-normal): a 200 with termination flags "D.".
            killed = [ln for t, ln in hap.events if re.search(r" 200 \d+ \S+ \S+ D", ln)]
            log("%s: c1 stopped; HAProxy marked it DOWN after %s ms; harness.http_get: %r; "
                "http.client: %s %r; HAProxy log of killed 200s: %s" % (
                    variant, ["%.0f" % ((t - t_stop) * 1000) for t in downs], out["harness"],
                    out.get("http.client status"), out["http.client"],
                    [ln.strip() for ln in killed]))
            self.assertTrue([t for t in downs if t_stop <= t <= t_end],
                            "%s: HAProxy did not mark c1 DOWN" % variant)
            results[variant] = (out, killed)

        out, killed = results["deploy"]
        e = out["harness"]
        self.assertIsInstance(e, harness.IncompleteResponse)
        self.assertEqual((e.status, e.headers.get("x-backend"), e.body, e.expected),
                         (200, "c1", b"", 2))
        self.assertEqual(out["http.client status"], 200)
        self.assertIsInstance(out["http.client"], http.client.IncompleteRead)
        self.assertEqual(len(killed), 2, "HAProxy's log of the two cut requests")

        out, killed = results["without-shutdown-sessions"]
        self.assertEqual(out["harness"][:1] + out["harness"][2:], (200, b"c1"))
        self.assertEqual((out["http.client status"], out["http.client"]), (200, b"c1"))
        self.assertEqual(killed, [])
        log("test_cut_after_headers_is_an_error took %.1f s" % (time.monotonic() - t_test))

    def test_failover_through_haproxy(self):
        t_test = time.monotonic()
        ids = ["h1", "h2", "h3"]
        agents = self.start_agents(ids, self.zk.connect_string(), zk_root="/haproxy-failover",
                                   session_timeout_ms=SESSION_MS)
        by_id = {a.id: a for a in agents}
        active = self.wait_one_active(agents, timeout=20)
        obs = self.start_observer_fast(agents)
        backends = [Backend(self, i) for i in ids]
        for b in backends:
            b.wait_ready()
        fe_port = harness.free_port()
        with open(DEPLOY_CFG) as f:
            cfg = render_config(f.read(), fe_port,
                                [(a.id, b.port, a.http_port) for a, b in zip(agents, backends)],
                                os.path.join(self.tmp, "haproxy.sock"))
        # The client runs from before HAProxy starts: HAProxy's start (every server UP until its
        # first check) is judged by the same rule.
        client = self.start_client(fe_port)
        hap = HAProxy(self, cfg)
        t0 = hap.t_started
        wait_until(lambda: client.first_200_from(active.id, t0), 10,
                   "HAProxy routes to the ACTIVE %s" % active.id)
        log("HAProxy routes to %s %.0f ms after its start" % (
            active.id, (client.first_200_from(active.id, t0)[1] - t0) * 1000))
        time.sleep(0.5)

        faults = []

        def fault(name, old, act, restart):
            """Applies act(old), waits for a new ACTIVE and HAProxy routing to it; then restarts
            old (restart=True) so that three participants stay."""
            t_signal = time.monotonic()
            act(old)
            others = [a for a in agents if a is not old]
            new_id = wait_until(
                lambda: next((a.id for a in others
                              if obs.first(a.id, "ACTIVE", after=t_signal) is not None), None),
                SESSION_MS / 1000.0 + 10, "a new ACTIVE after %s of %s" % (name, old.id))
            first = wait_until(lambda: client.first_200_from(new_id, t_signal), 10,
                               "HAProxy routes to the new ACTIVE %s" % new_id)
            faults.append({"name": name, "old": old.id, "new": new_id, "t_signal": t_signal,
                           "first_200": first})
            log("%s of %s: new ACTIVE %s" % (name, old.id, new_id))
            if restart:
                old.start(wait=True)
            time.sleep(0.5)
            return by_id[new_id]

        def pause_and_resume(a):
            a.pause()
            try:
                time.sleep(SESSION_MS / 1000.0 + 1.5)
            finally:
                a.resume()

        # (a) graceful stop, (b) crash, (c) a pause longer than the session.
        new = fault("SIGTERM", active, lambda a: a.stop(), restart=True)
        self.wait_one_active(agents, timeout=20)
        new = fault("SIGKILL", new, lambda a: a.kill(), restart=True)
        self.wait_one_active(agents, timeout=20)
        # The pause: fault() waits for the successor only after the resume (the successor takes
        # over after the session expired, i.e. during the pause), which is what we want to see.
        paused = new
        new = fault("SIGSTOP", paused, pause_and_resume, restart=False)
        self.wait_one_active(agents, timeout=20)
        time.sleep(FALL * (INTER_MS + CHECK_TIMEOUT_MS) / 1000.0 + 0.3)
        client.stop()
        obs.stop()
        hap_events = hap.describe(t0)

        # ---- analysis ----
        records = client.snapshot()
        widened = {i: possibly_active(obs, i) for i in ids}
        ever_active = {i for i in ids if obs.first(i, "ACTIVE") is not None}
        codes = {}
        for t_s, t_r, code, body in records:
            key = "200" if code == 200 else "%s %s" % (code, classify(body))
            codes[key] = codes.get(key, 0) + 1
        log("requests: %d, by answer: %s" % (len(records), ", ".join(
            "%s: %d" % (k, v) for k, v in sorted(codes.items(), key=lambda x: str(x[0])))))
        t_first_answer = min((r[0] for r in records if r[2] is not None), default=t0)
        odd = [(t_s, t_r, code, body) for t_s, t_r, code, body in records
               if code not in (200, 503) and t_s >= t_first_answer]
        for t_s, t_r, code, body in odd[:10]:
            log("  %s %s: sent %+.3fs, answered %+.3fs" % (code, classify(body), t_s - t0,
                                                           t_r - t0))
        log(hap_events)
        for i in ids:
            log("observer " + obs.describe(i, t0))

        bad = []
        hosts_answering = set()
        for t_s, t_r, code, body in records:
            if code != 200:
                continue
            if body not in by_id:
                bad.append("200 with unexpected body %r at %+.3fs" % (body, t_s - t0))
                continue
            hosts_answering.add(body)
            ok = any(start <= t_r and end >= t_s - WINDOW for start, end in widened[body])
            if not ok:
                bad.append("200 from %s sent at %+.3fs answered at %+.3fs, but %s was not ACTIVE "
                           "in [%+.3f, %+.3f]" % (body, t_s - t0, t_r - t0, body,
                                                  t_s - WINDOW - t0, t_r - t0))
        # Responses cut after the headers: failed requests, but the host that got the request
        # follows the same rule, and the cut must be HAProxy's shutdown-sessions (the host was
        # marked DOWN while the request ran; the log line may be read up to a second later).
        downs = [(t, s) for t, s, st in hap.server_events() if st == "DOWN"]
        for t_s, t_r, code, host in client.cut_snapshot():
            where = "response %s cut after its headers (sent %+.3fs, closed %+.3fs)" % (
                code, t_s - t0, t_r - t0)
            if host not in by_id:
                bad.append("%s: unexpected X-Backend %r" % (where, host))
                continue
            if not any(start <= t_r and end >= t_s - WINDOW for start, end in widened[host]):
                bad.append("%s: from %s, which was not ACTIVE in [%+.3f, %+.3f]" % (
                    where, host, t_s - WINDOW - t0, t_r - t0))
            if not any(s == host and t_s - SLACK <= t <= t_r + 1.0 for t, s in downs):
                bad.append("%s: from %s, but HAProxy did not mark %s DOWN meanwhile" % (
                    where, host, host))
            log("%s from %s: HAProxy marked %s DOWN (shutdown-sessions), counted as failed" % (
                where, host, host))
        self.assertFalse(bad, "%d wrong answers (window %.0f ms):\n  %s" % (
            len(bad), WINDOW * 1000, "\n  ".join(bad[:20])))
        self.assertTrue(hosts_answering <= ever_active,
                        "answered by %s, never ACTIVE" % (hosts_answering - ever_active))
        obs.assert_no_overlap()

        for f in faults:
            # The old host's last ACTIVE sample before its successor's first.
            t_new_active = obs.first(f["new"], "ACTIVE", after=f["t_signal"])
            t_old_end = obs.last(f["old"], "ACTIVE", before=t_new_active)
            self.assertIsNotNone(t_old_end, f)
            first_new = client.first_200_from(f["new"], t_old_end)
            # Stale answers: the latest 200 from the old host after it stopped being ACTIVE.
            t_old_again = obs.first(f["old"], "ACTIVE", after=t_new_active) or float("inf")
            stale = [t_r - t_old_end for t_s, t_r, code, body in records
                     if code == 200 and body == f["old"] and t_old_end <= t_r < t_old_again]
            f.update(t_old_end=t_old_end, t_new_active=t_new_active,
                     switch=first_new[1] - t_old_end,
                     handover=t_new_active - t_old_end,
                     haproxy_lag=first_new[1] - t_new_active,
                     stale=max(stale) if stale else None)
            log("switch %-7s %s -> %s: %6.0f ms (latch handover %5.0f ms + HAProxy %4.0f ms); "
                "last 200 from the old host %s after it stopped being ACTIVE" % (
                    f["name"], f["old"], f["new"], f["switch"] * 1000, f["handover"] * 1000,
                    f["haproxy_lag"] * 1000,
                    "%.0f ms" % (f["stale"] * 1000) if f["stale"] is not None else "none"))
        for f in faults:
            self.assertLessEqual(f["switch"], SWITCH_BOUND,
                                 "%s: switch %.3f s > %.3f s" % (f["name"], f["switch"],
                                                                 SWITCH_BOUND))
        # The new ACTIVE of every fault and the initial one all answered through HAProxy.
        self.assertTrue({active.id} | {f["new"] for f in faults} <= hosts_answering)
        log("test_failover_through_haproxy took %.1f s" % (time.monotonic() - t_test))

    # ----------------------------------------------------------------------------------------

    def test_control_atlas_documented_check_routes_to_becoming_active(self):
        """One agent that stays BECOMING_ACTIVE (--activation_ack_timeout_ms=5000, no ack yet)
        behind three frontends that differ only in the check: Atlas's documented
        `http-check expect string ACTIVE` on /api/atlas/admin/status routes to it; `/active`
        (deploy/haproxy/haproxy.cfg) and the exact-word match do not. After the ack (ACTIVE) all
        three route to it."""
        t_test = time.monotonic()
        agent = self.make_agent("b1", self.zk.connect_string(), zk_root="/haproxy-control",
                                session_timeout_ms=SESSION_MS,
                                extra_flags=["--activation_ack_timeout_ms=5000"])
        backend = Backend(self, "b1")
        backend.wait_ready()
        checks = {
            "atlas-doc": ["option httpchk GET /api/atlas/admin/status",
                          "http-check expect string ACTIVE"],
            "active": ["option httpchk GET /active", "http-check expect status 200"],
            "exact": ["option httpchk GET /api/atlas/admin/status",
                      "http-check expect string '\"Status\":\"ACTIVE\"'"],
        }
        ports = {k: harness.free_port() for k in checks}
        lines = ["global", "    log stdout format raw local0 info",
                 "defaults", "    mode http", "    log global", "    option dontlog-normal",
                 "    timeout connect 1s", "    timeout client 5s", "    timeout server 5s",
                 "    timeout check %dms" % CHECK_TIMEOUT_MS]
        for k, chk in checks.items():
            lines += ["frontend fe_%s" % k, "    bind 127.0.0.1:%d" % ports[k],
                      "    default_backend be_%s" % k,
                      "backend be_%s" % k] + ["    " + c for c in chk] + [
                      "    server b1 127.0.0.1:%d check port %d inter %dms fall %d rise %d "
                      "on-marked-down shutdown-sessions" % (backend.port, agent.http_port,
                                                            INTER_MS, FALL, RISE)]
        # The agent is started after HAProxy has marked the server DOWN (nothing listens on the
        # check port yet), so every 200 below is due to a check the agent answered.
        hap = HAProxy(self, "\n".join(lines) + "\n")
        wait_until(lambda: sum(1 for e in hap.server_events() if e[2] == "DOWN") >= len(checks),
                   5, "HAProxy marks b1 DOWN in every backend (agent not started)")
        agent.start(wait=True)
        wait_until(lambda: agent.http_status() == "BECOMING_ACTIVE", 10, "b1 BECOMING_ACTIVE")
        epoch = agent.status()["epoch"]
        t_becoming = time.monotonic()

        def answer(k):
            try:
                code, _, body = harness.http_get("127.0.0.1", ports[k], "/", timeout=1.0)
                return code, body.decode("utf-8", "replace")[:40]
            except (OSError, ValueError) as e:
                return None, type(e).__name__

        # Atlas's check: HAProxy routes to the BECOMING_ACTIVE host.
        wait_until(lambda: answer("atlas-doc") == (200, "b1"), 2,
                   "HAProxy with Atlas's check routes to BECOMING_ACTIVE b1")
        # Give the other two several check intervals to (wrongly) do the same.
        deadline = time.monotonic() + 10 * INTER_MS / 1000.0
        seen = {k: set() for k in checks}
        while time.monotonic() < deadline:
            for k in checks:
                seen[k].add(answer(k)[0])
            time.sleep(0.01)
        role_after = agent.status()
        self.assertEqual(role_after["role"], "BECOMING_ACTIVE",
                         "b1 left BECOMING_ACTIVE during the window (%.1f s after it began)" % (
                             time.monotonic() - t_becoming))
        log("while b1 is BECOMING_ACTIVE: Atlas's check (expect string ACTIVE) answers %s; "
            "/active answers %s; exact '\"Status\":\"ACTIVE\"' answers %s" % (
                sorted(seen["atlas-doc"], key=str), sorted(seen["active"], key=str),
                sorted(seen["exact"], key=str)))
        self.assertEqual(seen["atlas-doc"], {200})
        self.assertEqual(seen["active"], {503}, "/active routed to a BECOMING_ACTIVE host")
        self.assertEqual(seen["exact"], {503}, "exact match routed to a BECOMING_ACTIVE host")

        r = harness.unix_request(agent.socket_path, "ack %d" % epoch)
        self.assertNotIn("error", r, r)
        wait_until(lambda: agent.http_status() == "ACTIVE", 5, "b1 ACTIVE after the ack")
        t_ack = time.monotonic()
        for k in checks:
            wait_until(lambda k=k: answer(k) == (200, "b1"), 2,
                       "HAProxy (%s) routes to ACTIVE b1" % k)
        log("after the ack (ACTIVE): all three checks route to b1 within %.0f ms" % (
            (time.monotonic() - t_ack) * 1000))
        log(hap.describe())
        log("test_control took %.1f s" % (time.monotonic() - t_test))

    # ----------------------------------------------------------------------------------------

    def test_startup_guard(self):
        """HAProxy starts every server UP and keeps it UP until its first check: without the
        frontend's guard (`http-request return status 503 ... if { nbsrv(atlas) gt 1 }`) the
        first requests after HAProxy's start go to passive hosts. With the deploy config (guard
        included) none does."""
        t_test = time.monotonic()
        ids = ["g1", "g2", "g3"]
        agents = self.start_agents(ids, self.zk.connect_string(), zk_root="/haproxy-startup",
                                   session_timeout_ms=SESSION_MS)
        active = self.wait_one_active(agents, timeout=20)
        backends = [Backend(self, i) for i in ids]
        for b in backends:
            b.wait_ready()
        with open(DEPLOY_CFG) as f:
            deploy = f.read()
        results = {}
        for variant in ("deploy", "without-guard"):
            fe_port = harness.free_port()
            cfg = render_config(deploy, fe_port,
                                [(a.id, b.port, a.http_port) for a, b in zip(agents, backends)],
                                os.path.join(self.tmp, "%s.sock" % variant),
                                # Slow checks make the start-up window easy to hit.
                                inter_ms=1000)
            if variant == "without-guard":
                cfg, n = re.subn(r"(?m)^\s*http-request return status 503 .*nbsrv.*$", "", cfg)
                self.assertEqual(n, 1, "the guard line is gone from the deploy config")
            client = self.start_client(fe_port)
            hap = HAProxy(self, cfg, name="haproxy-" + variant)
            wait_until(lambda: client.first_200_from(active.id, hap.t_started), 10,
                       "%s: HAProxy routes to the ACTIVE %s" % (variant, active.id))
            time.sleep(0.2)
            client.stop()
            hap.stop()
            answered = {}
            for t_s, t_r, code, body in client.snapshot():
                if code == 200:
                    answered[body] = answered.get(body, 0) + 1
            results[variant] = answered
            log("HAProxy start, %s: 200s by host %s (ACTIVE is %s)" % (variant, answered,
                                                                      active.id))
        self.assertEqual(set(results["deploy"]), {active.id})
        self.assertEqual(self.roles(agents)[active.id], "ACTIVE")
        if set(results["without-guard"]) == {active.id}:
            log("note: without the guard no passive host was hit this time (timing)")
        log("test_startup_guard took %.1f s" % (time.monotonic() - t_test))


if __name__ == "__main__":
    unittest.main()
