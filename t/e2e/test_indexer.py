"""wd-indexer end to end: delivered mail is in the full-text index and found
by SEARCH within a second; SEARCH answers with the index equal the scan's;
kill -9 of the indexer mid-run loses and doubles nothing (index rows are
counted against messages); threads come out right when replies arrive
before their parents."""
import glob
import imaplib
import os
import signal
import socket
import sqlite3
import subprocess
import time
import unittest

from harness import WDCTL, Suite

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = sorted(glob.glob(os.path.join(ROOT, "t", "data", "mime", "*.eml")))


def message(subject, body, msgid=None, extra=""):
    msgid = msgid or f"{abs(hash((subject, body)))}@x.test"
    return (f"From: Bob Sender <bob@example.test>\r\nTo: Alice <alice@example.test>\r\n"
            f"Subject: {subject}\r\nDate: Wed, 25 Nov 2026 07:00:00 +0000\r\n"
            f"Message-ID: <{msgid}>\r\n{extra}\r\n{body}\r\n").encode()


def index_query(path, sql, args=()):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


class IndexerCase(unittest.TestCase):
    seq = 0
    suite_options = {}

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(auth=True, lmtp=True, indexer=True, imap_workers=1,
                          indexer__poll_interval="1s", **cls.suite_options).start()

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def new_user(self):
        IndexerCase.seq += 1
        name = f"ix{IndexerCase.seq}{os.getpid() % 1000}"
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "user", "create", name,
                            "secret", f"{name}@example.test"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return name, r.stdout.strip()

    def login(self, user):
        host, port = self.suite.address()
        m = imaplib.IMAP4(host, port)
        m.login(user, "secret")
        self.addCleanup(self._logout, m)
        return m

    @staticmethod
    def _logout(m):
        try:
            m.logout()
        except (imaplib.IMAP4.abort, OSError):
            pass

    def indexed(self, user_id):
        try:
            return index_query(self.suite.fts_path, "SELECT count(*) FROM docs WHERE user = ?",
                               (user_id,))[0][0]
        except sqlite3.OperationalError:
            return 0

    def wait_indexed(self, user_id, count, timeout=20):
        self.suite.wait_until(lambda: self.indexed(user_id) == count, timeout,
                              f"{count} messages indexed")

    def search(self, m, *criteria):
        """UID SEARCH; a bytes last criterion goes as a literal (UTF-8)."""
        if criteria and isinstance(criteria[-1], bytes):
            m.literal = criteria[-1]
            criteria = ("CHARSET", "UTF-8") + criteria[:-1]
        typ, data = m.uid("SEARCH", *criteria)
        self.assertEqual(typ, "OK", data)
        return [int(x) for x in data[0].split()]

    def lmtp_deliver(self, rcpt, raw):
        host, port = self.suite.address("lmtp")
        s = socket.create_connection((host, port), timeout=10)
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline().decode()
                if line[3:4] != "-":
                    return line

        reply()
        for cmd in ("LHLO test", "MAIL FROM:<bob@example.test>", f"RCPT TO:<{rcpt}>", "DATA"):
            s.sendall(cmd.encode() + b"\r\n")
            self.assertIn(reply()[0], "23", cmd)
        s.sendall(raw.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        self.assertTrue(reply().startswith("250"))
        s.sendall(b"QUIT\r\n")
        s.close()


class Search(IndexerCase):
    def test_append_found_within_a_second(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        m.select("INBOX")
        self.wait_indexed(uid_, 0)
        start = time.time()
        m.append("INBOX", None, None, message("Quarterly zanzibar report", "Numbers inside."))
        while True:
            m.noop()
            hits = self.search(m, "TEXT", "zanzibar")
            if hits and self.indexed(uid_) == 1:
                break
            self.assertLess(time.time() - start, 1.0, "not indexed within 1 s")
            time.sleep(0.02)
        self.assertEqual(hits, [1])
        rows = index_query(self.suite.fts_path, "SELECT d.uid, t.subject FROM docs d JOIN text t "
                           "ON t.rowid = d.id WHERE d.user = ?", (uid_,))
        self.assertEqual(rows[0][0], 1)
        self.assertIn("zanzibar", rows[0][1])

    def test_lmtp_delivery_found_within_a_second(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        start = time.time()
        self.lmtp_deliver(f"{user}@example.test",
                          message("Hello", "The Überweisung für MÜNCHEN is done."))
        self.wait_indexed(uid_, 1, timeout=1)
        self.assertLess(time.time() - start, 1.0)
        m.select("INBOX")
        self.assertEqual(self.search(m, "BODY", "münchen".encode()), [1])
        self.assertEqual(self.search(m, "BODY", "überweisung FÜR".encode()), [1])
        self.assertEqual(self.search(m, "BODY", "muenchen"), [])

    def test_index_answers_equal_the_scan(self):
        """Every query is asked of a mailbox the indexer has indexed and of
        one it has not (messages appended after the indexer's position was
        reset to the journal's end are scanned); both must agree."""
        user, uid_ = self.new_user()
        m = self.login(user)
        m.create("Scan")
        bodies = [
            ("Re: [list] Plan für Straße", "HTML follows", "text/html",
             "<p>Caf&eacute; <b>wo</b>rd &amp; more</p><script>var hidden=1</script>"),
            ("Ünïcode ΣΊΣΥΦΟΣ", "plain text", "text/plain", "Final σίσυφος and ǅemal"),
            ("=?utf-8?q?Encoded_=C3=A9t=C3=A9?=", "x", "text/plain", "summer * star [x] ?q"),
        ]
        raws = []
        for i, (subject, _, ctype, body) in enumerate(bodies):
            raws.append((f"From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.test>\r\nTo: a@b.test\r\n"
                         f"Cc: Carol <carol@example.test>\r\nSubject: {subject}\r\n"
                         f"Message-ID: <eq{i}@x>\r\nMIME-Version: 1.0\r\n"
                         f"Content-Type: {ctype}; charset=utf-8\r\n"
                         f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode())
        for path in CORPUS[:20]:
            with open(path, "rb") as f:
                raws.append(f.read())
        for raw in raws:
            m.append("INBOX", None, None, raw)
        self.wait_indexed(uid_, len(raws))
        # stop the indexer so that "Scan" stays unindexed
        for pid in self.suite.worker_pids("indexer"):
            os.kill(pid, signal.SIGSTOP)
        try:
            for raw in raws:
                m.append("Scan", None, None, raw)
            queries = [("TEXT", "straße"), ("TEXT", "STRASSE"), ("BODY", "café"),
                       ("BODY", "word"), ("BODY", "hidden"), ("BODY", "<b>"),
                       ("SUBJECT", "σίσυφος"), ("SUBJECT", "été"), ("SUBJECT", "=?utf-8?q"),
                       ("FROM", "jürgen"), ("FROM", "jurgen@"), ("CC", "carol"),
                       ("TO", "a@b.test"), ("BODY", "* star [x] ?"), ("TEXT", "ǆemal"),
                       ("TEXT", "list] plan"), ("BODY", "the"), ("TEXT", "content-type"),
                       ("TEXT", "multipart"), ("BODY", "attachment"), ("SUBJECT", "re"),
                       ("TEXT", "example"), ("BCC", "nobody")]
            for path in CORPUS[:20]:
                with open(path, "rb") as f:
                    words = [w for w in f.read().decode(errors="ignore").split()
                             if 4 <= len(w) <= 12 and w.isalpha()]
                queries += [("TEXT", w) for w in words[10:12]] + \
                    [("BODY", w.upper()) for w in words[-3:-1]]
            m.select("INBOX")
            indexed = {}
            for key, q in queries:
                indexed[(key, q)] = self.search(m, key, q.encode())
            m.select("Scan")
            for key, q in queries:
                scanned = self.search(m, key, q.encode())
                self.assertEqual(indexed[(key, q)], scanned, f"{key} {q!r}")
            self.assertEqual(self.indexed(uid_), len(raws))
        finally:
            for pid in self.suite.worker_pids("indexer"):
                os.kill(pid, signal.SIGCONT)
        self.wait_indexed(uid_, 2 * len(raws))

    def test_expunge_removes_rows(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        for i in range(5):
            m.append("INBOX", None, None, message(f"gone {i}", f"body number{i}"))
        self.wait_indexed(uid_, 5)
        m.select("INBOX")
        m.uid("STORE", "2:3", "+FLAGS", r"(\Deleted)")
        m.expunge()
        self.wait_indexed(uid_, 3)
        self.assertEqual(self.search(m, "BODY", "number"), [1, 4, 5])


    def test_deleted_mailbox_removes_rows(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        m.append("INBOX", None, None, message("stays", "body kept"))
        self.assertEqual(m.create("Doomed")[0], "OK")
        for i in range(3):
            m.append("Doomed", None, None, message(f"doomed {i}", f"body doomed{i}"))
        self.wait_indexed(uid_, 4)
        self.assertEqual(m.delete("Doomed")[0], "OK")  # no EXPUNGE entries for these
        self.wait_indexed(uid_, 1)
        m.select("INBOX")
        self.assertEqual(self.search(m, "BODY", "kept"), [1])


class Crash(IndexerCase):
    def test_kill9_mid_run_loses_and_doubles_nothing(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        total = 0
        killed = 0
        for round_ in range(4):
            for i in range(60):
                m.append("INBOX", None, None,
                         message(f"crash {round_}-{i}", f"payload {round_} {i} " + "x" * 2000,
                                 msgid=f"c{round_}-{i}@x"))
                total += 1
            pids = self.suite.worker_pids("indexer")
            if pids and self.indexed(uid_) < total:
                os.kill(pids[0], signal.SIGKILL)
                killed += 1
            m.select("INBOX")
            m.uid("STORE", f"{total - 2}", "+FLAGS", r"(\Deleted)")
            m.expunge()
            total -= 1
            self.suite.wait_until(lambda: self.suite.worker_pids("indexer"), 15,
                                  "indexer restarted")
        self.assertGreater(killed, 0)
        status = m.status("INBOX", "(MESSAGES)")[1][0].decode()
        self.assertIn(f"MESSAGES {total}", status)
        self.wait_indexed(uid_, total, timeout=30)
        time.sleep(1.5)  # a sweep later: still exact
        self.assertEqual(self.indexed(uid_), total)
        docs = index_query(self.suite.fts_path,
                           "SELECT count(*), count(DISTINCT mailbox || ':' || uid) FROM docs "
                           "WHERE user = ?", (uid_,))[0]
        self.assertEqual(docs, (total, total))
        text_rows = index_query(self.suite.fts_path, "SELECT count(*) FROM text WHERE rowid IN "
                                "(SELECT id FROM docs WHERE user = ?)", (uid_,))[0][0]
        self.assertEqual(text_rows, total)
        orphans = index_query(self.suite.fts_path, "SELECT count(*) FROM text WHERE rowid NOT IN "
                              "(SELECT id FROM docs)")[0][0]
        self.assertEqual(orphans, 0)
        m.select("INBOX")
        uids = self.search(m, "ALL")
        self.assertEqual(self.search(m, "BODY", "payload"), uids)

    def test_reindex_command(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        for i in range(7):
            m.append("INBOX", None, None, message(f"re {i}", "reindex me"))
        self.wait_indexed(uid_, 7)
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "reindex", user],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("7/7", r.stdout)
        self.assertEqual(self.indexed(uid_), 7)
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "reindex", "--all"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.indexed(uid_), 7)
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "reindex", "nosuchuser"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)


class Threads(IndexerCase):
    def store_threads(self, user_id):
        db = sqlite3.connect(os.path.join(self.suite.dir, "data", "wildduck.db"), timeout=10)
        try:
            return dict(db.execute("SELECT msgid, thread FROM messages WHERE user = ?",
                                   (user_id,)).fetchall())
        finally:
            db.close()

    def test_out_of_order_replies(self):
        user, uid_ = self.new_user()
        corpus = [
            # a reply before its parent, and the parent before the grandparent's
            ("Re: Plan", "c@t", "In-Reply-To: <b@t>\r\nReferences: <a@t> <b@t>\r\n"),
            ("Plan", "a@t", ""),
            ("Re: Plan", "b@t", "In-Reply-To: <a@t>\r\nReferences: <a@t>\r\n"),
            # Z names only Y, Y arrives last and names X: X's and Z's
            # threads merge, and Z's stored thread id is repaired
            ("Trip", "x@t", ""),
            ("Re: Trip details", "z@t", "In-Reply-To: <y@t>\r\nReferences: <y@t>\r\n"),
            # unrelated, and a reply by subject only
            ("Lunch", "d@t", ""),
            ("RE: lunch", "e@t", ""),
            ("Plan", "p2@t", ""),  # same subject, not a reply: its own thread
            ("Re: Trip", "y@t", "In-Reply-To: <x@t>\r\nReferences: <x@t>\r\n"),
        ]
        for subject, msgid, extra in corpus:
            self.lmtp_deliver(f"{user}@example.test",
                              message(subject, "body", msgid=msgid, extra=extra))
        self.wait_indexed(uid_, len(corpus))
        # a copy in another mailbox keeps its thread
        m = self.login(user)
        m.select("INBOX")
        m.create("Archive2")
        m.uid("COPY", "1", "Archive2")
        self.wait_indexed(uid_, len(corpus) + 1)
        t = self.store_threads(uid_)
        self.assertTrue(all(t.values()), t)
        self.assertEqual(t["<a@t>"], t["<b@t>"])
        self.assertEqual(t["<a@t>"], t["<c@t>"])
        self.assertEqual(t["<x@t>"], t["<y@t>"])
        self.assertEqual(t["<x@t>"], t["<z@t>"])
        self.assertEqual(t["<d@t>"], t["<e@t>"])
        self.assertEqual(len({t["<a@t>"], t["<x@t>"], t["<d@t>"], t["<p2@t>"]}), 4)
        copies = index_query(self.suite.fts_path, "SELECT DISTINCT thread FROM docs WHERE "
                             "user = ? AND message IN (SELECT message FROM docs WHERE uid = 1 "
                             "AND user = ?)", (uid_, uid_))
        db = sqlite3.connect(os.path.join(self.suite.dir, "data", "wildduck.db"), timeout=10)
        threads = {r[0] for r in db.execute("SELECT thread FROM messages WHERE user = ? AND "
                                           "msgid = '<c@t>'", (uid_,))}
        db.close()
        self.assertEqual(threads, {t["<c@t>"]})
        self.assertTrue(copies)


if __name__ == "__main__":
    unittest.main()
