"""Crash safety: under LMTP and IMAP load, kill -9 random imap, lmtp, auth and
indexer workers 50 times, then check that nothing acknowledged was lost or
doubled.

After the kills, over IMAP: every message that got a 250 (LMTP) or OK
(APPEND) is in INBOX exactly once and FETCH BODY[] gives back its exact
bytes; a message whose reply was lost with the worker is there at most once;
UIDs are unique; the user's storage counter equals a recount (in the store
and in GETQUOTAROOT); the master is up and has no zombie children; once
wd-indexer has caught up, the full-text index has exactly one row per
stored message (none lost with a killed indexer, none doubled).
WD_CRASH_KILLS (default 50) and WD_CRASH_SEED change the run; the default
run takes about 40 s.
"""
import base64
import imaplib
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import BUILD, Suite, process_children

TOOL = os.path.join(BUILD, "t", "bench", "lmtp_tool")
KILLS = int(os.environ.get("WD_CRASH_KILLS", "50"))
SHARED_ATTACHMENT = base64.encodebytes(random.Random(7).randbytes(30000)).replace(b"\n", b"\r\n")


def make_message(tag, rnd):
    """A unique message: text, 8-bit text, dotted lines, or a unique or a
    shared (deduplicated) attachment."""
    head = (f"From: Load <load@remote.test>\r\nTo: <crash@example.test>\r\n"
            f"Subject: crash {tag}\r\nMessage-ID: <{tag}.{time.time_ns()}@remote.test>\r\n"
            f"X-Crash-Id: {tag}\r\nMIME-Version: 1.0\r\n").encode()
    text = (f"Message {tag}.\r\n" + "The quick brown fox jumps over the lazy dog.\r\n" *
            rnd.randint(1, 300)).encode()
    kind = rnd.randrange(4)
    if kind == 0:
        return head + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + \
            "Gr\u00fc\u00dfe\r\n".encode()
    if kind == 1:  # lines that LMTP must dot-stuff and unstuff
        return head + b"Content-Type: text/plain\r\n\r\n" + text.replace(b"The", b".The")
    att = SHARED_ATTACHMENT if kind == 2 else \
        base64.encodebytes(rnd.randbytes(rnd.randint(100, 60000))).replace(b"\n", b"\r\n")
    return (head + b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
            b"Content-Type: text/plain\r\n\r\n" + text + b"\r\n--XX\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"\r\n" + att + b"--XX--\r\n")


class Ledger:
    """What the load got: acknowledged messages (must be stored once) and
    messages whose outcome is unknown (stored at most once)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}
        self.unknown = {}
        self.errors = 0

    def ack(self, tag, raw):
        with self.lock:
            self.acked[tag] = raw
            self.unknown.pop(tag, None)

    def maybe(self, tag, raw):
        with self.lock:
            self.unknown[tag] = raw

    def error(self):
        with self.lock:
            self.errors += 1


class LmtpLoad(threading.Thread):
    def __init__(self, suite, ledger, stop, n, seed):
        super().__init__(daemon=True)
        self.suite, self.ledger, self.stop_ev, self.n = suite, ledger, stop, n
        self.rnd = random.Random(seed)
        self.count = 0  # message tags are never reused, not even after a broken session
        self.buf = b""

    def reply(self, sock):
        while True:
            while b"\r\n" not in self.buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return line

    def session(self):
        sock = socket.create_connection(self.suite.address("lmtp"), timeout=20)
        self.buf = b""
        try:
            self.reply(sock)
            sock.sendall(b"LHLO load\r\n")
            self.reply(sock)
            while not self.stop_ev.is_set():
                self.count += 1
                tag = f"L{self.n}-{self.count}"
                raw = make_message(tag, self.rnd)
                sock.sendall(b"MAIL FROM:<load@remote.test>\r\n"
                             b"RCPT TO:<crash@example.test>\r\nDATA\r\n")
                for _ in range(3):
                    line = self.reply(sock)
                    if line[:1] not in (b"2", b"3"):
                        raise ConnectionError(line)
                self.ledger.maybe(tag, raw)
                sock.sendall(raw.replace(b"\n.", b"\n..") +
                             (b"" if raw.endswith(b"\n") else b"\r\n") + b".\r\n")
                line = self.reply(sock)
                if line.startswith(b"250"):
                    self.ledger.ack(tag, raw)
                elif line[:1] == b"5":
                    raise AssertionError(f"permanent failure for {tag}: {line}")
        finally:
            sock.close()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.session()
            except (OSError, ConnectionError, KeyError, AssertionError):
                self.ledger.error()
                time.sleep(0.05)


class ImapLoad(threading.Thread):
    def __init__(self, suite, ledger, stop, n, seed):
        super().__init__(daemon=True)
        self.suite, self.ledger, self.stop_ev, self.n = suite, ledger, stop, n
        self.rnd = random.Random(seed)
        self.count = 0  # message tags are never reused, not even after a broken session

    def session(self):
        host, port = self.suite.address("imap")
        m = imaplib.IMAP4(host, port, timeout=20)
        try:
            m.login("crash", "secret-pw")
            m.select("INBOX")
            while not self.stop_ev.is_set():
                self.count += 1
                tag = f"A{self.n}-{self.count}"
                raw = make_message(tag, self.rnd)
                self.ledger.maybe(tag, raw)
                typ, _ = m.append("INBOX", None, None, raw)
                if typ == "OK":
                    self.ledger.ack(tag, raw)
                m.fetch("1:*", "(UID FLAGS)")
                m.store(f"{self.rnd.randint(1, 5)}", "+FLAGS", "(\\Seen)")
                if self.rnd.random() < 0.3:
                    m.fetch(f"{self.rnd.randint(1, 5)}", "(BODY.PEEK[] BODYSTRUCTURE)")
        finally:
            try:
                m.shutdown()
            except OSError:
                pass

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.session()
            except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort, KeyError,
                    EOFError, AssertionError):
                self.ledger.error()
                time.sleep(0.05)


class CrashSafety(unittest.TestCase):
    def test_kill9_under_load(self):
        seed = int(os.environ.get("WD_CRASH_SEED", str(int(time.time()))))
        rnd = random.Random(seed)
        suite = Suite(auth=True, lmtp=True, indexer=True, imap_workers=2,
                      restart_delay_min="50ms", restart_delay_max="300ms", log_level="info",
                      lmtp__workers=2, imap__max_user_connections=0,
                      indexer__poll_interval="1s", indexer__batch_size=20)
        suite.start()
        try:
            self.run_load(suite, rnd, seed)
        finally:
            suite.close()

    def run_load(self, suite, rnd, seed):
        db = os.path.join(suite.dir, "data", "wildduck.db")
        kw = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
        subprocess.run([TOOL, db, "user", "crash", "crash@example.test", str(1 << 40),
                        "secret-pw"], check=True, capture_output=True, timeout=30, **kw)
        ledger, stop = Ledger(), threading.Event()
        loads = [LmtpLoad(suite, ledger, stop, i, seed * 10 + i) for i in range(2)] + \
                [ImapLoad(suite, ledger, stop, i, seed * 10 + 5 + i) for i in range(2)]
        for t in loads:
            t.start()
        kills = {"imap": 0, "lmtp": 0, "auth": 0, "indexer": 0}
        start = time.time()
        try:
            while sum(kills.values()) < KILLS:
                self.assertLess(time.time() - start, 240, f"kills so far {kills}")
                time.sleep(rnd.uniform(0.15, 0.5))
                service = rnd.choice(list(kills))
                pids = suite.worker_pids(service)
                if not pids:
                    continue  # all of that service are restarting
                os.kill(rnd.choice(pids), signal.SIGKILL)
                kills[service] += 1
        finally:
            stop.set()
            for t in loads:
                t.join(60)
        took = time.time() - start
        suite.wait_running(timeout=30)
        self.assertIsNone(suite.proc.poll(), "master exited")
        zombies = [p for p, state in process_children(suite.proc.pid) if state == "Z"]
        time.sleep(0.5)  # a worker killed just now may not be reaped yet
        zombies = [p for p, state in process_children(suite.proc.pid)
                   if state == "Z" and p in zombies]
        self.assertEqual(zombies, [], "zombie children of the master")
        self.assertGreater(len(ledger.acked), 20, "the load delivered almost nothing")
        self.verify(suite, db, ledger)
        print(f"\n  crash: seed {seed}, kills {kills} in {took:.0f}s, "
              f"{len(ledger.acked)} acknowledged, {len(ledger.unknown)} unknown, "
              f"{ledger.errors} broken sessions", flush=True)

    def unwrap(self, tag, stored):
        """The delivered bytes without the trace fields LMTP puts in front."""
        if tag.startswith("L"):
            trace = b"Delivered-To: crash@example.test\r\nReturn-Path: <load@remote.test>\r\n"
            self.assertTrue(stored.startswith(trace), f"{tag}: {stored[:200]!r}")
            return stored[len(trace):]
        return stored

    def verify(self, suite, db, ledger):
        host, port = suite.address("imap")
        m = imaplib.IMAP4(host, port, timeout=60)
        m.login("crash", "secret-pw")
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK")
        typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        uids, found, total_size = [], {}, 0
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, body = item
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            size = int(re.search(rb"RFC822.SIZE (\d+)", meta).group(1))
            self.assertEqual(size, len(body), f"uid {uid}: RFC822.SIZE vs BODY[]")
            total_size += size
            uids.append(uid)
            tag = re.search(rb"X-Crash-Id: (\S+)", body)
            self.assertIsNotNone(tag, f"uid {uid}: not a test message")
            found.setdefault(tag.group(1).decode(), []).append((uid, body))
        self.assertEqual(len(uids), len(set(uids)), "duplicate UIDs")
        for tag, raw in ledger.acked.items():
            self.assertIn(tag, found, f"acknowledged message {tag} lost")
            self.assertEqual(len(found[tag]), 1, f"acknowledged message {tag} stored twice")
            self.assertEqual(self.unwrap(tag, found[tag][0][1]), raw,
                             f"{tag} does not rebuild byte for byte")
        for tag, copies in found.items():
            self.assertEqual(len(copies), 1, f"{tag} stored {len(copies)} times")
            if tag not in ledger.acked:
                self.assertIn(tag, ledger.unknown, f"{tag} was never sent")
                self.assertEqual(self.unwrap(tag, copies[0][1]), ledger.unknown[tag],
                                 f"{tag} differs")
        # the storage counter against a recount, in the store and over IMAP
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        used, recount = con.execute(
            "SELECT storage_used, (SELECT COALESCE(SUM(size), 0) FROM messages "
            "WHERE user = users.id) FROM users WHERE username = 'crash'").fetchone()
        con.close()
        self.assertEqual(used, recount, "storage_used differs from a recount")
        self.assertEqual(recount, total_size, "other mailboxes hold messages")
        typ, data = m.getquotaroot("INBOX")
        quota = [d for d in data[1] if d] if typ == "OK" else []
        usage = re.search(rb"STORAGE (\d+)", b" ".join(quota))
        self.assertIsNotNone(usage, f"GETQUOTAROOT: {data}")
        self.assertEqual(int(usage.group(1)), (recount + 1023) // 1024)
        m.logout()
        self.verify_index(suite, db, sorted(uids))

    def verify_index(self, suite, db, uids):
        """One index row per stored message, once the restarted indexer has
        caught up: the (mailbox, uid) rows are exactly the stored uids."""
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        user_id = con.execute("SELECT id FROM users WHERE username = 'crash'").fetchone()[0]
        con.close()

        def rows():
            try:
                con = sqlite3.connect(f"file:{suite.fts_path}?mode=ro", uri=True, timeout=30)
                try:
                    return con.execute("SELECT uid FROM docs WHERE user = ? ORDER BY uid",
                                       (user_id,)).fetchall()
                finally:
                    con.close()
            except sqlite3.OperationalError:
                return []

        deadline = time.time() + 60
        while [r[0] for r in rows()] != uids and time.time() < deadline:
            time.sleep(0.5)
        got = [r[0] for r in rows()]
        missing = sorted(set(uids) - set(got))
        extra = sorted(set(got) - set(uids))
        doubled = len(got) - len(set(got))
        self.assertEqual((missing[:20], extra[:20], doubled), ([], [], 0),
                         f"index rows vs {len(uids)} stored messages: {len(got)} rows")


if __name__ == "__main__":
    unittest.main()
