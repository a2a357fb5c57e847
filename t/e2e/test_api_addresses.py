"""Addresses across users over real HTTP: forwarded addresses
(/addresses/forwarded: create, get, update, delete, with LMTP delivering
mail for one to its targets, a local target's copy in its INBOX and a
remote one in the outbound spool), their conflicts and bad input, and the
domain-wide listing GET /addresses paged through 120 addresses (user,
wildcard and forwarded ones) exactly once each, forwards and back, with
its domain and query filters. Root only: a user token gets 403. The same
again on the MongoDB store driver (the FerretDB test server) when built."""
import glob
import os
import smtplib
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import needs_mongodb, start_mongodb  # noqa: E402
from test_api import ApiBase, simple_message  # noqa: E402

NOBODY = "0" * 24


class AddressesBase(ApiBase):
    on_mongodb = False

    @classmethod
    def setUpClass(cls):
        cls.suite_options = start_mongodb(cls, "addr") if cls.on_mongodb else {}
        super().setUpClass()

    def spool(self):
        return set(glob.glob(os.path.join(self.suite.spool, "new", "*.eml")))

    def subjects(self, uid):
        inbox = self.inbox(uid)
        st, r = self.api.get(f"/users/{uid}/mailboxes/{inbox}/messages")
        self.assertEqual(st, 200, r)
        return sorted(m["subject"] for m in r["results"])

    def deliver(self, rcpt, subject):
        with smtplib.LMTP(*self.suite.address("lmtp"), timeout=30) as l:
            return l.sendmail("a@remote.test", [rcpt], simple_message(subject, to=rcpt))


class Forwarded(AddressesBase):
    def test_crud_and_delivery(self):
        owner = self.user("fwdowner")
        other = self.user("fwdother")
        st, r = self.api.post("/addresses/forwarded", {
            "address": "Team.Lead@Example.TEST",
            "targets": ["fwdowner@example.test", "far@elsewhere.test"]})
        self.assertEqual(st, 200, r)
        fid = r["id"]
        self.assertRegex(fid, "^[0-9a-f]{24}$")
        st, r = self.api.get(f"/addresses/forwarded/{fid}")
        self.assertEqual(st, 200, r)
        self.assertEqual((r["success"], r["id"], r["address"], r["targets"], r["forwarded"]),
                         (True, fid, "team.lead@example.test",
                          ["fwdowner@example.test", "far@elsewhere.test"], True))
        self.assertRegex(r["created"], r"^\d{4}-\d\d-\d\dT")

        # LMTP: dots and +label ignored; the local target gets it in its
        # INBOX, the remote one through the spool, nothing is stored for
        # the address itself
        before = self.spool()
        self.assertEqual(self.deliver("teamlead+x@example.test", "to the team"), {})
        self.assertEqual(self.subjects(owner), ["to the team"])
        new = sorted(self.spool() - before)
        self.assertEqual(len(new), 1, new)
        with open(new[0], "rb") as f:
            head = f.read(4096)
        self.assertIn(b"X-Envelope-To: <far@elsewhere.test>", head)
        self.assertIn(b"X-WildDuck-Forwarded-By: team.lead@example.test", head)

        # PUT replaces the targets and keeps the id
        st, r = self.api.put(f"/addresses/forwarded/{fid}",
                             {"targets": ["FWDother@example.test"]})
        self.assertEqual((st, r), (200, {"success": True}))
        st, r = self.api.get(f"/addresses/forwarded/{fid}")
        self.assertEqual((r["id"], r["address"], r["targets"]),
                         (fid, "team.lead@example.test", ["fwdother@example.test"]))
        before = self.spool()
        self.assertEqual(self.deliver("team.lead@example.test", "second"), {})
        self.assertEqual(self.subjects(other), ["second"])
        self.assertEqual(self.subjects(owner), ["to the team"])
        self.assertEqual(self.spool() - before, set())

        # DELETE: gone, and LMTP refuses the address again
        self.assertEqual(self.api.delete(f"/addresses/forwarded/{fid}"),
                         (200, {"success": True}))
        st, r = self.api.get(f"/addresses/forwarded/{fid}")
        self.assertEqual((st, r["code"]), (404, "AddressNotFound"))
        self.assertEqual(self.api.delete(f"/addresses/forwarded/{fid}")[0], 404)
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            self.deliver("team.lead@example.test", "third")
        # and the address can be forwarded anew
        st, r = self.api.post("/addresses/forwarded", {
            "address": "team.lead@example.test", "targets": ["fwdowner@example.test"]})
        self.assertEqual(st, 200, r)
        self.assertNotEqual(r["id"], fid)

    def test_conflicts(self):
        self.user("taken")
        st, r = self.api.post("/addresses/forwarded", {
            "address": "dup@example.test", "targets": ["x@elsewhere.test"]})
        self.assertEqual(st, 200, r)
        for address in ("dup@example.test", "D.U.P+label@example.test",  # forwarded already
                        "taken@example.test", "ta.ken+x@EXAMPLE.test"):  # a user's address
            st, r = self.api.post("/addresses/forwarded", {
                "address": address, "targets": ["y@elsewhere.test"]})
            self.assertEqual((st, r.get("code")), (409, "AddressExistsError"), address)
        # and the other way round: a forwarded address cannot become a user's
        uid = self.user("taken")
        st, r = self.api.post(f"/users/{uid}/addresses", {"address": "d.up@example.test"})
        self.assertEqual((st, r.get("code")), (409, "AddressExistsError"))
        st, r = self.api.post("/users", {"username": "dupuser", "password": "secret pw",
                                         "address": "Dup@Example.test"})
        self.assertEqual((st, r.get("code")), (409, "AddressExistsError"))
        self.assertEqual(self.api.get("/addresses?query=dup")[1]["results"][0]["forwarded"],
                         True)
        self.assertEqual(len(self.api.get("/addresses?query=dup")[1]["results"]), 1)
        st, r = self.api.post(f"/users/{uid}/addresses", {"address": "taken.two@example.test"})
        self.assertEqual(st, 200, r)
        # a wildcard of the domain is no conflict: the real address is more
        # specific, and LMTP delivers it to the targets, the rest to the wildcard
        uid = self.user("catchall")
        target = self.user("wildtarget")
        st, r = self.api.post(f"/users/{uid}/addresses", {"address": "*@wild.test"})
        self.assertEqual(st, 200, r)
        st, r = self.api.post("/addresses/forwarded", {
            "address": "someone@wild.test", "targets": ["wildtarget@example.test"]})
        self.assertEqual(st, 200, r)
        st, r = self.api.get(f"/addresses/forwarded/{r['id']}")
        self.assertEqual(r["address"], "someone@wild.test")
        self.assertEqual(self.deliver("some.one+tag@wild.test", "for someone"), {})
        self.assertEqual(self.deliver("anyone@wild.test", "for anyone"), {})
        self.assertEqual(self.subjects(target), ["for someone"])
        self.assertEqual(self.subjects(uid), ["for anyone"])

    def test_bad_input_and_unknown_ids(self):
        post = lambda body: self.api.post("/addresses/forwarded", body)  # noqa: E731
        for body in ({"address": "no-at-sign", "targets": ["a@b.test"]},
                     {"address": "*@wild.test", "targets": ["a@b.test"]},
                     {"address": "x@example.test", "targets": []},
                     {"address": "x@example.test", "targets": ["not an address"]},
                     {"address": "x@example.test", "targets": ["a@b.test", "@"]},
                     {"address": "x@example.test", "targets": "a@b.test"},
                     {"address": "x@example.test"},
                     {"targets": ["a@b.test"]},
                     {"address": "x@example.test", "targets": ["a@b.test"] * 101},
                     {"address": "x@example.test", "targets": ["a@b.test"], "bogus": 1}):
            st, r = post(body)
            self.assertEqual((st, r.get("code")), (400, "InputValidationError"), body)
        # nothing of that was created
        st, r = self.api.get("/addresses?query=x%40example.test")
        self.assertEqual([a["address"] for a in r["results"]], [])
        st, r = post({"address": "valid@example.test", "targets": ["a@b.test"]})
        self.assertEqual(st, 200, r)
        fid = r["id"]
        for body in ({"targets": []}, {"targets": ["nope"]}, {}):
            st, r = self.api.put(f"/addresses/forwarded/{fid}", body)
            self.assertEqual(st, 400, (body, r))
        self.assertEqual(self.api.get(f"/addresses/forwarded/{fid}")[1]["targets"],
                         ["a@b.test"])
        for bad in (NOBODY, "zzz", self.user("notforwarded")):
            self.assertEqual(self.api.get(f"/addresses/forwarded/{bad}")[0], 404, bad)
            self.assertEqual(self.api.put(f"/addresses/forwarded/{bad}",
                                          {"targets": ["a@b.test"]})[0], 404, bad)
            self.assertEqual(self.api.delete(f"/addresses/forwarded/{bad}")[0], 404, bad)

    def test_user_token_refused(self):
        self.user("plainuser")
        token = self.token_for("plainuser")
        st, r = self.api.post("/addresses/forwarded", {
            "address": "sneaky@example.test", "targets": ["plainuser@example.test"]},
            token=token)
        self.assertEqual(st, 403, r)
        st, r = self.api.post("/addresses/forwarded", {
            "address": "root.made@example.test", "targets": ["a@b.test"]})
        fid = r["id"]
        for method, path, body in (("GET", "/addresses", None),
                                   ("GET", f"/addresses/forwarded/{fid}", None),
                                   ("PUT", f"/addresses/forwarded/{fid}",
                                    {"targets": ["plainuser@example.test"]}),
                                   ("DELETE", f"/addresses/forwarded/{fid}", None)):
            st, r = self.api.request(method, path, body, token=token)
            self.assertEqual(st, 403, (method, path, r))
        self.assertEqual(self.api.get(f"/addresses/forwarded/{fid}")[1]["targets"],
                         ["a@b.test"])
        self.assertEqual(self.api.get("/addresses", token=None)[0], 401)


class Listing(AddressesBase):
    DOMAIN = "page.test"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a = cls.user("pagea")
        b = cls.user("pageb")
        cls.expected = {}
        st, r = cls.api.post(f"/users/{b}/addresses", {"address": f"*@{cls.DOMAIN}"})
        assert st == 200, r
        cls.expected[f"*@{cls.DOMAIN}"] = ("user", b)
        # 109 user addresses of two users and 10 forwarded ones, interleaved
        for i in range(119):
            addr = f"addr{i:03d}@{cls.DOMAIN}"
            if i % 12 == 5:
                st, r = cls.api.post("/addresses/forwarded",
                                     {"address": addr, "targets": [f"t{i}@elsewhere.test"]})
                cls.expected[addr] = ("forwarded", r.get("id"))
            else:
                uid = a if i % 2 else b
                st, r = cls.api.post(f"/users/{uid}/addresses", {"address": addr})
                cls.expected[addr] = ("user", uid)
            assert st == 200, r
        assert len(cls.expected) == 120

    def page(self, **params):
        st, r = self.api.get("/addresses?" + urllib.parse.urlencode(params))
        self.assertEqual(st, 200, r)
        self.assertTrue(r["success"])
        return r

    def test_pages_each_address_once_both_ways(self):
        pages, seen, cursor = [], [], None
        while True:
            r = self.page(domain=self.DOMAIN, limit=25, **({"next": cursor} if cursor else {}))
            pages.append(r)
            seen += r["results"]
            if r["nextCursor"] is False:
                break
            cursor = r["nextCursor"]
            self.assertLess(len(pages), 10, "paging does not end")
        self.assertEqual([len(p["results"]) for p in pages], [25, 25, 25, 25, 20])
        addresses = [a["address"] for a in seen]
        self.assertEqual(addresses, sorted(self.expected, key=lambda s: s.encode()))
        self.assertEqual(len(set(addresses)), 120)
        for a in seen:
            kind, owner = self.expected[a["address"]]
            if kind == "user":
                self.assertEqual((a["forwarded"], a["user"]), (False, owner), a)
                self.assertNotIn("targets", a)
            else:
                self.assertEqual((a["forwarded"], a["id"]), (True, owner), a)
                n = int(a["address"][4:7])
                self.assertEqual(a["targets"], [f"t{n}@elsewhere.test"])
                self.assertNotIn("user", a)
        self.assertEqual(seen[0]["address"], f"*@{self.DOMAIN}")  # the wildcard, as stored
        self.assertIs(pages[0]["previousCursor"], False)
        # back from the last page, previousCursor by previousCursor
        back, cursor = [], pages[-1]["previousCursor"]
        self.assertIsNot(cursor, False)
        while cursor is not False:
            r = self.page(domain=self.DOMAIN, limit=25, previous=cursor)
            self.assertEqual(len(r["results"]), 25)
            self.assertIsNot(r["nextCursor"], False)
            back = [a["address"] for a in r["results"]] + back
            cursor = r["previousCursor"]
            self.assertLess(len(back), 1000)
        self.assertEqual(back, addresses[:100])

    def test_filters(self):
        # the domain in any case; other domains' addresses are not in it
        r = self.page(domain="PAGE.Test", limit=250)
        self.assertEqual(len(r["results"]), 120)
        self.assertIs(r["nextCursor"], False)
        r = self.page(limit=250)
        everything = [a["address"] for a in r["results"]]
        self.assertIn("pagea@example.test", everything)
        self.assertGreater(len(everything), 120)
        self.assertEqual(everything, sorted(everything, key=lambda s: s.encode()))
        # query: a substring in any case, user and forwarded ones alike
        r = self.page(query="ADDR01")
        self.assertEqual([a["address"] for a in r["results"]],
                         [f"addr{i:03d}@{self.DOMAIN}" for i in range(10, 20)])
        self.assertEqual([a["forwarded"] for a in r["results"]],
                         [i == 17 for i in range(10, 20)])
        r = self.page(query="*@")
        self.assertEqual([a["address"] for a in r["results"]], [f"*@{self.DOMAIN}"])
        r = self.page(query="0@page", domain=self.DOMAIN, limit=3)
        got = [a["address"] for a in r["results"]]
        r = self.page(query="0@page", domain=self.DOMAIN, limit=3, next=r["nextCursor"])
        got += [a["address"] for a in r["results"]]
        self.assertEqual(got, [f"addr{i:03d}@{self.DOMAIN}" for i in range(0, 60, 10)])
        self.assertEqual(self.page(domain="nowhere.test")["results"], [])
        self.assertEqual(self.page(query="no-such-thing")["results"], [])

    def test_bad_parameters(self):
        for q in ("limit=0", "limit=251", "next=zz", "next=abc", "previous=00",
                  "next=61&previous=61"):
            st, r = self.api.get("/addresses?" + q)
            self.assertEqual((st, r.get("code")), (400, "InputValidationError"), q)


@needs_mongodb
class ForwardedMongo(Forwarded):
    on_mongodb = True


@needs_mongodb
class ListingMongo(Listing):
    on_mongodb = True


if __name__ == "__main__":
    unittest.main()
