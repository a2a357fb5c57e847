"""The event stream's mailbox events (GET /users/:user/updates): an IMAP
CREATE, an IMAP RENAME and an API DELETE each reach an open stream as
mailboxCreated / mailboxRenamed / mailboxDeleted with the mailbox's id and
path within 1 s, on SQLite and on MongoDB (FerretDB test server), while an
IMAP session with INBOX selected keeps working through them."""
import imaplib
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import Suite, needs_mongodb, start_mongodb  # noqa: E402
from test_api import Api, EventStream, simple_message  # noqa: E402


class MailboxEventsBase:
    store_options = {}

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, imap_workers=1, auth__bcrypt_cost=4,
                          api__heartbeat="500ms", **cls.store_options)
        cls.suite.start()
        cls.host, cls.port = cls.suite.address("api")
        cls.api = Api(cls.host, cls.port, cls.suite.api_token)

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def event(self, es, name, mailbox=None, path=None, after=0.0):
        return es.wait_for(lambda d: d.get("event") == name and
                           (mailbox is None or d["mailbox"] == mailbox) and
                           (path is None or d["path"] == path), timeout=5)

    def test_mailbox_events_and_selected_session(self):
        name = "ev" + uuid.uuid4().hex[:8]
        st, r = self.api.post("/users", dict(username=name, password="secret pw",
                                             address=f"{name}@example.test"))
        self.assertEqual(st, 200, r)
        uid = r["id"]
        st, r = self.api.post("/authenticate", {"username": name, "password": "secret pw"},
                              token=None)
        self.assertEqual(st, 200, r)
        es = EventStream(self.host, self.port, f"/users/{uid}/updates", r["token"])
        selected = imaplib.IMAP4(*self.suite.address("imap"))
        other = imaplib.IMAP4(*self.suite.address("imap"))
        try:
            selected.login(name, "secret pw")
            typ, data = selected.select("INBOX")
            self.assertEqual(typ, "OK")
            self.assertEqual(data[0], b"0")
            selected.untagged_responses.clear()
            other.login(name, "secret pw")

            t0 = time.monotonic()
            self.assertEqual(other.create("Projects")[0], "OK")
            created = self.event(es, "mailboxCreated", path="Projects")
            self.assertLess(created[0] - t0, 1.0, "mailboxCreated took too long")
            self.assertEqual(created[2]["command"], "CREATE")
            st, r = self.api.get(f"/users/{uid}/mailboxes")
            ids = {m["path"]: m["id"] for m in r["results"]}
            mbox = ids["Projects"]
            self.assertEqual(created[2]["mailbox"], mbox)

            t0 = time.monotonic()
            self.assertEqual(other.rename("Projects", "Archive2")[0], "OK")
            renamed = self.event(es, "mailboxRenamed", mailbox=mbox)
            self.assertLess(renamed[0] - t0, 1.0, "mailboxRenamed took too long")
            self.assertEqual(renamed[2]["path"], "Archive2")

            # the selected session, between the changes: new mail, flags
            st, r = self.api.request("POST", f"/users/{uid}/mailboxes/{ids['INBOX']}/messages",
                                     simple_message("Kept", to=f"{name}@example.test"),
                                     headers={"Content-Type": "message/rfc822"})
            self.assertEqual(st, 200, r)
            mid = r["message"]["id"]

            t0 = time.monotonic()
            st, r = self.api.delete(f"/users/{uid}/mailboxes/{mbox}")
            self.assertEqual(st, 200, r)
            deleted = self.event(es, "mailboxDeleted", mailbox=mbox)
            self.assertLess(deleted[0] - t0, 1.0, "mailboxDeleted took too long")
            self.assertEqual(deleted[2]["path"], "Archive2")
            self.assertEqual(deleted[2]["command"], "DELETE")
            # in journal order, ids increasing
            order = [int(created[1]), int(renamed[1]), int(deleted[1])]
            self.assertEqual(order, sorted(order))
            self.assertEqual(len(set(order)), 3)

            typ, _ = selected.noop()
            self.assertEqual(typ, "OK")
            untagged = selected.untagged_responses
            self.assertEqual(untagged.get("EXISTS"), [b"1"], untagged)
            typ, data = selected.uid("FETCH", str(mid), "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(typ, "OK")
            self.assertIn(b"Subject: Kept", data[0][1])
            typ, _ = selected.uid("STORE", str(mid), "+FLAGS", "(\\Flagged)")
            self.assertEqual(typ, "OK")
            typ, data = selected.status("INBOX", "(MESSAGES)")
            self.assertEqual(typ, "OK")
            self.assertIn(b"MESSAGES 1", data[0])
            typ, data = selected.list()
            self.assertEqual(typ, "OK")
            self.assertFalse(any(b"Archive2" in line for line in data), data)
            # the message events are still there, in the same stream
            es.wait_for(lambda d: d.get("command") == "FLAGS" and d.get("uid") == mid)
        finally:
            for c in (selected, other):
                try:
                    c.logout()
                except Exception:
                    pass
            es.close()

    def test_resume_replays_mailbox_events(self):
        name = "rv" + uuid.uuid4().hex[:8]
        st, r = self.api.post("/users", dict(username=name, password="secret pw",
                                             address=f"{name}@example.test"))
        self.assertEqual(st, 200, r)
        uid = r["id"]
        st, r = self.api.post(f"/users/{uid}/mailboxes", {"path": "Gone"})
        self.assertEqual(st, 200, r)
        mbox = r["id"]
        st, r = self.api.delete(f"/users/{uid}/mailboxes/{mbox}")
        self.assertEqual(st, 200, r)
        # a stream from position 0 gets both, the delete's after the mailbox is gone
        es = EventStream(self.host, self.port, f"/users/{uid}/updates", self.suite.api_token,
                         last_id=0)
        try:
            c = self.event(es, "mailboxCreated", mailbox=mbox, path="Gone")
            d = self.event(es, "mailboxDeleted", mailbox=mbox, path="Gone")
            self.assertLess(int(c[1]), int(d[1]))
        finally:
            es.close()


class MailboxEventsSqlite(MailboxEventsBase, unittest.TestCase):
    pass


@needs_mongodb
class MailboxEventsMongo(MailboxEventsBase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store_options = start_mongodb(cls, "events")
        super().setUpClass()


if __name__ == "__main__":
    unittest.main()
