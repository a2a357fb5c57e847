"""Store calls end to end.

MongoObjects: the API's objects on a MongoDB store (the FerretDB test
server): webhooks (registered, fired for a new user and for an LMTP filter,
retried after a failing call, deleted), DKIM keys (a domain's key replaced
by the next one), TLS certificates, runtime settings (kept in "settings"
next to the store's own counter) and an audit over HTTP, as on SQLite in
test_api.py, test_api_settings.py and test_api_audit.py. Skipped without build/ferretdb-test (make mongo-test-server).

QuotaRecalc: `wdctl quota recalc` puts a wrong storage counter right."""
import os
import smtplib
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import WDCTL, Suite, needs_mongodb, start_mongodb  # noqa: E402
import test_api  # noqa: E402  (its Api client, HookListener and helpers)


@needs_mongodb
class MongoObjects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        options = start_mongodb(cls, "objects")
        cls.suite = None
        try:
            cls.suite = Suite(api=True, auth=True, lmtp=True, imap_workers=1,
                              auth__bcrypt_cost=4, **options).start()
        except Exception:
            cls.tearDownClass()
            raise
        cls.api = test_api.Api(*cls.suite.address("api"), cls.suite.api_token)

    @classmethod
    def tearDownClass(cls):
        if cls.suite is not None:
            cls.suite.close()

    def user(self, name):
        st, r = self.api.post("/users", {"username": name, "password": "secret pw",
                                         "address": f"{name}@example.test"})
        self.assertEqual(st, 200, r)
        return r["id"]

    def test_webhooks(self):
        hooks = test_api.HookListener()
        self.addCleanup(hooks.close)
        st, r = self.api.post("/webhooks", {"type": ["user.*"], "url": hooks.url + "/users"})
        self.assertEqual(st, 200, r)
        wid = r["id"]
        uid = self.user("hooked")
        got = hooks.wait(lambda c: c[0] == "/users" and c[2]["ev"] == "user.created" and
                         c[2]["user"] == uid)
        self.assertTrue(got, hooks.calls)
        self.assertEqual(got[0][2]["username"], "hooked")
        # a user's own hook; a failing endpoint is called again
        st, r = self.api.post("/webhooks", {"type": ["address.user.created"], "user": uid,
                                            "url": hooks.url + "/flaky/addr"})
        self.assertEqual(st, 200, r)
        flaky = r["id"]
        self.assertEqual(self.api.post("/webhooks", {"type": ["x"], "url": "http://x.test/",
                                                     "user": "0" * 24})[0], 404)
        self.assertEqual(self.api.post(f"/users/{uid}/addresses",
                                       {"address": "hooked2@example.test"})[0], 200)
        got = hooks.wait(lambda c: c[0] == "/flaky/addr" and c[3] == 200, timeout=15)
        self.assertTrue(got, hooks.calls)
        self.assertEqual([c[3] for c in hooks.calls if c[0] == "/flaky/addr"], [500, 200])
        lst = self.api.get("/webhooks")
        self.assertEqual(lst[0], 200, lst)
        self.assertEqual({w["id"] for w in lst[1]["results"]}, {wid, flaky})
        lst = self.api.get(f"/webhooks?user={uid}")[1]["results"]
        self.assertEqual([(w["id"], w["user"]) for w in lst], [(flaky, uid)])
        # an LMTP filter's webhook goes through the same queue
        st, r = self.api.post(f"/users/{uid}/filters", {
            "query": {"from": "filtered@remote.test"},
            "action": {"webhook": hooks.url + "/filter"}})
        self.assertEqual(st, 200, r)
        with smtplib.LMTP(*self.suite.address("lmtp"), timeout=30) as l:
            l.sendmail("filtered@remote.test", ["hooked@example.test"],
                       test_api.simple_message("Hooked", to="hooked@example.test",
                                               sender="filtered@remote.test"))
        got = hooks.wait(lambda c: c[0] == "/filter")
        self.assertTrue(got, hooks.calls)
        self.assertEqual((got[0][2]["ev"], got[0][2]["user"]), ("message.filter", uid))
        # deleted hooks stay quiet; a deleted user's hooks go with it
        self.assertEqual(self.api.delete(f"/webhooks/{wid}")[0], 200)
        self.assertEqual(self.api.delete(f"/webhooks/{wid}")[1]["code"], "WebhookNotFound")
        self.assertEqual(self.api.delete(f"/users/{uid}")[0], 200)
        self.assertEqual(self.api.get("/webhooks")[1]["results"], [])
        time.sleep(1.5)
        self.assertFalse([c for c in hooks.calls if c[2]["ev"] == "user.deleted"])

    def test_dkim(self):
        st, r = self.api.post("/dkim", {"domain": "mongo.test", "selector": "s1"})
        self.assertEqual(st, 200, r)
        kid = r["id"]
        self.assertEqual(self.api.get(f"/dkim/{kid}")[1]["dnsTxt"]["name"],
                         "s1._domainkey.mongo.test")
        # the next key of a domain replaces it
        st, r = self.api.post("/dkim", {"domain": "mongo.test", "selector": "s2",
                                        "algorithm": "ed25519"})
        self.assertEqual(st, 200, r)
        self.assertNotEqual(r["id"], kid)
        self.assertEqual(self.api.get(f"/dkim/{kid}")[0], 404)
        kid = r["id"]
        st, r = self.api.post("/dkim", {"domain": "other.test", "selector": "o"})
        self.assertEqual(st, 200, r)
        lst = self.api.get("/dkim")
        self.assertEqual(lst[0], 200, lst)
        self.assertEqual(sorted(k["domain"] for k in lst[1]["results"]),
                         ["mongo.test", "other.test"])
        st, r = self.api.get("/dkim/resolve/MONGO.test")
        self.assertEqual((st, r["id"], r["selector"]), (200, kid, "s2"))
        self.assertEqual(self.api.delete(f"/dkim/{kid}")[0], 200)
        self.assertEqual(self.api.delete(f"/dkim/{kid}")[0], 404)
        self.assertEqual(self.api.get("/dkim/resolve/mongo.test")[1]["code"], "DkimNotFound")

    def test_settings(self):
        self.user("settings")  # the uidvalidity counter shares "settings"
        key = "const:max:forwards"
        for value in (100, 200):
            st, r = self.api.post(f"/settings/{key}", {"value": value})
            self.assertEqual((st, r), (200, {"success": True, "key": key, "value": value}))
            st, r = self.api.get(f"/settings/{key}")
            self.assertEqual((st, r["value"]), (200, value), r)
        st, r = self.api.get("/settings?filter=forward")
        self.assertEqual(st, 200, r)
        self.assertEqual([(s["value"], s["custom"]) for s in r["settings"]], [(200, True)])
        # still one user mailbox counter: a new user gets its mailboxes
        self.user("settings2")

    def test_audit(self):
        uid = self.user("audited")
        now = time.time()
        span = {"user": uid, "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
                "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
                "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7200))}
        st, r = self.api.post("/audit", span)
        self.assertEqual(st, 200, r)
        audit = r["id"]
        st, r = self.api.get(f"/audit/{audit}")
        self.assertEqual((st, r.get("user")), (200, uid), r)
        self.assertEqual(self.api.delete(f"/audit/{audit}")[0], 200)
        self.assertEqual(self.api.get(f"/audit/{audit}")[0], 404)

    def test_certs(self):
        d = self.suite.dir
        key, crt = os.path.join(d, "m.key"), os.path.join(d, "m.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", crt, "-days", "30", "-subj", "/CN=mail.mongo.test"],
                       capture_output=True, check=True)
        with open(key) as k, open(crt) as c:
            body = {"servername": "mail.mongo.test", "cert": c.read(), "privateKey": k.read()}
        st, r = self.api.post("/certs", body)
        self.assertEqual(st, 200, r)
        cid = r["id"]
        st, r = self.api.post("/certs", body)
        self.assertEqual(st, 200, r)
        self.assertNotEqual(r["id"], cid)
        self.assertEqual(self.api.get(f"/certs/{cid}")[0], 404)
        cid = r["id"]
        lst = self.api.get("/certs")
        self.assertEqual(lst[0], 200, lst)
        self.assertEqual([c["id"] for c in lst[1]["results"]], [cid])
        st, r = self.api.get("/certs/resolve/mail.mongo.test")
        self.assertEqual((st, r["id"]), (200, cid))
        self.assertEqual(self.api.delete(f"/certs/{cid}")[0], 200)
        self.assertEqual(self.api.delete(f"/certs/{cid}")[0], 404)


class QuotaRecalc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, lmtp=True, imap_workers=1,
                          auth__bcrypt_cost=4).start()
        cls.api = test_api.Api(*cls.suite.address("api"), cls.suite.api_token)
        cls.db = os.path.join(cls.suite.dir, "data", "wildduck.db")

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def wdctl(self, *args):
        return subprocess.run([WDCTL, "-c", self.suite.config_path, *args],
                              capture_output=True, text=True, timeout=120)

    def storage(self, value=None):
        """The stored counter of user "recalc" (set to value first if given)."""
        con = sqlite3.connect(self.db, timeout=30)
        try:
            with con:
                if value is not None:
                    con.execute("UPDATE users SET storage_used = ? WHERE username = 'recalc'",
                                (value,))
            return con.execute("SELECT storage_used FROM users "
                               "WHERE username = 'recalc'").fetchone()[0]
        finally:
            con.close()

    def test_recalc_fixes_counter(self):
        st, r = self.api.post("/users", {"username": "recalc", "password": "secret pw",
                                         "address": "recalc@example.test"})
        self.assertEqual(st, 200, r)
        uid = r["id"]
        mailboxes = {m["path"]: m["id"] for m in self.api.get(f"/users/{uid}/mailboxes")[1]
                     ["results"]}
        total = 0
        for i, box in enumerate(("INBOX", "INBOX", "Archive")):
            raw = test_api.simple_message(f"Recalc {i}", body="x" * (100 * (i + 1)) + "\r\n",
                                          to="recalc@example.test")
            total += len(raw)
            st, r = self.api.request("POST", f"/users/{uid}/mailboxes/{mailboxes[box]}/messages",
                                     raw, headers={"Content-Type": "message/rfc822"})
            self.assertEqual(st, 200, r)
        self.assertEqual(self.storage(), total)
        line = (f"quota recalc: {total} bytes in 3 messages in 6 mailboxes, "
                f"storage used {total}, quota 0 (unlimited)")
        r = self.wdctl("quota", "recalc", "recalc")
        self.assertEqual((r.returncode, r.stdout), (0, line + "\n"), r.stderr)
        # too low (a lost increment), then too high: both put right
        for wrong in (7, total * 1000):
            self.assertEqual(self.storage(wrong), wrong)
            r = self.wdctl("quota", "recalc", "recalc")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, f"{line}\nquota recalc: storage used corrected from "
                             f"{wrong} to {total} ({total - wrong:+d} bytes)\n")
            self.assertEqual(self.storage(), total)
            st, r = self.api.get(f"/users/{uid}")
            self.assertEqual((st, r["quota"]["used"]), (200, total), r)
        r = self.wdctl("quota", "recalc", "nobody-here")
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
