"""Runs the examples in docs/protocol.md and docs/http.md against a live ACTIVE agent, so the
documents stay true: same status line and content type, same body where the doc shows a fixed one,
same JSON keys (and error-ness) where the values vary."""

import json
import os
import re
import unittest

import harness

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")


def code_blocks(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"```\n(.*?)```", text, re.S)


def socket_examples():
    """(request, documented response) pairs from lines '→ x' followed by '← y'."""
    pairs = []
    for block in code_blocks(os.path.join(DOCS, "protocol.md")):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("→ ") and i + 1 < len(lines) and lines[i + 1].startswith("← "):
                pairs.append((line[2:], lines[i + 1][2:]))
    return pairs


def http_examples():
    out = []
    for block in code_blocks(os.path.join(DOCS, "http.md")):
        lines = block.strip("\n").splitlines()
        if len(lines) >= 2 and lines[0].startswith("GET "):
            status, _, ctype = lines[1].partition(" ")
            out.append((lines[0][4:], int(status), ctype, "\n".join(lines[2:])))
    return out


def keys_of(text):
    """Top-level keys of a documented JSON answer; None if the doc abbreviates it."""
    try:
        return set(json.loads(text).keys())
    except ValueError:
        return None


class DocsTest(harness.LatchdTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_binaries()
        cls.zk = cls.class_zk(size=1, tick_time=200)

    def setUp(self):
        super().setUp()
        agents = self.start_agents(["host1", "host2"], self.zk.connect_string(),
                                   zk_root="/docs-%s" % self._testMethodName, session_timeout_ms=4000)
        self.active = self.wait_one_active(agents, timeout=20)
        harness.wait_until(lambda: self.active.status()["leader"]["address"], 10,
                           "the leader's address to be known")

    def test_socket_examples(self):
        pairs = socket_examples()
        self.assertGreaterEqual(len(pairs), 8, "examples found in docs/protocol.md")
        # yield changes the role: run it last.
        pairs.sort(key=lambda p: p[0] == "yield")
        for request, documented in pairs:
            answer = harness.unix_request(self.active.socket_path, request)
            got = json.loads(answer)
            doc_keys = keys_of(documented)
            if '"error"' in documented:
                self.assertIn("error", got, "%r: %s" % (request, answer))
            else:
                self.assertNotIn("error", got, "%r: %s" % (request, answer))
            if doc_keys is not None:
                self.assertEqual(set(got.keys()), doc_keys, "%r answered %s" % (request, answer))

    def test_http_examples(self):
        examples = http_examples()
        self.assertGreaterEqual(len(examples), 7, "examples found in docs/http.md")
        for path, status, ctype, body in examples:
            code, headers, got = harness.http_get("127.0.0.1", self.active.http_port, path)
            got = got.decode()
            self.assertEqual(code, status, "GET %s: %s" % (path, got))
            self.assertEqual(headers.get("content-type"), ctype, "GET %s" % path)
            doc_keys = keys_of(body)
            if doc_keys is not None and path not in ("/api/atlas/admin/status",):
                self.assertEqual(set(json.loads(got).keys()), doc_keys, "GET %s: %s" % (path, got))
            else:
                self.assertEqual(got.rstrip("\n"), body, "GET %s" % path)


if __name__ == "__main__":
    unittest.main()
