"""POP3 (RFC 1939) end to end with poplib against wd-pop3, users made
through the store API with a password, mail delivered over LMTP, logins
checked by wd-auth."""
import base64
import os
import poplib
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from harness import Lines, Suite, peak_rss, reset_peak_rss
from test_lmtp import LmtpBase, message


def insecure():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Pop3(LmtpBase):

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(lmtp=True, tls=True, auth=True, pop3=True,
                          pop3__max_messages=5).start()
        cls.db = os.path.join(cls.suite.dir, "data", "wildduck.db")
        cls.host, cls.port = cls.suite.address("lmtp")
        cls.users = {}

    def mailbox(self, name, count=3):
        uid = self.tool("user", name, f"{name}@example.test", 0, "secret-pw").strip()
        with smtplib.LMTP(self.host, self.port, timeout=30) as l:
            for i in range(count):
                l.sendmail("a@remote.test", [f"{name}@example.test"],
                           message(subject=f"msg {i}", body=f"body {i}\r\n.dotted\r\n"))
        return uid

    def pop(self, name=None, tls=False):
        host, port = self.suite.address("pop3", tls=tls)
        p = (poplib.POP3_SSL(host, port, context=insecure(), timeout=30) if tls else
             poplib.POP3(host, port, timeout=30))
        if name is not None:
            p.user(name)
            p.pass_("secret-pw")
        return p

    def test_listing_uidl_stat(self):
        uid = self.mailbox("lister")
        stored = self.messages(uid)
        p = self.pop("lister")
        count, size = p.stat()
        self.assertEqual(count, 3)
        self.assertEqual(size, sum(int(m[2]) for m in stored))
        resp, lines, _ = p.list()
        self.assertEqual([l.decode() for l in lines],
                         [f"{i + 1} {m[2]}" for i, m in enumerate(stored)])
        resp, lines, _ = p.uidl()
        self.assertEqual([l.decode() for l in lines],
                         [f"{i + 1} {m[3]}" for i, m in enumerate(stored)])
        self.assertEqual(p.uidl(2).decode(), f"+OK 2 {stored[1][3]}")
        p.quit()

    def test_newest_messages_only(self):
        uid = self.mailbox("hoarder", count=7)
        stored = self.messages(uid)
        p = self.pop("hoarder")
        self.assertEqual(p.stat()[0], 5)
        resp, lines, _ = p.uidl()
        self.assertEqual([l.split()[1].decode() for l in lines], [m[3] for m in stored[2:]])
        p.quit()

    def test_retr_top_and_seen_at_quit(self):
        uid = self.mailbox("reader")
        stored = self.fetch(uid, 1)
        p = self.pop("reader")
        resp, lines, octets = p.retr(1)
        self.assertTrue(resp.startswith(b"+OK"))
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", stored)
        resp, lines, _ = p.top(2, 0)
        self.assertEqual(lines[-1], b"")
        self.assertIn(b"Subject: msg 1", lines)
        self.assertNotIn(b"body 1", lines)
        resp, lines, _ = p.top(2, 1)
        self.assertEqual(lines[-1], b"body 1")
        self.assertEqual(self.messages(uid)[0][1], "-")  # not yet
        p.quit()
        self.assertEqual(self.messages(uid)[0][1], "\\Seen")
        self.assertEqual(self.messages(uid)[1][1], "-")  # TOP does not mark

    def test_retr_streams_big_message(self):
        """A 20 MB message goes out in chunks: byte-identical after
        unstuffing (lines starting with "." at every chunk boundary
        region), and the worker's peak RSS grows by far less than it."""
        import random
        rnd = random.Random(5)
        text = b"".join(b"." * rnd.randint(0, 3) + b"line %d\r\n" % i for i in range(20000))
        data = base64.encodebytes(rnd.randbytes(15 << 20)).replace(b"\n", b"\r\n")
        raw = (b"From: a@remote.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
               b"Content-Type: text/plain\r\n\r\n" + text + b"--XX\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + data + b"--XX--\r\n"
               b".\r\n..\r\n.end")
        self.tool("user", "big", "big@example.test", 0, "secret-pw")
        with smtplib.LMTP(self.host, self.port, timeout=60) as l:
            l.sendmail("a@remote.test", ["big@example.test"], raw)
        p = self.pop("big")
        pid = self.suite.worker_pids("pop3")[0]
        reset_peak_rss(pid)
        before = peak_rss(pid)
        resp, lines, octets = p.retr(1)
        got = b"\r\n".join(lines) + b"\r\n"
        self.assertTrue(got.endswith(raw + b"\r\n"), "RETR differs from what was delivered")
        self.assertEqual(octets, len(got))  # poplib counts unstuffed bytes
        # the size announced is the stored one (smtplib ended the last line)
        self.assertEqual(resp, f"+OK {len(got)} octets".encode())
        resp, top, _ = p.top(1, 2)
        self.assertEqual(top[-3:], [b"", b"--XX", b"Content-Type: text/plain"])  # 2 body lines
        peak = peak_rss(pid) - before
        print(f"\n    RETR of {len(raw) >> 20} MB: worker peak RSS grew {peak >> 20} MB", end=" ")
        if not os.path.basename(os.environ.get("BUILD", "")).endswith("-san"):
            self.assertLess(peak, len(raw) // 2)  # whole-message buffers were 2x its size
        p.quit()

    def test_dele_moves_to_trash_at_quit_only(self):
        uid = self.mailbox("deleter")
        p = self.pop("deleter")
        p.dele(1)
        p.dele(3)
        with self.assertRaises(poplib.error_proto):
            p.dele(1)
        with self.assertRaises(poplib.error_proto):
            p.retr(1)
        self.assertEqual(p.stat()[0], 1)
        p.rset()
        self.assertEqual(p.stat()[0], 3)
        p.dele(2)
        self.assertEqual(len(self.messages(uid)), 3)
        p.quit()
        self.assertEqual(len(self.messages(uid)), 2)
        self.assertEqual(len(self.messages(uid, "Trash")), 1)

    def test_dropped_connection_changes_nothing(self):
        uid = self.mailbox("dropper2")
        p = self.pop("dropper2")
        p.retr(1)
        p.dele(2)
        p.sock.close()
        time.sleep(0.3)
        msgs = self.messages(uid)
        self.assertEqual(len(msgs), 3)
        self.assertEqual([m[1] for m in msgs], ["-", "-", "-"])
        self.assertEqual(self.messages(uid, "Trash"), [])

    def test_errors_and_states(self):
        self.mailbox("stateful", count=1)
        host, port = self.suite.address("pop3")
        sock = socket.create_connection((host, port), timeout=30)
        c = Lines(sock)
        self.assertTrue(c.readline().startswith("+OK"))

        def cmd(line):
            c.send(line + "\r\n")
            return c.readline()
        self.assertTrue(cmd("STAT").startswith("-ERR"))
        self.assertTrue(cmd("RETR 1").startswith("-ERR"))
        self.assertTrue(cmd("PASS x").startswith("-ERR"))
        self.assertTrue(cmd("FROB").startswith("-ERR"))
        self.assertTrue(cmd("USER stateful").startswith("+OK"))
        self.assertEqual(cmd("PASS wrong"), "-ERR [AUTH] Authentication failed")
        self.assertTrue(cmd("USER stateful").startswith("+OK"))
        self.assertTrue(cmd("PASS secret-pw").startswith("+OK"))
        self.assertTrue(cmd("USER x").startswith("-ERR"))
        self.assertTrue(cmd("STLS").startswith("-ERR"))
        self.assertTrue(cmd("RETR 2").startswith("-ERR"))
        self.assertTrue(cmd("RETR 0").startswith("-ERR"))
        self.assertTrue(cmd("RETR x").startswith("-ERR"))
        self.assertTrue(cmd("DELE 99999999999").startswith("-ERR"))
        self.assertTrue(cmd("TOP 1").startswith("-ERR"))
        self.assertTrue(cmd("LIST 2").startswith("-ERR"))
        self.assertTrue(cmd("NOOP").startswith("+OK"))
        # pipelined commands are answered in order
        c.send("STAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n")
        self.assertTrue(c.readline().startswith("+OK 1 "))
        self.assertTrue(c.readline().startswith("+OK 1 "))
        self.assertTrue(c.readline().startswith("+OK"))
        self.assertTrue(c.readline().startswith("+OK"))
        sock.close()

    def test_auth_plain(self):
        self.mailbox("sasl", count=1)
        p = self.pop()
        resp = p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0sasl\0secret-pw").decode())
        self.assertTrue(resp.startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = self.pop()
        p._putcmd("AUTH PLAIN")
        self.assertEqual(p._getline()[0], b"+ ")
        p._putcmd(base64.b64encode(b"sasl\0sasl\0wrong").decode())
        self.assertTrue(p._getline()[0].startswith(b"-ERR [AUTH]"))
        p.quit()

    def test_fetchmail(self):
        if shutil.which("fetchmail") is None:
            self.skipTest("fetchmail is not installed")
        uid = self.mailbox("fetcher")
        host, port = self.suite.address("pop3")
        rc = os.path.join(self.suite.dir, "fetchmailrc")
        out = os.path.join(self.suite.dir, "fetched.mbox")
        with open(rc, "w") as f:
            f.write(f"poll {host} service {port} protocol POP3 uidl\n"
                    f"  user fetcher password secret-pw is root here\n"
                    f"  no sslcertck\n"
                    f"  mda \"/bin/sh -c 'cat >> {out}'\"\n")
        os.chmod(rc, 0o600)
        r = subprocess.run(["fetchmail", "-f", rc, "-i", os.path.join(self.suite.dir, "ids"),
                            "--nosyslog", "--nodetach"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, HOME=self.suite.dir))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out, "rb") as f:
            fetched = f.read()
        for i in range(3):
            self.assertIn(b"Subject: msg %d" % i, fetched)
        self.assertEqual(self.messages(uid), [])  # fetched and deleted: to Trash
        self.assertEqual(len(self.messages(uid, "Trash")), 3)

    def test_capa_stls_and_implicit_tls(self):
        self.mailbox("secure", count=1)
        p = self.pop()
        caps = p.capa()
        for cap in ("TOP", "UIDL", "USER", "SASL", "STLS", "PIPELINING", "RESP-CODES"):
            self.assertIn(cap, caps)
        p.stls(context=insecure())
        self.assertNotIn("STLS", p.capa())
        p.user("secure")
        p.pass_("secret-pw")
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = self.pop("secure", tls=True)
        self.assertEqual(p.stat()[0], 1)
        p.quit()


if __name__ == "__main__":
    unittest.main()
