#!/usr/bin/env python3
"""Unit tests of bench/tables.py (standard library only, no processes started):

    python3 -m unittest -v bench/test_tables.py      # or: python3 bench/test_tables.py

A small fixture (raw files of both kinds, written to a temp dir) whose samples disagree with
the aggregates stored next to them, so that a table can only be right if it was computed from
the samples."""

import contextlib
import copy
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tables  # noqa: E402


def prov(dirty=False):
    return {"commit": "0123456789abcdef0123456789abcdef01234567", "commit_short": "0123456",
            "dirty": dirty, "dirty_files": [" M lib/x.cc"] if dirty else [],
            "date": "2026-01-02T03:04:05Z",
            "machine": {"nproc": 2, "kernel": "6.1.0", "cpu_model": "Test CPU"},
            "command": "python3 bench/failover.py --reps=3", "cwd": "/", "binaries": "build/bin"}


def socket_run(label, hist, seconds=2.0):
    # lat_us and rps deliberately wrong: the table must use the histogram
    return {"label": label, "clients": 16, "seconds": seconds, "requests": 1, "rps": 1.0,
            "lat_us": {"p50": 999.0, "p99": 999.0, "max": 999.0}, "lat_hist_ns": hist,
            "server_cpu_pct": 80.0, "background_pct": 1.0}


def fanout(delays_us, background=1.0):
    return {"watchers": len(delays_us), "first_us": delays_us, "background_pct": background,
            "first_change": {"p50_ms": 99.0, "max_ms": 99.0, "received": len(delays_us)},
            "agent_broadcast_ms": 1.5}


def run_raw(dirty=False):
    # latchd: 100 requests; 51 of 100 µs, 39 of 200 µs, 9 of 400 µs, 1 of 5 ms
    lat = [[100000, 51], [200000, 39], [400000, 9], [5000000, 1]]
    ceil = [[80000, 60], [150000, 39], [300000, 1]]
    wrk = {"rps": 1000.0, "p50_ms": 0.1, "p99_ms": 2.0, "background_pct": 0.0}
    return {"kind": "run", "format": 1, "provenance": prov(dirty), "data": {
        "args": {"seconds": 2.0, "clients": 16, "watchers": 3, "fanout_rounds": 3,
                 "idle_seconds": 10.0},
        "negotiated_session_timeout_ms": 10000,
        "socket_attempts": [
            # the first attempt was disturbed: the second one counts
            {"a": socket_run("latchd", [[1000000, 4]]), "b": socket_run("ceiling", ceil),
             "worst_background_pct": 40.0},
            {"a": socket_run("latchd", lat), "b": socket_run("ceiling", ceil),
             "worst_background_pct": 2.0}],
        "http_attempts": [{"a": dict(wrk), "b": dict(wrk, rps=2000.0),
                           "worst_background_pct": 0.0}],
        "http_haproxy_default": dict(wrk, rps=2500.0),
        # rounds' p50: 2.0, 3.0, 1.0 ms -> median 2.0; max over rounds 9.0 ms
        "fanout_latchd": [fanout([1000, 2000, 9000]), fanout([3000, 3000, 4000]),
                          fanout([1000, 1000, 1000])],
        "fanout_ceiling": [fanout([500, 500, 500])] * 3,
        "rss_watchers_kib": 8000, "rss_base_kib": 7000,
        "idle_cpu_watchers": 0.0, "idle_cpu_base": 0.0, "idle_cpu_passive": 0.1}}


def m(new, overlap=0.0, **kw):
    out = {"new_active_ms": new, "overlap_ms": overlap, "observer_overlap_ms": overlap,
           "old_stop_ms": 1.0, "no_active_ms": new, "moved": True, "settled": True,
           "background_pct": 1.0, "observer_period_ms": 2.0}
    out.update(kw)
    return out


def failover_raw(dirty=False):
    return {"kind": "failover", "format": 1, "provenance": prov(dirty), "data": {
        "session_ms": 4000, "reps": 3, "meta": {"latchd invariant violations": 0},
        "results": {
            "graceful": {"latchd": [m(40.0), m(60.0), m(20.0)],
                         "curator": [m(130.0, 90.0), m(140.0, 80.0), m(120.0, 100.0)]},
            "server_kill": {"latchd": [m(30.0), m(250.0), m(35.0)],
                            "curator": [m(4000.0), m(3900.0), m(4100.0)]},
            "server_hung": {"latchd": [m(500.0), m(700.0), m(600.0, 0.5)],
                            "curator": [m(4050.0)] * 3}},
        "server_binding": {"server_kill": {"agent_flags": ["--server_hold"],
                                           "server": "gated_server --hold"}}}}


DOC = """# doc

text before

<!-- bench/tables.py table: %s -->

text after
"""


class TablesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test-tables-")
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.out)
        self.results = os.path.join(self.dir, "results.md")
        self.failover = os.path.join(self.dir, "failover.md")
        with open(self.results, "w") as f:
            f.write(DOC % "run" + "\n<!-- bench/tables.py table: failover-full -->\n")
        with open(self.failover, "w") as f:
            f.write(DOC % "failover-summary" + "\n<!-- bench/tables.py table: server-binding -->\n")
        self.docs = {tables.RESULTS_MD: self.results, tables.FAILOVER_MD: self.failover}

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, raw):
        path = os.path.join(self.out, name)
        with open(path, "w") as f:
            json.dump(raw, f)
        return path

    def read(self, path):
        with open(path) as f:
            return f.read()

    def generate(self, allow_dirty=False, run=None, failover=None):
        raws = {"run": run or self.write("run-20260102T030405Z-0123456.json", run_raw()),
                "failover": failover or self.write("failover-20260102T030405Z-0123456.json",
                                                   failover_raw())}
        return tables.generate(raws, allow_dirty=allow_dirty, docs=self.docs)

    def test_run_table_from_the_samples(self):
        rc, msgs = self.generate()
        self.assertEqual(rc, 0, msgs)
        doc = self.read(self.results)
        # socket: the least disturbed attempt, percentiles from its histogram
        self.assertIn("| Socket `status`, 16 clients: throughput | 50 req/s | 50 req/s", doc)
        self.assertIn("| Socket `status`: latency p99 | 400 µs | 150 µs | 2.67× |", doc)
        self.assertIn("100 µs / 5.0 ms", doc)
        self.assertNotIn("999", doc)
        # fan-out: each round's p50 and max from every watcher's delay, median over rounds
        self.assertIn("delay p50 (from `yield` sent; median of 3 rounds) | 2.00 ms |", doc)
        self.assertIn("worst of 3 rounds: 9.0, 4.0, 1.0 ms) | 9.00 ms | 0.50 ms", doc)
        # headed by the commit and the dirty flag; the rest of the document is kept
        self.assertIn("Commit `0123456` (clean tree)", doc)
        self.assertIn("<!-- generated by bench/tables.py from ", doc)
        self.assertTrue(doc.startswith("# doc\n\ntext before\n"))
        self.assertIn("text after", doc)

    def test_failover_medians_recomputed(self):
        rc, msgs = self.generate()
        self.assertEqual(rc, 0, msgs)
        doc = self.read(self.failover)
        self.assertIn("| graceful | new ACTIVE | 40.0 ms (max 60.0) | 130 ms (max 140) |", doc)
        self.assertIn("| server_kill | latchd + gated_server | 35.0 ms (max 250) | "
                      "30.0, 250, 35.0 ms | — | 1.0 ms (max 1.0) | 0.0 ms / 0.0 ms |", doc)
        # the median meets the target, but one run of server_hung overlapped: a MISS
        self.assertRegex(doc, r"\| server_kill \| latchd \+ gated_server .*≤ 0\.2 s.*\*\*PASS\*\*")
        self.assertRegex(doc, r"\| server_hung \| latchd \+ gated_server .*\*\*MISS\*\*")
        self.assertIn("| Curator in-process | 4000 ms (max 4100) |", doc)

    def test_dirty_results_refused_unless_allowed(self):
        before = self.read(self.failover), self.read(self.results)
        dirty = self.write("failover-20260102T030406Z-0123456-dirty.json", failover_raw(True))
        rc, msgs = self.generate(failover=dirty)
        self.assertEqual(rc, 1)
        self.assertEqual(len(msgs), 1)
        self.assertIn("dirty tree", msgs[0])
        self.assertIn("--allow-dirty", msgs[0])
        self.assertEqual((self.read(self.failover), self.read(self.results)), before)
        rc, msgs = self.generate(allow_dirty=True, failover=dirty)
        self.assertEqual(rc, 0, msgs)
        self.assertIn("Commit `0123456` (**dirty**", self.read(self.failover))

    def test_main_refuses_in_one_line_with_exit_1(self):
        self.write("failover-20260102T030406Z-0123456-dirty.json", failover_raw(True))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = tables.main(["--out_dir", self.out])
        self.assertEqual(rc, 1)
        self.assertEqual(len(err.getvalue().splitlines()), 1, err.getvalue())

    def test_regenerating_replaces_the_block(self):
        self.assertEqual(self.generate()[0], 0)
        first = self.read(self.failover)
        self.assertEqual(self.generate()[0], 0)
        self.assertEqual(self.read(self.failover), first)
        raw = failover_raw()
        raw = copy.deepcopy(raw)
        raw["data"]["results"]["server_kill"]["latchd"] = [m(11.0)]
        other = self.write("failover-20260103T000000Z-0123456.json", raw)
        self.assertEqual(self.generate(failover=other)[0], 0)
        doc = self.read(self.failover)
        self.assertEqual(doc.count("<!-- generated by bench/tables.py"), 2)
        self.assertEqual(doc.count("<!-- end generated -->"), 2)
        self.assertIn("| 11.0 ms | 11.0 ms |", doc)
        self.assertNotIn("35.0 ms (max 250)", doc)

    def test_handover_against_floor_and_curator(self):
        raw = copy.deepcopy(failover_raw())
        raw["kind"] = "handover"
        d = raw["data"]
        d["planned"] = ["graceful", "yield", "server_kill", "server_hung"]
        # floor samples 20, 30, 25, 22 -> median 23.5; Curator graceful median 130
        d["floor"] = [{"floor_ms": [20.0, 30.0], "commit_ms": [8.0, 9.0], "watch_ms": [9.0, 9.0],
                       "reads_ms": [2.0, 2.0], "publish_ms": [9.0, 10.0],
                       "single": {"sync_ms": [1.0], "read_ms": [0.5], "write_ms": [8.0]}},
                      {"floor_ms": [25.0, 22.0]}]
        # graceful 40 (1.70x floor, 0.31x Curator) passes; yield 60 > 2 x 23.5 misses;
        # server_kill counts from the fault: 35 passes; server_hung from the old leader's stop
        # (1 ms): 599, and one run overlapped
        d["results"]["yield"] = {"latchd": [m(60.0)] * 3}
        path = self.write("handover-20260102T030405Z-0123456.json", raw)
        with open(self.failover, "a") as f:
            f.write("\n<!-- bench/tables.py table: handover -->\n")
        with open(self.results, "a") as f:
            f.write("\n<!-- bench/tables.py table: handover-full -->\n")
        rc, msgs = tables.generate({"handover": path}, docs=self.docs)
        self.assertEqual(rc, 0, msgs)
        doc = self.read(self.failover)
        self.assertIn("step-down multi sent → successor's publish answered | 23.5 ms (max 30.0) "
                      "| 4 |", doc)
        self.assertRegex(doc, r"\| graceful \| latchd \| 40\.0 ms \(max 60\.0\) .*\| 1\.70 \| "
                         r"0\.31 \|.*\*\*PASS\*\*")
        self.assertRegex(doc, r"\| yield \| latchd \| 60\.0 ms .*\*\*MISS\*\*")
        self.assertRegex(doc, r"\| server_kill \| latchd \| 35\.0 ms .*\*\*PASS\*\*")
        self.assertRegex(doc, r"\| server_hung \| latchd \| 599 ms .*\*\*MISS\*\*")
        self.assertIn("|  | Curator | 130 ms (max 140) |", doc)
        self.assertIn("| yield | latchd | 60.0 ms", self.read(self.results))

    def test_hist_percentiles(self):
        h = [[100, 1], [200, 1], [300, 1], [400, 1], [500, 1]]
        self.assertEqual(tables.hist_pct(h, 50), 0.3)
        self.assertEqual(tables.hist_pct(h, 100), 0.5)
        self.assertEqual(tables.hist_pct(h, 0), 0.1)


if __name__ == "__main__":
    unittest.main()
