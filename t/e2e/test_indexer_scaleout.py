"""wd-indexer on two instances: two complete suites (separate masters and
data folders) on one MongoDB store (the FerretDB test server), one Redis
and one index file. The shard locks in Redis end up split between the two
indexers; mail delivered through both instances to many users is indexed
exactly once, each user by the indexer holding its shard (per-user log
lines of both instances), and IMAP SEARCH finds it on both instances. Then
instance A's indexer is killed -9 for good (its master is stopped first so
it cannot restart it): B takes every shard within the lock ttl and a bit,
and indexes the new mail of A's former users.

IndexerScaleOut keeps the index in one SQLite file both instances share
(read directly); IndexerScaleOutMongo keeps it in MongoDB with the store
(indexer.backend mongodb, counted with wdctl reindex --status), where no
index transaction serialises the two indexers: only the locks keep them
apart.

Skipped without build/ferretdb-test (make mongo-test-server)."""
import os
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from harness import WDCTL, Suite, needs_mongodb, start_mongodb, start_redis, stop_redis

SHARDS = 16
TTL = 3.0
USERS = 16


def shard_of(user_id):
    """indexer_shards_of(): FNV-1a 64 of the id modulo the shard count."""
    h = 1469598103934665603
    for c in user_id.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % SHARDS


def message(rcpt, subject, word):
    return (f"From: Bob <bob@remote.test>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}.{uuid.uuid4().hex}@remote.test>\r\n"
            f"Date: Wed, 25 Nov 2026 07:00:00 +0000\r\n\r\n"
            f"Body with the word {word} in it.\r\n")


@needs_mongodb
class IndexerScaleOut(unittest.TestCase):
    BACKEND = "sqlite"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wd-ixscale-")
        os.chmod(cls.tmp, 0o777)  # the shared index is written by workers as nobody
        options = start_mongodb(cls, "ixscale")
        cls.redis_socket = os.path.join(cls.tmp, "redis.sock")
        cls.redis = start_redis(cls.tmp, cls.redis_socket)
        cls.fts_path = os.path.join(cls.tmp, "fts.db")
        options.update(redis__address="unix:" + cls.redis_socket,
                       # sqlite: one shared index file that the test reads
                       # (auto would put the index in MongoDB with the store)
                       indexer__backend=cls.BACKEND,
                       indexer__index_path=cls.fts_path, indexer__shards=SHARDS,
                       indexer__lock_ttl=f"{int(TTL * 1000)}ms", indexer__poll_interval="1s")
        cls.a = cls.b = None
        cls.a_stopped = False
        cls.lmtp_addresses = {}
        cls.names = {}
        try:
            cls.a = Suite(auth=True, lmtp=True, indexer=True, imap_workers=1,
                          auth__bcrypt_cost=4, **options).start()
            cls.b = Suite(auth=True, lmtp=True, indexer=True, imap_workers=1,
                          auth__bcrypt_cost=4, **options).start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.a is not None and cls.a_stopped and cls.a.proc.poll() is None:
            os.kill(cls.a.proc.pid, signal.SIGCONT)
        for s in (cls.a, cls.b):
            if s is not None:
                s.close()
        stop_redis(cls.redis)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def redis_cli(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.redis_socket, "--raw", *args],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split("\n")[:-1]

    def lock_pids(self):
        """The pid in each shard lock's token (host:pid:random), None when free."""
        values = self.redis_cli("MGET", *[f"wd:indexer:shard:{i}" for i in range(SHARDS)])
        return [int(v.split(":")[-2]) if v else None for v in values]

    def indexer_pid(self, suite):
        pids = suite.worker_pids("indexer")
        self.assertEqual(len(pids), 1)
        return pids[0]

    def index_status(self, user_id):
        """wdctl reindex --status: the user's documents and position in the index."""
        r = subprocess.run([WDCTL, "-c", self.b.config_path, "reindex", "--status",
                            self.names[user_id]], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return {}
        return dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)

    def indexed(self, user_id):
        """(index rows, distinct (mailbox, uid)) of the user."""
        if self.BACKEND != "sqlite":
            n = int(self.index_status(user_id).get("indexed", 0))
            return (n, n)  # one document per (mailbox, uid) by its key
        try:
            db = sqlite3.connect(f"file:{self.fts_path}?mode=ro", uri=True, timeout=10)
            try:
                return db.execute("SELECT count(*), count(DISTINCT mailbox || ':' || uid) "
                                  "FROM docs WHERE user = ?", (user_id,)).fetchone()
            finally:
                db.close()
        except sqlite3.OperationalError:
            return (0, 0)

    def positioned(self, user_ids):
        """Whether the index holds a journal position for every user."""
        if self.BACKEND != "sqlite":
            return all(not self.index_status(u).get("position", "none").startswith("none")
                       for u in user_ids)
        try:
            db = sqlite3.connect(f"file:{self.fts_path}?mode=ro", uri=True, timeout=10)
            try:
                known = {r[0] for r in db.execute("SELECT user FROM positions")}
            finally:
                db.close()
        except sqlite3.OperationalError:
            return False
        return set(user_ids) <= known

    def user_indexed_lines(self, suite, pid):
        """{user id: messages} from the indexer's per-user log lines."""
        out = {}
        for m in re.finditer(rf"\[{pid}\] debug: event=user_indexed user=(\w+) messages=(\d+)",
                             suite.log_text()):
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
        return out

    def deliver(self, suite, rcpt, subject, word):
        # the address is asked once: A's master is stopped later
        if id(suite) not in self.lmtp_addresses:
            self.lmtp_addresses[id(suite)] = suite.address("lmtp")
        address = self.lmtp_addresses[id(suite)]
        with smtplib.LMTP(*address, timeout=30) as lmtp:
            lmtp.sendmail("bob@remote.test", [rcpt], message(rcpt, subject, word))

    def search(self, suite, user, word):
        from harness import Lines
        sock = suite.connect()
        conn = Lines(sock)
        try:
            conn.readline()
            self.assertTrue(conn.command("l", f"LOGIN {user} secret")[-1].startswith("l OK"))
            conn.command("s", "SELECT INBOX")
            out = conn.command("f", f"UID SEARCH BODY {word}")
            self.assertTrue(out[-1].startswith("f OK"), out)
            return [int(x) for x in out[0].split()[2:]] if out[0].startswith("* SEARCH") else []
        finally:
            sock.close()

    def wait(self, predicate, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}\nA:\n{self.a.log_text()[-3000:]}\n"
                  f"B:\n{self.b.log_text()[-3000:]}")

    def test_shards_split_index_once_and_take_over(self):
        pid_a, pid_b = self.indexer_pid(self.a), self.indexer_pid(self.b)
        # both hold shards, half each, every shard held
        self.wait(lambda: sorted(self.lock_pids(), key=str) ==
                  sorted([pid_a] * (SHARDS // 2) + [pid_b] * (SHARDS // 2), key=str),
                  10 * TTL, "shards split between the two indexers")
        self.assertEqual({int(t.split(":")[-2]) for t in
                          self.redis_cli("ZRANGE", "wd:indexer:instances", "0", "-1")},
                         {pid_a, pid_b}, "both indexers announced")
        locks = self.lock_pids()

        users = {}
        for i in range(USERS):
            name = f"ixs{i}"
            r = subprocess.run([WDCTL, "-c", self.a.config_path, "user", "create", name,
                                "secret", f"{name}@example.test"], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            users[name] = r.stdout.strip()
            self.names[users[name]] = name
        owners = {locks[shard_of(uid)] for uid in users.values()}
        self.assertEqual(owners, {pid_a, pid_b}, "the users all fell in one indexer's shards")

        # first seen by a sweep (a user met first with mail in flight gets a
        # full re-index, which may count one message twice in the log)
        self.wait(lambda: self.positioned(users.values()), 20, "every user seen")
        # three messages per user, through both instances
        for n in range(3):
            for i, name in enumerate(users):
                self.deliver((self.a, self.b)[(i + n) % 2], f"{name}@example.test",
                             f"m{n}", f"zebra{n}word")
        self.wait(lambda: all(self.indexed(uid) == (3, 3) for uid in users.values()),
                  30, "every message indexed")
        # exactly once: each user by the holder of its shard, 3 messages in all
        self.assertEqual(self.lock_pids(), locks, "shards moved while both indexers lived")
        by_a = self.user_indexed_lines(self.a, pid_a)
        by_b = self.user_indexed_lines(self.b, pid_b)
        for name, uid in users.items():
            holder = locks[shard_of(uid)]
            mine, other = (by_a, by_b) if holder == pid_a else (by_b, by_a)
            self.assertEqual(mine.get(uid), 3, f"{name} indexed by its shard's holder")
            self.assertNotIn(uid, other, f"{name} indexed by the other indexer too")
        # SEARCH through the index finds all three on either instance
        for i, name in enumerate(users):
            self.assertEqual(self.search((self.a, self.b)[i % 2], name, "zebra1word"), [2])

        # A's indexer dies for good: its master is stopped first so that it
        # does not restart it, and kill -9 releases nothing
        os.kill(self.a.proc.pid, signal.SIGSTOP)
        type(self).a_stopped = True
        os.kill(pid_a, signal.SIGKILL)
        killed = time.time()
        self.wait(lambda: self.lock_pids() == [pid_b] * SHARDS, 3 * TTL,
                  "B holding every shard")
        took = time.time() - killed
        print(f"\nindexer scale-out ({self.BACKEND} index): B took A's shards {took:.1f}s "
              f"after kill -9 (lock ttl {TTL:.0f}s)", file=sys.stderr)
        self.assertLess(took, TTL + TTL / 3 + 1.5)
        # new mail of A's former users (through A's still running LMTP, and B)
        moved = [(name, uid) for name, uid in users.items() if locks[shard_of(uid)] == pid_a]
        self.assertTrue(moved)
        for i, (name, uid) in enumerate(moved):
            self.deliver((self.a, self.b)[i % 2], f"{name}@example.test", "late", "yakword")
        self.wait(lambda: all(self.indexed(uid) == (4, 4) for _, uid in moved), 30,
                  "new mail indexed by B")
        by_b = self.user_indexed_lines(self.b, pid_b)
        for name, uid in moved:
            self.assertEqual(by_b.get(uid), 1, f"{name}'s new message indexed once by B")
            self.assertEqual(self.search(self.b, name, "yakword"), [4])


class IndexerScaleOutMongo(IndexerScaleOut):
    BACKEND = "mongodb"


if __name__ == "__main__":
    unittest.main()
