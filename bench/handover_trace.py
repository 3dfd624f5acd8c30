#!/usr/bin/env python3
"""Where a planned handover's time goes, from the agents' logs of a kept failover.py run.

    python3 bench/failover.py --handover --groups=latchd --agent_flags=--v=1 --keep ...
    python3 bench/handover_trace.py /tmp/latchd-failover-XXXX

With --v=1 the agent logs every ZooKeeper request it submits, every answer and every watch with
glog's microsecond timestamps (agent/latchd/agent.cc). For each handover (a `signal 15`, a
`yield requested` or a `server unhealthy` line of the ACTIVE agent) this prints, in ms from that
line: the step-down multi submitted, the successor's deletion notification, its BECOMING_ACTIVE
(after its sync + mark read + listing), its ACTIVE (the publish answered), and what else went to
ZooKeeper meanwhile from the old leader (its step-down answer, the session close, a rejoin's
writes); then the medians of each step. Standard library only.
"""

import os
import re
import statistics
import sys

LINE = re.compile(r"^[IWE]\d{8} (\d\d):(\d\d):(\d\d\.\d{6}) +\d+ [^\]]+\] (.*)$")
TRIGGERS = ("signal 15 from pid", "yield requested over the socket", "server unhealthy")


def read(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if m:
                t = (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))) * 1000.0
                out.append((t, m.group(4)))
    return out


def first(lines, t_from, pred, t_to=None):
    for t, msg in lines:
        if t >= t_from and (t_to is None or t <= t_to) and pred(msg):
            return t
    return None


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    logs = {}
    for d in sorted(os.listdir(argv[1])):
        p = os.path.join(argv[1], d, "latchd.log")
        if d.startswith("agent-") and os.path.isfile(p):
            logs[d[len("agent-"):]] = read(p)
    steps = {}
    for aid, lines in logs.items():
        last = None
        for t0, msg in lines:
            if not msg.startswith(TRIGGERS) or (last is not None and t0 - last < 1000):
                continue  # (an unhealthy server is logged twice: the binding's line, the core's)
            last = t0
            # only a leader's trigger: it leaves ACTIVE right after
            left = first(lines, t0, lambda m: m.startswith("role ACTIVE -> BECOMING_PASSIVE"), t0 + 2000)
            if left is None:
                continue
            kind = msg.split()[0] if not msg.startswith("server") else "server"
            succ, t_active = None, None
            for bid, blines in logs.items():
                if bid == aid:
                    continue
                t = first(blines, t0, lambda m: m.startswith("role BECOMING_ACTIVE -> ACTIVE"),
                          t0 + 3000)
                if t is not None and (t_active is None or t < t_active):
                    succ, t_active = bid, t
            if succ is None:
                continue
            b = logs[succ]
            row = {
                "step-down submitted": first(lines, t0, lambda m: m.startswith("zk submit") and
                                             m.endswith(" mark"), t0 + 2000),
                "old: step-down answered": first(lines, t0, lambda m: m.startswith(
                    ("left the latch", "yielded;")), t0 + 3000),
                "old: session close sent": first(lines, t0, lambda m: m == "zk close", t0 + 1000),
                "old: next write (rejoin)": None,
                "successor: notification": first(b, t0, lambda m: m.startswith("zk watch") and
                                                 "leader_elector_path/" in m, t_active),
                "successor: BECOMING_ACTIVE": first(b, t0, lambda m: m.startswith(
                    "role PASSIVE -> BECOMING_ACTIVE"), t_active),
                "successor: ACTIVE": t_active,
            }
            ans = row["old: step-down answered"]
            if ans is not None:
                row["old: next write (rejoin)"] = first(
                    lines, ans, lambda m: m.startswith("zk submit") and
                    re.match(r"zk submit #\d+ [0135] ", m) is not None, t_active)
            print("%s %s -> %s at %.3f s:" % (kind, aid, succ, t0 / 1000.0 % 60))
            for k, v in row.items():
                if v is not None:
                    print("   %-28s %7.1f ms" % (k, v - t0))
                    steps.setdefault((kind, k), []).append(v - t0)
    print("\nmedians (ms from the trigger):")
    for (kind, k), vs in sorted(steps.items(), key=lambda kv: (kv[0][0], statistics.median(kv[1]))):
        print("  %-8s %-28s %7.1f  (n=%d)" % (kind, k, statistics.median(vs), len(vs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
