"""The IMAP service before authentication: greeting, CAPABILITY, NOOP,
LOGOUT, STARTTLS, errors, limits and timeouts, over real sockets."""
import hashlib
import imaplib
import socket
import ssl
import time
import unittest

from harness import Lines, Suite, make_cert


class PreAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(tls=True, imap_workers=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def session(self, tls=False):
        sock = self.suite.connect(tls=tls)
        conn = Lines(sock)
        hello = conn.readline()
        self.assertRegex(hello, r"^\* OK \[CAPABILITY IMAP4rev1[^\]]*\] ")
        return sock, conn

    def test_capability_noop_logout(self):
        sock, conn = self.session()
        lines = conn.command("a1", "CAPABILITY")
        self.assertEqual(lines, ["* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
                                 "STARTTLS AUTH=PLAIN AUTH=LOGIN", "a1 OK CAPABILITY completed"])
        self.assertEqual(conn.command("a2", "noop"), ["a2 OK NOOP completed"])
        self.assertEqual(conn.command("a3", "LOGOUT"), ["* BYE Logging out", "a3 OK LOGOUT completed"])
        self.assertEqual(sock.recv(10), b"")  # closed after LOGOUT

    def test_errors_are_tagged_bad(self):
        sock, conn = self.session()
        self.assertEqual(conn.command("a1", "FROBNICATE"), ["a1 BAD Unknown or unsupported command"])
        self.assertEqual(conn.command("a2", "NOOP extra"), ["a2 BAD NOOP takes no arguments"])
        conn.send("a+b NOOP\r\n")
        self.assertTrue(conn.readline().startswith("* BAD "))
        conn.send('a5 "unbalanced\r\n')
        self.assertTrue(conn.readline().startswith("a5 BAD "))
        lines = conn.command("a3", 'LOGIN "user" "pass"')
        self.assertTrue(lines[-1].startswith("a3 NO "), lines)
        self.assertEqual(conn.command("a4", "NOOP"), ["a4 OK NOOP completed"])
        sock.close()

    def test_imaplib_client(self):
        host, port = self.suite.address()
        with imaplib.IMAP4(host, port) as m:
            self.assertIn("IMAP4REV1", m.capabilities)
            self.assertEqual(m.noop()[0], "OK")
            m.starttls(ssl_context=self._insecure())
            self.assertNotIn("STARTTLS", m.capabilities)
            self.assertEqual(m.noop()[0], "OK")

    def _insecure(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def test_starttls_discards_pipelined_plaintext(self):
        sock, conn = self.session()
        # a command injected after STARTTLS in the same packet must not run
        conn.send("s1 STARTTLS\r\ninjected NOOP\r\n")
        self.assertEqual(conn.readline(), "s1 OK Begin TLS negotiation now")
        tls = self._insecure().wrap_socket(sock, server_hostname="mail.example.test")
        conn = Lines(tls)
        self.assertEqual(conn.command("a1", "CAPABILITY"),
                         ["* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
                          "AUTH=PLAIN AUTH=LOGIN", "a1 OK CAPABILITY completed"])
        tls.settimeout(0.3)
        self.assertRaises(socket.timeout, tls.recv, 100)  # nothing for "injected"
        self.assertEqual(conn.command("a2", "STARTTLS"),
                         ["a2 BAD STARTTLS not available: TLS is already active"])
        tls.close()

    def test_implicit_tls(self):
        sock, conn = self.session(tls=True)
        self.assertNotIn("STARTTLS", conn.command("a1", "CAPABILITY")[0])
        sock.close()

    def test_tls_client_vanishing_does_not_hurt(self):
        # a TLS peer that drops TCP without close_notify (OpenSSL 3 + libevent quirk)
        for _ in range(5):
            sock, conn = self.session(tls=True)
            sock.sendall(b"a1 NOOP\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
        sock, conn = self.session()
        self.assertEqual(conn.command("a1", "NOOP"), ["a1 OK NOOP completed"])
        self.assertEqual(self.suite.status()["services"]["imap"]["restarts"], "0")

    def test_garbage_without_newline_disconnects(self):
        sock, conn = self.session()
        try:
            chunk = b"x" * 65536
            for _ in range(160):  # 10 MB
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            line = conn.readline()
            if line.startswith("* BAD"):
                line = conn.readline()
            self.assertTrue(line.startswith("* BYE "), line)
        except (ConnectionResetError, ConnectionError):
            pass  # the reset may overtake the BYE; the point is the disconnect
        sock.close()
        sock, conn = self.session()  # the worker is fine
        self.assertEqual(conn.command("a1", "NOOP"), ["a1 OK NOOP completed"])
        self.assertEqual(self.suite.status()["services"]["imap"]["restarts"], "0")

    def test_byte_at_a_time(self):
        sock, conn = self.session()
        for b in b"a1 NOOP\r\n":
            sock.sendall(bytes([b]))
            time.sleep(0.001)
        self.assertEqual(conn.readline(), "a1 OK NOOP completed")
        sock.close()


class PlaintextPolicy(unittest.TestCase):
    def test_logindisabled_without_tls(self):
        with Suite(tls=True, imap_workers=1, imap__plaintext_login="never") as suite:
            sock = suite.connect()
            conn = Lines(sock)
            self.assertIn("LOGINDISABLED", conn.readline())
            lines = conn.command("a1", "LOGIN user pass")
            self.assertTrue(lines[-1].startswith("a1 NO [PRIVACYREQUIRED]"), lines)
            lines = conn.command("a2", "AUTHENTICATE PLAIN AHVzZXIAcGFzcw==")
            self.assertTrue(lines[-1].startswith("a2 NO [PRIVACYREQUIRED]"), lines)
            conn.command("a3", "STARTTLS")
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            tls = Lines(ctx.wrap_socket(sock, server_hostname="mail.example.test"))
            caps = tls.command("a4", "CAPABILITY")[0]
            self.assertIn("AUTH=PLAIN", caps)
            self.assertNotIn("LOGINDISABLED", caps)


class Limits(unittest.TestCase):
    def test_idle_timeout(self):
        with Suite(imap_workers=1, imap__idle_timeout="1s") as suite:
            sock = suite.connect()
            conn = Lines(sock)
            conn.readline()
            start = time.time()
            self.assertEqual(conn.readline(timeout=5), "* BYE Idle timeout, closing connection")
            self.assertEqual(sock.recv(10), b"")
            self.assertLess(time.time() - start, 4)

    def test_connection_limit_per_worker(self):
        with Suite(imap_workers=1, imap__max_connections=2) as suite:
            a, b = suite.connect(), suite.connect()
            self.assertTrue(a.recv(100).startswith(b"* OK"))
            self.assertTrue(b.recv(100).startswith(b"* OK"))
            suite.wait_until(lambda: suite.status()["services"]["imap"]["connections"] == "2",
                             what="2 connections reported")
            c = suite.connect()  # waits in the listen queue
            c.settimeout(0.5)
            self.assertRaises(socket.timeout, c.recv, 100)
            a.close()
            c.settimeout(5)
            self.assertTrue(c.recv(100).startswith(b"* OK"))
            b.close()
            c.close()


    def test_slow_clients_do_not_starve_others(self):
        with Suite(imap_workers=1) as suite:
            slow = []
            for _ in range(50):
                sock = suite.connect()
                sock.recv(200)
                slow.append(sock)
            stop = time.time() + 2
            def trickle():
                i = 0
                while time.time() < stop:
                    for sock in slow:
                        try:
                            sock.sendall(b"a NOOP"[i % 6:i % 6 + 1])
                        except OSError:
                            pass
                    i += 1
                    time.sleep(0.05)
            import threading
            t = threading.Thread(target=trickle)
            t.start()
            try:
                sock = suite.connect()
                conn = Lines(sock)
                conn.readline()
                worst = 0
                for i in range(50):
                    start = time.time()
                    conn.command(f"n{i}", "NOOP")
                    worst = max(worst, time.time() - start)
                self.assertLess(worst, 0.2)
                sock.close()
            finally:
                t.join()
                for sock in slow:
                    sock.close()


class Sni(unittest.TestCase):
    def test_sni_picks_certificate(self):
        suite = Suite(imap_workers=1, certs=[])
        try:
            first = make_cert(suite.dir, "one.example.test")
            second = make_cert(suite.dir, "two.example.test")
            suite.certs = [first, second]
            suite.tls = True
            suite.write_config()
            suite.start()
            for name, cert in (("two.example.test", second[0]), ("one.example.test", first[0]),
                               ("unknown.example.test", first[0])):
                s = suite.connect(tls=True, server_name=name)
                with open(cert) as f:
                    der = ssl.PEM_cert_to_DER_cert(f.read())
                self.assertEqual(s.getpeercert(binary_form=True), der, name)
                s.close()
        finally:
            suite.close()
