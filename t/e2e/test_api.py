"""wd-api over real HTTP: every resource with its error cases, the root and
user token roles, a message uploaded through the API and FETCHed
byte-identical over IMAP, and the event stream receiving an event within
100 ms of an IMAP STORE and of an LMTP delivery."""
import base64
import hashlib
import http.client
import imaplib
import json
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, Suite, make_cert  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Api:
    """A keep-alive HTTP client speaking JSON with an access token."""

    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token
        self.conn = http.client.HTTPConnection(host, port, timeout=10)

    def request(self, method, path, body=None, token="default", headers=None, raw=False):
        h = dict(headers or {})
        tok = self.token if token == "default" else token
        if tok is not None:
            h["X-Access-Token"] = tok
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                if attempt:
                    raise
        if raw:
            return r.status, data, r
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def simple_message(subject="Hello", body="Hello there.\r\n", to="alice@example.test",
                   sender="sender@remote.test"):
    return (f"From: Sender <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}@remote.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain\r\n\r\n{body}").encode()


class ApiBase(unittest.TestCase):
    # options of the suite beyond API, auth and LMTP with one IMAP worker
    suite_options = dict(api__heartbeat="500ms", api__max_body_size="1M",
                         api__cors_origins="https://webmail.test")

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, lmtp=True, imap_workers=1,
                          auth__bcrypt_cost=4, **cls.suite_options)
        try:
            cls.suite.start()
        except Exception:
            cls.tearDownClass()
            raise
        cls.host, cls.port = cls.suite.address("api")
        cls.api = Api(cls.host, cls.port, cls.suite.api_token)
        cls.users = {}

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    @classmethod
    def user(cls, name, password="secret pw", **extra):
        if name not in cls.users:
            st, r = cls.api.post("/users", dict(username=name, password=password,
                                                address=f"{name}@example.test", **extra))
            assert st == 200, r
            cls.users[name] = r["id"]
        return cls.users[name]

    def mailboxes(self, uid, api=None):
        st, r = (api or self.api).get(f"/users/{uid}/mailboxes")
        self.assertEqual(st, 200, r)
        return {m["path"]: m for m in r["results"]}

    def inbox(self, uid):
        return self.mailboxes(uid)["INBOX"]["id"]

    def token_for(self, name, password="secret pw"):
        st, r = self.api.post("/authenticate", {"username": name, "password": password},
                              token=None)
        self.assertEqual(st, 200, r)
        return r["token"]

    def upload(self, uid, mb, raw):
        st, r = self.api.request("POST", f"/users/{uid}/mailboxes/{mb}/messages", raw,
                                 headers={"Content-Type": "message/rfc822"})
        self.assertEqual(st, 200, r)
        return r["message"]["id"]


class Basics(ApiBase):
    def test_health_and_unknown(self):
        self.assertEqual(self.api.get("/health", token=None), (200, {"success": True}))
        st, r = self.api.get("/nothing/here")
        self.assertEqual((st, r["code"]), (404, "NotFound"))
        st, r = self.api.request("PATCH", "/users")
        self.assertIn(st, (405, 501))
        st, r = self.api.delete("/health")
        self.assertEqual(st, 405)

    def test_tokens_and_roles(self):
        alice, bob = self.user("alice"), self.user("bob")
        st, r = self.api.get("/users", token=None)
        self.assertEqual((st, r["code"]), (401, "AuthFailed"))
        st, r = self.api.get(f"/users/{alice}", token="wrong")
        self.assertEqual((st, r["code"]), (401, "InvalidToken"))
        st, r = self.api.get("/users", token="wrong")
        self.assertEqual((st, r["code"]), (403, "MissingPrivileges"))
        tok = self.token_for("alice")
        self.assertEqual(len(tok), 40)
        st, r = self.api.get(f"/users/{alice}", token=tok)
        self.assertEqual((st, r["username"]), (200, "alice"))
        # the token also works as a query parameter
        st, r = self.api.get(f"/users/{alice}?accessToken={tok}", token=None)
        self.assertEqual(st, 200)
        # another user's data: 403, and nothing changed
        for method, path in (("GET", f"/users/{bob}"), ("GET", f"/users/{bob}/mailboxes"),
                             ("DELETE", f"/users/{bob}"), ("GET", "/users"),
                             ("POST", "/users")):
            st, r = self.api.request(method, path, {} if method == "POST" else None,
                                     token=tok)
            self.assertEqual(st, 403, (method, path, r))
        st, r = self.api.put(f"/users/{bob}", {"quota": 1}, token=tok)
        self.assertEqual(st, 403)
        # a user may not raise its own quota
        st, r = self.api.put(f"/users/{alice}", {"quota": 1 << 40}, token=tok)
        self.assertEqual((st, r["code"]), (403, "MissingPrivileges"))
        # bad password: 403, nothing issued
        st, r = self.api.post("/authenticate", {"username": "alice", "password": "nope"},
                              token=None)
        self.assertEqual((st, r["code"]), (403, "AuthFailed"))

    def test_cors(self):
        st, data, resp = self.api.request("OPTIONS", "/users", raw=True,
                                          headers={"Origin": "https://webmail.test",
                                                   "Access-Control-Request-Method": "POST"})
        self.assertEqual(st, 204)
        self.assertEqual(resp.getheader("Access-Control-Allow-Origin"), "https://webmail.test")
        self.assertIn("X-Access-Token", resp.getheader("Access-Control-Allow-Headers"))
        st, data, resp = self.api.request("GET", "/health", raw=True,
                                          headers={"Origin": "https://evil.test"})
        self.assertIsNone(resp.getheader("Access-Control-Allow-Origin"))

    def test_bad_input(self):
        before = self.api.get("/users")[1]["total"]
        cases = [
            (b"{not json", "invalid JSON"),
            (b"[1,2]", "object"),
            (json.dumps({"username": 5}), "string"),
            (json.dumps({"username": "x", "unknown": 1}), "unknown field"),
            (b'{"username": "a", "username": "b"}', "invalid JSON"),
            (json.dumps({"username": "x", "quota": -1}), "range"),
            (json.dumps({"username": "x", "quota": "1"}), "integer"),
            (json.dumps({"username": "x", "tags": [1]}), "string"),
            (json.dumps({"username": "bad\nname"}), "not allowed"),
            (json.dumps({"username": "a" * 200}), "length"),
            (json.dumps({"username": "x", "disabled": "yes"}), "true or false"),
            (b'{"username": "x\\u0000y"}', "invalid JSON"),
            (b"\xff\xfe", "invalid JSON"),
        ]
        for body, why in cases:
            st, r = self.api.request("POST", "/users", body,
                                     headers={"Content-Type": "application/json"})
            self.assertEqual(st, 400, (body, r))
            self.assertEqual(r["code"], "InputValidationError")
            self.assertIn(why, r["error"], body)
        self.assertEqual(self.api.get("/users")[1]["total"], before)
        # a body over api.max_body_size (1M here) gets a JSON 413
        for path in ("/users", f"/users/{'0' * 24}/mailboxes/{'0' * 24}/messages"):
            st, r = self.api.request("POST", path, b"{" + b" " * (1536 * 1024) + b"}",
                                     headers={"Content-Type": "application/json"})
            self.assertEqual((st, r["code"]), (413, "PayloadTooLarge"), path)
        self.assertEqual(self.api.get("/users")[1]["total"], before)
        # far beyond it, refused by the Content-Length before the body is read
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.sendall(b"POST /users HTTP/1.1\r\nHost: x\r\nX-Access-Token: " +
                     self.suite.api_token.encode() + b"\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 10485760\r\n\r\n{")
        data = sock.recv(4096)
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data)
        self.assertIn(b'"code":"PayloadTooLarge"', data)
        sock.close()
        # malformed ids and paths
        alice = self.user("alice")
        for path in ("/users/xyz", "/users/ZZZZZZZZZZZZZZZZZZZZZZZZ/mailboxes",
                     f"/users/{alice}/mailboxes/123", f"/users/{alice}/mailboxes/..%2F..",
                     "/users/%00", f"/users/{alice}/mailboxes/{'0' * 24}/messages/abc"):
            st, r = self.api.get(path)
            self.assertIn(st, (400, 404), (path, r))
            self.assertIn("code", r)
        for bad in ("a/../b", "../x", "a//b", "/a", "x\x01", "INBOX", "", "a/./b"):
            st, r = self.api.post(f"/users/{alice}/mailboxes", {"path": bad})
            self.assertEqual(st, 400, (bad, r))
        st, r = self.api.get(f"/users/{alice}/mailboxes?limit=0")
        self.assertEqual(st, 200)
        st, r = self.api.get(f"/users/{alice}/mailboxes/{self.inbox(alice)}/messages?limit=0")
        self.assertEqual(st, 400)
        st, r = self.api.get(f"/users/{'0' * 24}")
        self.assertEqual((st, r["code"]), (404, "UserNotFound"))


class Users(ApiBase):
    def test_user_lifecycle_and_paging(self):
        ids = [self.user(f"pager{i}") for i in range(7)]
        st, r = self.api.post("/users", {"username": "pager0", "password": "x"})
        self.assertEqual(st, 409)
        seen, cursor, pages = [], None, 0
        while True:
            st, r = self.api.get("/users?limit=3" + (f"&next={cursor}" if cursor else ""))
            self.assertEqual(st, 200)
            seen += [u["id"] for u in r["results"]]
            pages += 1
            if not r["nextCursor"]:
                break
            cursor = r["nextCursor"]
        self.assertTrue(set(ids) <= set(seen))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), r["total"])
        # and back again
        st, back = self.api.get(f"/users?limit=3&previous={seen[-1]}")
        self.assertEqual([u["id"] for u in back["results"]], seen[-4:-1])
        uid = ids[0]
        st, r = self.api.put(f"/users/{uid}", {"quota": 1000, "disabled": True,
                                               "name": "Pager Zero", "tags": ["a", "b"]})
        self.assertEqual(st, 200, r)
        st, r = self.api.get(f"/users/{uid}")
        self.assertEqual((r["quota"]["allowed"], r["disabled"], r["name"], r["tags"]),
                         (1000, True, "Pager Zero", ["a", "b"]))
        st, r = self.api.delete(f"/users/{uid}")
        self.assertEqual(st, 200)
        self.assertEqual(self.api.get(f"/users/{uid}")[0], 404)
        self.assertEqual(self.api.delete(f"/users/{uid}")[0], 404)

    def test_password_change_by_user(self):
        uid = self.user("carol", password="old pw")
        tok = self.token_for("carol", "old pw")
        st, r = self.api.put(f"/users/{uid}", {"password": "new pw"}, token=tok)
        self.assertEqual(st, 200, r)
        self.token_for("carol", "new pw")

    def test_addresses(self):
        uid = self.user("dave")
        st, r = self.api.post(f"/users/{uid}/addresses", {"address": "Dave.Alias@Example.test"})
        self.assertEqual(st, 200, r)
        aid = r["id"]
        st, r = self.api.get(f"/users/{uid}/addresses")
        addrs = {a["address"]: a for a in r["results"]}
        self.assertIn("dave.alias@example.test", addrs)
        self.assertTrue(addrs["dave@example.test"]["main"])
        self.assertEqual(self.api.post(f"/users/{uid}/addresses",
                                       {"address": "dave.alias@example.test"})[0], 409)
        self.assertEqual(self.api.post(f"/users/{uid}/addresses",
                                       {"address": "not an address"})[0], 400)
        main = addrs["dave@example.test"]["id"]
        self.assertEqual(self.api.delete(f"/users/{uid}/addresses/{main}")[0], 400)
        self.assertEqual(self.api.delete(f"/users/{uid}/addresses/{aid}")[0], 200)
        self.assertEqual(self.api.delete(f"/users/{uid}/addresses/{aid}")[0], 404)
        # another user's address id is not found through this user
        other = self.user("erin")
        oid = self.api.get(f"/users/{other}/addresses")[1]["results"][0]["id"]
        self.assertEqual(self.api.delete(f"/users/{uid}/addresses/{oid}")[0], 404)


class Mailboxes(ApiBase):
    def test_mailbox_crud(self):
        uid = self.user("frank")
        mbs = self.mailboxes(uid)
        self.assertEqual(list(mbs)[0], "INBOX")
        self.assertEqual(mbs["Sent Mail"]["specialUse"], "\\Sent")
        st, r = self.api.post(f"/users/{uid}/mailboxes", {"path": "Projects/Ünïcode"})
        self.assertEqual(st, 200, r)
        mid = r["id"]
        self.assertEqual(self.api.post(f"/users/{uid}/mailboxes",
                                       {"path": "Projects/Ünïcode"})[0], 409)
        st, r = self.api.put(f"/users/{uid}/mailboxes/{mid}", {"path": "Renamed",
                                                              "subscribed": False})
        self.assertEqual(st, 200, r)
        st, r = self.api.get(f"/users/{uid}/mailboxes/{mid}")
        self.assertEqual((r["path"], r["subscribed"], r["total"]), ("Renamed", False, 0))
        inbox = mbs["INBOX"]["id"]
        self.assertEqual(self.api.put(f"/users/{uid}/mailboxes/{inbox}",
                                      {"path": "Other"})[0], 400)
        self.assertEqual(self.api.delete(f"/users/{uid}/mailboxes/{inbox}")[0], 400)
        self.assertEqual(self.api.delete(f"/users/{uid}/mailboxes/{mid}")[0], 200)
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{mid}")[0], 404)
        # another user's mailbox through this user: 404 (root) / 403 (token)
        other = self.user("gina")
        omb = self.inbox(other)
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{omb}")[0], 404)
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{omb}/messages")[0], 404)
        tok = self.token_for("frank")
        self.assertEqual(self.api.get(f"/users/{other}/mailboxes/{omb}/messages",
                                      token=tok)[0], 403)


class Messages(ApiBase):
    def test_upload_list_get_raw(self):
        uid = self.user("henry")
        inbox = self.inbox(uid)
        uids = [self.upload(uid, inbox, simple_message(f"Message {i}")) for i in range(5)]
        st, r = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages?limit=2")
        self.assertEqual(st, 200)
        self.assertEqual(r["total"], 5)
        self.assertEqual([m["id"] for m in r["results"]], uids[::-1][:2])
        self.assertEqual(r["results"][0]["subject"], "Message 4")
        self.assertEqual(r["results"][0]["from"], {"name": "Sender",
                                                   "address": "sender@remote.test"})
        self.assertEqual(r["results"][0]["intro"], "Hello there.")
        got = [m["id"] for m in r["results"]]
        while r["nextCursor"]:
            r = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages?limit=2"
                             f"&next={r['nextCursor']}")[1]
            got += [m["id"] for m in r["results"]]
        self.assertEqual(got, uids[::-1])
        r = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages?limit=2"
                         f"&previous={uids[0]}")[1]
        self.assertEqual([m["id"] for m in r["results"]], [uids[2], uids[1]])
        st, data, resp = self.api.request(
            "GET", f"/users/{uid}/mailboxes/{inbox}/messages/{uids[0]}/message.eml", raw=True)
        self.assertEqual((st, data), (200, simple_message("Message 0")[:0] + data))
        self.assertTrue(data.startswith(b"From: Sender"))
        self.assertEqual(resp.getheader("Content-Type"), "message/rfc822")
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages/999")[0], 404)

    def test_parsed_message_and_attachment(self):
        uid = self.user("iris")
        inbox = self.inbox(uid)
        att = bytes(range(256)) * 400
        b64 = base64.encodebytes(att).replace(b"\n", b"\r\n")
        raw = (b"From: =?UTF-8?Q?J=C3=BCrgen?= <j@remote.test>\r\nTo: a@x.test, \"B\" <b@x.test>\r\n"
               b"Cc: c@x.test\r\nSubject: =?UTF-8?B?w5xiZXI=?=\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
               b"Content-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n\r\nPlain text\r\n--YY\r\n"
               b"Content-Type: text/html\r\n\r\n<p onclick=\"steal()\">Hi<script>alert(1)"
               b"</script><a href=\"javascript:x()\">l</a><img src=x onerror=y>"
               b"<style>body{}</style></p>\r\n--YY--\r\n--XX\r\n"
               b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
               b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--XX--\r\n")
        mid = self.upload(uid, inbox, raw)
        st, m = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}")
        self.assertEqual(st, 200, m)
        self.assertEqual(m["subject"], "Über")
        self.assertEqual(m["from"], {"name": "Jürgen", "address": "j@remote.test"})
        self.assertEqual([a["address"] for a in m["to"]], ["a@x.test", "b@x.test"])
        self.assertEqual(m["cc"][0]["address"], "c@x.test")
        self.assertEqual(m["text"].strip(), "Plain text")
        html = m["html"][0]
        for bad in ("script", "onclick", "javascript:", "onerror", "style", "alert"):
            self.assertNotIn(bad, html.lower())
        self.assertIn("Hi", html)
        self.assertEqual(len(m["attachments"]), 1)
        a = m["attachments"][0]
        self.assertEqual((a["filename"], a["contentType"], a["size"]),
                         ("data.bin", "application/octet-stream", len(att)))
        self.assertTrue(any(h["key"] == "subject" for h in m["headers"]))
        st, data, resp = self.api.request(
            "GET", f"/users/{uid}/mailboxes/{inbox}/messages/{mid}/attachments/{a['id']}",
            raw=True)
        self.assertEqual((st, data), (200, att))
        self.assertIn("data.bin", resp.getheader("Content-Disposition"))
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}"
                                      f"/attachments/ATT00009")[0], 404)
        st, data, _ = self.api.request(
            "GET", f"/users/{uid}/mailboxes/{inbox}/messages/{mid}/message.eml", raw=True)
        self.assertEqual(data, raw)

    def test_compose_flags_move_delete_search(self):
        uid = self.user("jack")
        mbs = self.mailboxes(uid)
        inbox, archive = mbs["INBOX"]["id"], mbs["Archive"]["id"]
        st, r = self.api.post(f"/users/{uid}/mailboxes/{inbox}/messages", {
            "from": {"name": "Jack", "address": "jack@example.test"},
            "to": [{"name": "Zoë", "address": "zoe@remote.test"}],
            "subject": "Quarterly ünicode report", "text": "Numbers\nare up.", "unseen": True})
        self.assertEqual(st, 200, r)
        mid = r["message"]["id"]
        m = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}")[1]
        self.assertEqual((m["subject"], m["seen"], m["text"]),
                         ("Quarterly ünicode report", False, "Numbers\nare up."))
        self.assertEqual(m["to"][0]["name"], "Zoë")
        st, r = self.api.put(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}",
                             {"seen": True, "flagged": True})
        self.assertEqual(st, 200, r)
        m = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}")[1]
        self.assertEqual((m["seen"], m["flagged"]), (True, True))
        self.assertEqual(self.api.put(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}",
                                      {"seen": "yes"})[0], 400)
        st, r = self.api.get(f"/users/{uid}/search?q=quarterly")
        self.assertEqual([x["id"] for x in r["results"]], [mid])
        self.assertEqual(self.api.get(f"/users/{uid}/search?q=nothing-like-it")[1]["total"], 0)
        self.assertEqual(self.api.get(f"/users/{uid}/search")[0], 400)
        # move to Archive; another user's mailbox as target is refused
        other = self.inbox(self.user("kate"))
        self.assertEqual(self.api.put(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}",
                                      {"moveTo": other})[0], 404)
        st, r = self.api.put(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}",
                             {"moveTo": archive})
        self.assertEqual((st, r["mailbox"]), (200, archive), r)
        new = r["id"][0][1]
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages/{mid}")[0], 404)
        self.assertEqual(self.api.delete(f"/users/{uid}/mailboxes/{archive}/messages/{new}")[0],
                         200)
        self.assertEqual(self.api.get(f"/users/{uid}/mailboxes/{archive}/messages/{new}")[0],
                         404)
        self.assertEqual(self.api.post(f"/users/{uid}/mailboxes/{inbox}/messages",
                                       {"to": [{"address": "x"}], "text": "x"})[0], 400)

    def test_quota(self):
        uid = self.user("leo", quota=2000)
        inbox = self.inbox(uid)
        self.upload(uid, inbox, simple_message(body="x" * 1000 + "\r\n"))
        st, r = self.api.request("POST", f"/users/{uid}/mailboxes/{inbox}/messages",
                                 simple_message(body="y" * 1500 + "\r\n"),
                                 headers={"Content-Type": "message/rfc822"})
        self.assertEqual((st, r["code"]), (413, "OverQuota"))


class Account(ApiBase):
    def test_asps_2fa_authlog(self):
        uid = self.user("mia")
        st, r = self.api.post(f"/users/{uid}/asps", {"description": "phone",
                                                     "scopes": ["imap"]})
        self.assertEqual(st, 200, r)
        self.assertEqual(len(r["password"]), 16)
        aid, pw = r["id"], r["password"]
        imap = imaplib.IMAP4(*self.suite.address("imap"))
        imap.login("mia", pw)
        imap.logout()
        lst = self.api.get(f"/users/{uid}/asps")[1]["results"]
        self.assertEqual([(a["id"], a["scopes"]) for a in lst], [(aid, ["imap"])])
        self.assertEqual(self.api.post(f"/users/{uid}/asps", {"description": "x",
                                                              "scopes": "imap"})[0], 400)
        self.assertEqual(self.api.delete(f"/users/{uid}/asps/{aid}")[0], 200)
        self.assertEqual(self.api.delete(f"/users/{uid}/asps/{aid}")[0], 404)
        # TOTP: setup, enable with a code, check
        st, r = self.api.post(f"/users/{uid}/2fa/totp/setup", {"issuer": "Test"})
        self.assertEqual(st, 200, r)
        seed = r["seed"]
        self.assertTrue(r["otpauth"].startswith("otpauth://totp/mia?secret="))
        self.assertEqual(self.api.post(f"/users/{uid}/2fa/totp/enable",
                                       {"token": "000000"})[1]["code"], "InvalidToken")
        code = totp(seed, time.time())
        self.assertEqual(self.api.post(f"/users/{uid}/2fa/totp/enable", {"token": code})[0],
                         200)
        self.assertEqual(self.api.get(f"/users/{uid}")[1]["enabled2fa"], ["totp"])
        # the same code twice is refused
        self.assertEqual(self.api.post(f"/users/{uid}/2fa/totp/check", {"token": code})[0],
                         403)
        st, r = self.api.post("/authenticate", {"username": "mia", "password": "secret pw"},
                              token=None)
        self.assertEqual((st, r["require2fa"]), (200, True))
        # a token waiting for its second factor opens nothing but the check
        pending = r["token"]
        for method, path in (("GET", f"/users/{uid}"), ("GET", f"/users/{uid}/mailboxes"),
                             ("DELETE", f"/users/{uid}/2fa"),
                             ("POST", f"/users/{uid}/2fa/totp/setup")):
            st, r = self.api.request(method, path, {} if method == "POST" else None,
                                     token=pending)
            self.assertEqual((st, r["code"]), (403, "2FARequired"), path)
        st, r = self.api.post(f"/users/{uid}/2fa/totp/check", {"token": "000000"},
                              token=pending)
        self.assertEqual((st, r["code"]), (403, "InvalidToken"))
        self.assertEqual(self.api.get(f"/users/{uid}", token=pending)[0], 403)
        other = self.user("mia2")
        st, r = self.api.post(f"/users/{other}/2fa/totp/check",
                              {"token": totp(seed, time.time() + 30)}, token=pending)
        self.assertEqual(st, 403)
        st, r = self.api.post(f"/users/{uid}/2fa/totp/check",
                              {"token": totp(seed, time.time() + 30)}, token=pending)
        self.assertEqual(st, 200, r)
        st, r = self.api.get(f"/users/{uid}", token=pending)
        self.assertEqual((st, r["id"]), (200, uid))
        self.assertEqual(self.api.get(f"/users/{other}", token=pending)[0], 403)
        self.assertEqual(self.api.delete(f"/users/{uid}/2fa")[0], 200)
        self.assertEqual(self.api.get(f"/users/{uid}")[1]["enabled2fa"], [])
        st, r = self.api.get(f"/users/{uid}/authlog")
        self.assertEqual(st, 200)
        self.assertTrue(any(e["success"] for e in r["results"]), r)

    def test_filters_and_autoreply(self):
        uid = self.user("nina")
        archive = self.mailboxes(uid)["Archive"]["id"]
        st, r = self.api.post(f"/users/{uid}/filters", {
            "name": "to archive", "query": {"from": "boss@remote.test"},
            "action": {"seen": True, "mailbox": archive}})
        self.assertEqual(st, 200, r)
        fid = r["id"]
        lst = self.api.get(f"/users/{uid}/filters")[1]["results"]
        self.assertEqual((lst[0]["id"], lst[0]["query"]["from"], lst[0]["action"]["mailbox"]),
                         (fid, "boss@remote.test", archive))
        self.assertEqual(self.api.post(f"/users/{uid}/filters", {
            "query": {"from": "x"}, "action": {"mailbox": "0" * 24}})[0], 404)
        self.assertEqual(self.api.post(f"/users/{uid}/filters", {
            "query": {"bogus": 1}, "action": {}})[0], 400)
        # LMTP honours it
        with smtplib.LMTP(*self.suite.address("lmtp"), timeout=30) as l:
            l.sendmail("boss@remote.test", ["nina@example.test"],
                       simple_message("From the boss", to="nina@example.test",
                                      sender="boss@remote.test"))
        r = self.api.get(f"/users/{uid}/mailboxes/{archive}/messages")[1]
        self.assertEqual([(m["subject"], m["seen"]) for m in r["results"]],
                         [("From the boss", True)])
        self.assertEqual(self.api.delete(f"/users/{uid}/filters/{fid}")[0], 200)
        self.assertEqual(self.api.get(f"/users/{uid}/filters")[1]["results"], [])
        self.assertEqual(self.api.get(f"/users/{uid}/autoreply")[1]["status"], False)
        st, r = self.api.put(f"/users/{uid}/autoreply", {"status": True, "subject": "Away",
                                                        "text": "Back Monday",
                                                        "start": "2020-01-01T00:00:00Z"})
        self.assertEqual(st, 200, r)
        r = self.api.get(f"/users/{uid}/autoreply")[1]
        self.assertEqual((r["status"], r["subject"], r["start"]),
                         (True, "Away", "2020-01-01T00:00:00.000Z"))
        self.assertEqual(self.api.put(f"/users/{uid}/autoreply", {"start": "soon"})[0], 400)
        self.assertEqual(self.api.delete(f"/users/{uid}/autoreply")[0], 200)


class DomainAliases(ApiBase):
    def test_domain_aliases(self):
        uid = self.user("olga")
        tok = self.token_for("olga")
        body = {"alias": "Alias.Example.test", "domain": "example.test"}
        st, r = self.api.post("/domainaliases", body, token=tok)
        self.assertEqual((st, r["code"]), (403, "MissingPrivileges"))
        self.assertEqual(self.api.get("/domainaliases/alias.example.test", token=None)[0], 401)
        for bad in ({"alias": "../x", "domain": "example.test"},
                    {"alias": "a..b", "domain": "example.test"},
                    {"alias": "-a.test", "domain": "example.test"},
                    {"alias": "a b.test", "domain": "example.test"},
                    {"alias": "example.test", "domain": "EXAMPLE.test"},
                    {"alias": "x.test"}, {"alias": "x.test", "domain": 5},
                    {"alias": "x.test", "domain": "example.test", "extra": 1}):
            st, r = self.api.post("/domainaliases", bad)
            self.assertEqual((st, r["code"]), (400, "InputValidationError"), bad)
        st, r = self.api.post("/domainaliases", body)
        self.assertEqual((st, r["id"]), (200, "alias.example.test"), r)
        self.assertEqual(self.api.post("/domainaliases", body)[0], 409)
        st, r = self.api.get("/domainaliases/alias.example.test")
        self.assertEqual((st, r["alias"], r["domain"]),
                         (200, "alias.example.test", "example.test"))
        st, r = self.api.get("/domainaliases/resolve/ALIAS.example.test")
        self.assertEqual((st, r["id"], r["domain"]), (200, "alias.example.test", "example.test"))
        self.assertEqual(self.api.get("/domainaliases/nothing.test")[1]["code"], "AliasNotFound")
        self.assertEqual(self.api.get("/domainaliases/..%2Fx")[0], 400)
        # mail to the alias domain reaches the user
        with smtplib.LMTP(*self.suite.address("lmtp"), timeout=30) as l:
            l.sendmail("x@remote.test", ["olga@alias.example.test"],
                       simple_message("Via alias", to="olga@alias.example.test"))
        r = self.api.get(f"/users/{uid}/mailboxes/{self.inbox(uid)}/messages")[1]
        self.assertEqual([m["subject"] for m in r["results"]], ["Via alias"])
        self.assertEqual(self.api.delete("/domainaliases/alias.example.test", token=tok)[0], 403)
        self.assertEqual(self.api.delete("/domainaliases/alias.example.test")[0], 200)
        self.assertEqual(self.api.delete("/domainaliases/alias.example.test")[0], 404)
        self.assertEqual(self.api.get("/domainaliases/alias.example.test")[0], 404)


class Submit(ApiBase):
    def spooled(self):
        d, out = os.path.join(self.suite.spool, "new"), {}
        for f in (os.listdir(d) if os.path.isdir(d) else []):
            with open(os.path.join(d, f), "rb") as fh:
                out[f] = fh.read()
        return out

    def test_submit(self):
        uid = self.user("paul")
        self.user("quinn")
        tok = self.token_for("paul")
        before = self.spooled()
        st, r = self.api.post(f"/users/{uid}/submit", {
            "from": {"name": "Paul P", "address": "someone.else@other.test"},
            "to": [{"name": "Quinn", "address": "quinn@example.test"}],
            "bcc": [{"address": "hidden@remote.test"}],
            "subject": "Submitted", "text": "Hello Quinn"}, token=tok)
        self.assertEqual(st, 200, r)
        qid = r["message"]["queueId"]
        sent = self.mailboxes(uid)["Sent Mail"]["id"]
        self.assertEqual(r["message"]["mailbox"], sent)
        new = {f: b for f, b in self.spooled().items() if f not in before}
        self.assertEqual(len(new), 1, new.keys())
        name, data = next(iter(new.items()))
        self.assertIn(qid, name)
        head = data.split(b"\r\n\r\n", 1)[0]
        self.assertTrue(data.startswith(b"Return-Path: <paul@example.test>\r\n"), data[:200])
        self.assertIn(b"X-Envelope-To: <quinn@example.test>", head)
        self.assertIn(b"X-Envelope-To: <hidden@remote.test>", head)
        self.assertNotIn(b"\r\nBcc:", head)
        self.assertIn(b"paul@example.test", head.split(b"\r\nFrom:", 1)[1].split(b"\r\n")[0])
        # the Sent copy keeps Bcc and is seen
        lst = self.api.get(f"/users/{uid}/mailboxes/{sent}/messages")[1]["results"]
        self.assertEqual([(m["subject"], m["seen"]) for m in lst], [("Submitted", True)])
        st, raw, _ = self.api.request(
            "GET", f"/users/{uid}/mailboxes/{sent}/messages/{lst[0]['id']}/message.eml",
            raw=True)
        self.assertIn(b"Bcc: hidden@remote.test", raw)
        # uploadOnly stores without queueing
        n = len(self.spooled())
        st, r = self.api.post(f"/users/{uid}/submit", {"to": [{"address": "q@x.test"}],
                                                       "subject": "Draft only",
                                                       "uploadOnly": True})
        self.assertEqual((st, "queueId" in r["message"]), (200, False), r)
        self.assertEqual(len(self.spooled()), n)
        # bad input and roles: nothing stored, nothing queued
        other = self.user("quinn")
        for body, code in (({"subject": "no rcpt"}, 400),
                           ({"to": [{"address": "bad address@x"}]}, 400),
                           ({"to": [{"address": "a@b.test>\r\nX: y"}]}, 400),
                           ({"to": "q@x.test"}, 400),
                           ({"to": [{"address": "q@x.test"}], "bogus": 1}, 400),
                           ({"to": [{"address": "q@x.test"}], "mailbox": "0" * 24}, 404)):
            st, r = self.api.post(f"/users/{uid}/submit", body)
            self.assertEqual(st, code, (body, r))
        self.assertEqual(self.api.post(f"/users/{other}/submit",
                                       {"to": [{"address": "q@x.test"}]}, token=tok)[0], 403)
        self.assertEqual(self.api.post(f"/users/{uid}/submit",
                                       {"to": [{"address": "q@x.test"}]}, token=None)[0], 401)
        self.assertEqual(len(self.spooled()), n)
        self.assertEqual(len(self.api.get(f"/users/{uid}/mailboxes/{sent}/messages")[1]
                             ["results"]), 2)


class HookListener:
    """A local HTTP server recording webhook POSTs; paths under /flaky/
    answer 500 to their first call."""

    def __init__(self):
        import http.server
        self.calls, self.lock, seen = [], threading.Lock(), set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                flaky = self.path.startswith("/flaky/") and self.path not in seen
                seen.add(self.path)
                with outer.lock:
                    outer.calls.append((self.path, self.headers.get("Content-Type"),
                                        json.loads(body), 500 if flaky else 200))
                self.send_response(500 if flaky else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                found = [c for c in self.calls if pred(c)]
            if found:
                return found
            time.sleep(0.05)
        return []

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Webhooks(ApiBase):
    def test_webhooks(self):
        hooks = HookListener()
        self.addCleanup(hooks.close)
        tok = self.token_for("alice") if self.user("alice") else None
        body = {"type": ["user.*"], "url": hooks.url + "/users"}
        self.assertEqual(self.api.post("/webhooks", body, token=tok)[1]["code"],
                         "MissingPrivileges")
        self.assertEqual(self.api.get("/webhooks", token=tok)[0], 403)
        for bad in ({"type": ["user.*"], "url": "ftp://x.test/"},
                    {"type": ["user.*"], "url": "http://"},
                    {"type": ["user.*"], "url": "http://x.test/a b"},
                    {"type": ["bad type"], "url": "http://x.test/"},
                    {"type": [], "url": "http://x.test/"},
                    {"type": "user.*", "url": "http://x.test/"},
                    {"type": ["x"], "url": "http://x.test/", "user": "nope"},
                    {"type": ["x"], "url": "http://x.test/", "other": 1}):
            st, r = self.api.post("/webhooks", bad)
            self.assertEqual((st, r["code"]), (400, "InputValidationError"), bad)
        self.assertEqual(self.api.post("/webhooks", {"type": ["x"], "url": "http://x.test/",
                                                     "user": "0" * 24})[0], 404)
        st, r = self.api.post("/webhooks", body)
        self.assertEqual(st, 200, r)
        wid = r["id"]
        # a user is created: the hook gets user.created as JSON
        uid = self.user("rita")
        got = hooks.wait(lambda c: c[0] == "/users" and c[2]["ev"] == "user.created" and
                         c[2]["user"] == uid)
        self.assertTrue(got, hooks.calls)
        self.assertEqual(got[0][1], "application/json")
        self.assertEqual(got[0][2]["username"], "rita")
        # a failing endpoint is called again after the backoff
        st, r = self.api.post("/webhooks", {"type": ["address.user.created"], "user": uid,
                                            "url": hooks.url + "/flaky/addr"})
        self.assertEqual(st, 200, r)
        flaky = r["id"]
        self.assertEqual(self.api.post(f"/users/{uid}/addresses",
                                       {"address": "rita2@example.test"})[0], 200)
        got = hooks.wait(lambda c: c[0] == "/flaky/addr" and c[3] == 200, timeout=15)
        self.assertTrue(got, hooks.calls)
        self.assertEqual(got[0][2]["address"], "rita2@example.test")
        self.assertEqual([c[3] for c in hooks.calls if c[0] == "/flaky/addr"], [500, 200])
        # listing, filtered by type and user
        lst = self.api.get("/webhooks")[1]
        self.assertEqual({w["id"] for w in lst["results"]}, {wid, flaky})
        lst = self.api.get("/webhooks?type=user.deleted")[1]["results"]
        self.assertEqual([w["id"] for w in lst], [wid])
        lst = self.api.get(f"/webhooks?user={uid}")[1]["results"]
        self.assertEqual([(w["id"], w["user"]) for w in lst], [(flaky, uid)])
        self.assertEqual(self.api.get("/webhooks?user=bad")[0], 400)
        # an LMTP filter webhook goes out through the same queue
        st, r = self.api.post(f"/users/{uid}/filters", {
            "query": {"from": "hooked@remote.test"},
            "action": {"webhook": hooks.url + "/filter"}})
        self.assertEqual(st, 200, r)
        with smtplib.LMTP(*self.suite.address("lmtp"), timeout=30) as l:
            l.sendmail("hooked@remote.test", ["rita@example.test"],
                       simple_message("Hooked", to="rita@example.test",
                                      sender="hooked@remote.test"))
        got = hooks.wait(lambda c: c[0] == "/filter")
        self.assertTrue(got, hooks.calls)
        self.assertEqual((got[0][2]["ev"], got[0][2]["user"]), ("message.filter", uid))
        # deleted: no more calls
        self.assertEqual(self.api.delete(f"/webhooks/{wid}", token=tok)[0], 403)
        self.assertEqual(self.api.delete(f"/webhooks/{wid}")[0], 200)
        self.assertEqual(self.api.delete(f"/webhooks/{wid}")[1]["code"], "WebhookNotFound")
        self.assertEqual(self.api.delete("/webhooks/xyz")[0], 404)
        self.assertEqual(self.api.delete(f"/users/{uid}")[0], 200)
        time.sleep(1.5)
        self.assertFalse([c for c in hooks.calls if c[2]["ev"] == "user.deleted"])


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True,
                          text=True).stdout


def pem_body(pem):
    return "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))


class Dkim(ApiBase):
    def test_dkim(self):
        self.user("alice")
        tok = self.token_for("alice")
        self.assertEqual(self.api.post("/dkim", {"domain": "example.test", "selector": "s1"},
                                       token=tok)[0], 403)
        self.assertEqual(self.api.get("/dkim", token=tok)[0], 403)
        st, r = self.api.post("/dkim", {"domain": "Example.test", "selector": "s1",
                                        "description": "main"})
        self.assertEqual(st, 200, r)
        kid = r["id"]
        self.assertEqual((r["domain"], r["selector"], r["algorithm"]),
                         ("example.test", "s1", "rsa"))
        self.assertEqual(r["dnsTxt"]["name"], "s1._domainkey.example.test")
        self.assertTrue(r["dnsTxt"]["value"].startswith("v=DKIM1; k=rsa; p="))
        p = r["dnsTxt"]["value"].split("p=", 1)[1]
        self.assertEqual(p, pem_body(r["publicKey"]))
        self.assertIn("2048 bit", openssl("pkey", "-pubin", "-noout", "-text",
                                          stdin=r["publicKey"]))
        self.assertNotIn("privateKey", r)
        self.assertEqual(len(r["fingerprint"].split(":")), 32)
        # Ed25519: p= is the raw 32-byte key (RFC 8463)
        st, r = self.api.post("/dkim", {"domain": "ed.test", "selector": "e",
                                        "algorithm": "ed25519"})
        self.assertEqual(st, 200, r)
        self.assertTrue(r["dnsTxt"]["value"].startswith("v=DKIM1; k=ed25519; p="))
        self.assertEqual(len(base64.b64decode(r["dnsTxt"]["value"].split("p=")[1])), 32)
        # an uploaded key replaces the domain's key
        key = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
        pub = openssl("pkey", "-pubout", stdin=key)
        st, r = self.api.post("/dkim", {"domain": "example.test", "selector": "s2",
                                        "privateKey": key})
        self.assertEqual(st, 200, r)
        self.assertEqual(r["dnsTxt"]["value"], "v=DKIM1; k=rsa; p=" + pem_body(pub))
        self.assertNotEqual(r["id"], kid)
        self.assertEqual(self.api.get(f"/dkim/{kid}")[0], 404)
        kid = r["id"]
        for bad in ({"domain": "example.test", "selector": "s", "privateKey": "junk"},
                    {"domain": "example.test", "selector": "s", "algorithm": "dsa"},
                    {"domain": "example.test", "selector": "s", "algorithm": "rsa",
                     "privateKey": key},
                    {"domain": "example.test", "selector": "bad sel"},
                    {"domain": "../x", "selector": "s"},
                    {"domain": "example.test"},
                    {"domain": "example.test", "selector": "s", "secret": 1}):
            st, r = self.api.post("/dkim", bad)
            self.assertEqual((st, r["code"]), (400, "InputValidationError"), bad)
        enc = openssl("genpkey", "-algorithm", "ED25519", "-aes256", "-pass", "pass:x")
        self.assertEqual(self.api.post("/dkim", {"domain": "x.test", "selector": "s",
                                                 "privateKey": enc})[0], 400)
        lst = self.api.get("/dkim")[1]
        self.assertEqual(sorted(k["domain"] for k in lst["results"]), ["ed.test", "example.test"])
        self.assertFalse(any("privateKey" in k for k in lst["results"]))
        self.assertEqual(len(self.api.get("/dkim?domain=ed.test")[1]["results"]), 1)
        st, r = self.api.get("/dkim/resolve/EXAMPLE.test")
        self.assertEqual((st, r["id"], r["selector"]), (200, kid, "s2"))
        self.assertEqual(self.api.get("/dkim/resolve/none.test")[1]["code"], "DkimNotFound")
        self.assertEqual(self.api.get("/dkim/resolve/..")[0], 400)
        self.assertEqual(self.api.get(f"/dkim/{kid}")[1]["dnsTxt"]["name"],
                         "s2._domainkey.example.test")
        self.assertEqual(self.api.delete(f"/dkim/{kid}", token=tok)[0], 403)
        self.assertEqual(self.api.delete(f"/dkim/{kid}")[0], 200)
        self.assertEqual(self.api.delete(f"/dkim/{kid}")[0], 404)
        self.assertEqual(self.api.get("/dkim/xyz")[0], 404)


class Certs(ApiBase):
    def make_cert(self, name, days=30):
        d = self.suite.dir
        key = os.path.join(d, f"{name}.key")
        crt = os.path.join(d, f"{name}.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", crt, "-days", str(days), "-subj", f"/CN={name}",
                        "-addext", f"subjectAltName=DNS:{name},DNS:www.{name}"],
                       capture_output=True, check=True)
        with open(key) as k, open(crt) as c:
            return c.read(), k.read()

    def test_certs(self):
        self.user("alice")
        tok = self.token_for("alice")
        cert, key = self.make_cert("mail.example.test")
        _, other_key = self.make_cert("other.test")
        body = {"servername": "mail.example.test", "cert": cert, "privateKey": key,
                "description": "mail"}
        self.assertEqual(self.api.post("/certs", body, token=tok)[0], 403)
        st, r = self.api.post("/certs", body)
        self.assertEqual(st, 200, r)
        cid = r["id"]
        self.assertEqual(sorted(r["altNames"]), ["mail.example.test", "www.mail.example.test"])
        self.assertEqual(r["subject"], "/CN=mail.example.test")
        self.assertTrue(r["expires"].endswith("Z"))
        self.assertNotIn("privateKey", r)
        fp = openssl("x509", "-noout", "-fingerprint", "-sha256", stdin=cert)
        self.assertEqual(r["fingerprint"], fp.strip().split("=", 1)[1].lower())
        for bad, why in (({"privateKey": other_key}, "does not belong"),
                         ({"servername": "nope.test"}, "does not cover"),
                         ({"cert": "junk"}, "not a PEM certificate"),
                         ({"privateKey": "junk"}, "not a PEM private key"),
                         ({"servername": "a b"}, "DNS name"),
                         ({"extra": 1}, "unknown field")):
            st, r = self.api.post("/certs", dict(body, **bad))
            self.assertEqual((st, r["code"]), (400, "InputValidationError"), bad)
            self.assertIn(why, r["error"])
        # a chain with the key after it; posting again replaces
        st, r = self.api.post("/certs", dict(body, servername="WWW.mail.example.test",
                                             cert=cert + cert))
        self.assertEqual(st, 200, r)
        lst = self.api.get("/certs")[1]["results"]
        self.assertEqual(sorted(c["servername"] for c in lst),
                         ["mail.example.test", "www.mail.example.test"])
        st, r = self.api.post("/certs", body)
        self.assertEqual(st, 200, r)
        self.assertNotEqual(r["id"], cid)
        self.assertEqual(self.api.get(f"/certs/{cid}")[0], 404)
        cid = r["id"]
        self.assertEqual(len(self.api.get("/certs")[1]["results"]), 2)
        st, r = self.api.get("/certs/resolve/mail.example.test")
        self.assertEqual((st, r["id"]), (200, cid))
        self.assertEqual(self.api.get(f"/certs/{cid}")[1]["servername"], "mail.example.test")
        self.assertEqual(self.api.get("/certs/resolve/none.test")[1]["code"], "CertNotFound")
        self.assertEqual(self.api.delete(f"/certs/{cid}", token=tok)[0], 403)
        self.assertEqual(self.api.delete(f"/certs/{cid}")[0], 200)
        self.assertEqual(self.api.delete(f"/certs/{cid}")[0], 404)


def totp(seed, now):
    import hashlib
    import hmac
    import struct
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(now) // 30), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


class EventStream:
    """Reads a text/event-stream in a thread; events carry their arrival time."""

    def __init__(self, host, port, path, token, last_id=None):
        self.sock = socket.create_connection((host, port), timeout=10)
        extra = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Access-Token: {token}\r\n"
                          f"{extra}\r\n".encode())
        self.events, self.comments, self.head = [], 0, b""
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5), "no stream headers"

    def run(self):
        buf, text = b"", b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                if not self.head:
                    if b"\r\n\r\n" not in buf:
                        continue
                    self.head, buf = buf.split(b"\r\n\r\n", 1)
                    self.ready.set()
                # chunked transfer coding: size line, payload, CRLF
                while b"\r\n" in buf:
                    size_line, rest = buf.split(b"\r\n", 1)
                    size = int(size_line.split(b";")[0], 16)
                    if len(rest) < size + 2:
                        break
                    text += rest[:size]
                    buf = rest[size + 2:]
                    if size == 0:
                        return
                while b"\n\n" in text:
                    block, text = text.split(b"\n\n", 1)
                    self.block(block)
        except (OSError, ValueError):
            return

    def block(self, block):
        fields = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                self.comments += 1
            elif ":" in line:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        if "data" in fields:
            self.events.append((time.monotonic(), fields.get("id"), json.loads(fields["data"])))

    def wait_for(self, pred, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events:
                if pred(ev[2]):
                    return ev
            time.sleep(0.002)
        raise AssertionError(f"no such event in {self.events}")

    def close(self):
        self.sock.close()


def lmtp_publishes_beacons():
    """wd-lmtp wakes IDLE sessions and event streams only once it publishes
    change beacons (lib/notify.h); until then its half of the test skips."""
    folder = os.path.join(ROOT, "lmtp")
    return any("notify_publish" in open(os.path.join(folder, f)).read()
               for f in os.listdir(folder) if f.endswith(".c"))


class Updates(ApiBase):
    @unittest.skipUnless(lmtp_publishes_beacons(), "wd-lmtp publishes no change beacons yet")
    def test_stream_lmtp_delivery(self):
        uid = self.user("rita")
        inbox = self.inbox(uid)
        es = EventStream(self.host, self.port, f"/users/{uid}/updates", self.token_for("rita"))
        try:
            with smtplib.LMTP(*self.suite.address("lmtp"), timeout=30) as l:
                l.sendmail("s@remote.test", ["rita@example.test"],
                           simple_message("Streamed", to="rita@example.test"))
                t_sent = time.monotonic()
            ev = es.wait_for(lambda d: d["command"] == "EXISTS" and d["mailbox"] == inbox)
            self.assertLess(ev[0] - t_sent, 0.1, "EXISTS took too long")
        finally:
            es.close()

    def test_stream_imap_store_and_resume(self):
        uid = self.user("olga")
        inbox = self.inbox(uid)
        tok = self.token_for("olga")
        es = EventStream(self.host, self.port, f"/users/{uid}/updates", tok)
        try:
            self.assertIn(b"text/event-stream", es.head)
            # a message uploaded through the API
            t0 = time.monotonic()
            self.upload(uid, inbox, simple_message("Streamed", to="olga@example.test"))
            t_sent = time.monotonic()
            ev = es.wait_for(lambda d: d["command"] == "EXISTS" and d["mailbox"] == inbox)
            self.assertLess(ev[0] - t_sent, 0.1, "EXISTS took too long")
            self.assertGreater(ev[0], t0)
            # IMAP STORE
            imap = imaplib.IMAP4(*self.suite.address("imap"))
            imap.login("olga", "secret pw")
            imap.select("INBOX")
            t_store = time.monotonic()
            typ, _ = imap.uid("STORE", str(ev[2]["uid"]), "+FLAGS", "(\\Flagged)")
            t_done = time.monotonic()
            self.assertEqual(typ, "OK")
            fl = es.wait_for(lambda d: d["command"] == "FLAGS" and "\\Flagged" in d["flags"])
            self.assertLess(fl[0] - t_done, 0.1, "FLAGS took too long")
            self.assertGreater(fl[0], t_store)
            imap.logout()
            # heartbeats arrive on an idle stream
            time.sleep(1.2)
            self.assertGreater(es.comments, 0)
            last_id = ev[1]
        finally:
            es.close()
        # resume: the FLAGS event after last_id is replayed
        es2 = EventStream(self.host, self.port, f"/users/{uid}/updates", tok, last_id=last_id)
        try:
            es2.wait_for(lambda d: d["command"] == "FLAGS")
        finally:
            es2.close()
        # another user's stream: refused with JSON before it starts
        other = self.user("pete")
        st, r = self.api.get(f"/users/{other}/updates", token=tok)
        self.assertEqual(st, 403)

    def test_api_change_wakes_stream_and_imap_fetch_identical(self):
        uid = self.user("quinn")
        inbox = self.inbox(uid)
        tok = self.token_for("quinn")
        es = EventStream(self.host, self.port, f"/users/{uid}/updates", tok)
        raw = (b"From: a@remote.test\r\nTo: quinn@example.test\r\nSubject: byte exact\r\n"
               b"X-Odd:  spaced\t\r\n\r\nbody with trailing spaces   \r\nno final newline")
        try:
            t0 = time.monotonic()
            mid = self.upload(uid, inbox, raw)
            ev = es.wait_for(lambda d: d["command"] == "EXISTS" and d["uid"] == mid)
            self.assertLess(ev[0] - t0, 0.5)
        finally:
            es.close()
        imap = imaplib.IMAP4(*self.suite.address("imap"))
        imap.login("quinn", "secret pw")
        imap.select("INBOX")
        typ, data = imap.uid("FETCH", str(mid), "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], raw)
        imap.logout()


class IndexedSearch(ApiBase):
    """Search and threads through the full-text index wd-indexer keeps."""

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, indexer=True, imap_workers=1,
                          auth__bcrypt_cost=4, indexer__poll_interval="1s")
        cls.suite.start()
        cls.host, cls.port = cls.suite.address("api")
        cls.api = Api(cls.host, cls.port, cls.suite.api_token)
        cls.users = {}

    def upload(self, uid, mb, raw):
        st, r = self.api.post(f"/users/{uid}/mailboxes/{mb}/messages", raw,
                              headers={"Content-Type": "message/rfc822"})
        self.assertEqual(st, 200, r)
        return r["message"]["id"]

    def search(self, uid, q, path=None):
        st, r = self.api.get(path or f"/users/{uid}/search?q={q}")
        self.assertEqual(st, 200, r)
        return sorted(m["id"] for m in r["results"])

    def test_body_word_found(self):
        uid = self.user("ixsearch")
        mb = self.inbox(uid)
        hit = self.upload(uid, mb, simple_message(
            "Weekly notes", "The Quokka report is attached.\r\n"))
        self.upload(uid, mb, simple_message("Other", "Nothing to see.\r\n"))
        # a body word only the index knows, case folded
        self.suite.wait_until(lambda: self.search(uid, "qUOKKA") == [hit], 20,
                              "body word found through the index")
        self.assertEqual(self.search(uid, "quokka",
                                     f"/users/{uid}/mailboxes/{mb}/messages?q=quokka"), [hit])
        # not indexed yet or too short: subject and addresses still match
        self.assertIn(hit, self.search(uid, "We"))
        self.assertEqual(self.search(uid, "zebra-not-there"), [])
        other = self.user("ixsearch2")
        self.assertEqual(self.search(other, "quokka"), [])

    def test_threads(self):
        uid = self.user("ixthreads")
        mb = self.inbox(uid)
        parent = (b"From: <bob@example.test>\r\nTo: <ixthreads@example.test>\r\n"
                  b"Subject: Budget\r\nMessage-ID: <budget-1@t>\r\n\r\nNumbers.\r\n")
        reply = (b"From: <ixthreads@example.test>\r\nTo: <bob@example.test>\r\n"
                 b"Subject: Re: Budget\r\nMessage-ID: <budget-2@t>\r\n"
                 b"In-Reply-To: <budget-1@t>\r\nReferences: <budget-1@t>\r\n\r\nOK.\r\n")
        alone = simple_message("Unrelated", "x\r\n")
        self.upload(uid, mb, parent)
        self.upload(uid, mb, alone)
        last = self.upload(uid, mb, reply)

        def threads():
            st, r = self.api.get(f"/users/{uid}/threads")
            self.assertEqual(st, 200, r)
            return r["results"]

        self.suite.wait_until(lambda: sum(t["messages"] for t in threads()) == 3, 20,
                              "three messages threaded")
        t = threads()
        self.assertEqual([x["messages"] for x in t], [2, 1], t)
        self.assertEqual(t[0]["subject"], "Re: Budget")
        self.assertEqual(t[0]["message"], last)
        self.assertTrue(t[0]["date"])
        st, r = self.api.get(f"/users/{uid}/threads?limit=1")
        self.assertEqual(st, 200, (r, self.suite.log_text()[-3000:]))
        self.assertEqual(len(r["results"]), 1)
        self.assertTrue(r["nextCursor"])
        st, r2 = self.api.get(f"/users/{uid}/threads?limit=1&next={r['nextCursor']}")
        self.assertEqual(st, 200, (r2, r))
        self.assertEqual([x["id"] for x in r2["results"]], [t[1]["id"]])
        self.assertFalse(r2["nextCursor"])
        # a user token sees only its own threads
        tok = self.token_for("ixthreads")
        other = self.user("ixthreads2")
        self.assertEqual(self.api.get(f"/users/{other}/threads", token=tok)[0], 403)


class StoredCertsSni(ApiBase):
    """Certificates uploaded to /certs reach SNI at the next reload: wd-api
    writes them to tls.certs_dir, the master (no store) reads the folder."""

    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, tls=True, imap_workers=1, auth__bcrypt_cost=4)
        cls.suite.start()
        cls.host, cls.port = cls.suite.address("api")
        cls.api = Api(cls.host, cls.port, cls.suite.api_token)
        cls.users = {}

    def served(self, name):
        s = self.suite.connect(tls=True, server_name=name)
        try:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
        finally:
            s.close()

    def reload(self):
        r = self.suite.wdctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_uploaded_cert_served_after_reload(self):
        name = "uploaded.example.test"
        cert, key = make_cert(self.suite.dir, name)
        with open(cert) as c, open(key) as k:
            pem, key_pem = c.read(), k.read()
        fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
        default = self.served("mail.example.test")
        self.assertNotEqual(self.served(name), fp)
        st, r = self.api.post("/certs", {"servername": name, "cert": pem, "privateKey": key_pem})
        self.assertEqual(st, 200, r)
        folder = os.path.join(self.suite.dir, "data", "certs")
        for f in (f"{name}.pem", f"{name}.key"):
            self.assertEqual(os.stat(os.path.join(folder, f)).st_mode & 0o777, 0o600)
        # a pair that does not load is skipped, the reload still works
        with open(os.path.join(folder, "broken.example.test.pem"), "w") as f:
            f.write(pem)
        with open(os.path.join(folder, "broken.example.test.key"), "w") as f:
            f.write("not a key")
        # a symlink is never followed (the master reads as root)
        os.symlink(os.path.join(self.suite.dir, key),
                   os.path.join(folder, "link.example.test.key"))
        with open(os.path.join(folder, "link.example.test.pem"), "w") as f:
            f.write(pem)
        self.reload()
        self.assertEqual(self.served(name), fp)
        self.assertEqual(self.served("mail.example.test"), default)
        self.assertEqual(self.served("other.test"), default)
        log = self.suite.log_text()
        self.assertIn("name=broken.example.test", log)
        self.assertIn("name=link.example.test", log)
        # deleted: gone from the folder, and from SNI at the next reload
        st, r = self.api.delete(f"/certs/{r['id']}")
        self.assertEqual(st, 200, r)
        self.assertFalse(os.path.exists(os.path.join(folder, f"{name}.pem")))
        self.reload()
        self.assertEqual(self.served(name), default)


class OpenApi(unittest.TestCase):
    def test_openapi_matches_routes(self):
        out = subprocess.run([os.path.join(BUILD, "wd-api"), "--routes"], capture_output=True,
                             text=True, check=True).stdout.split("\n")
        routes = {tuple(l.split("\t")[0].split(" ", 1)) for l in out if l}
        doc, path = set(), None
        with open(os.path.join(ROOT, "api", "openapi.yaml")) as f:
            in_paths = False
            for line in f:
                if line.startswith("paths:"):
                    in_paths = True
                    continue
                if in_paths and line and not line.startswith(" ") and line.strip():
                    in_paths = False
                if not in_paths:
                    continue
                if line.startswith("  /"):
                    path = line.strip().rstrip(":").strip("'\"")
                elif line.startswith("    ") and not line.startswith("     ") and path:
                    m = line.strip().rstrip(":")
                    if m in ("get", "post", "put", "delete"):
                        doc.add((m.upper(), path.replace("{", ":").replace("}", "")))
        self.assertEqual(routes - doc, set(), "routes missing from api/openapi.yaml")
        self.assertEqual(doc - routes, set(), "api/openapi.yaml lists routes that do not exist")


if __name__ == "__main__":
    unittest.main()
