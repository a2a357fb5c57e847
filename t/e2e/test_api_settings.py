"""The API's runtime settings (/settings): validation, roles, and that the
running daemons enforce a changed value within settings_cache (300 ms
here): wd-lmtp's recipients per message and forwards per day, wd-api's
quota of new users."""
import os
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Suite, needs_mongodb, start_mongodb  # noqa: E402
from test_api import Api, simple_message  # noqa: E402

CACHE = 0.3


class Settings(unittest.TestCase):
    store_options = {}

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, lmtp=True, imap_workers=1,
                          auth__bcrypt_cost=4, settings_cache="300ms", **cls.store_options)
        cls.suite.start()
        cls.api = Api(*cls.suite.address("api"), cls.suite.api_token)
        cls.lmtp_addr = cls.suite.address("lmtp")

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def user(self, name, **extra):
        st, r = self.api.post("/users", dict(username=name, password="secret pw",
                                             address=f"{name}@example.test", **extra))
        self.assertEqual(st, 200, r)
        return r["id"]

    def set(self, key, value):
        st, r = self.api.post(f"/settings/{key}", {"value": value})
        self.assertEqual(st, 200, r)
        self.assertEqual(r, {"success": True, "key": key, "value": value})

    def lmtp(self):
        return smtplib.LMTP(*self.lmtp_addr, timeout=10)

    def test_list_get_and_validation(self):
        st, r = self.api.get("/settings")
        self.assertEqual(st, 200, r)
        by_key = {s["key"]: s for s in r["settings"]}
        self.assertEqual(set(by_key), {"const:max:storage", "const:max:rcpt_to",
                                       "const:max:forwards", "const:autoreply:interval"})
        rcpt = by_key["const:max:rcpt_to"]
        self.assertEqual((rcpt["value"], rcpt["default"], rcpt["option"], rcpt["type"]),
                         (400, 400, "lmtp.max_recipients", "number"))
        self.assertEqual((rcpt["min"], rcpt["max"]), (1, 100000))
        self.assertEqual(by_key["const:autoreply:interval"]["default"], 4 * 86400 * 1000)
        self.assertEqual(by_key["const:max:storage"]["option"], None)
        st, r = self.api.get("/settings?filter=forward")
        self.assertEqual([s["key"] for s in r["settings"]], ["const:max:forwards"])
        st, r = self.api.get("/settings/const:max:forwards")
        self.assertEqual((st, r), (200, {"success": True, "key": "const:max:forwards",
                                         "value": 2000}))
        # a stored value shows as custom, with the default beside it
        self.set("const:autoreply:interval", 3600000)
        st, r = self.api.get("/settings?filter=autoreply")
        s = r["settings"][0]
        self.assertEqual((s["value"], s["default"], s["custom"]), (3600000, 345600000, True))
        st, r = self.api.get("/settings/const:autoreply:interval")
        self.assertEqual(r["value"], 3600000)
        # bad input: 400 JSON
        for method, path, body in [
                ("GET", "/settings/const:max:nothing", None),
                ("POST", "/settings/const:max:nothing", {"value": 1}),
                ("POST", "/settings/const:max:rcpt_to", {"value": 0}),
                ("POST", "/settings/const:max:rcpt_to", {"value": 100001}),
                ("POST", "/settings/const:autoreply:interval", {"value": 1000}),
                ("POST", "/settings/const:max:rcpt_to", {"value": "10"}),
                ("POST", "/settings/const:max:rcpt_to", {"value": -1}),
                ("POST", "/settings/const:max:rcpt_to", {}),
                ("POST", "/settings/const:max:rcpt_to", {"value": 5, "other": 1}),
                ("POST", "/settings/const:max:rcpt_to", b"{not json")]:
            st, r = self.api.request(method, path, body)
            self.assertEqual(st, 400, (method, path, body, r))
            self.assertEqual(r["code"], "InputValidationError", r)
            self.assertIn("error", r)
        st, r = self.api.get("/settings/const:max:rcpt_to")
        self.assertEqual(r["value"], 400)
        # roles: a user token is refused, no token too
        self.user("settingsuser")
        st, r = self.api.post("/authenticate", {"username": "settingsuser",
                                                "password": "secret pw"}, token=None)
        tok = r["token"]
        for method, path, body in [("GET", "/settings", None),
                                   ("GET", "/settings/const:max:forwards", None),
                                   ("POST", "/settings/const:max:forwards", {"value": 1})]:
            st, r = self.api.request(method, path, body, token=tok)
            self.assertEqual((st, r["code"]), (403, "MissingPrivileges"), path)
            st, r = self.api.request(method, path, body, token=None)
            self.assertEqual(st, 401, path)
        st, r = self.api.get("/settings/const:max:forwards")
        self.assertEqual(r["value"], 2000)

    def rcpt_codes(self, addresses):
        with self.lmtp() as l:
            l.ehlo_or_helo_if_needed()
            l.mail("sender@remote.test")
            codes = [l.rcpt(a)[0] for a in addresses]
            l.rset()
        return codes

    def test_lmtp_recipients_per_message(self):
        for n in ("rc1", "rc2", "rc3"):
            self.user(n)
        rcpts = [f"rc{i}@example.test" for i in (1, 2, 3)]
        self.assertEqual(self.rcpt_codes(rcpts), [250, 250, 250])
        t0 = time.monotonic()
        self.set("const:max:rcpt_to", 2)
        self.suite.wait_until(lambda: self.rcpt_codes(rcpts) == [250, 250, 452], timeout=5,
                              what="the third recipient refused")
        took = time.monotonic() - t0
        self.assertLess(took, CACHE + 2.0)
        print(f"\nconst:max:rcpt_to enforced by wd-lmtp after {took * 1000:.0f} ms",
              file=sys.stderr)
        self.set("const:max:rcpt_to", 400)
        self.suite.wait_until(lambda: self.rcpt_codes(rcpts) == [250, 250, 250], timeout=5,
                              what="three recipients again")

    def test_lmtp_forwards_per_day(self):
        uid = self.user("fwd")
        st, r = self.api.post(f"/users/{uid}/filters", {
            "query": {"subject": "pass on"}, "action": {"targets": ["boss@elsewhere.test"]}})
        self.assertEqual(st, 200, r)
        new = os.path.join(self.suite.spool, "new")

        def spooled():
            return len(os.listdir(new)) if os.path.isdir(new) else 0
        before = spooled()
        self.set("const:max:forwards", 1)
        time.sleep(CACHE + 0.3)
        with self.lmtp() as l:
            for i in range(3):
                l.sendmail("a@remote.test", ["fwd@example.test"],
                           simple_message(subject=f"pass on {i}", to="fwd@example.test"))
        self.assertEqual(spooled() - before, 1, "forwards beyond the daily limit of 1")
        # raised at run time: the next one goes out
        self.set("const:max:forwards", 10)
        time.sleep(CACHE + 0.3)
        with self.lmtp() as l:
            l.sendmail("a@remote.test", ["fwd@example.test"],
                       simple_message(subject="pass on 4", to="fwd@example.test"))
        self.assertEqual(spooled() - before, 2)
        # every message was still stored for the user
        st, r = self.api.get(f"/users/{uid}/mailboxes")
        inbox = next(m for m in r["results"] if m["path"] == "INBOX")
        st, r = self.api.get(f"/users/{uid}/mailboxes/{inbox['id']}/messages")
        self.assertEqual(r["total"], 4, r)
        self.set("const:max:forwards", 2000)

    def test_api_default_quota(self):
        def quota(uid):
            st, r = self.api.get(f"/users/{uid}")
            self.assertEqual(st, 200, r)
            return r["quota"]["allowed"]
        self.assertEqual(quota(self.user("q0")), 0)
        self.set("const:max:storage", 1048576)
        # wd-api forgets its cached values when it changes one
        self.assertEqual(quota(self.user("q1")), 1048576)
        self.assertEqual(quota(self.user("q2", quota=5000)), 5000)
        self.set("const:max:storage", 0)
        self.assertEqual(quota(self.user("q3")), 0)


@needs_mongodb
class SettingsMongo(Settings):
    """The same on the MongoDB driver (FerretDB test server)."""

    @classmethod
    def setUpClass(cls):
        cls.store_options = start_mongodb(cls, "settings")
        super().setUpClass()


if __name__ == "__main__":
    unittest.main()
