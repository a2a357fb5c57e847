"""The API's audits (/audit): copies of a user's mail within a period, kept
after the user deletes the originals, exported as mboxrd; roles, bad input,
deletion and expiry. settings_cache is 300 ms, so wd-lmtp sees a new audit
quickly."""
import imaplib
import os
import re
import smtplib
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Suite, needs_mongodb, start_mongodb  # noqa: E402
from test_api import Api  # noqa: E402

CACHE = 0.3


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def message(subject, body):
    return (f"From: Sender <sender@remote.test>\r\nTo: <audited@example.test>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}."
            f"{time.time_ns()}@remote.test>\r\n\r\n{body}").encode()


def mboxrd_split(data):
    """Messages of an mboxrd file, unescaped, with LF line ends."""
    out = []
    for line in data.split(b"\n")[:-1]:
        if line.startswith(b"From "):
            out.append([])
            continue
        if re.match(rb"^>+From ", line):
            line = line[1:]
        out[-1].append(line)
    # each message ends with the blank line mboxrd adds
    msgs = []
    for lines in out:
        assert lines and lines[-1] == b"", lines[-3:]
        msgs.append(b"\n".join(lines[:-1]) + b"\n")
    return msgs


class Audit(unittest.TestCase):
    # the hidden stores are counted in the SQLite file (MongoDB: not checked)
    sqlite = True
    store_options = {}

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, lmtp=True, imap_workers=1,
                          auth__bcrypt_cost=4, settings_cache="300ms", **cls.store_options)
        cls.suite.start()
        cls.api = Api(*cls.suite.address("api"), cls.suite.api_token)
        cls.lmtp_addr = cls.suite.address("lmtp")
        cls.db = os.path.join(cls.suite.dir, "data", "wildduck.db")

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def user(self, name):
        st, r = self.api.post("/users", dict(username=name, password="secret pw",
                                             address=f"{name}@example.test"))
        self.assertEqual(st, 200, r)
        return r["id"]

    def deliver(self, to, raw):
        with smtplib.LMTP(*self.lmtp_addr, timeout=10) as l:
            self.assertEqual(l.sendmail("sender@remote.test", [to], raw), {})

    def audit_stores(self):
        """(users, messages) of the hidden audit stores, read from the store."""
        if not self.sqlite:
            return None
        db = sqlite3.connect(self.db, timeout=10)
        try:
            users = [r[0] for r in db.execute(
                "SELECT id FROM users WHERE username LIKE 'audit:%'")]
            msgs = db.execute("SELECT COUNT(*) FROM messages WHERE user IN "
                              "(SELECT id FROM users WHERE username LIKE 'audit:%')").fetchone()[0]
        finally:
            db.close()
        return users, msgs

    def test_audit_copies_period_survives_delete_and_exports(self):
        uid = self.user("audited")
        # stored before the audit exists, inside its period: copied at creation
        m0 = message("before audit", "Written before the audit.\r\n")
        self.deliver("audited@example.test", m0)
        now = time.time()
        end = now + 4
        st, r = self.api.post("/audit", {"user": uid, "start": iso(now - 3600),
                                         "end": iso(end), "expires": iso(now + 3600)})
        self.assertEqual(st, 200, r)
        self.assertEqual(r["import"], {"copied": 1, "failed": 0})
        audit = r["id"]
        time.sleep(CACHE + 0.3)
        # mboxrd must escape these lines and give them back unchanged
        m1 = message("in period one", "Hello.\r\nFrom here on\r\n>From quoted\r\n\r\nbye\r\n")
        m2 = message("in period two", "Second message.\r\n")
        self.deliver("audited@example.test", m1)
        self.deliver("audited@example.test", m2)
        # after the period: not copied
        while time.time() < end + 1.2:
            time.sleep(0.1)
        m3 = message("after period", "Too late.\r\n")
        self.deliver("audited@example.test", m3)

        # the user reads them over IMAP, then deletes them all
        imap = imaplib.IMAP4(*self.suite.address("imap"))
        imap.login("audited", "secret pw")
        imap.select("INBOX")
        typ, data = imap.fetch("1:*", "(BODY.PEEK[])")
        fetched = [d[1] for d in data if isinstance(d, tuple)]
        self.assertEqual(len(fetched), 4)
        for raw, sent in zip(fetched, (m0, m1, m2, m3)):
            self.assertTrue(raw.endswith(sent), raw[:200])
        imap.store("1:*", "+FLAGS", "\\Deleted")
        imap.expunge()
        typ, data = imap.select("INBOX")
        self.assertEqual(data[0], b"0")
        imap.logout()

        st, r = self.api.get(f"/audit/{audit}")
        self.assertEqual(st, 200, r)
        self.assertEqual((r["id"], r["user"], r["messages"]), (audit, uid, 3))
        self.assertEqual(r["end"], iso(int(end)).replace("Z", ".000Z"))
        st, data, resp = self.api.get(f"/audit/{audit}/export.mbox", raw=True)
        self.assertEqual(st, 200, data[:200])
        self.assertEqual(resp.getheader("Content-Type"), "application/mbox")
        self.assertIn(b"\n>From here on\n>>From quoted\n", data)
        exported = mboxrd_split(data)
        want = [f.replace(b"\r\n", b"\n") for f in fetched[:3]]
        self.assertEqual(exported, want)
        # Delivered-To/Return-Path as in the user's copy: the From_ line
        self.assertTrue(data.startswith(b"From sender@remote.test "), data[:80])

        # the hidden store is not listed as a user, nor counted
        st, r = self.api.get("/users?limit=250")
        self.assertEqual(st, 200, r)
        self.assertFalse([u for u in r["results"] if u["username"].startswith("audit:")])
        self.assertEqual(r["total"], len(r["results"]))

        # the audit outlives the audited user
        st, r = self.api.delete(f"/users/{uid}")
        self.assertEqual(st, 200, r)
        st, data2, resp = self.api.get(f"/audit/{audit}/export.mbox", raw=True)
        self.assertEqual((st, data2), (200, data))

        # deleting the audit removes its copies and its store
        if self.sqlite:
            users, msgs = self.audit_stores()
            self.assertEqual((len(users), msgs), (1, 3))
        st, r = self.api.delete(f"/audit/{audit}")
        self.assertEqual((st, r), (200, {"success": True}))
        self.assertIn(self.audit_stores(), (([], 0), None))
        for path in (f"/audit/{audit}", f"/audit/{audit}/export.mbox"):
            st, r = self.api.get(path)
            self.assertEqual((st, r["code"]), (404, "AuditNotFound"), path)
        st, r = self.api.delete(f"/audit/{audit}")
        self.assertEqual(st, 404, r)

    def test_local_forward_is_audited(self):
        src, dst = self.user("auditfwdsrc"), self.user("auditfwddst")
        st, r = self.api.post(f"/users/{src}/filters", {
            "query": {"subject": "hand over"},
            "action": {"targets": ["auditfwddst@example.test"]}})
        self.assertEqual(st, 200, r)
        st, r = self.api.post("/audit", {"user": dst, "expires": iso(time.time() + 600)})
        self.assertEqual(st, 200, r)
        audit = r["id"]
        time.sleep(CACHE + 0.3)
        self.deliver("auditfwdsrc@example.test", message("hand over", "For the boss.\r\n"))
        st, r = self.api.get(f"/audit/{audit}")
        self.assertEqual((st, r["messages"]), (200, 1), r)
        st, data, _ = self.api.get(f"/audit/{audit}/export.mbox", raw=True)
        self.assertIn(b"\nDelivered-To: auditfwddst@example.test\n", data)
        self.assertIn(b"\nX-WildDuck-Forwarded-By: auditfwdsrc@example.test\n", data)
        self.assertEqual(self.api.delete(f"/audit/{audit}")[0], 200)

    def test_roles_and_bad_input(self):
        uid = self.user("auditroles")
        now = time.time()
        good = {"user": uid, "expires": iso(now + 600)}
        st, r = self.api.post("/audit", good)
        self.assertEqual(st, 200, r)
        audit = r["id"]
        st, r = self.api.post("/authenticate", {"username": "auditroles",
                                                "password": "secret pw"}, token=None)
        tok = r["token"]
        for method, path, body in [("POST", "/audit", good),
                                   ("GET", f"/audit/{audit}", None),
                                   ("GET", f"/audit/{audit}/export.mbox", None),
                                   ("DELETE", f"/audit/{audit}", None)]:
            st, r = self.api.request(method, path, body, token=tok)
            self.assertEqual((st, r["code"]), (403, "MissingPrivileges"), path)
            st, r = self.api.request(method, path, body, token=None)
            self.assertEqual(st, 401, path)
        for body in [{"user": "nothex", "expires": iso(now + 600)},
                     {"user": uid},
                     {"user": uid, "expires": "tomorrow"},
                     {"user": uid, "expires": iso(now - 10)},
                     {"user": uid, "expires": iso(now + 600), "start": iso(now + 60),
                      "end": iso(now)},
                     {"user": uid, "expires": iso(now + 600), "start": "2026-13-45"},
                     {"user": uid, "expires": iso(now + 600), "extra": 1},
                     {"user": 5, "expires": iso(now + 600)}]:
            st, r = self.api.post("/audit", body)
            self.assertEqual((st, r.get("code")), (400, "InputValidationError"), (body, r))
        st, r = self.api.post("/audit", {"user": "0" * 24, "expires": iso(now + 600)})
        self.assertEqual((st, r["code"]), (404, "UserNotFound"), r)
        st, r = self.api.get("/audit/not-an-id")
        self.assertEqual((st, r["code"]), (400, "InputValidationError"), r)
        st, r = self.api.get("/audit/" + "0" * 24)
        self.assertEqual((st, r["code"]), (404, "AuditNotFound"), r)
        # the refused requests changed nothing
        st, r = self.api.get(f"/audit/{audit}")
        self.assertEqual((st, r["messages"]), (200, 0), r)
        st, r = self.api.delete(f"/audit/{audit}")
        self.assertEqual(st, 200, r)
        # a deleted audit copies nothing more
        time.sleep(CACHE + 0.3)
        self.deliver("auditroles@example.test", message("after delete", "x\r\n"))
        self.assertIn(self.audit_stores(), (([], 0), None))

    def test_expired_audits_are_removed(self):
        uid = self.user("auditexpiry")
        now = time.time()
        # one found expired by the API, one by wd-lmtp's reload
        st, r = self.api.post("/audit", {"user": uid, "expires": iso(now + 2)})
        self.assertEqual(st, 200, r)
        by_api = r["id"]
        st, r = self.api.post("/audit", {"user": uid, "expires": iso(now + 2)})
        self.assertEqual(st, 200, r)
        if self.sqlite:
            self.assertEqual(len(self.audit_stores()[0]), 2)
        while time.time() < now + 3:
            time.sleep(0.1)
        st, r = self.api.get(f"/audit/{by_api}")
        self.assertEqual((st, r["code"]), (404, "AuditNotFound"), r)
        if not self.sqlite:
            return
        self.assertEqual(len(self.audit_stores()[0]), 1)
        time.sleep(CACHE + 0.1)
        self.deliver("auditexpiry@example.test", message("late", "x\r\n"))
        self.suite.wait_until(lambda: self.audit_stores() == ([], 0), timeout=5,
                              what="wd-lmtp removes the expired audit")


class AuditStaleList(unittest.TestCase):
    """A worker whose list of audits is stale when an audit starts copies
    what it delivered meanwhile once it reloads the list (settings_cache 3s
    here), and no message twice."""

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, lmtp=True, imap_workers=1,
                          auth__bcrypt_cost=4, settings_cache="3s")
        cls.suite.start()
        cls.api = Api(*cls.suite.address("api"), cls.suite.api_token)
        cls.lmtp_addr = cls.suite.address("lmtp")

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    make_user = Audit.user
    deliver = Audit.deliver

    def test_catch_up(self):
        uid = self.make_user("stale")
        a = message("stale a", "Before the audit.\r\n")
        t0 = time.monotonic()
        self.deliver("stale@example.test", a)  # wd-lmtp reads its list: no audits
        st, r = self.api.post("/audit", {"user": uid, "expires": iso(time.time() + 600)})
        self.assertEqual((st, r.get("import")), (200, {"copied": 1, "failed": 0}), r)
        audit = r["id"]
        b = message("stale b", "While the list is stale.\r\n")
        self.deliver("stale@example.test", b)
        self.assertLess(time.monotonic() - t0, 2.5, "too slow to test a stale list")
        st, r = self.api.get(f"/audit/{audit}")
        self.assertEqual(r["messages"], 1, "b was copied before the list was reloaded")
        while time.monotonic() < t0 + 3.3:
            time.sleep(0.05)
        c = message("stale c", "After the reload.\r\n")
        self.deliver("stale@example.test", c)
        st, data, _ = self.api.get(f"/audit/{audit}/export.mbox", raw=True)
        self.assertEqual(st, 200)
        exported = mboxrd_split(data)
        self.assertEqual(len(exported), 3, exported)
        for raw, sent in zip(exported, (a, b, c)):
            self.assertTrue(raw.endswith(sent.replace(b"\r\n", b"\n")), raw)
        self.assertIn(f"event=audit_catch_up audit={audit} copied=1 failed=0",
                      self.suite.log_text())


@needs_mongodb
class AuditMongo(Audit):
    """The same on the MongoDB driver (FerretDB test server)."""
    sqlite = False

    @classmethod
    def setUpClass(cls):
        cls.store_options = start_mongodb(cls, "audit")
        super().setUpClass()


if __name__ == "__main__":
    unittest.main()
