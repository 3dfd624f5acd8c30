#!/usr/bin/env python3
"""latchd demo: a 3-server ZooKeeper ensemble on loopback, three agents, a graceful failover.

Usage: scripts/demo.py [--bin-dir DIR] [--seconds N]
Needs the built binaries (default build/bin) and Debian's zookeeper package. Everything it starts
is stopped by pid on exit (also on Ctrl-C or SIGTERM) and its temp dir removed."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import harness  # noqa: E402

SESSION_MS = 4000


def say(msg=""):
    print(msg, flush=True)


def curl_status(agent):
    url = "http://127.0.0.1:%d%s" % (agent.http_port, harness.STATUS_PATH)
    try:
        r = subprocess.run(["curl", "-s", "--max-time", "1", url], capture_output=True,
                           text=True, timeout=5)
        return r.stdout.strip() or "(no answer, curl exit %d)" % r.returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(curl failed: %s)" % e


def latchctl_status(agent):
    r = subprocess.run([harness.latchctl_path(), "status", "--socket=%s" % agent.socket_path],
                       capture_output=True, text=True, timeout=5)
    if r.returncode != 0:
        return "(exit %d: %s)" % (r.returncode, r.stderr.strip())
    return r.stdout.strip()


def show_roles(agents, seconds):
    for i in range(seconds):
        t = time.strftime("%H:%M:%S")
        for a in agents:
            if a.running:
                say("  %s  %-3s latchctl status: %-16s curl %s -> %s" % (
                    t, a.id, latchctl_status(a), harness.STATUS_PATH, curl_status(a)))
            else:
                say("  %s  %-3s (stopped)" % (t, a.id))
        say()
        if i + 1 < seconds:
            time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin-dir", default=os.environ.get("LATCHD_BIN_DIR",
                                                         os.path.join(REPO, "build", "bin")))
    ap.add_argument("--seconds", type=int, default=3, help="seconds of role printing")
    args = ap.parse_args()
    os.environ["LATCHD_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if not harness.binaries_available():
        say("latchd/latchctl not found in %s: build first "
            "(cmake -S . -B build && make -C build -j2)" % args.bin_dir)
        return 1

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    tmp = tempfile.mkdtemp(prefix="latchd-demo-")
    ens = None
    agents = []
    obs = None
    t_begin = time.monotonic()
    try:
        say("== Starting a 3-server ZooKeeper ensemble on 127.0.0.1 (Debian's zookeeper "
            "package, tickTime 200 ms)")
        ens = harness.ZkEnsemble(os.path.join(tmp, "zk"), size=3, tick_time=200)
        ens.start(wait=True)
        for s in ens.servers:
            say("   %s  %s  pid %d  %s" % (s.name, s.address, s.pid, s.mode()))
        say("   connect string: %s" % ens.connect_string())
        say()
        say("== Starting three latchd agents (session timeout %d ms)" % SESSION_MS)
        for i in (1, 2, 3):
            agents.append(harness.Agent("a%d" % i, ens.connect_string(), tmp,
                                        session_timeout_ms=SESSION_MS))
        for a in agents:
            a.start(wait=False)
        for a in agents:
            a.wait_ready()
            say("   %s  pid %d  http %s  socket %s" % (a.id, a.pid, a.advertise,
                                                      a.socket_path))
        harness.wait_until(lambda: sum(a.http_status() == "ACTIVE" for a in agents) == 1, 20,
                           "one ACTIVE agent")
        say()
        say("== Roles, once a second")
        show_roles(agents, args.seconds)

        active = [a for a in agents if a.http_status() == "ACTIVE"][0]
        st = active.status()
        say("== %s is ACTIVE (epoch %s, ZooKeeper session %s). Stopping it with SIGTERM."
            % (active.id, st.get("epoch"), st.get("zk", {}).get("session_id")))
        obs = harness.Observer.for_agents(agents)
        obs.start()
        obs.wait_sweeps(3)
        t0 = time.monotonic()
        active.send_signal(signal.SIGTERM)
        rest = [a for a in agents if a is not active]
        harness.wait_until(lambda: any(a.http_status() == "ACTIVE" for a in rest), 15,
                           "a new ACTIVE agent")
        rc = active.wait_exit(15)
        time.sleep(0.1)
        obs.stop()
        new = [a for a in rest if a.http_status() == "ACTIVE"][0]
        h = harness.handover(obs, active.id, new.id, t0)
        overlaps = obs.overlaps()
        say("   %s exited with code %s" % (active.id, rc))
        say("   %s is ACTIVE now: %.1f ms after the signal (observer polling every ~%.1f ms)"
            % (new.id, h["since_signal"] * 1000, obs.sample_period() * 1000))
        say("   two agents ACTIVE at the same time: %s" % ("never" if not overlaps else overlaps))
        say("   roles seen by the observer, time since the signal:")
        for a in agents:
            say("     " + obs.describe(a.id, t0))
        say()
        say("== Roles after the failover")
        show_roles(agents, 2)
        say("== Done in %.1f s; cleaning up" % (time.monotonic() - t_begin))
        return 0
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    finally:
        if obs is not None:
            obs.stop()
        for a in agents:
            a.stop(timeout=5)
        if ens is not None:
            ens.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
