"""systemd integration: the units (systemd-analyze verify and security), the default flag file
and the man page against the flags latchd really has, the sysusers.d entry, and the sd_notify
protocol end to end (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) against a real ZooKeeper.

This machine does not run systemd as PID 1, so the units are checked offline and the notify
protocol is driven by the test playing the service manager: it owns the NOTIFY_SOCKET datagram
socket and sets WATCHDOG_USEC/WATCHDOG_PID as systemd would.

Environment: LATCHD_BIN_DIR (see harness.py).
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ElementTree

import harness
from harness import log, wait_until

SYSTEMD_DIR = os.path.join(harness.REPO_ROOT, "systemd")
DEPLOY_DIR = os.path.join(harness.REPO_ROOT, "deploy")
MAN_DIR = os.path.join(harness.REPO_ROOT, "docs", "man")
UNITS = ("latchd.service", "latchd@.service")
MAX_EXPOSURE = 2.0


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if not path:
        raise unittest.SkipTest("systemd-analyze not installed")
    return path


def parse_unit(path):
    """{section: {key: [values...]}} of a unit file (comments and blank lines dropped)."""
    sections, current = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def stage_units(workdir):
    """Copies both units into workdir with ExecStart pointing at the built latchd (so verify
    finds an executable), and the man pages into a man8 directory (so the Documentation=
    man: links resolve). Returns (unit dir, MANPATH)."""
    unit_dir = os.path.join(workdir, "units")
    man8 = os.path.join(workdir, "man", "man8")
    os.makedirs(unit_dir)
    os.makedirs(man8)
    for name in UNITS:
        with open(os.path.join(SYSTEMD_DIR, name)) as f:
            text = f.read()
        assert "ExecStart=/usr/bin/latchd " in text, name
        text = text.replace("ExecStart=/usr/bin/latchd ", "ExecStart=%s " % harness.latchd_path())
        with open(os.path.join(unit_dir, name), "w") as f:
            f.write(text)
    for page in ("latchd.8", "latchctl.8"):
        shutil.copy(os.path.join(MAN_DIR, page), man8)
    return unit_dir, os.path.join(workdir, "man")


def verify_units(test, paths, env=None):
    """Runs systemd-analyze verify on paths; fails on any message about our units (others,
    e.g. about the host's own units, are only printed)."""
    r = subprocess.run([systemd_analyze(), "verify"] + list(paths), capture_output=True,
                       text=True, timeout=120, env=env)
    out = (r.stdout + r.stderr).strip()
    ours = [l for l in out.splitlines() if "latchd" in l]
    others = [l for l in out.splitlines() if "latchd" not in l]
    if others:
        log("systemd-analyze verify, messages about other units (ignored):\n  " +
            "\n  ".join(others))
    test.assertEqual(ours, [], "systemd-analyze verify %s complained (exit %d):\n%s" % (
        " ".join(paths), r.returncode, out))
    test.assertEqual(r.returncode, 0, "systemd-analyze verify exit %d:\n%s" % (r.returncode,
                                                                               out))


def exposure(test, unit_path):
    """The overall exposure level of systemd-analyze security --offline=true."""
    r = subprocess.run([systemd_analyze(), "security", "--offline=true", "--no-pager",
                        unit_path], capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
    test.assertIsNotNone(m, "no exposure level in the output of systemd-analyze security "
                         "(exit %d):\n%s%s" % (r.returncode, r.stdout[-3000:], r.stderr))
    return float(m.group(1)), r.stdout


def supports_offline_security():
    r = subprocess.run([systemd_analyze(), "security", "--help"], capture_output=True,
                       text=True, timeout=30)
    return "--offline" in r.stdout + r.stderr


class UnitFilesTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="latchd-it-units-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_verify(self):
        harness.require_binaries()
        unit_dir, manpath = stage_units(self.tmp)
        env = dict(os.environ, MANPATH=manpath)
        # The template is verified through an instance (systemd finds latchd@.service next
        # to it); the instance name must not matter.
        verify_units(self, [os.path.join(unit_dir, "latchd.service"),
                            os.path.join(unit_dir, "latchd@orders.service")], env)

    def test_security_exposure(self):
        """systemd 252 has `systemd-analyze security --offline=true` (a review of the unit
        file alone, no running manager needed)."""
        systemd_analyze()
        if not supports_offline_security():
            self.skipTest("this systemd-analyze has no security --offline (systemd < 250)")
        harness.require_binaries()
        unit_dir, _ = stage_units(self.tmp)
        for name in ("latchd.service", "latchd@orders.service"):
            level, report = exposure(self, os.path.join(unit_dir, name))
            log("systemd-analyze security --offline=true %s: exposure %.1f" % (name, level))
            print("exposure %s: %.1f" % (name, level))
            weak = [l.strip() for l in report.splitlines() if l.startswith("\u2717")]
            self.assertLess(level, MAX_EXPOSURE, "%s: exposure %.1f; open items:\n  %s" % (
                name, level, "\n  ".join(weak)))

    def test_units_settings(self):
        """The settings the daemon relies on, and the template differing from the plain unit
        only where an instance must."""
        plain = parse_unit(os.path.join(SYSTEMD_DIR, "latchd.service"))
        inst = parse_unit(os.path.join(SYSTEMD_DIR, "latchd@.service"))
        want = {
            "Type": ["notify"], "NotifyAccess": ["main"], "WatchdogSec": ["10s"],
            "Restart": ["on-failure"], "RestartSec": ["1s"], "KillSignal": ["SIGTERM"],
            "TimeoutStopSec": ["15s"], "User": ["latchd"], "Group": ["latchd"],
            "UMask": ["0007"], "RuntimeDirectoryPreserve": ["restart"],
            "CapabilityBoundingSet": [""], "AmbientCapabilities": [""],
            "NoNewPrivileges": ["yes"], "ProtectSystem": ["strict"],
            "ProtectProc": ["invisible"], "ProcSubset": ["pid"],
            "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
            "SystemCallFilter": ["@system-service"], "SystemCallArchitectures": ["native"],
            "MemoryDenyWriteExecute": ["yes"], "DevicePolicy": ["closed"],
        }
        for name, unit in (("latchd.service", plain), ("latchd@.service", inst)):
            service = unit["Service"]
            for key, value in want.items():
                self.assertEqual(service.get(key), value, "%s: %s" % (name, key))
            for key in ("IPAddressAllow", "IPAddressDeny", "PrivateNetwork"):
                self.assertNotIn(key, service, "%s: ZooKeeper may be anywhere" % name)
        self.assertEqual(plain["Service"]["ExecStart"],
                         ["/usr/bin/latchd --flagfile=/etc/latchd/latchd.flags"])
        self.assertEqual(plain["Service"]["RuntimeDirectory"], ["latchd"])
        self.assertEqual(inst["Service"]["RuntimeDirectory"], ["latchd/%i"])
        # The instance's socket defaults into its own runtime directory; the flag file comes
        # after it and may override it.
        self.assertEqual(inst["Service"]["ExecStart"],
                         ["/usr/bin/latchd --socket_path=/run/latchd/%i/latchd.sock "
                          "--flagfile=/etc/latchd/%i.flags"])
        self.assertEqual(inst["Unit"].get("Conflicts"), ["latchd.service"])
        differ = sorted(k for k in set(plain["Service"]) | set(inst["Service"])
                        if plain["Service"].get(k) != inst["Service"].get(k))
        self.assertEqual(differ, ["ExecStart", "LogsDirectory", "RuntimeDirectory"])

    def test_flag_file_and_man_page_list_every_flag(self):
        """deploy/latchd.flags lists every flag of agent/latchd/flags.cc, commented out, with
        its real default; latchd accepts the file with every line uncommented; latchd.8
        documents every flag."""
        harness.require_binaries()
        r = subprocess.run([harness.latchd_path(), "--helpxml"], capture_output=True,
                           text=True, timeout=30)
        root = ElementTree.fromstring(r.stdout)
        defaults = {}
        for flag in root.iter("flag"):
            if flag.findtext("file", "").endswith("agent/latchd/flags.cc"):
                defaults[flag.findtext("name")] = flag.findtext("default") or ""
        self.assertGreaterEqual(len(defaults), 10, r.stdout[:500])

        listed = {}
        with open(os.path.join(DEPLOY_DIR, "latchd.flags")) as f:
            for line in f:
                m = re.match(r"#--([a-z0-9_]+)=(.*)$", line.rstrip("\n"))
                if m:
                    listed[m.group(1)] = m.group(2)
                self.assertFalse(line.startswith("--"),
                                 "the default flag file sets nothing: %r" % line)
        missing = sorted(set(defaults) - set(listed))
        self.assertEqual(missing, [], "flags missing from deploy/latchd.flags")
        for name, default in defaults.items():
            self.assertEqual(listed[name], default, "deploy/latchd.flags: default of --%s" %
                             name)

        # Every line uncommented: all names known to latchd (checked before parsing).
        active = os.path.join(self.tmp, "all.flags")
        with open(active, "w") as f:
            for name, value in listed.items():
                f.write("--%s=%s\n" % (name, value))
        r = subprocess.run([harness.latchd_path(), "--flagfile=%s" % active, "--helpxml"],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("<AllFlags>", r.stdout, "latchd refused the uncommented flag file: %s" %
                      r.stderr)

        with open(os.path.join(MAN_DIR, "latchd.8")) as f:
            man = f.read()
        undocumented = sorted(n for n in defaults if "\\-\\-%s=" % n not in man)
        self.assertEqual(undocumented, [], "flags missing from docs/man/latchd.8")

    def test_latchctl_man_page_lists_every_command(self):
        """Every command of latchctl's usage line and every flag of its --help is in
        latchctl.8."""
        harness.require_binaries()
        r = subprocess.run([harness.latchctl_path()], capture_output=True, text=True,
                           timeout=30)
        m = re.search(r"usage: latchctl \{([^}]*)\}", r.stderr)
        self.assertIsNotNone(m, "no usage line from latchctl: %r" % r.stderr)
        commands = [c.split()[0] for c in m.group(1).split("|")]
        r = subprocess.run([harness.latchctl_path(), "--help"], capture_output=True, text=True,
                           timeout=30)
        flags = sorted(set(re.findall(r"^  (--[a-z_]+)", r.stdout, re.M)))
        self.assertIn("--socket", flags, r.stdout)
        with open(os.path.join(MAN_DIR, "latchctl.8")) as f:
            man = f.read()
        for c in commands:
            roff = c.replace("-", "\\-")
            self.assertRegex(man, r'(?m)^\.(B|BI) "?%s\b' % re.escape(roff),
                             "latchctl.8 has no entry for the command %s" % c)
        for flag in flags:
            self.assertIn(flag.replace("-", "\\-"), man, "latchctl.8 lacks %s" % flag)

    def test_sysusers(self):
        tool = shutil.which("systemd-sysusers")
        if not tool:
            self.skipTest("systemd-sysusers not installed")
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        r = subprocess.run([tool, "--root=%s" % root,
                            os.path.join(DEPLOY_DIR, "latchd.sysusers")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {l.split(":")[0]: l.rstrip("\n").split(":") for l in f if ":" in l}
        with open(os.path.join(root, "etc", "group")) as f:
            groups = {l.split(":")[0]: l.rstrip("\n").split(":") for l in f if ":" in l}
        self.assertIn("latchd", users)
        self.assertIn("latchd", groups)
        user = users["latchd"]
        self.assertEqual(user[3], groups["latchd"][2], "primary group is latchd")
        self.assertLess(int(user[2]), 1000, "a system user")
        self.assertEqual(user[5], "/nonexistent")
        self.assertTrue(user[6].endswith("nologin"), user)


# --------------------------------------------------------------------------------------------
# sd_notify end to end


class NotifySocket:
    """The service manager's side of sd_notify: a datagram socket that records every message
    with its arrival time and the sender's pid (SO_PASSCRED)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, sender pid, text)
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="notify-socket")
        self._thread.start()

    def _run(self):
        creds_size = socket.CMSG_SPACE(struct.calcsize("iII"))
        while not self._stop:
            try:
                data, ancdata, _, _ = self.sock.recvmsg(4096, creds_size)
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:struct.calcsize("iII")])[0]
            text = data.decode("utf-8", "replace")
            harness.vlog("notify from pid %s: %r" % (pid, text))
            with self._cv:
                self.messages.append((time.monotonic(), pid, text))
                self._cv.notify_all()

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()

    def snapshot(self):
        with self._cv:
            return list(self.messages)

    def wait_for(self, pred, timeout, what):
        """The first message (t, pid, text) whose text satisfies pred."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for m in self.messages:
                    if pred(m[2]):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %.1f s; received: %r" % (
                        what, timeout, [m[2] for m in self.messages]))
                self._cv.wait(min(left, 0.2))

    def describe(self):
        with self._cv:
            t0 = self.messages[0][0] if self.messages else 0
            return "-- notify messages:\n" + "\n".join(
                "   +%.3f s pid %s %r" % (t - t0, pid, text) for t, pid, text in self.messages)


class NotifiedAgent(harness.Agent):
    """An agent started as systemd starts a Type=notify service with a watchdog: through a
    shell that sets WATCHDOG_PID to its own pid and execs latchd (so the pid is latchd's)."""

    def start(self, wait=True, timeout=15.0):
        env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(k, None)
        env.setdefault("GLOG_log_dir", self.dir)
        env.update(self.env or {})
        with open(self.log_path, "ab") as f:
            f.write(("==== start %s: %s\n" % (time.strftime("%H:%M:%S"),
                                             " ".join(self.flags()))).encode())
        self.started_at = time.monotonic()
        self.stopped_at = None
        argv = ["sh", "-c", 'export WATCHDOG_PID=$$; exec "$0" "$@"',
                harness.latchd_path()] + self.flags()
        self.proc = harness.spawn(argv, self.name, self.log_path, env=env, cwd=self.dir)
        if wait:
            self.wait_ready(timeout)
        return self


class NotifyTest(harness.LatchdTestCase):
    """Needs the agent to use lib/io/sd_notify (Ready/Status/Watchdog/Stopping)."""

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def test_ready_status_watchdog_stopping(self):
        notify = NotifySocket(os.path.join(self.tmp, "notify"))
        self.addCleanup(notify.close)
        self._dump_extra.append(notify.describe)
        watchdog_usec = 2000000
        agent = NotifiedAgent("sd1", self.zk.connect_string(), self.tmp, zk_root="/sd-notify",
                              env={"NOTIFY_SOCKET": notify.path,
                                   "WATCHDOG_USEC": str(watchdog_usec)})
        self.addCleanup(agent.stop)
        self.register_log(agent.name, agent.log_path)
        agent.start(wait=False)
        pid = agent.pid

        t_ready, ready_pid, _ = notify.wait_for(
            lambda m: m == "READY=1", 15,
            "READY=1 from latchd (does the agent use lib/io/sd_notify?)")
        agent.wait_ready()
        log("READY=1 %.2f s after start" % (t_ready - agent.started_at))
        first_status = notify.wait_for(lambda m: m.startswith("STATUS="), 5, "STATUS=")[2]
        self.assertTrue(first_status.startswith("STATUS=role PASSIVE"), first_status)

        # A single agent leads: the status follows it, with the epoch it reports.
        wait_until(lambda: agent.http_status() == "ACTIVE", 15, "sd1 ACTIVE")
        epoch = agent.status()["epoch"]
        notify.wait_for(lambda m: m == "STATUS=ACTIVE epoch %d leader sd1" % epoch, 5,
                        "STATUS=ACTIVE epoch %d leader sd1" % epoch)
        statuses = [m[2] for m in notify.snapshot() if m[2].startswith("STATUS=")]
        self.assertIn("STATUS=BECOMING_ACTIVE epoch %d leader sd1" % epoch, statuses)
        self.assertLess(statuses.index("STATUS=BECOMING_ACTIVE epoch %d leader sd1" % epoch),
                        statuses.index("STATUS=ACTIVE epoch %d leader sd1" % epoch))

        # Pings every WATCHDOG_USEC / 2 = 1 s: at least two in any 3 s.
        t0 = time.monotonic()
        time.sleep(3.0)
        pings = [t for t, _, m in notify.snapshot() if m == "WATCHDOG=1" and t0 <= t <= t0 + 3.0]
        log("%d WATCHDOG=1 in 3 s" % len(pings))
        self.assertGreaterEqual(len(pings), 2, "WATCHDOG=1 in 3 s: %d" % len(pings))
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertTrue(all(g < watchdog_usec / 1e6 for g in gaps),
                        "pings further apart than the watchdog timeout: %r" % gaps)

        # SIGTERM: STOPPING=1 before the role steps down, then a clean exit.
        before = len(notify.snapshot())
        rc = agent.stop(timeout=10)
        self.assertEqual(rc, 0, "latchd exit code after SIGTERM")
        notify.wait_for(lambda m: m == "STOPPING=1", 2, "STOPPING=1 after SIGTERM")
        after = [m[2] for m in notify.snapshot()[before:]]
        self.assertIn("STOPPING=1", after)
        stopping = after.index("STOPPING=1")
        self.assertTrue(any(m.startswith("STATUS=PASSIVE epoch %d leader " % epoch)
                            for m in after[stopping:]),
                        "the step-down after STOPPING=1: %r" % after)

        # Everything came from latchd itself (NotifyAccess=main accepts nothing else).
        senders = {p for _, p, _ in notify.snapshot()}
        self.assertEqual(senders, {pid}, "sender pids (latchd is %d)" % pid)
        self.assertEqual(ready_pid, pid)
        kinds = sorted({m[2].split("=", 1)[0] for m in notify.snapshot()})
        self.assertEqual(kinds, ["READY", "STATUS", "STOPPING", "WATCHDOG"])


if __name__ == "__main__":
    unittest.main()
