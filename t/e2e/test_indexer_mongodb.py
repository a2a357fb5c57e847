"""wd-indexer on the MongoDB backend: a suite whose store is MongoDB (the
FerretDB test server) keeps its full-text index and threads in the store's
database (indexer.backend auto). Delivered mail is found by IMAP SEARCH
through the index (the IMAP worker logs event=fts_query backend=mongodb with
its hits) and index answers equal the scan's; replies before their parents
end in one thread in the store and in the index; kill -9 of wd-indexer
mid-run loses and doubles nothing (wdctl reindex --status counts the
search documents against the messages); wdctl reindex replaces a user's
documents.

Skipped without build/ferretdb-test (make mongo-test-server)."""
import os
import re
import signal
import subprocess
import time
import unittest

from harness import WDCTL, needs_mongodb, start_mongodb
from test_indexer import IndexerCase, message
import test_api  # noqa: E402  (its Api client)


@needs_mongodb
class MongoIndexer(IndexerCase):
    names = {}

    @classmethod
    def setUpClass(cls):
        cls.suite_options = dict(api=True, **start_mongodb(cls, "ix"))
        super().setUpClass()

    def new_user(self):
        name, user_id = super().new_user()
        self.names[user_id] = name
        return name, user_id

    def index_status(self, user_id):
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "reindex", "--status",
                            self.names[user_id]], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return {}
        return dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)

    def indexed(self, user_id):
        return int(self.index_status(user_id).get("indexed", 0))

    def log_since(self, offset):
        with open(self.suite.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def api(self):
        host, port = self.suite.address("api")
        return test_api.Api(host, port, self.suite.api_token)

    def test_delivery_found_through_the_index(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        self.lmtp_deliver(f"{user}@example.test",
                          message("Hello", "The Überweisung für MÜNCHEN is done."))
        self.wait_indexed(uid_, 1)
        st = self.index_status(uid_)
        self.assertEqual(st["backend"], "mongodb")
        self.assertNotIn("none", st["position"])
        self.assertFalse(os.path.exists(self.suite.fts_path))  # no local index file
        m.select("INBOX")
        offset = os.path.getsize(self.suite.log_path)
        self.assertEqual(self.search(m, "BODY", "münchen".encode()), [1])
        self.assertEqual(self.search(m, "BODY", "überweisung FÜR".encode()), [1])
        self.assertEqual(self.search(m, "BODY", "muenchen"), [])
        # the index answered (FTS_BODY is field 6), from MongoDB
        log = self.suite.wait_until(
            lambda: re.findall(r"event=fts_query backend=mongodb mailbox=\w+ field=6 hits=(\d)",
                               self.log_since(offset)), 5, "fts_query logged")
        self.assertEqual(sorted(log), ["0", "1", "1"])

    def test_index_answers_equal_the_scan(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        m.create("Scan")
        raws = [message("Trigram trap", "abcXbcd and bcdXabc"),
                message("Straße", "xxABCDxx and *star* [x] ?q"),
                message("Ünïcode ΣΊΣΥΦΟΣ", "Final σίσυφος and ǅemal\r\nline two"),
                message("=?utf-8?q?Encoded_=C3=A9t=C3=A9?=", "plain",
                        extra="Cc: Carol <carol@example.test>\r\n")]
        for raw in raws:
            m.append("INBOX", None, None, raw)
        self.wait_indexed(uid_, len(raws))
        for pid in self.suite.worker_pids("indexer"):
            os.kill(pid, signal.SIGSTOP)
        try:
            for raw in raws:
                m.append("Scan", None, None, raw)
            queries = [("BODY", "abcd"), ("BODY", "ABCD"), ("BODY", "bcdxabc"),
                       ("BODY", "* star [x] ?"), ("TEXT", "strasse"), ("SUBJECT", "straße"),
                       ("SUBJECT", "σίσυφος"), ("BODY", "ǆemal"), ("BODY", "two"),
                       ("SUBJECT", "été"), ("SUBJECT", "=?utf-8?q"), ("CC", "carol"),
                       ("FROM", "bob sender"), ("TO", "alice@"), ("TEXT", "message-id"),
                       ("BODY", "emal\r\nline"), ("BCC", "nobody")]
            m.select("INBOX")
            offset = os.path.getsize(self.suite.log_path)
            indexed = {q: self.search(m, q[0], q[1].encode()) for q in queries}
            self.assertIn("event=fts_query backend=mongodb", self.log_since(offset))
            m.select("Scan")
            for q in queries:
                self.assertEqual(indexed[q], self.search(m, q[0], q[1].encode()), q)
            self.assertEqual(indexed[("BODY", "abcd")], [2])
        finally:
            for pid in self.suite.worker_pids("indexer"):
                os.kill(pid, signal.SIGCONT)
        self.wait_indexed(uid_, 2 * len(raws))

    def test_out_of_order_threads(self):
        user, uid_ = self.new_user()
        corpus = [
            ("Re: Plan", "c@t", "In-Reply-To: <b@t>\r\nReferences: <a@t> <b@t>\r\n"),
            ("Plan", "a@t", ""),
            ("Re: Plan", "b@t", "In-Reply-To: <a@t>\r\nReferences: <a@t>\r\n"),
            ("Trip", "x@t", ""),
            ("Re: Trip details", "z@t", "In-Reply-To: <y@t>\r\nReferences: <y@t>\r\n"),
            ("Lunch", "d@t", ""),
            ("RE: lunch", "e@t", ""),
            ("Plan", "p2@t", ""),
            # arrives last and links X's and Z's threads: Z is repaired
            ("Re: Trip", "y@t", "In-Reply-To: <x@t>\r\nReferences: <x@t>\r\n"),
        ]
        for subject, msgid, extra in corpus:
            self.lmtp_deliver(f"{user}@example.test",
                              message(subject, "body", msgid=msgid, extra=extra))
        self.wait_indexed(uid_, len(corpus))
        api = self.api()
        st, r = api.get(f"/users/{uid_}/mailboxes")
        self.assertEqual(st, 200, r)
        inbox = [b["id"] for b in r["results"] if b["path"] == "INBOX"][0]

        def store_threads():
            st, r = api.get(f"/users/{uid_}/mailboxes/{inbox}/messages?limit=100")
            self.assertEqual(st, 200, r)
            return {corpus[x["id"] - 1][1]: x.get("thread") for x in r["results"]}

        # the indexer sets the store's thread ids right after indexing
        t = self.suite.wait_until(lambda: (lambda t: t if t["z@t"] == t["x@t"] else None)(
            store_threads()), 10, "z's thread repaired")
        self.assertTrue(all(t.values()), t)
        self.assertEqual(t["a@t"], t["b@t"])
        self.assertEqual(t["a@t"], t["c@t"])
        self.assertEqual(t["x@t"], t["y@t"])
        self.assertEqual(t["d@t"], t["e@t"])
        self.assertEqual(len({t["a@t"], t["x@t"], t["d@t"], t["p2@t"]}), 4)
        # the index's threads (from the search collection) agree
        st, r = api.get(f"/users/{uid_}/threads")
        self.assertEqual(st, 200, r)
        counts = {x["id"]: x["messages"] for x in r["results"]}
        self.assertEqual(counts, {t["a@t"]: 3, t["x@t"]: 3, t["d@t"]: 2, t["p2@t"]: 1})

    def test_kill9_mid_run_loses_and_doubles_nothing(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        total = killed = 0
        for round_ in range(3):
            # the indexer waits while a round is appended, then is killed
            # as soon as it has written part of it
            before = self.indexed(uid_)
            pids = self.suite.worker_pids("indexer")
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            for i in range(60):
                m.append("INBOX", None, None,
                         message(f"crash {round_}-{i}", f"payload {round_} {i} " + "x" * 2000,
                                 msgid=f"c{round_}-{i}@x"))
                total += 1
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            self.suite.wait_until(lambda: self.indexed(uid_) > before, 20, "indexing started")
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
        self.wait_indexed(uid_, total, timeout=60)
        time.sleep(1.5)  # a sweep later: still exact
        self.assertEqual(self.indexed(uid_), total)
        m.select("INBOX")
        uids = self.search(m, "ALL")
        self.assertEqual(len(uids), total)
        self.assertEqual(self.search(m, "BODY", "payload"), uids)
        # every message in its own thread, none lost or doubled there
        st, r = self.api().get(f"/users/{uid_}/threads?limit=250")
        self.assertEqual(st, 200, r)
        self.assertEqual(sorted(x["messages"] for x in r["results"]), [1] * total)

    def test_reindex_command(self):
        user, uid_ = self.new_user()
        m = self.login(user)
        for i in range(7):
            m.append("INBOX", None, None, message(f"re {i}", f"reindex me {i}"))
        self.wait_indexed(uid_, 7)
        for pid in self.suite.worker_pids("indexer"):
            os.kill(pid, signal.SIGSTOP)
        try:
            m.select("INBOX")
            m.uid("STORE", "2:3", "+FLAGS", r"(\Deleted)")
            m.expunge()
            # the indexer has not seen the expunges; the rebuild drops them
            self.assertEqual(self.indexed(uid_), 7)
            r = subprocess.run([WDCTL, "-c", self.suite.config_path, "reindex", user],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("5/5", r.stdout)
            self.assertEqual(self.indexed(uid_), 5)
            self.assertEqual(self.search(m, "BODY", "reindex"), [1, 4, 5, 6, 7])
        finally:
            for pid in self.suite.worker_pids("indexer"):
                os.kill(pid, signal.SIGCONT)
        time.sleep(1.5)  # the indexer applies the expunges again: harmless
        self.assertEqual(self.indexed(uid_), 5)


if __name__ == "__main__":
    unittest.main()
