"""Logging: GELF over UDP from every process (zlib and plain), the session
id on the lines of one connection, per-service log levels, no passwords."""
import json
import re
import socket
import unittest
import zlib

from harness import Lines, Suite


class GelfReceiver:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.messages, self.raw = [], []
        self.chunks = {}

    def poll(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return self.messages
            self.raw.append(data)
            if data[:2] == b"\x1e\x0f":
                mid, seq, count = data[2:10], data[10], data[11]
                parts = self.chunks.setdefault(mid, {})
                parts[seq] = data[12:]
                if len(parts) < count:
                    continue
                data = b"".join(parts[i] for i in range(count))
                del self.chunks[mid]
            if data[:1] == b"\x78":  # zlib
                data = zlib.decompress(data)
            self.messages.append(json.loads(data))

    def close(self):
        self.sock.close()


class Gelf(unittest.TestCase):
    def run_suite(self, compress):
        rx = GelfReceiver()
        try:
            with Suite(imap_workers=1, auth=True, gelf__address=rx.address,
                       gelf__facility="wd-test", gelf__compress=compress) as suite:
                sock = suite.connect()
                conn = Lines(sock)
                conn.readline()
                conn.command("a1", "LOGIN nobody Sup3rS3cretPassw0rd")
                conn.command("a2", "LOGOUT")
                sock.close()
                suite.wait_until(lambda: any(m.get("_event") == "disconnect"
                                             for m in rx.poll()), 10, "GELF disconnect")
                log = suite.log_text()
            msgs = rx.poll()
            for m in msgs:
                self.assertEqual(m["version"], "1.1")
                self.assertEqual(m["_facility"], "wd-test")
                self.assertIsInstance(m["timestamp"], float)
                self.assertIn(m["level"], range(8))
                self.assertTrue(m["host"])
            services = {m["_service"] for m in msgs}
            self.assertIn("wildduck", services)  # the master
            self.assertIn("imap", services)
            self.assertIn("auth", services)
            connect = next(m for m in msgs if m.get("_event") == "connect")
            self.assertEqual(connect["_ip"], "127.0.0.1")
            self.assertEqual(connect["level"], 6)
            session = connect["_session"]
            # every GELF message of that connection carries its session id
            ours = [m for m in msgs if session in m["short_message"]]
            self.assertGreaterEqual(len(ours), 2)
            for m in ours:
                self.assertEqual(m["_session"], session)
            # never a password, neither in the log nor in GELF
            self.assertNotIn("Sup3rS3cretPassw0rd", log)
            for raw in rx.raw:
                self.assertNotIn(b"Sup3rS3cretPassw0rd", raw)
            self.assertFalse(any(b"Sup3rS3cretPassw0rd" in json.dumps(m).encode() for m in msgs))
            if compress:
                self.assertTrue(all(r[:1] == b"\x78" or r[:2] == b"\x1e\x0f" for r in rx.raw))
            else:
                self.assertTrue(all(r[:1] == b"{" or r[:2] == b"\x1e\x0f" for r in rx.raw))
        finally:
            rx.close()

    def test_gelf_compressed(self):
        self.run_suite(True)

    def test_gelf_plain(self):
        self.run_suite(False)


class LogLevels(unittest.TestCase):
    def test_service_log_level_overrides_global(self):
        # global debug (the harness), imap at warn: no connect lines from imap
        with Suite(imap_workers=1, imap__log_level="warn") as suite:
            sock = suite.connect()
            Lines(sock).readline()
            sock.close()
            suite.wait_running()
            log = suite.log_text()
            self.assertIsNone(re.search(r" imap\[\d+\] (info|debug): ", log), log[-2000:])
            self.assertRegex(log, r" wildduck\[\d+\] info: event=worker_started")
        with Suite(imap_workers=1, imap__log_level="debug", log_level="error") as suite:
            sock = suite.connect()
            Lines(sock).readline()
            sock.close()
            suite.wait_until(lambda: re.search(r" imap\[\d+\] info: event=disconnect",
                                               suite.log_text()), 5, "imap info lines")
            self.assertNotRegex(suite.log_text(), r" wildduck\[\d+\] info: ")

    def test_session_on_protocol_lines(self):
        with Suite(imap_workers=1) as suite:
            sock = suite.connect()
            conn = Lines(sock)
            conn.readline()
            conn.command("a1", "LOGIN nobody secret")
            conn.command("a2", "LOGOUT")
            sock.close()
            suite.wait_until(lambda: "event=disconnect" in suite.log_text(), 5, "disconnect")
            for line in suite.log_text().splitlines():
                if re.search(r" imap\[\d+\] \w+: event=(connect|disconnect|login\w*|auth\w*)", line):
                    self.assertIn("session=", line)


if __name__ == "__main__":
    unittest.main()
