"""Search paging over real HTTP: 120 matching messages in two mailboxes
(among others that do not match), walked 50 a page with nextCursor and
back with previousCursor, each result exactly once and in order (mailbox
id, then newest first), with the total on every page; the mailbox listing
with q pages the same way."""
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import Suite  # noqa: E402
from test_api import Api, simple_message  # noqa: E402


class SearchPaging(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(api=True, auth=True, imap_workers=1, auth__bcrypt_cost=4)
        cls.suite.start()
        cls.api = Api(*cls.suite.address("api"), cls.suite.api_token)
        st, r = cls.api.post("/users", dict(username="pager", password="secret pw",
                                            address="pager@example.test"))
        assert st == 200, r
        cls.uid = r["id"]
        st, r = cls.api.get(f"/users/{cls.uid}/mailboxes")
        cls.boxes = {m["path"]: m["id"] for m in r["results"]}
        cls.expected = []
        for i in range(150):
            box = cls.boxes["INBOX"] if i % 2 == 0 else cls.boxes["Archive"]
            subject = f"Pageable item {i}" if i % 5 != 4 else f"Other thing {i}"
            st, r = cls.api.request("POST", f"/users/{cls.uid}/mailboxes/{box}/messages",
                                    simple_message(subject, to="pager@example.test"),
                                    headers={"Content-Type": "message/rfc822"})
            assert st == 200, r
            if i % 5 != 4:
                cls.expected.append((box, r["message"]["id"]))
        assert len(cls.expected) == 120
        # mailbox id ascending, then newest (highest uid) first
        cls.expected.sort(key=lambda e: (e[0], -e[1]))

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    def page(self, path, **params):
        st, r = self.api.get(path + "&" + urllib.parse.urlencode(params) if params else path)
        self.assertEqual(st, 200, r)
        return r

    def walk(self, path, expected):
        pages, seen, cursor = [], [], None
        while True:
            r = self.page(path, limit=50, **({"next": cursor} if cursor else {}))
            self.assertEqual(r["total"], len(expected))
            pages.append(r)
            seen += [(m["mailbox"], m["id"]) for m in r["results"]]
            if r["nextCursor"] is False:
                break
            cursor = r["nextCursor"]
            self.assertLess(len(pages), 10, "paging does not end")
        self.assertEqual([len(p["results"]) for p in pages], [50, 50, len(expected) - 100])
        self.assertEqual(seen, expected)
        self.assertIs(pages[0]["previousCursor"], False)
        # and back from the last page, previousCursor by previousCursor
        back, cursor = [], pages[-1]["previousCursor"]
        self.assertIsNot(cursor, False)
        while cursor is not False:
            r = self.page(path, limit=50, previous=cursor)
            back = [(m["mailbox"], m["id"]) for m in r["results"]] + back
            cursor = r["previousCursor"]
            self.assertLess(len(back), 1000)
        self.assertEqual(back, expected[:100])

    def test_search_pages(self):
        self.walk(f"/users/{self.uid}/search?q=pageable", self.expected)

    def test_mailbox_listing_search_pages(self):
        inbox = self.boxes["INBOX"]
        expected = [e for e in self.expected if e[0] == inbox]
        r = self.page(f"/users/{self.uid}/mailboxes/{inbox}/messages?q=pageable", limit=50)
        self.assertEqual(r["total"], 60)
        self.assertEqual([(m["mailbox"], m["id"]) for m in r["results"]], expected[:50])
        r = self.page(f"/users/{self.uid}/mailboxes/{inbox}/messages?q=pageable", limit=50,
                      next=r["nextCursor"])
        self.assertEqual([(m["mailbox"], m["id"]) for m in r["results"]], expected[50:])
        self.assertIs(r["nextCursor"], False)

    def test_bad_cursor(self):
        for bad in ("12", "zz:1", self.boxes["INBOX"] + ":0", self.boxes["INBOX"] + ":x"):
            st, r = self.api.get(f"/users/{self.uid}/search?q=pageable&next=" +
                                 urllib.parse.quote(bad))
            self.assertEqual((st, r["code"]), (400, "InputValidationError"), bad)


if __name__ == "__main__":
    unittest.main()
