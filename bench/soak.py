#!/usr/bin/env python3
"""Soak: seeded random fault schedules against latchd for as long as asked.

    bench/soak --minutes=30 [--seed=N] [--agents=3] [--session-ms=4000] [--stop-on-violation]

A 3-node ZooKeeper ensemble (tickTime 200 ms), N latchd agents each behind proxies of its own
(tests/integration/faults.py), an observer polling every agent's HTTP status and socket every
2 ms, and each agent's --journal. Rounds of 1-2 faults (agent SIGTERM/SIGKILL/restart, partition,
connection reset, SIGSTOP; ZooKeeper server SIGKILL/SIGTERM/SIGSTOP, leader kill, quorum loss,
rolling restart; latch parent deleted, latch znodes wiped) are drawn from the seed; after each
round everything is healed and checked: exactly one ACTIVE within session timeout + 2 s, no
orphan latch nodes, no fd/thread leak, and over the round the safety invariants (no two ACTIVE
at once per journals and observer, answers agree with journals, epochs grow, agents alive and
answering).

The seed is printed first; `--seed=N` replays the same schedule (the same faults with the same
parameters, in the same order; their timing relative to the agents' state varies). Exit status
0 without violations, 1 with any (each printed with its round, the fault log and the replay
command), 2 when the run itself broke.
"""

import argparse
import collections
import json
import os
import random
import statistics
import sys
import tempfile
import time
import traceback

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import faults  # noqa: E402
import harness  # noqa: E402
from faults import MS, NS, now_ns  # noqa: E402


def say(msg):
    sys.stderr.write("[soak %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: time)")
    ap.add_argument("--seed", type=int, default=0, help="0: a random seed (printed)")
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--session-ms", type=int, default=4000)
    ap.add_argument("--stop-on-violation", action="store_true")
    ap.add_argument("--exclude", default="", help="comma-separated fault kinds to leave out, "
                    "e.g. delete_latch_parent,wipe_root (deletes by another client are outside "
                    "latchd's model)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--json", default=os.path.join(BENCH_DIR, "out", "soak.json"))
    args = ap.parse_args()
    os.environ.setdefault("LATCHD_BIN_DIR", os.path.join(REPO, "build", "bin"))
    harness.require_binaries()
    seed = args.seed or random.SystemRandom().randrange(1, 2 ** 31)
    T = args.session_ms / 1000.0
    max_rounds = args.rounds or 100000
    exclude = [k for k in args.exclude.split(",") if k]
    unknown = set(exclude) - {k for k, _ in faults.FAULT_KINDS}
    if unknown:
        ap.error("unknown fault kinds %s" % sorted(unknown))
    sched = faults.Schedule(seed, max_rounds if args.rounds else 2000, args.session_ms, exclude)
    replay = "bench/soak --seed=%d --agents=%d --session-ms=%d%s" % (
        seed, args.agents, args.session_ms, " --exclude=" + ",".join(exclude) if exclude else "")
    say("seed %d (replay: %s --rounds=<n>); binaries %s" % (seed, replay, harness.bin_dir()))
    tmp = tempfile.mkdtemp(prefix="latchd-soak-")
    ens = harness.ZkEnsemble(os.path.join(tmp, "zk"), size=3, tick_time=200)
    cl = None
    status = 0
    t_begin = time.monotonic()
    deadline = t_begin + args.minutes * 60
    rounds_done = 0
    kinds = collections.Counter()
    settle_ms = []
    per_round_violations = []
    meter = faults.CpuMeter().start()
    try:
        ens.start(wait=True)
        cl = faults.FaultCluster(ens, tmp)
        g = cl.add_latchd_group("latchd", "/latchd-soak",
                                ["a%d" % (i + 1) for i in range(args.agents)],
                                session_ms=args.session_ms)
        cl.start()
        rng = random.Random(seed ^ 0x5EED)
        for i, round_faults in enumerate(sched.rounds):
            if rounds_done >= max_rounds or (not args.rounds and time.monotonic() >= deadline):
                break
            before = len(cl.violations)
            t_start, t_heal = faults.run_round(cl, g, round_faults, rng)
            for f in round_faults:
                kinds[f["kind"]] += 1
            res = cl.check_after_heal(t_heal, t_from=t_start)
            act, t_ok = res[g.name]
            if t_ok:
                settle_ms.append((t_ok - t_heal) / MS)
            rounds_done += 1
            new = cl.violations[before:]
            say("round %d: %s -> %s; settled %s; faults so far %d; violations %d" % (
                i + 1, "; ".join("%s%s" % (f["kind"], {k: v for k, v in f.items()
                                                        if k not in ("kind",)})
                                 for f in round_faults),
                act.id if act else None,
                "%.0f ms after the heal" % ((t_ok - t_heal) / MS) if t_ok else "NO",
                cl.fault_count, len(cl.violations)))
            if new:
                per_round_violations.append((i + 1, round_faults, [str(v) for v in new],
                                             cl.event_log(t_start)))
                say("VIOLATION in round %d (replay: %s --rounds=%d):\n%s\nfault log:\n  %s" % (
                    i + 1, replay, i + 1, "\n".join(str(v) for v in new),
                    "\n  ".join(cl.event_log(t_start))))
                if args.stop_on_violation:
                    break
            # keep memory flat: samples older than this round are checked already
            cl.observer.trim(t_start - 5 * NS)
        stats = cl.observer.period_stats(now_ns() - 60 * NS)
    except Exception as e:  # noqa: BLE001
        status = 2
        say("soak broke: %r" % e)
        traceback.print_exc()
        stats = {}
        if cl:
            say("fault log tail:\n  %s" % "\n  ".join(cl.event_log()[-30:]))
    finally:
        if cl:
            cl.stop()
        ens.stop()
    elapsed = time.monotonic() - t_begin
    busy, ours, background = meter.stop()
    n_viol = len(cl.violations) if cl else 0
    if status == 0 and n_viol:
        status = 1
    summary = {
        "seed": seed,
        "replay": replay + " --rounds=%d" % rounds_done,
        "minutes": round(elapsed / 60, 1),
        "rounds": rounds_done,
        "faults": cl.fault_count if cl else 0,
        "faults_by_kind": dict(kinds),
        "violations": n_viol,
        "findings": len(cl.findings) if cl else 0,
        "settle_ms_median": round(statistics.median(settle_ms), 1) if settle_ms else None,
        "settle_ms_max": round(max(settle_ms), 1) if settle_ms else None,
        "observer_period_ms": {k: round(v[1], 2) for k, v in stats.items()},
        "machine_busy_pct": round(busy, 1),
        "other_load_pct": round(background, 1),
    }
    out = ["", "soak: %(minutes).1f min, %(rounds)d rounds, %(faults)d faults, "
           "%(violations)d violation(s), %(findings)d finding(s)" % summary,
           "  seed %d; replay: %s" % (seed, summary["replay"]),
           "  faults by kind: %s" % ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
           "  exactly one ACTIVE after the heal: median %s ms, max %s ms (bound %d ms)" % (
               summary["settle_ms_median"], summary["settle_ms_max"], args.session_ms + 2000),
           "  observer period (last 60 s, mean per channel): %s" % ", ".join(
               "%s %.2f ms" % (k, v) for k, v in sorted(summary["observer_period_ms"].items())),
           "  machine busy %.0f %% on average, of which %.0f %% by other processes" % (
               busy, background)]
    for rnd, fl, vs, evlog in per_round_violations:
        out.append("  round %d %s:" % (rnd, [f["kind"] for f in fl]))
        out += ["    " + v.replace("\n", "\n    ") for v in vs]
    if cl and cl.findings:
        out.append("  findings (outside latchd's model, not failures):")
        out += ["    " + f.message for f in cl.findings[:20]]
    print("\n".join(out))
    try:
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            summary["violation_details"] = per_round_violations
            summary["finding_details"] = [str(v) for v in (cl.findings if cl else [])]
            json.dump(summary, f, indent=1, default=str)
    except OSError as e:
        say("cannot write %s: %s" % (args.json, e))
    if args.keep or status:
        say("kept %s" % tmp)
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
