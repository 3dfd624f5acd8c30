"""deploy/prometheus and deploy/grafana against Debian's Prometheus.

PromtoolTest: `promtool check config`, `promtool check rules`, `promtool test rules` (the unit
tests of every alert) pass on the shipped files; the Grafana dashboard is valid JSON whose panels
all have queries.

PrometheusTest: a real Prometheus (config generated from deploy/prometheus/prometheus.yml: the
test's three agents as static targets, scrape and evaluation interval 1 s, the shipped rules)
scrapes three agents on a standalone ZooKeeper. Through the HTTP API: `sum(latchd_leader)` becomes
exactly 1 and `latchd_leader == 1` names the ACTIVE agent's instance; every rule evaluates without
error; every dashboard query is accepted. Then the ACTIVE agent is stopped (SIGTERM): the query
names the new ACTIVE and the sum is 1 again, and LatchdAgentDown goes pending for the stopped one.
"""

import json
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import log, wait_until

DEPLOY_DIR = os.path.join(harness.REPO_ROOT, "deploy", "prometheus")
PROM_CONFIG = os.path.join(DEPLOY_DIR, "prometheus.yml")
PROM_RULES = os.path.join(DEPLOY_DIR, "latchd.rules.yml")
PROM_RULE_TESTS = os.path.join(DEPLOY_DIR, "latchd.rules.test.yml")
DASHBOARD = os.path.join(harness.REPO_ROOT, "deploy", "grafana", "latchd-dashboard.json")

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

SESSION_MS = 3000
SCRAPE_S = 1


def require_prometheus():
    missing = [n for n, p in (("prometheus", PROMETHEUS), ("promtool", PROMTOOL)) if not p]
    if missing:
        raise unittest.SkipTest("%s not installed (apt-get install prometheus)" % " and ".join(missing))


def promtool(*args, cwd=DEPLOY_DIR):
    return subprocess.run([PROMTOOL] + list(args), capture_output=True, text=True, timeout=60,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def dashboard_queries():
    """Every query of the dashboard: [(panel title, expr)]."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return dash, out


def grafana_to_promql(expr):
    """Replaces the Grafana variables the dashboard uses by values Prometheus understands."""
    return (expr.replace("$job", "latchd").replace("$__rate_interval", "1m")
            .replace("$__range", "5m"))


def render_config(deploy_text, targets, rules_path, interval_s=SCRAPE_S):
    """deploy/prometheus/prometheus.yml with the test's targets, interval and an absolute rules
    path. Fails if the file no longer has the expected shape."""
    text, n_int = re.subn(r"(?m)^(\s*(?:scrape|evaluation)_interval:\s*)\S+",
                          lambda m: m.group(1) + "%ds" % interval_s, deploy_text)
    text, n_to = re.subn(r"(?m)^(\s*scrape_timeout:\s*)\S+",
                         lambda m: m.group(1) + "%dms" % (interval_s * 900), text)
    text, n_rules = re.subn(r"(?m)^(\s*-\s*)latchd\.rules\.yml\s*$",
                            lambda m: m.group(1) + rules_path, text)
    lines = text.splitlines()
    target_idx = [i for i, l in enumerate(lines) if re.match(r"^\s*-\s*\S+:21100\s*$", l)]
    if (n_int, n_to, n_rules, len(target_idx)) != (3, 1, 1, len(targets)):
        raise AssertionError("deploy/prometheus/prometheus.yml changed shape: %d intervals, %d "
                             "scrape_timeout, %d rule files, %d targets" % (
                                 n_int, n_to, n_rules, len(target_idx)))
    for i, t in zip(target_idx, targets):
        lines[i] = re.sub(r"\S+:21100", t, lines[i])
    return "\n".join(lines) + "\n"


class PromtoolTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_prometheus()

    def test_check_config(self):
        r = promtool("check", "config", PROM_CONFIG)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_check_rules(self):
        r = promtool("check", "rules", PROM_RULES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_rule_unit_tests(self):
        r = promtool("test", "rules", PROM_RULE_TESTS)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_alert_has_unit_tests(self):
        """Each alert of latchd.rules.yml appears in latchd.rules.test.yml both with an
        expected firing alert and with `exp_alerts: []` (plain text scan: no YAML parser in the
        standard library)."""
        with open(PROM_RULES) as f:
            alerts = re.findall(r"(?m)^\s*-\s*alert:\s*(\S+)", f.read())
        with open(PROM_RULE_TESTS) as f:
            tests = f.read()
        self.assertTrue(alerts)
        firing = set(re.findall(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\n", tests))
        quiet = set(re.findall(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\[\]", tests))
        for a in alerts:
            self.assertIn(a, firing, "no firing test for %s" % a)
            self.assertIn(a, quiet, "no not-firing test for %s" % a)

    def test_dashboard_json(self):
        dash, queries = dashboard_queries()
        self.assertEqual(dash["uid"], "latchd")
        self.assertTrue(queries)
        titles = {p["title"] for p in dash["panels"]}
        for needed in ("Role per host", "Leader", "Epoch", "Lease remaining", "Role transitions",
                       "ZooKeeper connection per host"):
            self.assertIn(needed, titles)
        for title, expr in queries:
            self.assertRegex(expr, r"latchd_|up\{", title)


class PrometheusTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        require_prometheus()
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    # -- helpers --

    def start_prometheus(self, cfg_text):
        d = os.path.join(self.tmp, "prometheus")
        os.makedirs(d)
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(cfg_text)
        r = promtool("check", "config", cfg, cwd=d)
        self.assertEqual(r.returncode, 0, "generated config:\n%s\n%s%s" % (cfg_text, r.stdout,
                                                                          r.stderr))
        self.prom_port = harness.free_port()
        log_path = os.path.join(d, "prometheus.log")
        self.register_log("prometheus", log_path)
        proc = harness.spawn([PROMETHEUS, "--config.file=%s" % cfg,
                              "--storage.tsdb.path=%s" % os.path.join(d, "data"),
                              "--web.listen-address=127.0.0.1:%d" % self.prom_port,
                              "--log.level=info"], "prometheus", log_path, cwd=d)
        self.addCleanup(harness.stop_process, proc, 15)

        def ready():
            if proc.poll() is not None:
                raise AssertionError("prometheus exited: %s" % harness.tail(log_path))
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.prom_port,
                                        timeout=1) as r:
                return r.status == 200
        wait_until(ready, 30, "Prometheus ready", interval=0.1)
        return proc

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.prom_port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        return body

    def query(self, q):
        body = self.api("query", query=q)
        if body.get("status") != "success":
            raise AssertionError("query %r: %s" % (q, body))
        return body["data"]["result"]

    def leader_view(self):
        """(sum(latchd_leader) or None, sorted instances with latchd_leader == 1)."""
        s = self.query('sum(latchd_leader{job="latchd"})')
        total = float(s[0]["value"][1]) if s else None
        leaders = sorted(r["metric"]["instance"] for r in self.query(
            'latchd_leader{job="latchd"} == 1'))
        return total, leaders

    def wait_leader_view(self, agent, timeout, what):
        instance = "127.0.0.1:%d" % agent.http_port
        t0 = time.monotonic()
        wait_until(lambda: self.leader_view() == (1.0, [instance]), timeout,
                   "Prometheus: sum(latchd_leader) == 1 and latchd_leader == 1 names %s (%s)" % (
                       instance, what), interval=0.1)
        return time.monotonic() - t0

    # -- the test --

    def test_scrape_and_failover(self):
        t_test = time.monotonic()
        agents = self.start_agents(["p1", "p2", "p3"], self.zk.connect_string(),
                                   zk_root="/prometheus", session_timeout_ms=SESSION_MS)
        active = self.wait_one_active(agents, timeout=20)
        with open(PROM_CONFIG) as f:
            cfg = render_config(f.read(), ["127.0.0.1:%d" % a.http_port for a in agents],
                                PROM_RULES)
        self.start_prometheus(cfg)
        t_prom = time.monotonic()

        def all_up():
            targets = self.api("targets")["data"]["activeTargets"]
            return (sorted(t["labels"]["job"] for t in targets) == ["latchd"] * 3
                    and all(t["health"] == "up" for t in targets))
        wait_until(all_up, 30, "three latchd targets up", interval=0.2)
        self.wait_leader_view(active, 30, "initial ACTIVE %s" % active.id)
        # Most of this is Prometheus's target discovery, which hands out targets every 5 s.
        log("Prometheus names the ACTIVE %s %.1f s after it was ready" % (
            active.id, time.monotonic() - t_prom))
        self.assertEqual(self.query('count(latchd_leader{job="latchd"})')[0]["value"][1], "3")

        # Every rule of the shipped file is loaded and evaluates without error.
        def rules_ok():
            groups = self.api("rules")["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
            if bad:
                raise AssertionError("rules not ok: %s" % bad)
            return len(rules)
        n_rules = wait_until(rules_ok, 15, "every rule evaluated", interval=0.2)
        with open(PROM_RULES) as f:
            self.assertEqual(n_rules, len(re.findall(r"(?m)^\s*-\s*(?:alert|record):", f.read())))
        wait_until(lambda: [float(r["value"][1]) for r in self.query("latchd:leaders")] == [1.0],
                   10, "recording rule latchd:leaders == 1", interval=0.2)
        alerts = self.api("alerts")["data"]["alerts"]
        firing = [a for a in alerts if a["state"] == "firing"]
        self.assertEqual(firing, [], "alerts firing in the healthy state")
        # LatchdLeaseLow's threshold (3 s) is tuned for the default session timeout of 10 s; with
        # this test's 3 s sessions a healthy leader's lease is always below it, so the alert goes
        # pending here (and would fire after 30 s).
        log("pending in the healthy state: %s" % sorted(
            "%s(%s)" % (a["labels"]["alertname"], a["labels"].get("instance", ""))
            for a in alerts if a["state"] == "pending"))

        # Every dashboard query is valid PromQL (with the Grafana variables filled in).
        _, queries = dashboard_queries()
        for title, expr in queries:
            body = self.api("query", query=grafana_to_promql(expr))
            self.assertEqual(body.get("status"), "success", "dashboard panel %r: %s" % (title,
                                                                                          body))
        # The dashboard's role panel maps PASSIVE/BECOMING_ACTIVE/ACTIVE/BECOMING_PASSIVE to
        # 0/1/2/3 per instance.
        role_expr = next(e for t, e in queries if t == "Role per host")
        codes = {r["metric"]["instance"]: r["value"][1]
                 for r in self.query(grafana_to_promql(role_expr))}
        self.assertEqual(codes, {"127.0.0.1:%d" % a.http_port: ("2" if a is active else "0")
                                 for a in agents})

        # Failover: SIGTERM the ACTIVE.
        t_stop = time.monotonic()
        self.assertEqual(active.stop(), 0)
        new = self.wait_one_active([a for a in agents if a is not active], timeout=20)
        t_new = time.monotonic()
        lag = self.wait_leader_view(new, 30, "new ACTIVE %s after SIGTERM of %s" % (new.id,
                                                                                  active.id))
        log("SIGTERM of %s: new ACTIVE %s after %.2f s; Prometheus shows it %.2f s later "
            "(scrape interval %d s)" % (active.id, new.id, t_new - t_stop, lag, SCRAPE_S))
        self.assertEqual(self.query(
            'latchd_transitions_total{job="latchd", instance="127.0.0.1:%d", '
            'from="BECOMING_ACTIVE", to="ACTIVE"}' % new.http_port)[0]["value"][1], "1")
        old_instance = "127.0.0.1:%d" % active.http_port

        def agent_down_pending():
            for a in self.api("alerts")["data"]["alerts"]:
                if (a["labels"].get("alertname") == "LatchdAgentDown"
                        and a["labels"].get("instance") == old_instance):
                    return a["state"]
            return None
        state = wait_until(agent_down_pending, 15, "LatchdAgentDown pending for %s" % old_instance,
                           interval=0.2)
        self.assertEqual(state, "pending")
        self.assertEqual(self.query('up{job="latchd", instance="%s"}' % old_instance)[0]["value"][1],
                         "0")
        log("test_scrape_and_failover took %.1f s" % (time.monotonic() - t_test))


if __name__ == "__main__":
    unittest.main()
