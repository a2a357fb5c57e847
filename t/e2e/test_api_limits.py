"""wd-api's body limit over real HTTP (api.max_body_size 1M, so evhttp may
hold 2M): every refusal is a JSON {"error", "code"} 413, a chunked body far
beyond the limit included, which is cut while it streams: the reply comes
before the client is done, the connection closes instead of hanging, and
the worker's memory does not grow with what the client sends. Bodies
within the limit, chunked or not, keep-alive and pipelined requests still
work through the framing layer under evhttp."""
import json
import os
import select
import http.client
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Suite  # noqa: E402
from test_api import Api  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def read_reply(sock, timeout=10, data=b""):
    """One HTTP/1.1 reply (Content-Length framed) after the bytes in data:
    (status, headers, body, what followed it)."""
    sock.settimeout(timeout)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a reply: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (l.partition(": ") for l in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length], rest[length:]


def wait_eof(sock, timeout=10):
    """True when the server closes (what it sends after is dropped)."""
    deadline = time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError):
            return True
    return False


class TlsApi(Api):
    def __init__(self, host, port, token):
        super().__init__(host, port, token)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)


class BodyLimits(unittest.TestCase):
    tls = False

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, imap_workers=1, auth__bcrypt_cost=4,
                          api__max_body_size="1M", tls=cls.tls)
        cls.suite.start()
        cls.host, cls.port = cls.suite.address("api", tls=cls.tls)
        cls.api = (TlsApi if cls.tls else Api)(cls.host, cls.port, cls.suite.api_token)
        cls.token = cls.suite.api_token.encode()

    def connect(self):
        return self.suite.connect("api", tls=self.tls, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def head(self, extra):
        return (b"POST /users HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + self.token +
                b"\r\nContent-Type: application/json\r\n" + extra + b"\r\n")

    def assert_json_413(self, status, headers, body):
        self.assertEqual(status, 413, body)
        self.assertTrue(headers["content-type"].startswith("application/json"), headers)
        r = json.loads(body)
        self.assertEqual(r["code"], "PayloadTooLarge")
        self.assertIn("1048576", r["error"])

    def test_chunked_far_beyond_limit(self):
        pid = self.suite.worker_pids("api")[0]
        before = rss_kib(pid)
        sock = self.connect()
        sock.sendall(self.head(b"Transfer-Encoding: chunked\r\n"))
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        sent, refused = 0, False
        t0 = time.monotonic()
        while sent < 64 * 1024 * 1024 and time.monotonic() - t0 < 20:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                break
            if writable:
                try:
                    sock.send(chunk)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    refused = True
                    break
                sent += 0x10000
        self.assertLess(sent, 64 * 1024 * 1024, "the server took 64 MiB of body")
        status, headers, body, _ = read_reply(sock)
        self.assert_json_413(status, headers, body)
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertTrue(wait_eof(sock), "the connection hangs after the 413")
        sock.close()
        grown = rss_kib(pid) - before
        # evhttp holds at most 2 MiB of it; the rest was never buffered
        self.assertLess(grown, 8 * 1024, f"wd-api grew {grown} KiB for {sent} bytes")
        self.assertGreater(sent, 2 * 1024 * 1024 - 0x10000, (sent, refused))
        # the worker still serves
        st, r = self.api.get("/users")
        self.assertEqual(st, 200, r)

    def test_content_length_far_beyond_limit(self):
        for extra in (b"", b"Expect: 100-continue\r\n"):
            sock = self.connect()
            sock.sendall(self.head(b"Content-Length: 10485760\r\n" + extra) + b"{")
            status, headers, body, _ = read_reply(sock)
            self.assert_json_413(status, headers, body)
            self.assertTrue(wait_eof(sock))
            sock.close()

    def test_chunked_between_limit_and_cap(self):
        # evhttp reads it (under 2 MiB): a JSON 413, and the connection goes on
        sock = self.connect()
        body = b"{" + b" " * (1536 * 1024) + b"}"
        req = self.head(b"Transfer-Encoding: chunked\r\n")
        for i in range(0, len(body), 100000):
            part = body[i:i + 100000]
            req += b"%x\r\n" % len(part) + part + b"\r\n"
        sock.sendall(req + b"0\r\n\r\n")
        status, headers, body, _ = read_reply(sock)
        self.assert_json_413(status, headers, body)
        sock.sendall(b"GET /users HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + self.token +
                     b"\r\n\r\n")
        status, _, body, _ = read_reply(sock)
        self.assertEqual(status, 200, body)
        sock.close()

    def test_chunked_within_limit_and_pipelined(self):
        sock = self.connect()
        user = json.dumps({"username": "chunky", "password": "secret pw",
                           "address": "chunky@example.test"}).encode()
        # odd chunk sizes, an empty line between, a trailer
        req = self.head(b"Transfer-Encoding: chunked\r\n")
        req += b"5\r\n" + user[:5] + b"\r\n" + b"%x\r\n" % (len(user) - 5) + user[5:] + b"\r\n"
        req += b"0\r\nX-Trailer: yes\r\n\r\n"
        get = b"GET /users?query=chunky HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + self.token + \
            b"\r\n\r\n"
        sock.sendall(req + get + get)
        status, _, body, rest = read_reply(sock)
        self.assertEqual(status, 200, body)
        uid = json.loads(body)["id"]
        for _ in range(2):
            status, _, body, rest = read_reply(sock, data=rest)
            self.assertEqual(status, 200, body)
            self.assertIn(uid, [u["id"] for u in json.loads(body)["results"]])
        sock.close()
        # keep-alive with bodies of every size below the limit
        for size in (0, 1, 70000, 1000000):
            st, r = self.api.request("POST", "/users", b" " * size + b"{}",
                                     headers={"Content-Type": "application/json"})
            self.assertEqual(st, 400, r)
            self.assertEqual(r["code"], "InputValidationError")

    def test_big_reply_then_close(self):
        # a reply far bigger than the socket buffers, to a client that asked
        # for the connection to close: it arrives whole
        st, r = self.api.post("/users", {"username": "biggy", "password": "secret pw",
                                         "address": "biggy@example.test"})
        self.assertEqual(st, 200, r)
        uid = r["id"]
        st, r = self.api.get(f"/users/{uid}/mailboxes")
        inbox = [m["id"] for m in r["results"] if m["path"] == "INBOX"][0]
        raw = (b"From: a@remote.test\r\nSubject: big\r\n\r\n" +
               (b"x" * 998 + b"\r\n") * 900)
        st, r = self.api.request("POST", f"/users/{uid}/mailboxes/{inbox}/messages", raw,
                                 headers={"Content-Type": "message/rfc822"})
        self.assertEqual(st, 200, r)
        mid = r["message"]["id"]
        sock = self.connect()
        sock.sendall(f"GET /users/{uid}/mailboxes/{inbox}/messages/{mid}/message.eml "
                     f"HTTP/1.0\r\nX-Access-Token: ".encode() + self.token + b"\r\n\r\n")
        time.sleep(0.5)  # let the server finish and close before we read
        data = b""
        sock.settimeout(10)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"),
                        head)
        self.assertEqual(body, raw)
        sock.close()


class BodyLimitsTls(BodyLimits):
    """The same over the TLS listener (the framing sits above TLS)."""
    tls = True


if __name__ == "__main__":
    unittest.main()
