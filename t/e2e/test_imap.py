"""The IMAP service after login, over real sockets with imaplib and raw
lines: mailboxes, APPEND/FETCH byte-identical, STORE with CONDSTORE,
COPY/MOVE/EXPUNGE with UIDPLUS, SEARCH, IDLE wake-ups across sessions and
workers, UTF-8 mailbox names, quota, literals and errors."""
import glob
import imaplib
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import unittest

from harness import BUILD, WDCTL, Lines, Suite, peak_rss, reset_peak_rss

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = sorted(glob.glob(os.path.join(ROOT, "t", "data", "mime", "*.eml")))


def message(subject="hello", body="Hello Alice\r\n", extra=""):
    return (f"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
            f"Date: Wed, 25 Nov 2026 07:00:00 +0000\r\nMessage-ID: <{subject}@x>\r\n{extra}\r\n"
            f"{body}").encode()


class ImapCase(unittest.TestCase):
    """One suite for the class; each test gets its own user."""
    seq = 0

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(tls=True, auth=True, imap_workers=2,
                          imap__max_message_size="1M").start()

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def new_user(self, quota=None):
        ImapCase.seq += 1
        name = f"user{ImapCase.seq}"
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "user", "create", name,
                            "secret", f"{name}@example.test"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return name

    def login(self, user=None):
        user = user or self.new_user()
        host, port = self.suite.address()
        m = imaplib.IMAP4(host, port)
        self.assertEqual(m.login(user, "secret")[0], "OK")
        self.addCleanup(self._logout, m)
        return m

    @staticmethod
    def _logout(m):
        try:
            m.logout()
        except (imaplib.IMAP4.abort, OSError):
            pass

    def raw(self, user):
        sock = self.suite.connect()
        conn = Lines(sock)
        conn.readline()
        self.assertTrue(conn.command("l", f"LOGIN {user} secret")[-1].startswith("l OK"))
        self.addCleanup(sock.close)
        return conn


class Login(ImapCase):
    def test_login_variants(self):
        user = self.new_user()
        host, port = self.suite.address()
        m = imaplib.IMAP4(host, port)
        self.assertRaises(imaplib.IMAP4.error, m.login, user, "wrong")
        m.login(user, "secret")
        self.assertIn(b"UIDPLUS", m.capability()[1][0])
        m.logout()
        m = imaplib.IMAP4(host, port)
        typ, _ = m.authenticate("PLAIN", lambda _: f"\0{user}\0secret".encode())
        self.assertEqual(typ, "OK")
        m.logout()
        conn = Lines(self.suite.connect())
        conn.readline()
        conn.send("a AUTHENTICATE LOGIN\r\n")
        self.assertEqual(conn.readline(), "+ VXNlcm5hbWU6")
        import base64
        conn.send(base64.b64encode(user.encode()).decode() + "\r\n")
        self.assertEqual(conn.readline(), "+ UGFzc3dvcmQ6")
        conn.send(base64.b64encode(b"secret").decode() + "\r\n")
        self.assertTrue(conn.readline().startswith("a OK [CAPABILITY "))
        conn.send("b AUTHENTICATE PLAIN\r\n")
        self.assertTrue(conn.readline().startswith("b BAD"))  # already logged in

    def test_state_errors(self):
        conn = Lines(self.suite.connect())
        conn.readline()
        self.assertEqual(conn.command("a", "SELECT INBOX"), ["a BAD Log in first"])
        conn.command("b", f"LOGIN {self.new_user()} secret")
        self.assertEqual(conn.command("c", "FETCH 1 FLAGS"), ["c BAD No mailbox selected"])
        self.assertEqual(conn.command("d", "LOGIN x y"), ["d BAD Already authenticated"])
        self.assertEqual(conn.command("e", "UID LIST"), ["e BAD This command has no UID form"])
        self.assertEqual(conn.command("f", "BOGUS"), ["f BAD Unknown or unsupported command"])


class Mailboxes(ImapCase):
    def names(self, m, *args):
        typ, data = m.list(*args)
        return [re.search(rb'"/" (.*)$', d).group(1).decode().strip('"') for d in data]

    def test_create_list_rename_delete(self):
        m = self.login()
        self.assertEqual(m.create("Work/Projects/2026")[0], "OK")
        self.assertEqual(m.create("Work")[0], "NO")  # exists (made as a parent)
        names = self.names(m)
        for n in ("INBOX", "Sent Mail", "Drafts", "Trash", "Junk", "Archive", "Work",
                  "Work/Projects", "Work/Projects/2026"):
            self.assertIn(n, names)
        self.assertEqual(self.names(m, '""', "Work/%"), ["Work/Projects"])
        self.assertEqual(sorted(self.names(m, '""', "Work*")),
                         ["Work", "Work/Projects", "Work/Projects/2026"])
        typ, data = m.list('""', "Sent*")
        self.assertIn(b"\\Sent", data[0])
        self.assertEqual(m.rename("Work", "Job")[0], "OK")
        self.assertEqual(sorted(self.names(m, '""', "Job*")),
                         ["Job", "Job/Projects", "Job/Projects/2026"])
        self.assertEqual(m.delete("Job/Projects/2026")[0], "OK")
        self.assertNotIn("Job/Projects/2026", self.names(m))
        self.assertEqual(m.delete("INBOX")[0], "NO")
        self.assertEqual(m.select("Nope")[0], "NO")
        typ, data = m.list('""', '""')
        self.assertEqual(data, [b'(\\Noselect) "/" ""'])

    def test_subscribe_lsub_and_list_extended(self):
        m = self.login()
        m.create("News")
        self.assertEqual(m.subscribe("News")[0], "OK")
        typ, data = m.lsub('""', "*")
        self.assertIn(b'"/" News', b" ".join(data))
        m.unsubscribe("News")
        typ, data = m.lsub('""', "News")
        self.assertEqual(data, [None])
        typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
        typ, data = m._untagged_response(typ, data, "LIST")
        self.assertEqual(len(data), 5)  # Sent Mail, Drafts, Trash, Junk, Archive

    def test_utf8_names(self):
        m = self.login()
        self.assertEqual(m.create("Entw&APw-rfe/&ZeVnLA-")[0], "OK")
        names = self.names(m)
        self.assertIn("Entw&APw-rfe/&ZeVnLA-", names)
        self.assertEqual(m.create("Bad&AGE-")[0], "NO")  # non-canonical mUTF-7
        conn = self.raw(self.new_user())
        self.assertEqual(conn.command("e", "ENABLE UTF8=ACCEPT")[0], "* ENABLED UTF8=ACCEPT")
        lines = conn.command("c", 'CREATE "Ärger"')
        self.assertTrue(lines[-1].startswith("c OK"), lines)
        self.assertTrue(any("Ärger" in l for l in conn.command("l", 'LIST "" "*"')))

    def test_status_and_quota(self):
        m = self.login()
        m.append("INBOX", None, None, message())
        m.append("INBOX", r"(\Seen)", None, message("two"))
        typ, data = m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ SIZE)")
        st = data[0].decode()
        self.assertIn("MESSAGES 2", st)
        self.assertIn("UNSEEN 1", st)
        self.assertIn("UIDNEXT 3", st)
        self.assertRaises(imaplib.IMAP4.error, m.status, "INBOX", "(BOGUS)")
        typ, data = m.getquotaroot("INBOX")
        self.assertEqual(typ, "OK")


class Messages(ImapCase):
    def test_corpus_round_trip(self):
        """Every corpus message comes back byte for byte, whole and by section."""
        user = self.new_user()
        conn = self.raw(user)
        for i, path in enumerate(CORPUS, 1):
            with open(path, "rb") as f:
                raw = f.read()
            # imaplib's append rewrites bare LFs; send the exact bytes
            conn.send(f"a{i} APPEND INBOX {{{len(raw)}+}}\r\n".encode() + raw + b"\r\n")
            self.assertRegex(conn.readline(), r"^a%d OK \[APPENDUID \d+ %d\]" % (i, i), path)
        m = self.login(user)
        m.select("INBOX")
        for i, path in enumerate(CORPUS, 1):
            with open(path, "rb") as f:
                raw = f.read()
            typ, data = m.uid("FETCH", str(i), "(BODY.PEEK[] RFC822.SIZE)")
            self.assertEqual(data[0][1], raw, path)
            self.assertIn(b"RFC822.SIZE %d" % len(raw), data[1])
            typ, data = m.uid("FETCH", str(i), "(BODY.PEEK[]<7.20>)")
            self.assertEqual(data[0][1], raw[7:27], path)
            typ, data = m.uid("FETCH", str(i), "(BODYSTRUCTURE ENVELOPE BODY)")
            self.assertEqual(typ, "OK", path)

    def test_sections_and_seen(self):
        m = self.login()
        mixed = open(os.path.join(ROOT, "t", "data", "mime", "mixed.eml"), "rb").read()
        m.append("INBOX", None, None, mixed)
        m.select("INBOX")
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
        header = data[0][1]
        self.assertTrue(mixed.startswith(header))
        self.assertTrue(header.endswith(b"\r\n\r\n") or header.endswith(b"\n\n"))
        typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
        self.assertEqual(header + data[0][1], mixed)
        typ, data = m.fetch("1", "(BODY.PEEK[1])")
        self.assertTrue(len(data[0][1]) > 0)
        typ, data = m.fetch("1", "(BODY.PEEK[1.MIME])")
        self.assertIn(b"Content-Type", data[0][1])
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (Subject)])")
        self.assertNotIn(b"Subject:", data[0][1])
        typ, data = m.fetch("1", "(BODY.PEEK[9])")  # no such part: empty
        self.assertEqual(data[0][1], b"")
        self.assertEqual(m.fetch("1", "(FLAGS)")[1], [b"1 (FLAGS ())"])
        typ, data = m.fetch("1", "(BODY[TEXT])")
        self.assertIn(b"FLAGS (\\Seen)", data[0][0] + data[1])
        self.assertEqual(m.fetch("1", "(FLAGS)")[1], [b"1 (FLAGS (\\Seen))"])
        self.assertRaises(imaplib.IMAP4.error, m.fetch, "2", "(FLAGS)")  # beyond EXISTS

    def test_append_literals_and_limits(self):
        user = self.new_user()
        conn = self.raw(user)
        body = message()
        conn.send(f"a APPEND INBOX {{{len(body)}}}\r\n")
        self.assertTrue(conn.readline().startswith("+ "))
        conn.send(body + b"\r\n")
        self.assertRegex(conn.readline(), r"^a OK \[APPENDUID \d+ 1\]")
        conn.send(f"b APPEND INBOX (\\Seen) \"01-Feb-2020 10:00:00 +0100\" {{{len(body)}+}}\r\n")
        conn.send(body + b"\r\n")  # LITERAL+: no continuation wait
        self.assertRegex(conn.readline(), r"^b OK \[APPENDUID \d+ 2\]")
        conn.send("c APPEND INBOX {5000000}\r\n")  # over imap.max_message_size
        self.assertTrue(conn.readline().startswith("c NO [TOOBIG]"))
        lines = conn.command("d", "APPEND Nope {3+}\r\nabc")
        self.assertTrue(lines[-1].startswith("d NO [TRYCREATE]"), lines)
        conn.command("s", "SELECT INBOX")
        lines = conn.command("f", "FETCH 2 (INTERNALDATE FLAGS)")
        self.assertIn('INTERNALDATE "01-Feb-2020 09:00:00 +0000"', lines[0])
        self.assertIn("\\Seen", lines[0])

    def test_store_and_condstore(self):
        m = self.login()
        for i in range(3):
            m.append("INBOX", None, None, message(f"m{i}"))
        m.select("INBOX")
        typ, data = m.store("1:2", "+FLAGS", r"(\Flagged $Work)")
        self.assertEqual(len(data), 2)
        self.assertIn(b"$Work", data[0])
        typ, data = m.store("1", "-FLAGS.SILENT", r"(\Flagged)")
        self.assertEqual(data, [None])
        self.assertEqual(m.fetch("1", "(FLAGS)")[1], [b"1 (FLAGS ($Work))"])
        conn = self.raw(self.new_user())
        conn.command("a", "APPEND INBOX {5+}\r\nx: y\r\n")
        conn.command("s", "SELECT INBOX (CONDSTORE)")
        line = conn.command("f", "FETCH 1 (MODSEQ)")[0]
        mod = int(re.search(r"MODSEQ \((\d+)\)", line).group(1))
        lines = conn.command("t", f"STORE 1 (UNCHANGEDSINCE {mod}) +FLAGS (\\Answered)")
        self.assertRegex(lines[0], r"^\* 1 FETCH \(FLAGS \(\\Answered\) UID 1 MODSEQ \(\d+\)\)$")
        self.assertEqual(lines[-1], "t OK STORE completed")
        lines = conn.command("u", f"STORE 1 (UNCHANGEDSINCE {mod}) +FLAGS (\\Draft)")
        self.assertEqual(lines, ["u OK [MODIFIED 1] Conditional STORE failed"])
        lines = conn.command("v", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {mod})")
        self.assertEqual(len(lines), 2)
        self.assertIn("MODSEQ", lines[0])
        lines = conn.command("w", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {mod + 1})")
        self.assertEqual(lines, ["w OK FETCH completed"])

    def test_copy_move_expunge(self):
        m = self.login()
        for i in range(4):
            m.append("INBOX", None, None, message(f"c{i}"))
        m.create("Keep")
        m.select("INBOX")
        typ, data = m.copy("1:2", "Keep")
        self.assertRegex(data[0], rb"\[COPYUID \d+ 1:2|1,2 1:2|1,2\]|COPYUID")
        typ, data = m.uid("MOVE", "3", "Keep")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.fetch("1:*", "(UID)")[1], [b"1 (UID 1)", b"2 (UID 2)", b"3 (UID 4)"])
        m.store("1", "+FLAGS", r"(\Deleted)")
        m.store("3", "+FLAGS", r"(\Deleted)")
        typ, data = m.uid("EXPUNGE", "4")
        self.assertEqual(m.fetch("1:*", "(UID)")[1], [b"1 (UID 1)", b"2 (UID 2)"])
        typ, data = m.expunge()
        self.assertEqual(data[-1], b"1")
        self.assertEqual(m.status("Keep", "(MESSAGES)")[1], [b'Keep (MESSAGES 3)'])
        self.assertEqual(m.copy("1", "Nope")[0], "NO")
        m.select("Keep", readonly=True)
        self.assertEqual(m.store("1", "+FLAGS", r"(\Seen)")[0], "NO")

    def test_search(self):
        m = self.login()
        m.append("INBOX", r"(\Seen)", '"01-Jan-2020 10:00:00 +0000"', message("alpha", "one two\r\n"))
        m.append("INBOX", r"(\Flagged)", None, message("beta", "three FOUR\r\n"))
        m.append("INBOX", None, None, message("Ärger", "fünf\r\n",
                                              "X-Tag: special\r\n").replace(b"\xc3\x84", b"\xc3\x84"))
        m.select("INBOX")
        def search(*crit):
            typ, data = m.search(None, *crit)
            self.assertEqual(typ, "OK", crit)
            return data[0].split()
        self.assertEqual(search("ALL"), [b"1", b"2", b"3"])
        self.assertEqual(search("SEEN"), [b"1"])
        self.assertEqual(search("UNSEEN"), [b"2", b"3"])
        self.assertEqual(search("FLAGGED"), [b"2"])
        self.assertEqual(search("SUBJECT", "beta"), [b"2"])
        self.assertEqual(search("BODY", "four"), [b"2"])
        self.assertEqual(search("TEXT", "alpha"), [b"1"])
        self.assertEqual(search("HEADER", "X-Tag", "spec"), [b"3"])
        self.assertEqual(search("OR", "SEEN", "FLAGGED"), [b"1", b"2"])
        self.assertEqual(search("NOT", "SEEN", "NOT", "FLAGGED"), [b"3"])
        self.assertEqual(search("BEFORE", "1-Jan-2021"), [b"1"])
        self.assertEqual(search("2:*"), [b"2", b"3"])
        self.assertEqual(search("LARGER", "10000"), [])
        typ, data = m.uid("SEARCH", None, "UID", "2:*")
        self.assertEqual(data[0].split(), [b"2", b"3"])
        m.literal = "FÜNF".encode()
        typ, data = m.search("UTF-8", "BODY")
        self.assertEqual(data[0].split(), [b"3"])
        self.assertRaises(imaplib.IMAP4.error, m.search, None, "FROBNICATE")


    def test_sort(self):
        m = self.login()
        def msg(frm, subject, date, size=0):
            return (f"From: {frm}\r\nTo: x@example.test\r\nSubject: {subject}\r\n"
                    f"Date: {date}\r\n\r\n" + "x" * size + "\r\n").encode()
        # arrival order 1..4; Date: headers in another order; one without Date:
        m.append("INBOX", None, '"01-Jan-2020 10:00:00 +0000"',
                 msg("Zoe <zoe@z.test>", "Re: banana", "Fri, 03 Jan 2020 10:00:00 +0000", 300))
        m.append("INBOX", None, '"02-Jan-2020 10:00:00 +0000"',
                 msg("adam@a.test", "[list] apple", "Wed, 1 Jan 20 09:00:00 -0500", 100))
        m.append("INBOX", None, '"03-Jan-2020 10:00:00 +0000"',
                 b"From: Bob <bob@b.test>\r\nSubject: Fwd: Apple (fwd)\r\n\r\nx\r\n")
        m.append("INBOX", None, '"04-Jan-2020 10:00:00 +0000"',
                 msg("=?utf-8?q?Carl?= <carl@c.test>", "cherry", "Thu, 02 Jan 2020 10:00:00 +0000",
                     200))
        m.select("INBOX")
        self.assertIn(b"SORT", m.capability()[1][0].split())
        def sort(crit, *keys, uid=False):
            args = ("SORT", crit, "UTF-8") + (keys or ("ALL",))
            if uid:  # imaplib's uid() picks the untagged SORT itself
                typ, data = m.uid(*args)
            else:
                typ, data = m._untagged_response(*m._simple_command(*args), "SORT")
            self.assertEqual(typ, "OK", (crit, keys))
            return [int(x) for x in (data[0] or b"").split()]
        self.assertEqual(sort("(ARRIVAL)"), [1, 2, 3, 4])
        self.assertEqual(sort("(REVERSE ARRIVAL)"), [4, 3, 2, 1])
        # Date: wins over arrival; message 3 has none and sorts by arrival (3 Jan)
        self.assertEqual(sort("(DATE)"), [2, 4, 1, 3])
        # base subjects: apple, apple, banana, cherry; ties by sequence
        self.assertEqual(sort("(SUBJECT)"), [2, 3, 1, 4])
        self.assertEqual(sort("(SUBJECT REVERSE DATE)"), [3, 2, 1, 4])
        self.assertEqual(sort("(FROM)"), [2, 3, 4, 1])
        self.assertEqual(sort("(DISPLAYFROM)"), [2, 3, 4, 1])
        self.assertEqual(sort("(REVERSE SIZE)"), [1, 4, 2, 3])
        self.assertEqual(sort("(SUBJECT)", "NOT", "FROM", "adam"), [3, 1, 4])
        self.assertEqual(sort("(DATE)", "UID", "2:*", uid=True), [2, 4, 3])
        # the Date: header is the sent date: SENTBEFORE compares it, not INTERNALDATE
        self.assertEqual(m.search(None, "SENTBEFORE", "2-Jan-2020")[1][0].split(), [b"2"])
        self.assertEqual(m.search(None, "SENTON", "3-Jan-2020")[1][0].split(), [b"1", b"3"])
        for bad in ("DATE UTF-8 ALL", "(NAME) UTF-8 ALL", "(DATE REVERSE) UTF-8 ALL",
                    "(DATE) UTF-8", "(DATE) UTF-8 FROBNICATE", "(DATE) CHARSET UTF-8 ALL"):
            with self.assertRaises(imaplib.IMAP4.error, msg=bad):
                m._simple_command("SORT", *bad.split(" "))
        typ, data = m._simple_command("SORT", "(DATE)", "KOI8-R", "ALL")
        self.assertEqual(typ, "NO")
        self.assertIn(b"BADCHARSET", data[0])


    def test_thread(self):
        m = self.login()
        def msg(mid, subject, date, refs=""):
            extra = f"References: {refs}\r\n" if refs else ""
            return (f"From: a@example.test\r\nSubject: {subject}\r\nDate: {date}\r\n"
                    f"Message-ID: <{mid}@x>\r\n{extra}\r\nbody\r\n").encode()
        # the reply is stored before its parent; 3 replies to 1 through a lost message
        m.append("INBOX", None, None, msg("b", "Re: plan", "2 Jan 2020 10:00 +0000", "<a@x>"))
        m.append("INBOX", None, None, msg("a", "plan", "1 Jan 2020 10:00 +0000"))
        m.append("INBOX", None, None, msg("c", "Re: plan", "3 Jan 2020 10:00 +0000",
                                          "<a@x> <lost@x>"))
        m.append("INBOX", None, None, msg("d", "other", "4 Jan 2020 10:00 +0000"))
        m.append("INBOX", None, None, msg("e", "Re: other", "5 Jan 2020 10:00 +0000"))
        m.select("INBOX")
        caps = m.capability()[1][0].split()
        self.assertIn(b"THREAD=REFERENCES", caps)
        self.assertIn(b"THREAD=ORDEREDSUBJECT", caps)
        typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
        self.assertEqual((typ, data), ("OK", [b"(2 (1)(3))(4 5)"]))
        typ, data = m.uid("THREAD", "REFERENCES", "UTF-8", "UID", "2:5")
        self.assertEqual(data, [b"(2 3)(4 5)"])
        typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
        self.assertEqual(data, [b"(2 (1)(3))(4 5)"])
        typ, data = m.thread("REFERENCES", "UTF-8", "SUBJECT", "nothing-like-this")
        self.assertEqual((typ, data), ("OK", [b""]))  # "* THREAD" and nothing
        for bad in (("JWZ", "UTF-8", "ALL"), ("REFERENCES", "UTF-8"),
                    ("REFERENCES", "UTF-8", "FROBNICATE")):
            with self.assertRaises(imaplib.IMAP4.error, msg=bad):
                m.thread(*bad)
        typ, data = m._simple_command("THREAD", "REFERENCES", "KOI8-R", "ALL")
        self.assertEqual(typ, "NO")


class Notifications(ImapCase):
    def idle(self, conn):
        conn.send("i IDLE\r\n")
        self.assertEqual(conn.readline(), "+ idling")

    def test_idle_sees_other_sessions_quickly(self):
        user = self.new_user()
        a = self.raw(user)
        a.command("s", "SELECT INBOX")
        self.idle(a)
        b = self.login(user)
        latencies = []
        for i in range(5):
            b.append("INBOX", None, None, message(f"n{i}"))
            done = time.time()
            self.assertEqual(a.readline(timeout=2), f"* {i + 1} EXISTS")
            latencies.append(time.time() - done)
        self.assertLess(sorted(latencies)[2], 0.1, latencies)
        b.select("INBOX")
        b.store("2", "+FLAGS", r"(\Seen)")
        self.assertEqual(a.readline(timeout=2), r"* 2 FETCH (UID 2 FLAGS (\Seen))")
        b.store("1", "+FLAGS", r"(\Deleted)")
        self.assertIn(r"FLAGS (\Deleted)", a.readline(timeout=2))
        b.expunge()
        self.assertEqual(a.readline(timeout=2), "* 1 EXPUNGE")
        a.send("DONE\r\n")
        self.assertEqual(a.readline(), "i OK IDLE terminated")
        self.assertEqual(a.command("f", "FETCH 1:* (UID)"),
                         ["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)",
                          "* 4 FETCH (UID 5)", "f OK FETCH completed"])

    def test_noop_reports_changes_and_fetch_holds_expunge(self):
        user = self.new_user()
        a = self.raw(user)
        b = self.login(user)
        b.append("INBOX", None, None, message("x1"))
        b.append("INBOX", None, None, message("x2"))
        a.command("s", "SELECT INBOX")
        b.select("INBOX")
        b.store("1", "+FLAGS", r"(\Deleted)")
        b.expunge()
        time.sleep(0.2)
        # FETCH may not announce the expunge (RFC 3501 7.4.1)
        lines = a.command("f", "FETCH 1:* (UID)")
        self.assertFalse(any("EXPUNGE" in l for l in lines), lines)
        lines = a.command("n", "NOOP")
        self.assertIn("* 1 EXPUNGE", lines)

    def test_idle_done_and_timeout_reset(self):
        a = self.raw(self.new_user())
        self.idle(a)
        a.send("DONE\r\n")
        self.assertEqual(a.readline(), "i OK IDLE terminated")
        self.idle(a)
        a.send("nonsense\r\n")
        self.assertEqual(a.readline(), "i BAD Expected DONE")


class RealClient(ImapCase):
    """A real client from Debian: mbsync (isync) pulls and pushes."""
    @unittest.skipUnless(subprocess.run(["which", "mbsync"], capture_output=True).returncode == 0,
                         "mbsync (isync) is not installed")
    def test_mbsync_two_way(self):
        user = self.new_user()
        m = self.login(user)
        for i in range(3):
            m.append("INBOX", None, None, message(f"s{i}"))
        host, port = self.suite.address()
        local = os.path.join(self.suite.dir, f"maildir-{user}")
        os.makedirs(local)
        rc = os.path.join(self.suite.dir, f"mbsyncrc-{user}")
        with open(rc, "w") as f:
            f.write(f"IMAPAccount a\nHost {host}\nPort {port}\nUser {user}\nPass secret\n"
                    "SSLType None\nAuthMechs LOGIN\n\nIMAPStore remote\nAccount a\n\n"
                    f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n"
                    "Channel c\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n"
                    "SyncState *\nSync All\n")
        r = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(os.listdir(os.path.join(local, "INBOX", "cur")) +
                             os.listdir(os.path.join(local, "INBOX", "new"))), 3)
        # a local message goes up
        with open(os.path.join(local, "INBOX", "new", "1.local"), "wb") as f:
            f.write(message("from-local"))
        r = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", "from-local")
        self.assertEqual(len(data[0].split()), 1)


class Extensions(ImapCase):
    def test_compress_deflate(self):
        import zlib
        user = self.new_user()
        conn = self.raw(user)
        self.assertEqual(conn.command("z", "COMPRESS DEFLATE"), ["z OK DEFLATE active"])
        sock = conn.sock
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        decomp = zlib.decompressobj(-15)
        def send(text):
            sock.sendall(comp.compress(text.encode()) + comp.flush(zlib.Z_SYNC_FLUSH))
        def read_until(tag):
            out = b""
            sock.settimeout(5)
            while f"{tag} ".encode() not in out:
                out += decomp.decompress(sock.recv(65536))
            return out.decode()
        body = "x" * 3000 + "\r\n"
        send(f"a APPEND INBOX {{{len(body)}+}}\r\n{body}\r\n")
        self.assertIn("a OK [APPENDUID", read_until("a"))
        send("s SELECT INBOX\r\n")
        self.assertIn("* 1 EXISTS", read_until("s"))
        send("f FETCH 1 BODY.PEEK[]\r\n")
        out = read_until("f")
        self.assertIn(body, out)
        send("c COMPRESS DEFLATE\r\n")
        self.assertIn("c NO [COMPRESSIONACTIVE]", read_until("c"))

    def test_create_special_use_and_misc(self):
        m = self.login()
        typ, data = m._simple_command("CREATE", "Outbox", "(USE (\\Sent))")
        self.assertEqual(typ, "OK")
        typ, data = m.list('""', "Outbox")
        self.assertIn(b"\\Sent", data[0])
        typ, data = m._simple_command("CREATE", "Flags", "(USE (\\Flagged))")
        self.assertEqual(typ, "NO")
        typ, data = m.namespace()
        self.assertEqual(data, [b'(("" "/")) NIL NIL'])
        imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
        imaplib.Commands.setdefault("UNSELECT", ("SELECTED",))
        typ, data = m._simple_command("ID", '("name" "test")')
        self.assertEqual(typ, "OK")
        m.select("INBOX")
        self.assertEqual(m._simple_command("UNSELECT")[0], "OK")
        self.assertRaises(imaplib.IMAP4.error, m.fetch, "1", "FLAGS")


class BigMessages(unittest.TestCase):
    def test_large_fetch_streams(self):
        """BODY[] of a 20 MB message comes back intact while the worker
        holds far less than several copies of it."""
        import base64
        with Suite(auth=True, imap_workers=1, imap__max_message_size="64M") as suite:
            subprocess.run([WDCTL, "-c", suite.config_path, "user", "create", "big", "secret"],
                           check=True, capture_output=True)
            data = base64.encodebytes(os.urandom(15 * 1024 * 1024)).replace(b"\n", b"\r\n")
            raw = (b"From: a@example.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
                   b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
                   b"Content-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
                   b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                   b"Content-Disposition: attachment; filename=x.bin\r\n\r\n" + data + b"--XX--\r\n")
            conn = Lines(suite.connect())
            conn.readline()
            conn.command("l", "LOGIN big secret")
            conn.send(f"a APPEND INBOX {{{len(raw)}+}}\r\n".encode() + raw + b"\r\n")
            self.assertTrue(conn.readline(timeout=60).startswith("a OK"))
            conn.command("s", "SELECT INBOX")
            pid = suite.worker_pids()[0]
            reset_peak_rss(pid)
            before = peak_rss(pid)
            conn.send("f FETCH 1 BODY.PEEK[]\r\n")
            head = conn.readline(timeout=60)
            n = int(head[head.rindex("{") + 1:-1])
            self.assertEqual(n, len(raw))
            got = b""
            conn.sock.settimeout(60)
            while len(got) < n + len(b")\r\n"):
                got += conn.buf if conn.buf else conn.sock.recv(1 << 20)
                conn.buf = b""
            self.assertEqual(got[:n], raw)
            self.assertTrue(got[n:].startswith(b")\r\nf OK"))
            peak = peak_rss(pid) - before
            print(f"\n    FETCH of {len(raw) >> 20} MB: worker peak RSS grew {peak >> 20} MB",
                  end=" ")
            if not os.path.basename(BUILD).endswith("-san"):  # ASan keeps freed memory
                self.assertLess(peak, len(raw) // 2)


class LmtpToIdle(unittest.TestCase):
    def test_lmtp_delivery_wakes_idle(self):
        import smtplib
        with Suite(auth=True, lmtp=True, imap_workers=2) as suite:
            subprocess.run([WDCTL, "-c", suite.config_path, "user", "create", "rcpt", "secret",
                            "rcpt@example.test"], check=True, capture_output=True)
            conn = Lines(suite.connect())
            conn.readline()
            conn.command("l", "LOGIN rcpt secret")
            conn.command("s", "SELECT INBOX")
            conn.send("i IDLE\r\n")
            self.assertEqual(conn.readline(), "+ idling")
            host, port = suite.address("lmtp")
            latencies = []
            with smtplib.LMTP(host, port, timeout=30) as l:
                for i in range(5):
                    l.sendmail("a@remote.test", ["rcpt@example.test"], message(f"lmtp{i}"))
                    done = time.time()
                    self.assertEqual(conn.readline(timeout=2), f"* {i + 1} EXISTS")
                    latencies.append(time.time() - done)
            self.assertLess(sorted(latencies)[2], 0.1, latencies)
            conn.send("DONE\r\n")
            self.assertEqual(conn.readline(), "i OK IDLE terminated")


class UserConnectionLimit(unittest.TestCase):
    def check_limit(self, suite):
        subprocess.run([WDCTL, "-c", suite.config_path, "user", "create", "many", "secret"],
                       check=True, capture_output=True)
        conns = []
        for i in range(3):
            c = Lines(suite.connect())
            c.readline()
            conns.append(c)
        self.assertTrue(conns[0].command("a", "LOGIN many secret")[-1].startswith("a OK"))
        self.assertTrue(conns[1].command("a", "LOGIN many secret")[-1].startswith("a OK"))
        self.assertEqual(conns[2].command("a", "LOGIN many secret")[-1],
                         "a NO [LIMIT] Too many connections for this user")
        conns[0].command("z", "LOGOUT")
        time.sleep(0.2)
        self.assertTrue(conns[2].command("b", "LOGIN many secret")[-1].startswith("b OK"))

    def test_per_worker_without_redis(self):
        with Suite(auth=True, imap_workers=1, imap__max_user_connections=2) as suite:
            self.check_limit(suite)

    def test_across_workers_with_redis(self):
        with Suite(auth=True, redis=True, imap_workers=3, imap__max_user_connections=2) as suite:
            self.check_limit(suite)
