"""Prometheus metrics: the master serves GET /metrics on metrics.listen
(found through the control socket's LISTEN line of the pseudo-service
"metrics"); IMAP commands, an LMTP delivery, failed and good logins and a
killed worker move the counters, which every worker shares with the master
and which outlive the killed worker. Every line of the scrape is parsed."""
import os
import re
import signal
import smtplib
import socket
import subprocess
import time
import unittest

from harness import WDCTL, Lines, Suite

METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({METRIC})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? "
                    r"([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN))$")
COMMENT = re.compile(rf"^# (HELP|TYPE) ({METRIC}) (.*)$")


def parse(text):
    """Text format 0.0.4 -> ({(name, frozenset(labels)): value}, {family: type}).
    Fails on any line that is not a comment or a well-formed sample, a sample
    of a family without TYPE, or a family declared twice."""
    assert text.endswith("\n"), "exposition must end with a newline"
    samples, types, helps = {}, {}, set()
    for line in text.split("\n")[:-1]:
        m = COMMENT.match(line)
        if m:
            kind, name, rest = m.groups()
            if kind == "TYPE":
                assert name not in types, f"TYPE twice: {name}"
                assert rest in ("counter", "gauge", "histogram", "summary", "untyped"), line
                types[name] = rest
            else:
                assert name not in helps, f"HELP twice: {name}"
                helps.add(name)
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (family in types and types[family] == "histogram"), \
            f"sample without TYPE: {line!r}"
        pairs = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                     labels or ""))
        assert (name, pairs) not in samples, f"sample twice: {line!r}"
        samples[(name, pairs)] = float(value)
    assert helps == set(types), "every family has HELP and TYPE"
    return samples, types


def http_get(address, path="/metrics", method="GET"):
    host, port = address
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"{method} {path} HTTP/1.0\r\nHost: test\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(l.split(": ", 1) for l in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    return int(lines[0].split()[1]), headers, body.decode()


class Metrics(unittest.TestCase):
    def setUp(self):
        self.suite = Suite(imap_workers=1, auth=True, lmtp=True, auth__bcrypt_cost=4,
                           metrics__listen="127.0.0.1:0").start()
        self.addCleanup(self.suite.close)
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "user", "create", "alice",
                            "correct horse", "alice@example.test"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.metrics = self.suite.address("metrics")

    def scrape(self):
        status, headers, body = http_get(self.metrics)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        samples, types = parse(body)
        return samples, types

    @staticmethod
    def value(samples, name, **labels):
        return samples[(name, frozenset(labels.items()))]

    def test_counters_move(self):
        before, types = self.scrape()
        self.assertEqual(types["wildduck_imap_command_duration_seconds"], "histogram")
        self.assertEqual(types["wildduck_connections_current"], "gauge")
        self.assertEqual(types["wildduck_worker_restarts_total"], "counter")
        for svc in ("imap", "lmtp", "pop3", "api", "auth", "indexer"):
            self.assertEqual(self.value(before, "wildduck_worker_restarts_total", service=svc), 0)
        v = lambda s, n, **l: self.value(s, n, **l) - self.value(before, n, **l)

        # IMAP: a failed and a good login, SELECT, FETCH, NOOP; the connection stays open
        sock = self.suite.connect()
        imap = Lines(sock)
        self.assertTrue(imap.readline().startswith("* OK"))
        self.assertIn("a1 NO", imap.command("a1", "LOGIN alice wrong-password")[-1])
        self.assertIn("a2 OK", imap.command("a2", 'LOGIN alice "correct horse"')[-1])

        # LMTP: one message for alice
        host, port = self.suite.address("lmtp")
        lmtp = smtplib.LMTP(host, port, timeout=10)
        lmtp.sendmail("sender@remote.test", ["alice@example.test"],
                      b"From: <sender@remote.test>\r\nTo: <alice@example.test>\r\n"
                      b"Subject: metrics\r\n\r\nHello.\r\n")
        lmtp.quit()

        self.assertIn("a3 OK", imap.command("a3", "SELECT INBOX")[-1])
        self.assertIn("a4 OK", imap.command("a4", "FETCH 1 (FLAGS)")[-1])
        self.assertIn("a5 OK", imap.command("a5", "NOOP")[-1])

        # the gauge comes from the worker's status report, sent at once
        now = self.suite.wait_until(
            lambda: (lambda s: self.value(s, "wildduck_connections_current",
                                          service="imap") == 1 and s)(self.scrape()[0]),
            10, "connections_current{imap} == 1")
        self.assertEqual(v(now, "wildduck_connections_total", service="imap"), 1)
        self.assertGreaterEqual(v(now, "wildduck_connections_total", service="lmtp"), 1)
        self.assertGreaterEqual(v(now, "wildduck_connections_total", service="auth"), 1)
        self.assertEqual(v(now, "wildduck_imap_commands_total", **{"class": "auth"}), 2)
        self.assertEqual(v(now, "wildduck_imap_commands_total", **{"class": "select"}), 1)
        self.assertEqual(v(now, "wildduck_imap_commands_total", **{"class": "fetch"}), 1)
        self.assertEqual(v(now, "wildduck_imap_commands_total", **{"class": "other"}), 1)
        self.assertEqual(v(now, "wildduck_lmtp_deliveries_total", result="delivered"), 1)
        self.assertEqual(v(now, "wildduck_lmtp_deliveries_total", result="rejected"), 0)
        self.assertEqual(v(now, "wildduck_auth_attempts_total", result="fail"), 1)
        self.assertEqual(v(now, "wildduck_auth_attempts_total", result="ok"), 1)
        self.assertEqual(self.value(now, "wildduck_store_errors_total", kind="internal"), 0)

        # the histogram: cumulative buckets, +Inf == _count == commands_total
        for cls in ("auth", "select", "fetch", "other"):
            buckets = sorted(((float(dict(k[1])["le"]), val) for k, val in now.items()
                              if k[0] == "wildduck_imap_command_duration_seconds_bucket"
                              and dict(k[1])["class"] == cls))
            self.assertEqual([b[0] for b in buckets],
                             [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, float("inf")])
            counts = [b[1] for b in buckets]
            self.assertEqual(counts, sorted(counts), cls)
            total = self.value(now, "wildduck_imap_commands_total", **{"class": cls})
            self.assertEqual(counts[-1], total)
            self.assertEqual(self.value(now, "wildduck_imap_command_duration_seconds_count",
                                        **{"class": cls}), total)
            self.assertGreaterEqual(self.value(now, "wildduck_imap_command_duration_seconds_sum",
                                               **{"class": cls}), 0)

        imap.command("a6", "LOGOUT")
        sock.close()
        self.suite.wait_until(
            lambda: self.value(self.scrape()[0], "wildduck_connections_current",
                               service="imap") == 0, 10, "connections_current{imap} == 0")

        # a killed worker: counted as a restart, and the counters survive it
        victim = self.suite.worker_pids("imap")[0]
        os.kill(victim, signal.SIGKILL)
        self.suite.wait_until(lambda: self.suite.all_running() and
                              victim not in self.suite.worker_pids("imap"), 10, "restart")
        after = self.scrape()[0]
        self.assertEqual(v(after, "wildduck_worker_restarts_total", service="imap"), 1)
        self.assertEqual(v(after, "wildduck_worker_restarts_total", service="lmtp"), 0)
        self.assertEqual(v(after, "wildduck_connections_total", service="imap"), 1)
        self.assertEqual(v(after, "wildduck_imap_commands_total", **{"class": "select"}), 1)
        # the restarted worker counts into the same area
        sock = self.suite.connect()
        self.assertTrue(sock.recv(100).startswith(b"* OK"))
        sock.close()
        self.suite.wait_until(
            lambda: v(self.scrape()[0], "wildduck_connections_total", service="imap") == 2,
            10, "connections_total{imap} == 2 after the restart")

    def test_other_paths_and_methods(self):
        status, _, _ = http_get(self.metrics, "/")
        self.assertEqual(status, 404)
        status, _, _ = http_get(self.metrics, "/metrics/x")
        self.assertEqual(status, 404)
        status, _, _ = http_get(self.metrics, "/metrics", method="POST")
        self.assertEqual(status, 405)
        # a client that sends nothing does not block the scrape
        idle = socket.create_connection(self.metrics, timeout=5)
        self.scrape()
        idle.close()
        # the listener is listed by wdctl status
        r = self.suite.wdctl("status")
        self.assertIn("metrics", r.stdout)


class MetricsApi(unittest.TestCase):
    """wd-api's connections (evhttp's, not lib/conn's) and its replies by
    status class."""

    def test_api_connections_and_replies(self):
        with Suite(imap_workers=1, api=True, metrics__listen="127.0.0.1:0") as suite:
            metrics = suite.address("metrics")

            def scrape():
                status, _, body = http_get(metrics)
                self.assertEqual(status, 200)
                return parse(body)[0]

            def val(samples, name, **labels):
                return samples[(name, frozenset(labels.items()))]

            before = scrape()
            self.assertEqual(val(before, "wildduck_connections_current", service="api"), 0)
            host, port = suite.address("api")
            token = suite.api_token.encode()
            reqs = [b"GET /users HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + token + b"\r\n\r\n",
                    b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /nope HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + token + b"\r\n\r\n"]
            socks = []
            for req in reqs:
                s = socket.create_connection((host, port), timeout=5)
                socks.append(s)
                s.sendall(req)
                self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 "))
            # kept alive: three open now
            now = suite.wait_until(
                lambda: (lambda s: val(s, "wildduck_connections_current", service="api") == 3
                         and s)(scrape()), 10, "connections_current{api} == 3")
            d = lambda n, **l: val(now, n, **l) - val(before, n, **l)
            self.assertEqual(d("wildduck_connections_total", service="api"), 3)
            self.assertEqual(d("wildduck_api_requests_total", code="2xx"), 1)
            self.assertEqual(d("wildduck_api_requests_total", code="4xx"), 2)
            self.assertEqual(d("wildduck_api_requests_total", code="5xx"), 0)
            for s in socks:
                s.close()
            suite.wait_until(
                lambda: val(scrape(), "wildduck_connections_current", service="api") == 0,
                10, "connections_current{api} == 0")


class MetricsOff(unittest.TestCase):
    def test_no_listener_by_default(self):
        with Suite(imap_workers=1) as suite:
            self.assertFalse(any(l["service"] == "metrics" for l in suite.status()["listeners"]))
            # workers still count (into the area nobody serves) without harm
            sock = suite.connect()
            self.assertTrue(sock.recv(100).startswith(b"* OK"))
            sock.close()


if __name__ == "__main__":
    unittest.main()
