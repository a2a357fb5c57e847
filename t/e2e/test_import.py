"""wdctl import-maildir, export-mbox, mailbox list and quota recalc: a generated Maildir++
(100 messages in 5 folders, mixed flags and mtimes) is imported, read back
over IMAP byte-identical with its flags and INTERNALDATE, a re-run imports
nothing new, and export-mbox gives the messages in mboxrd form."""
import datetime
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import WDCTL, Suite

# Maildir folder -> IMAP mailbox (mUTF-7 as on the wire)
FOLDERS = {"": "INBOX", ".Sent": "Sent Mail", ".Work": "Work",
           ".Work.Projects": "Work/Projects", ".&AMk-t&AOk-": "&AMk-t&AOk-"}
INFOS = [("", set()), ("S", {"\\Seen"}), ("RS", {"\\Answered", "\\Seen"}),
         ("F", {"\\Flagged"}), ("DS", {"\\Draft", "\\Seen"}), ("ST", {"\\Seen", "\\Deleted"}),
         ("FRS", {"\\Flagged", "\\Answered", "\\Seen"})]
BASE_TIME = 1700000000


def make_message(n, folder):
    extra = ""
    body = f"Message number {n} in '{folder}'.\r\n"
    if n % 7 == 3:
        body += "From here on, a line an mbox reader would split at.\r\n>From quoted once\r\n"
    if n % 11 == 5:
        extra = "X-Unicode: =?utf-8?q?=C3=A9t=C3=A9?=\r\n"
    msgid = "" if n % 25 == 7 else f"Message-ID: <import-{n}@example.test>\r\n"
    return (f"From: Sender {n} <sender{n}@example.test>\r\nTo: user@example.test\r\n"
            f"Subject: import {n}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n{msgid}{extra}"
            f"\r\n{body}").encode()


def write_maildir(root):
    """Returns {imap mailbox: {raw bytes: (flags, mtime)}}."""
    expected = {}
    n = 0
    for folder, mailbox in FOLDERS.items():
        base = os.path.join(root, folder) if folder else root
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        expected[mailbox] = {}
        for i in range(20):
            n += 1
            raw = make_message(n, folder)
            mtime = BASE_TIME + n * 3917
            if i % 5 == 4:
                path, flags = os.path.join(base, "new", f"{mtime}.M{n}P1.host"), set()
            else:
                info, flags = INFOS[n % len(INFOS)]
                path = os.path.join(base, "cur", f"{mtime}.M{n}P1.host:2,{info}")
            with open(path, "wb") as f:
                f.write(raw)
            os.utime(path, (mtime, mtime))
            expected[mailbox][raw] = (flags, mtime)
    # a file being delivered is no message yet
    with open(os.path.join(root, "tmp", "partial"), "wb") as f:
        f.write(b"Subject: partial\r\n")
    for d, _, files in os.walk(root):  # wdctl reads it as the service user
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    return expected


class Import(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(auth=True, imap_workers=1).start()
        cls.tmp = tempfile.mkdtemp(prefix="wd-maildir-")
        os.chmod(cls.tmp, 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def wdctl(self, *args):
        return subprocess.run([WDCTL, "-c", self.suite.config_path, *args], capture_output=True,
                              timeout=120)

    def fetch_all(self, m, mailbox):
        typ, _ = m.select(f'"{mailbox}"', readonly=True)
        self.assertEqual(typ, "OK", mailbox)
        typ, data = m.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        got = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()) - {"\\Recent"}
            idate = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)
            ts = datetime.datetime.strptime(idate, "%d-%b-%Y %H:%M:%S %z").timestamp()
            got[item[1]] = (flags, int(ts))
        return got

    def test_import_reimport_export(self):
        maildir = os.path.join(self.tmp, "Maildir")
        expected = write_maildir(maildir)
        r = self.wdctl("user", "create", "imp", "secret", "imp@example.test")
        self.assertEqual(r.returncode, 0, r.stderr)

        r = self.wdctl("import-maildir", "imp", maildir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"100 imported, 0 already there, 0 failed, 3 mailboxes created", r.stdout)

        host, port = self.suite.address()
        m = imaplib.IMAP4(host, port)
        m.login("imp", "secret")
        try:
            for mailbox, want in expected.items():
                got = self.fetch_all(m, mailbox)
                self.assertEqual(len(got), 20, mailbox)
                self.assertEqual(set(got), set(want), f"{mailbox}: bytes differ")
                for raw, (flags, mtime) in want.items():
                    self.assertEqual(got[raw], (flags, mtime), f"{mailbox}: {raw[:60]!r}")

            # a re-run imports nothing
            r = self.wdctl("import-maildir", "imp", maildir)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(b"0 imported, 100 already there, 0 failed, 0 mailboxes created",
                          r.stdout)
            for mailbox in expected:
                self.assertEqual(len(self.fetch_all(m, mailbox)), 20, mailbox)
        finally:
            m.logout()

        r = self.wdctl("mailbox", "list", "imp")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {}
        for line in r.stdout.decode().splitlines()[1:]:
            f = line.split()
            rows[" ".join(f[:-4])] = f[-4:]  # special, messages, unseen, size
        self.assertEqual(rows["INBOX"][:2], ["\\Inbox", "20"])
        self.assertEqual(rows["Work/Projects"][:2], ["-", "20"])
        self.assertEqual(rows["Sent Mail"][:2], ["\\Sent", "20"])
        self.assertIn("Été", rows)
        self.assertEqual(int(rows["Work"][3]), sum(len(raw) for raw in expected["Work"]))
        unseen = sum(1 for flags, _ in expected["Work"].values() if "\\Seen" not in flags)
        self.assertEqual(int(rows["Work"][2]), unseen)

        total = sum(len(raw) for msgs in expected.values() for raw in msgs)
        r = self.wdctl("quota", "recalc", "imp")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"quota imp: {total} bytes in 100 messages in 9 mailboxes, "
                      f"storage used {total}, quota 0 (unlimited)".encode(), r.stdout)

        r = self.wdctl("export-mbox", "imp", "Work")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertTrue(out.startswith(b"From sender"), out[:80])
        self.assertRegex(out.split(b"\n", 1)[0].decode(),
                         r"^From sender\d+@example\.test \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")
        self.assertIn(b"\n>From here on", out)
        self.assertIn(b"\n>>From quoted once", out)
        self.assertNotIn(b"\r", out)
        messages, cur = [], None
        for line in out.split(b"\n"):
            if line.startswith(b"From "):
                if cur is not None:
                    messages.append(cur)
                cur = []
            else:
                cur.append(re.sub(rb"^>(>*From )", rb"\1", line))
        messages.append(cur)
        got = set()
        for lines in messages:
            self.assertEqual(lines[-1], b"")  # a blank line ends each message
            while lines and lines[-1] == b"":
                lines.pop()
            got.add(b"\r\n".join(lines) + b"\r\n")
        self.assertEqual(got, set(expected["Work"]))

        r = self.wdctl("export-mbox", "imp", "NoSuchBox")
        self.assertEqual(r.returncode, 1)
        r = self.wdctl("import-maildir", "nosuchuser", maildir)
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
