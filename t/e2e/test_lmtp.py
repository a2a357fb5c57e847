"""LMTP delivery (RFC 2033) end to end: smtplib.LMTP and raw sockets
against wd-lmtp, users made through the store API (t/bench/lmtp_tool),
delivered messages read back through the store."""
import glob
import os
import smtplib
import socket
import subprocess
import time
import unittest

from harness import BUILD, Lines, Suite, peak_rss

TOOL = os.path.join(BUILD, "t", "bench", "lmtp_tool")


def message(subject="Hello", extra="", body="Hello there.\r\n", sender="sender@remote.test",
            to="alice@example.test"):
    return (f"From: Sender <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}@remote.test>\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}").encode()


class LmtpBase(unittest.TestCase):
    suite_options = {}

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(lmtp=True, **cls.suite_options).start()
        cls.db = os.path.join(cls.suite.dir, "data", "wildduck.db")
        cls.host, cls.port = cls.suite.address("lmtp")
        cls.users = {}

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    @classmethod
    def tool(cls, *args, binary=False):
        kw = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
        r = subprocess.run([TOOL, cls.db, *[str(a) for a in args]], capture_output=True,
                           timeout=30, **kw)
        if r.returncode != 0:
            raise AssertionError(f"lmtp_tool {args}: {r.stderr.decode()}")
        return r.stdout if binary else r.stdout.decode()

    @classmethod
    def user(cls, name, address=None, quota=0):
        if name not in cls.users:
            cls.users[name] = cls.tool("user", name, address or f"{name}@example.test",
                                       quota).strip()
        return cls.users[name]

    def messages(self, user, path="INBOX"):
        return [l.split() for l in self.tool("list", user, path).splitlines()]

    def fetch(self, user, uid, path="INBOX"):
        return self.tool("fetch", user, path, uid, binary=True)

    def lmtp(self):
        return smtplib.LMTP(self.host, self.port, timeout=30)

    def session(self):
        sock = socket.create_connection((self.host, self.port), timeout=30)
        conn = Lines(sock)
        self.assertTrue(conn.readline().startswith("220 "))
        return sock, conn

    def cmd(self, conn, line):
        conn.send(line + "\r\n")
        return self.reply(conn)

    def reply(self, conn, timeout=30):
        lines = []
        while True:
            line = conn.readline(timeout)
            lines.append(line)
            if line[3:4] != "-":
                return lines

    def spool(self):
        return sorted(glob.glob(os.path.join(self.suite.spool, "new", "*.eml")))


class Delivery(LmtpBase):
    def test_lhlo_and_simple_commands(self):
        sock, conn = self.session()
        caps = self.cmd(conn, "LHLO client.test")
        text = "\n".join(caps)
        for cap in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "SIZE 67108864"):
            self.assertIn(cap, text)
        self.assertEqual(self.cmd(conn, "HELO x")[0][:3], "500")
        self.assertEqual(self.cmd(conn, "VRFY alice")[0][:3], "252")
        self.assertEqual(self.cmd(conn, "NOOP")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<a@example.test>")[0][:3], "503")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "503")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@b.test>")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@b.test>")[0][:3], "503")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "503")  # no recipients
        self.assertEqual(self.cmd(conn, "RSET")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "FROB")[0][:3], "500")
        self.assertEqual(self.cmd(conn, "QUIT")[0][:3], "221")
        sock.close()

    def test_mail_before_lhlo(self):
        sock, conn = self.session()
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@b.test>")[0][:3], "503")
        sock.close()

    def test_delivery_rebuilds_byte_identical(self):
        uid = self.user("alice")
        raw = message(body="Line one\r\n.leading dot\r\n..two dots\r\nlast\r\n")
        with self.lmtp() as l:
            l.ehlo("client.test")
            self.assertEqual(l.sendmail("sender@remote.test", ["alice@example.test"], raw), {})
        msgs = self.messages(uid)
        stored = self.fetch(uid, msgs[-1][0])
        self.assertEqual(stored, b"Delivered-To: alice@example.test\r\n"
                                 b"Return-Path: <sender@remote.test>\r\n" + raw)
        self.assertEqual(int(msgs[-1][2]), len(stored))

    def test_big_message_with_attachment_round_trip(self):
        uid = self.user("bigatt")
        blob = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * 2) + b"\r\n"
        raw = (b"From: a@remote.test\r\nTo: bigatt@example.test\r\nSubject: att\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
               b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n"
               b"Content-Disposition: attachment; filename=x.bin\r\n\r\n" + blob * 20000 +
               b"--XX--\r\n")
        with self.lmtp() as l:
            self.assertEqual(l.sendmail("a@remote.test", ["bigatt@example.test"], raw), {})
        stored = self.fetch(uid, self.messages(uid)[-1][0])
        self.assertTrue(stored.endswith(raw))

    def test_bare_lf_is_tolerated(self):
        uid = self.user("barelf")
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test>")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<barelf@example.test>")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "354")
        conn.send(b"Subject: lf\n\nline\n..dot\n.\n")
        self.assertEqual(self.reply(conn)[0][:3], "250")
        stored = self.fetch(uid, self.messages(uid)[-1][0])
        self.assertTrue(stored.endswith(b"Subject: lf\r\n\r\nline\r\n.dot\r\n"), stored)
        sock.close()

    def test_unknown_user_550_and_mixed_recipients(self):
        uid = self.user("mixed")
        with self.lmtp() as l:
            l.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                l.sendmail("a@remote.test", ["nobody-here@example.test"], message())
            self.assertEqual(e.exception.recipients["nobody-here@example.test"][0], 550)
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        # pipelined: replies come in order; DATA answers per accepted recipient
        conn.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<mixed@example.test>\r\n"
                  "RCPT TO:<ghost@example.test>\r\nRCPT TO:<Mixed@Example.TEST>\r\nDATA\r\n")
        codes = [self.reply(conn)[0][:3] for _ in range(5)]
        self.assertEqual(codes, ["250", "250", "550", "250", "354"])
        conn.send(message().replace(b"\r\n.", b"\r\n..") + b".\r\n")
        self.assertEqual([self.reply(conn)[0][:3] for _ in range(2)], ["250", "250"])
        self.assertEqual(len(self.messages(uid)), 2)
        sock.close()

    def test_label_dots_wildcard_alias(self):
        uid = self.user("bob.smith", "bob.smith@example.test")
        wild = self.user("catchall", "catchall@example.test")
        self.tool("address", wild, "*@wild.test")
        self.tool("alias", "alias.test", "example.test")
        with self.lmtp() as l:
            l.ehlo("client.test")
            # smtplib reads one DATA reply only: one recipient per message
            self.assertEqual(l.sendmail("a@remote.test", ["bobsmith+news@example.test"],
                                        message()), {})
            self.assertEqual(l.sendmail("a@remote.test", ["Bob.Smith@alias.test"], message()),
                             {})
            self.assertEqual(l.sendmail("a@remote.test", ["anything@wild.test"], message()), {})
        msgs = self.messages(uid)
        self.assertEqual(len(msgs), 2)
        self.assertTrue(self.fetch(uid, msgs[0][0]).startswith(
            b"Delivered-To: bobsmith+news@example.test\r\n"))
        self.assertEqual(len(self.messages(wild)), 1)

    def test_malformed_addresses(self):
        self.user("alice")
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test")[0][:3], "501")
        self.assertEqual(self.cmd(conn, "MAIL FROM:a@remote.test junk=")[0][:3], "555")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test> SIZE=99999999999")[0][:3],
                         "552")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test> BODY=8BITMIME")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<a@@example.test>")[0][:3], "553")
        self.assertEqual(self.cmd(conn, "RCPT TO:<alice>")[0][:3], "553")
        self.assertEqual(self.cmd(conn, "RCPT TO:<alice@exa_mple.test>")[0][:3], "553")
        self.assertEqual(self.cmd(conn, "RCPT TO:<>")[0][:3], "501")
        self.assertEqual(self.cmd(conn, "RCPT TO:alice@example.test")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<андрис@example.test>")[0][:3], "553")
        self.assertEqual(self.cmd(conn, "RCPT TO <alice@example.test>")[0][:3], "501")
        sock.close()

    def test_smtputf8_recipient(self):
        uid = self.user("андрис", "андрис@уайлддак.орг")
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test> SMTPUTF8")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<Андрис@УАЙЛДДАК.орг>")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "354")
        conn.send(b"Subject: utf8\r\n\r\nhi\r\n.\r\n")
        self.assertEqual(self.reply(conn)[0][:3], "250")
        self.assertEqual(len(self.messages(uid)), 1)
        sock.close()

    def test_too_many_recipients(self):
        self.user("many")
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test>")[0][:3], "250")
        conn.send("".join("RCPT TO:<many@example.test>\r\n" for _ in range(1000)))
        codes = [self.reply(conn, timeout=60)[0][:3] for _ in range(1000)]
        self.assertEqual(codes, ["250"] * 400 + ["452"] * 600)
        self.assertEqual(self.cmd(conn, "RSET")[0][:3], "250")
        sock.close()

    def test_quota(self):
        uid = self.user("tiny", quota=1000)
        big = message(body="x" * 3000 + "\r\n")
        with self.lmtp() as l:
            l.ehlo("client.test")
            l.mail("a@remote.test")
            self.assertEqual(l.rcpt("tiny@example.test")[0], 250)
            code, text = l.data(big)
            self.assertEqual(code, 452, text)
            self.assertIn(b"4.2.2", text)
        self.assertEqual(self.messages(uid), [])

    def test_disconnect_mid_data_stores_nothing(self):
        uid = self.user("dropper")
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        self.cmd(conn, "MAIL FROM:<a@remote.test>")
        self.cmd(conn, "RCPT TO:<dropper@example.test>")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "354")
        conn.send(b"Subject: cut\r\n\r\n" + b"y" * 100000)
        sock.close()
        time.sleep(0.3)
        self.assertEqual(self.messages(uid), [])
        with self.lmtp() as l:  # the worker is fine
            self.assertEqual(l.sendmail("a@remote.test", ["dropper@example.test"], message()), {})
        self.assertEqual(len(self.messages(uid)), 1)
        self.assertEqual(self.suite.status()["services"]["lmtp"]["restarts"], "0")

    def oversize(self, limit_text):
        uid = self.user("huge")
        sock, conn = self.session()
        self.assertIn(f"250 SIZE {limit_text}", self.cmd(conn, "LHLO client.test"))
        self.cmd(conn, "MAIL FROM:<a@remote.test>")
        self.cmd(conn, "RCPT TO:<huge@example.test>")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "354")
        conn.send(b"Subject: huge\r\n\r\n")
        chunk = (b"z" * 998 + b"\r\n") * 1024  # 1 MB
        for _ in range(70):
            sock.sendall(chunk)
        sock.sendall(b".\r\n")
        r = self.reply(conn, timeout=60)
        self.assertEqual(r[0][:9], "552 5.3.4", r)
        self.assertEqual(self.cmd(conn, "NOOP")[0][:3], "250")
        sock.close()
        self.assertEqual(self.messages(uid), [])
        return peak_rss(self.suite.worker_pids("lmtp")[0])

    def test_oversize_stream_552(self):
        self.oversize("67108864")


class Oversize(LmtpBase):
    suite_options = {"lmtp__max_message_size": "1M"}

    def test_oversize_stream_is_not_buffered(self):
        # 70 MB against a 1 MB limit: the worker never holds the message
        hwm = Delivery.oversize(self, "1048576")
        if "san" not in os.path.basename(BUILD):  # ASan's quarantine keeps freed chunks
            self.assertLess(hwm, 32 * 1024 * 1024)


class Rules(LmtpBase):
    def test_spam_headers_go_to_junk(self):
        uid = self.user("junky")
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["junky@example.test"],
                       message(extra="X-Spam-Status: Yes, score=9\r\n"))
            l.sendmail("a@remote.test", ["junky@example.test"],
                       message(extra="X-Rspamd-Spam: YES\r\n"))
            l.sendmail("a@remote.test", ["junky@example.test"],
                       message(extra="X-Spam-Status: No, score=0\r\n"))
        self.assertEqual(len(self.messages(uid, "Junk")), 2)
        self.assertEqual(len(self.messages(uid)), 1)

    def test_filter_actions(self):
        uid = self.user("filtered")
        self.tool("filter", uid, "subject=seenme", "seen=1")
        self.tool("filter", uid, "subject=flagme", "flag=1")
        self.tool("filter", uid, "subject=deleteme", "delete=1")
        self.tool("filter", uid, "subject=moveme", "mailbox=Archive")
        self.tool("filter", uid, "from=spammer@", "spam=1")
        self.tool("filter", uid, "from=friend@", "spam=0")
        self.tool("filter", uid, "text=magic word", "webhook=https://hooks.test/x")
        self.tool("filter", uid, "listid=<news.lists.test>", "flag=1", "seen=1")
        with self.lmtp() as l:
            for subject in ("seenme", "flagme", "deleteme", "moveme", "plain"):
                self.assertEqual(l.sendmail("a@remote.test", ["filtered@example.test"],
                                            message(subject=subject)), {})
            l.sendmail("spammer@remote.test", ["filtered@example.test"],
                       message(subject="buy", sender="spammer@remote.test"))
            l.sendmail("friend@remote.test", ["filtered@example.test"],
                       message(subject="hi", sender="friend@remote.test",
                               extra="X-Spam-Status: Yes\r\n"))
            l.sendmail("a@remote.test", ["filtered@example.test"],
                       message(subject="hook", body="the Magic Word is here\r\n"))
            l.sendmail("a@remote.test", ["filtered@example.test"],
                       message(subject="list", extra="List-Id: News <news.lists.test>\r\n"))
        inbox = self.messages(uid)
        flags = [m[1] for m in inbox]
        self.assertEqual(len(inbox), 6, inbox)  # seenme flagme plain hi hook list
        self.assertEqual(flags[0], "\\Seen")
        self.assertEqual(flags[1], "\\Flagged")
        self.assertEqual(flags[5], "\\Seen,\\Flagged")
        self.assertEqual(len(self.messages(uid, "Archive")), 1)
        self.assertEqual(len(self.messages(uid, "Junk")), 1)
        hooks = self.tool("webhooks").splitlines()
        self.assertEqual(len(hooks), 1)
        self.assertTrue(hooks[0].startswith("https://hooks.test/x message.filter {"), hooks)

    def test_autoreply_once_per_sender(self):
        uid = self.user("vacation")
        self.tool("autoreply", uid, "Away", "I am away until Monday.")
        before = set(self.spool())
        with self.lmtp() as l:
            for _ in range(3):
                l.sendmail("pen.pal@remote.test", ["vacation@example.test"],
                           message(sender="pen.pal@remote.test"))
            # lists, bulk, auto-submitted and the null sender get nothing
            l.sendmail("list@remote.test", ["vacation@example.test"],
                       message(extra="List-Id: <l.remote.test>\r\n"))
            l.sendmail("bulk@remote.test", ["vacation@example.test"],
                       message(extra="Precedence: bulk\r\n"))
            l.sendmail("robot@remote.test", ["vacation@example.test"],
                       message(extra="Auto-Submitted: auto-generated\r\n"))
            l.sendmail("", ["vacation@example.test"], message())
        new = sorted(set(self.spool()) - before)
        self.assertEqual(len(new), 1, new)
        with open(new[0], "rb") as f:
            reply = f.read()
        self.assertTrue(reply.startswith(b"Return-Path: <>\r\nX-Envelope-To: <pen.pal@remote.test>\r\n"))
        self.assertIn(b"Auto-Submitted: auto-replied\r\n", reply)
        self.assertIn(b"Subject: Away\r\n", reply)
        self.assertIn(b"From: Vacation <vacation@example.test>\r\n", reply)
        self.assertIn(b"I am away until Monday.", reply)
        self.assertEqual(len(self.messages(uid)), 7)

    def test_forwarding_targets_and_loop(self):
        uid = self.user("forwarder")
        self.tool("targets", uid, "someone@elsewhere.test")
        self.tool("filter", uid, "subject=copyme", "forward=boss@elsewhere.test")
        before = set(self.spool())
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["forwarder@example.test"], message(subject="copyme"))
            l.sendmail("a@remote.test", ["forwarder@example.test"],
                       message(extra="X-WildDuck-Forwarded-By: forwarder@example.test\r\n"))
        new = sorted(set(self.spool()) - before)
        self.assertEqual(len(new), 1, new)
        with open(new[0], "rb") as f:
            fwd = f.read()
        self.assertTrue(fwd.startswith(b"Return-Path: <a@remote.test>\r\n"
                                       b"X-Envelope-To: <someone@elsewhere.test>\r\n"
                                       b"X-Envelope-To: <boss@elsewhere.test>\r\n"
                                       b"X-WildDuck-Forwarded-By: forwarder@example.test\r\n"
                                       b"From: "), fwd[:300])
        self.assertEqual(len(self.messages(uid)), 2)

    def test_disabled_user_550(self):
        uid = self.user("gone")
        self.tool("disable", uid)
        with self.lmtp() as l:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                l.sendmail("a@remote.test", ["gone@example.test"], message())
            self.assertEqual(e.exception.recipients["gone@example.test"][0], 550)


class RedisCounters(LmtpBase):
    """With redis.address set, the once-per-sender marker and the daily
    forward count live in Redis; the store counters are the fallback."""
    suite_options = {"redis": True}

    def redis(self, *args):
        return subprocess.run(["redis-cli", "-s", self.suite.redis_socket, *args],
                              capture_output=True, timeout=10, check=True).stdout.decode().strip()

    def wait_spool(self, before, count):
        self.suite.wait_until(lambda: len(set(self.spool()) - before) >= count, what="spool files")
        time.sleep(0.3)  # nothing more arrives
        return sorted(set(self.spool()) - before)

    def test_autoreply_once_per_sender_in_redis(self):
        uid = self.user("rvacation")
        self.tool("autoreply", uid, "Away", "Back soon.")
        before = set(self.spool())
        with self.lmtp() as l:
            for _ in range(2):
                self.assertEqual(l.sendmail("friend@remote.test", ["rvacation@example.test"],
                                            message(sender="friend@remote.test")), {})
        new = self.wait_spool(before, 1)
        self.assertEqual(len(new), 1, new)
        with open(new[0], "rb") as f:
            self.assertTrue(f.read().startswith(
                b"Return-Path: <>\r\nX-Envelope-To: <friend@remote.test>\r\n"))
        key = f"wd:autoreply:{uid}:friend@remote.test"
        self.assertEqual(self.redis("EXISTS", key), "1")
        ttl = int(self.redis("PTTL", key))
        self.assertTrue(0 < ttl <= 4 * 86400 * 1000, ttl)
        self.assertEqual(len(self.messages(uid)), 2)

    def test_forward_count_in_redis_and_limit(self):
        uid = self.user("rforwarder")
        self.tool("targets", uid, "far@elsewhere.test")
        day = int(time.time()) // 86400
        key = f"wd:forwards:{uid}:{day}"
        before = set(self.spool())
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["rforwarder@example.test"], message())
        new = self.wait_spool(before, 1)
        self.assertEqual(len(new), 1, new)
        self.suite.wait_until(lambda: self.redis("GET", key) == "1", what="forward counter")
        self.assertGreater(int(self.redis("PTTL", key)), 86400 * 1000)
        # at the daily limit (2000) nothing more is forwarded; the mail is still stored
        self.redis("SET", key, "2000")
        before = set(self.spool())
        with self.lmtp() as l:
            self.assertEqual(l.sendmail("a@remote.test", ["rforwarder@example.test"],
                                        message()), {})
        time.sleep(0.5)
        self.assertEqual(sorted(set(self.spool()) - before), [])
        self.assertEqual(self.redis("GET", key), "2001")
        self.assertEqual(len(self.messages(uid)), 2)


class RedisDown(LmtpBase):
    """Redis configured but not answering: the store counters decide."""
    suite_options = {"redis": True}

    def test_store_fallback_when_redis_is_down(self):
        uid = self.user("fvacation")
        self.tool("autoreply", uid, "Away", "Back soon.")
        self.suite.stop_redis()
        before = set(self.spool())
        with self.lmtp() as l:
            for _ in range(2):
                self.assertEqual(l.sendmail("friend@remote.test", ["fvacation@example.test"],
                                            message(sender="friend@remote.test")), {})
        self.suite.wait_until(lambda: len(set(self.spool()) - before) >= 1, what="autoreply")
        time.sleep(0.5)
        self.assertEqual(len(set(self.spool()) - before), 1)
        self.assertIn("event=redis_counter_failed", self.suite.log_text())


class ForwardedAddresses(LmtpBase):
    """Addresses that only forward (no mailbox), and forward targets that
    are local users: their copy goes into the INBOX, not the spool."""

    def test_forwarded_address_local_and_remote_targets(self):
        local = self.user("fwdlocal")
        self.tool("forwarded", "only.forward@example.test", "far@elsewhere.test",
                  "fwdlocal@example.test")
        before = set(self.spool())
        with self.lmtp() as l:
            # dots and +label are ignored, as for user addresses
            self.assertEqual(l.sendmail("a@remote.test", ["onlyforward+x@example.test"],
                                        message(subject="fwd-only")), {})
        new = sorted(set(self.spool()) - before)
        self.assertEqual(len(new), 1, new)
        with open(new[0], "rb") as f:
            self.assertTrue(f.read().startswith(
                b"Return-Path: <a@remote.test>\r\nX-Envelope-To: <far@elsewhere.test>\r\n"
                b"X-WildDuck-Forwarded-By: only.forward@example.test\r\nFrom: "))
        msgs = self.messages(local)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(self.fetch(local, msgs[0][0]).startswith(
            b"Delivered-To: fwdlocal@example.test\r\nReturn-Path: <a@remote.test>\r\n"
            b"X-WildDuck-Forwarded-By: only.forward@example.test\r\nFrom: "))

    def test_forwarded_address_rcpt_replies_and_loop(self):
        self.tool("forwarded", "loop@example.test", "away@elsewhere.test")
        sock, conn = self.session()
        self.cmd(conn, "LHLO client.test")
        self.assertEqual(self.cmd(conn, "MAIL FROM:<a@remote.test>")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<loop@example.test>")[0][:3], "250")
        self.assertEqual(self.cmd(conn, "RCPT TO:<noloop-nobody@example.test>")[0][:3], "550")
        self.assertEqual(self.cmd(conn, "DATA")[0][:3], "354")
        before = set(self.spool())
        conn.send("X-WildDuck-Forwarded-By: loop@example.test\r\nSubject: x\r\n\r\nhi\r\n.\r\n")
        self.assertEqual(self.reply(conn)[0][:9], "554 5.4.6")
        self.assertEqual(sorted(set(self.spool()) - before), [])
        sock.close()
        # targets removed: the address is gone
        self.tool("forwarded", "loop@example.test")
        with self.lmtp() as l:
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                l.sendmail("a@remote.test", ["loop@example.test"], message())

    def test_user_targets_to_local_user_go_to_inbox(self):
        src = self.user("fwdsource")
        dst = self.user("fwdtarget")
        self.tool("targets", src, "fwdtarget@example.test")
        before = set(self.spool())
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["fwdsource@example.test"], message())
            # a copy that fwdsource forwarded already is not forwarded again
            l.sendmail("a@remote.test", ["fwdsource@example.test"],
                       message(extra="X-WildDuck-Forwarded-By: fwdsource@example.test\r\n"))
        self.assertEqual(sorted(set(self.spool()) - before), [])
        self.assertEqual(len(self.messages(src)), 2)
        msgs = self.messages(dst)
        self.assertEqual(len(msgs), 1)
        self.assertIn(b"X-WildDuck-Forwarded-By: fwdsource@example.test\r\n",
                      self.fetch(dst, msgs[0][0]))


class SendmailPickup(LmtpBase):
    """lmtp.sendmail: wd-lmtp hands spooled files to a command itself."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.outdir = tempfile.mkdtemp(prefix="wd-sendmail-")
        os.chmod(cls.outdir, 0o777)  # the worker runs as nobody when we are root
        cls.script = os.path.join(cls.outdir, "fake-sendmail")
        with open(cls.script, "w") as f:
            f.write("#!/bin/sh\n"
                    "out=\"$(dirname \"$0\")/sent.$$\"\n"
                    "printf '%s\\n' \"$@\" > \"$out.args\"\n"
                    "cat > \"$out.msg\"\n"
                    "case \"$*\" in *fail@*) exit 75;; esac\n")
        os.chmod(cls.script, 0o755)
        cls.suite_options = {"lmtp__sendmail": cls.script + " -i -f {sender} -- {recipients}"}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.outdir, ignore_errors=True)

    def sent(self, word):
        found = []
        for name in sorted(glob.glob(os.path.join(self.outdir, "sent.*.args"))):
            with open(name) as f:
                if word in f.read():
                    found.append(name)
        return found

    def spooled(self, word):
        found = []
        for name in glob.glob(os.path.join(self.suite.spool, "*", "*.eml*")):
            with open(name, "rb") as f:
                if word.encode() in f.read():
                    found.append(name)
        return found

    def test_forward_is_handed_to_the_command(self):
        uid = self.user("picked")
        self.tool("targets", uid, "one@elsewhere.test", "two@elsewhere.test")
        raw = message()
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["picked@example.test"], raw)
        self.suite.wait_until(lambda: len(self.sent("one@elsewhere.test")) == 1 and
                              not self.spooled("picked@example.test"),
                              what="the pickup to send and remove the file")
        args = self.sent("one@elsewhere.test")[0]
        with open(args) as f:
            self.assertEqual(f.read().splitlines(),
                             ["-i", "-f", "a@remote.test", "--", "one@elsewhere.test",
                              "two@elsewhere.test"])
        with open(args[:-5] + ".msg", "rb") as f:
            self.assertEqual(f.read(), b"X-WildDuck-Forwarded-By: picked@example.test\r\n" + raw)

    def test_failed_command_keeps_the_file(self):
        uid = self.user("pickfail")
        self.tool("targets", uid, "fail@elsewhere.test")
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["pickfail@example.test"], message())
        self.suite.wait_until(lambda: "event=outbound_send_failed" in self.suite.log_text(),
                              what="the failed send")
        # back in new/, to be tried again later
        kept = self.spooled("pickfail@example.test")
        self.assertEqual(len(kept), 1, kept)
        self.assertEqual(os.path.basename(os.path.dirname(kept[0])), "new")
        self.assertGreater(os.stat(kept[0]).st_mtime, time.time() + 10)


if __name__ == "__main__":
    unittest.main()


class ImapView(LmtpBase):
    """What LMTP stored, seen through wd-imap; and LMTP on a unix socket."""

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(lmtp=True, auth=True, imap_workers=1)
        cls.sock_path = os.path.join(cls.suite.dir, "lmtp.sock")
        cls.suite.options["lmtp__listen"] = [{"address": "127.0.0.1:0"},
                                             {"address": "unix:" + cls.sock_path}]
        cls.suite.write_config()
        cls.suite.start()
        cls.db = os.path.join(cls.suite.dir, "data", "wildduck.db")
        cls.host, cls.port = cls.suite.address("lmtp")
        cls.users = {}

    def test_imap_fetch_is_byte_identical(self):
        import imaplib
        uid = self.tool("user", "viewer", "viewer@example.test", 0, "view-pw").strip()
        raw = message(subject="through imap", body="one\r\n.two\r\n")
        spam = message(subject="junk", extra="X-Spam-Status: Yes\r\n")
        with smtplib.LMTP(self.sock_path, timeout=30) as l:  # the unix listener
            self.assertEqual(l.sendmail("s@remote.test", ["viewer@example.test"], raw), {})
            self.assertEqual(l.sendmail("s@remote.test", ["viewer@example.test"], spam), {})
        host, port = self.suite.address("imap")
        with imaplib.IMAP4(host, port) as m:
            m.login("viewer", "view-pw")
            typ, data = m.select("INBOX")
            self.assertEqual(data[0], b"1")
            typ, data = m.fetch("1", "(BODY.PEEK[] RFC822.SIZE)")
            self.assertEqual(typ, "OK")
            body = data[0][1]
            self.assertEqual(body, b"Delivered-To: viewer@example.test\r\n"
                                   b"Return-Path: <s@remote.test>\r\n" + raw)
            self.assertIn(b"RFC822.SIZE %d" % len(body), data[0][0] + data[1])
            typ, data = m.select("Junk")
            self.assertEqual(data[0], b"1")
        self.assertEqual(len(self.messages(uid)), 1)

    def test_local_forward_wakes_idle(self):
        """A copy forwarded to a local user wakes that user's IDLE session."""
        self.tool("user", "fwdidle", "fwdidle@example.test", 0, "idle-pw")
        self.tool("forwarded", "to.idle@example.test", "fwdidle@example.test")
        host, port = self.suite.address("imap")
        sock = socket.create_connection((host, port), timeout=10)
        f = sock.makefile("rb")
        f.readline()
        for line in (b"a LOGIN fwdidle idle-pw\r\n", b"s SELECT INBOX\r\n"):
            sock.sendall(line)
            while not f.readline().startswith(line[:2]):
                pass
        sock.sendall(b"i IDLE\r\n")
        self.assertTrue(f.readline().startswith(b"+"))
        with smtplib.LMTP(self.sock_path, timeout=30) as l:
            self.assertEqual(l.sendmail("s@remote.test", ["to.idle@example.test"],
                                        message(subject="forwarded to idle")), {})
        sock.settimeout(2)
        self.assertEqual(f.readline(), b"* 1 EXISTS\r\n")
        sock.close()
