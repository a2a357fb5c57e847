"""PROXY protocol v1/v2 on listeners: the client address in the header is
the one logged and the one the IMAP plaintext-login loopback rule sees;
untrusted peers and malformed headers are dropped."""
import re
import socket
import ssl
import struct
import unittest

from harness import Lines, Suite

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, sport, dst="127.0.0.1", dport=143):
    block = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(block)) + block


def capability(conn):
    lines = conn.command("c1", "CAPABILITY")
    return next(l for l in lines if l.startswith("* CAPABILITY"))


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(tls=True, imap_workers=1, imap__listen=[
            {"address": "127.0.0.1:0", "proxy": True},
            {"address": "127.0.0.1:0", "tls": True, "proxy": True}])
        cls.suite.start()

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def open(self, header, tls=False):
        host, port = self.suite.address(tls=tls)
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(header)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="mail.example.test")
        return sock

    def connect_line(self, ip):
        def find():
            m = re.search(rf"event=connect session=(\S+) ip={re.escape(ip)} port=\d+ "
                          r"tls=\w+ proxy=127\.0\.0\.1", self.suite.log_text())
            return m and m.group(1)
        return self.suite.wait_until(find, 5, f"connect line for {ip}")

    def test_v1_sets_client_ip_and_loopback_rule(self):
        sock = self.open(b"PROXY TCP4 203.0.113.9 127.0.0.1 40001 143\r\n")
        conn = Lines(sock)
        self.assertTrue(conn.readline().startswith("* OK"))
        # not loopback any more: plaintext login is refused
        self.assertIn("LOGINDISABLED", capability(conn))
        session = self.connect_line("203.0.113.9")
        conn.command("z", "LOGOUT")
        sock.close()
        # every line of this session names the proxied client, never the proxy
        self.suite.wait_until(lambda: re.search(
            rf"event=disconnect session={re.escape(session)} ip=203\.0\.113\.9",
            self.suite.log_text()), 5, "disconnect line")

        # a proxied loopback client may log in in plain text
        sock = self.open(b"PROXY TCP4 127.0.0.5 127.0.0.1 40002 143\r\n")
        conn = Lines(sock)
        conn.readline()
        cap = capability(conn)
        self.assertIn("AUTH=PLAIN", cap)
        self.assertNotIn("LOGINDISABLED", cap)
        sock.close()

    def test_v2_sets_client_ip(self):
        sock = self.open(v2_header("198.51.100.23", 40003))
        conn = Lines(sock)
        self.assertTrue(conn.readline().startswith("* OK"))
        self.assertIn("LOGINDISABLED", capability(conn))
        self.connect_line("198.51.100.23")
        sock.close()

    def test_v2_before_implicit_tls(self):
        sock = self.open(v2_header("192.0.2.44", 40004, dport=993), tls=True)
        conn = Lines(sock)
        self.assertTrue(conn.readline().startswith("* OK"))
        self.assertIn("AUTH=PLAIN", capability(conn))  # TLS: plaintext rule does not apply
        self.connect_line("192.0.2.44")
        sock.close()

    def test_header_in_pieces(self):
        host, port = self.suite.address()
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"PROXY TCP4 203.0.1")
        import time
        time.sleep(0.1)
        sock.sendall(b"13.77 127.0.0.1 40005 143\r\n")
        self.assertTrue(Lines(sock).readline().startswith("* OK"))
        self.connect_line("203.0.113.77")
        sock.close()

    def assert_dropped(self, sock):
        sock.settimeout(5)
        try:
            data = sock.recv(100)
        except ConnectionResetError:
            data = b""
        self.assertEqual(data, b"", "no greeting without a valid PROXY header")
        sock.close()

    def test_malformed_header_dropped(self):
        for header in (b"A1 LOGIN demo demo\r\n", b"PROXY TCP4 1.2.3 127.0.0.1 1 2\r\n",
                       V2_SIG + b"\x22\x11\x00\x0c" + bytes(12)):
            host, port = self.suite.address()
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(header)
            self.assert_dropped(sock)
        self.suite.wait_until(lambda: "event=proxy_rejected" in self.suite.log_text(), 5,
                              "proxy_rejected log line")


class ProxyUntrusted(unittest.TestCase):
    def test_untrusted_peer_dropped(self):
        with Suite(imap_workers=1, proxy__trusted="10.0.0.0/8",
                   imap__listen=[{"address": "127.0.0.1:0", "proxy": True}]) as suite:
            host, port = suite.address()
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"PROXY TCP4 203.0.113.9 127.0.0.1 40001 143\r\n")
            sock.settimeout(5)
            try:
                data = sock.recv(100)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            suite.wait_until(lambda: re.search(
                r'event=proxy_rejected ip=127\.0\.0\.1 reason="peer not in proxy.trusted"',
                suite.log_text()), 5, "untrusted rejection logged")

    def test_bad_trusted_list_refused(self):
        suite = Suite(imap_workers=1, proxy__trusted="10.0.0.0/99")
        try:
            import subprocess
            from harness import WILDDUCK
            r = subprocess.run([WILDDUCK, "-t", "-c", suite.config_path], capture_output=True,
                               text=True, timeout=10)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("proxy.trusted", r.stdout + r.stderr)
        finally:
            suite.close()


if __name__ == "__main__":
    unittest.main()
