"""Hostile clients: memory and fairness under clients that misbehave.

- An IMAP client asks FETCH 1:* BODY[] over 200 messages of 1 MB and never
  reads: the worker's RSS stays bounded (output waits for the reader), other
  clients of the same worker are still served, and the connection is
  eventually dropped by the idle timeout (or stays paused).
- HTTP slow-loris on wd-api: connections that trickle their headers one
  byte at a time do not delay other requests, and connections that stop
  mid-request are closed by the API's timeout.
"""
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import BUILD, Lines, Suite

TOOL = os.path.join(BUILD, "t", "bench", "lmtp_tool")
MESSAGES = 200
MB = 1024 * 1024
RSS_BOUND_KB = 96 * 1024  # growth allowed while 200 MB wait to be read


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def big_message(n, attachment):
    return (f"From: a@remote.test\r\nTo: hostile@example.test\r\nSubject: big {n}\r\n"
            f"Message-ID: <{n}.{time.time_ns()}@remote.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
            f"Content-Type: text/plain\r\n\r\nmessage {n}\r\n--B\r\n"
            f"Content-Type: application/octet-stream\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n").encode() + attachment + b"--B--\r\n"


class NonReadingFetch(unittest.TestCase):
    def test_unread_fetch_output_stays_bounded(self):
        with Suite(auth=True, imap_workers=1, imap__idle_timeout="20s",
                   log_level="info") as suite:
            db = os.path.join(suite.dir, "data", "wildduck.db")
            kw = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
            subprocess.run([TOOL, db, "user", "hostile", "hostile@example.test", "0",
                            "secret-pw"], check=True, capture_output=True, timeout=30, **kw)
            # one 1 MB attachment, stored once (de-duplicated), rebuilt 200 times
            line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ej"
            attachment = (line + b"\r\n") * (MB // (len(line) + 2))
            conn = Lines(suite.connect(timeout=60))
            conn.readline()
            self.assertIn("OK", conn.command("a", "LOGIN hostile secret-pw")[-1])
            for n in range(MESSAGES):
                raw = big_message(n, attachment)
                conn.send(f"p{n} APPEND INBOX {{{len(raw)}+}}\r\n".encode() + raw + b"\r\n")
            for n in range(MESSAGES):
                while not conn.readline(timeout=120).startswith(f"p{n} "):
                    pass
            conn.sock.close()

            pid = suite.worker_pids("imap")[0]
            time.sleep(0.5)
            before = rss_kb(pid)
            # the hostile client: tiny receive buffer, FETCH everything, never read
            hostile = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            hostile.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            hostile.connect(suite.address())
            hostile.sendall(b"a LOGIN hostile secret-pw\r\nb SELECT INBOX\r\n"
                            b"c FETCH 1:* BODY[]\r\n")
            peak = before
            for _ in range(16):
                time.sleep(0.5)
                peak = max(peak, rss_kb(pid))
            # another client on the same worker is served meanwhile
            other = Lines(suite.connect(timeout=10))
            other.readline()
            start = time.time()
            self.assertIn("OK", other.command("a", "LOGIN hostile secret-pw", timeout=10)[-1])
            login = time.time() - start
            start = time.time()
            self.assertIn("OK", other.command("b", "SELECT INBOX", timeout=10)[-1])
            self.assertIn("OK", other.command("c", "FETCH 1 (UID FLAGS)", timeout=10)[-1])
            took = time.time() - start
            other.sock.close()
            growth = peak - before
            print(f"\n  hostile FETCH: worker RSS {before} KiB -> peak {peak} KiB "
                  f"(+{growth} KiB) for {MESSAGES} x 1 MB unread; other client: LOGIN "
                  f"{login * 1000:.0f} ms, SELECT+FETCH {took * 1000:.0f} ms", flush=True)
            self.assertLess(growth, RSS_BOUND_KB, "unread FETCH output grows the worker")
            self.assertLess(login, 5.0)
            self.assertLess(took, 1.0)
            # the paused connection goes away at the idle timeout (20 s)
            hostile.settimeout(1)
            dropped = False
            deadline = time.time() + 40
            while time.time() < deadline and not dropped:
                try:
                    while True:  # drain what the kernel holds, then see EOF
                        if not hostile.recv(1 << 20):
                            dropped = True
                            break
                except socket.timeout:
                    pass
                except OSError:
                    dropped = True
            hostile.close()
            print(f"  hostile FETCH: connection {'dropped' if dropped else 'kept paused'} "
                  f"after the idle timeout; RSS now {rss_kb(pid)} KiB", flush=True)
            self.assertTrue(dropped, "a reader that never reads is never dropped")


@unittest.skipUnless(os.path.exists(os.path.join(BUILD, "wd-api")), "no wd-api built")
class ApiSlowLoris(unittest.TestCase):
    def request(self, addr, path="/users?limit=1"):
        start = time.time()
        s = socket.create_connection(addr, timeout=10)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nX-Access-Token: "
                  f"{self.suite.api_token}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        return time.time() - start

    def test_slow_loris(self):
        with Suite(api=True, auth=True, imap_workers=1, api__idle_timeout="3s",
                   log_level="info") as suite:
            self.suite = suite
            addr = suite.address("api")
            self.request(addr)
            stop = threading.Event()
            slow = []
            for _ in range(100):
                s = socket.create_connection(addr, timeout=10)
                slow.append(s)
            header = b"GET /users HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * 4000

            def trickle():
                i = 0
                while not stop.is_set() and i < len(header):
                    for s in slow:
                        try:
                            s.send(header[i:i + 1])
                        except OSError:
                            pass
                    i += 1
                    time.sleep(0.2)
            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            worst = 0.0
            for _ in range(20):
                worst = max(worst, self.request(addr))
                time.sleep(0.1)
            stop.set()
            t.join()
            # silent mid-request connections are closed by the timeout
            closed = 0
            deadline = time.time() + 15
            for s in slow:
                s.settimeout(max(0.1, deadline - time.time()))
                try:
                    data = s.recv(65536)
                    closed += 1 if not data or data.startswith(b"HTTP/1.1 4") else 0
                except socket.timeout:
                    pass
                except OSError:
                    closed += 1
                s.close()
            print(f"\n  api slow-loris: 100 trickling clients, worst normal request "
                  f"{worst * 1000:.0f} ms; {closed}/100 silent ones closed by the timeout",
                  flush=True)
            self.assertLess(worst, 0.5)
            self.assertEqual(closed, 100)


if __name__ == "__main__":
    unittest.main()
