"""Scale-out: two complete instances of the suite (separate masters, configs,
data folders and ports) on one MongoDB (the FerretDB test server) and one
Redis. A user IDLEs on instance A while mail arrives through LMTP on
instance B, flags set on A show on B, an EXPUNGE on B reaches A.

Skipped without build/ferretdb-test (make mongo-test-server)."""
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import WDCTL, Lines, Suite, needs_mongodb, start_mongodb, start_redis, stop_redis
import test_api  # noqa: E402  (its Api client and EventStream reader)


def message(subject, body="Hello from the other instance.\r\n"):
    return (f"From: Bob <bob@remote.test>\r\nTo: carol@example.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@remote.test>\r\n"
            f"Date: Wed, 25 Nov 2026 07:00:00 +0000\r\n\r\n{body}")


@needs_mongodb
class ScaleOut(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wd-scaleout-")
        os.chmod(cls.tmp, 0o755)
        options = start_mongodb(cls, "scaleout")
        cls.redis_socket = os.path.join(cls.tmp, "redis.sock")
        cls.redis = start_redis(cls.tmp, cls.redis_socket)
        options.update(redis__address="unix:" + cls.redis_socket)
        cls.a = cls.b = None
        try:
            cls.a = Suite(auth=True, lmtp=True, api=True, imap_workers=1,
                          auth__bcrypt_cost=4, **options).start()
            cls.b = Suite(auth=True, lmtp=True, api=True, imap_workers=1,
                          auth__bcrypt_cost=4, **options).start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b):
            if s is not None:
                s.close()
        stop_redis(cls.redis)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def new_user(self, name):
        r = subprocess.run([WDCTL, "-c", self.a.config_path, "user", "create", name,
                            "secret", f"{name}@example.test"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def imap(self, suite, user):
        sock = suite.connect()
        conn = Lines(sock)
        conn.readline()
        self.assertTrue(conn.command("l", f"LOGIN {user} secret")[-1].startswith("l OK"))
        self.addCleanup(sock.close)
        return conn

    def idle(self, conn):
        conn.send("i IDLE\r\n")
        self.assertEqual(conn.readline(), "+ idling")

    def done(self, conn):
        conn.send("DONE\r\n")
        while True:
            line = conn.readline()
            if line.startswith("i "):
                self.assertEqual(line, "i OK IDLE terminated")
                return

    def test_a_idle_on_a_sees_lmtp_on_b(self):
        self.new_user("carol")
        a = self.imap(self.a, "carol")
        a.command("s", "SELECT INBOX")
        self.idle(a)
        host, port = self.b.address("lmtp")
        lmtp = smtplib.LMTP(host, port, timeout=30)
        self.addCleanup(lmtp.close)
        latencies = []
        for i in range(5):
            lmtp.sendmail("bob@remote.test", ["carol@example.test"], message(f"s{i}"))
            acked = time.time()
            self.assertEqual(a.readline(timeout=5), f"* {i + 1} EXISTS")
            latencies.append(time.time() - acked)
        print(f"\nscale-out: LMTP on B -> IDLE EXISTS on A: "
              f"{', '.join(f'{x * 1000:.1f}' for x in latencies)} ms", file=sys.stderr)
        self.assertLess(sorted(latencies)[2], 0.1, latencies)
        self.done(a)

        # a flag set on A is seen on B (CONDSTORE: with its new MODSEQ)
        b = self.imap(self.b, "carol")
        b.command("e", "ENABLE CONDSTORE")
        b.command("s", "SELECT INBOX")
        self.idle(b)
        out = a.command("f", r"STORE 2 +FLAGS (\Seen)")
        self.assertTrue(out[-1].startswith("f OK"), out)
        line = b.readline(timeout=5)
        self.assertRegex(line, r"^\* 2 FETCH \(.*FLAGS \(\\Seen\)")
        self.assertIn("MODSEQ", line)
        self.done(b)

        # an EXPUNGE on B reaches A
        self.idle(a)
        out = b.command("d", r"STORE 1 +FLAGS (\Deleted)")
        self.assertTrue(out[-1].startswith("d OK"), out)
        self.assertIn(r"\Deleted", a.readline(timeout=5))
        out = b.command("x", "EXPUNGE")
        self.assertTrue(out[-1].startswith("x OK"), out)
        self.assertEqual(a.readline(timeout=5), "* 1 EXPUNGE")
        self.done(a)
        self.assertEqual(a.command("c", "FETCH 1:* (UID)")[:-1],
                         [f"* {i} FETCH (UID {i + 1})" for i in range(1, 5)])

    def lmtp_code(self, suite, rcpt, subject):
        host, port = suite.address("lmtp")
        with smtplib.LMTP(host, port, timeout=60) as lmtp:
            try:
                lmtp.sendmail("bob@remote.test", [rcpt], message(subject))
                return 250
            except smtplib.SMTPRecipientsRefused as e:
                return e.recipients[rcpt][0]
            except smtplib.SMTPDataError as e:
                return e.smtp_code

    def test_a_api_stream_on_b_sees_delivery_on_a(self):
        host, port = self.b.address("api")
        api = test_api.Api(host, port, self.b.api_token)
        st, r = api.post("/users", dict(username="fred", password="secret pw",
                                        address="fred@example.test"))
        self.assertEqual(st, 200, r)
        uid = r["id"]
        st, r = api.post("/authenticate", {"username": "fred", "password": "secret pw"},
                         token=None)
        self.assertEqual(st, 200, r)
        es = test_api.EventStream(host, port, f"/users/{uid}/updates", r["token"])
        try:
            with smtplib.LMTP(*self.a.address("lmtp"), timeout=30) as lmtp:
                lmtp.sendmail("bob@remote.test", ["fred@example.test"], message("streamed"))
                sent = time.monotonic()
            ev = es.wait_for(lambda d: d.get("command") == "EXISTS")
            print(f"\nscale-out: LMTP on A -> event stream on B: "
                  f"{(ev[0] - sent) * 1000:.1f} ms", file=sys.stderr)
            self.assertLess(ev[0] - sent, 0.1)
        finally:
            es.close()

    def test_b_store_outage_is_temporary(self):
        self.new_user("dave")
        self.assertEqual(self.lmtp_code(self.b, "dave@example.test", "before"), 250)
        self.mongo.kill()
        try:
            start = time.time()
            code = self.lmtp_code(self.b, "dave@example.test", "during")
            self.assertTrue(400 <= code < 500, code)
            print(f"\nscale-out: store down -> LMTP {code} after {time.time() - start:.1f}s",
                  file=sys.stderr)
        finally:
            self.mongo.start()
        # no worker died, and mail flows again once the store is back
        for s in (self.a, self.b):
            self.assertTrue(s.all_running())
        deadline = time.time() + 30
        while self.lmtp_code(self.b, "dave@example.test", "after") != 250:
            self.assertLess(time.time(), deadline, "no delivery after the store came back")
            time.sleep(0.5)
        b = self.imap(self.b, "dave")
        out = b.command("s", "SELECT INBOX")
        self.assertIn("* 2 EXISTS", out)

    def test_c_kill_a_mid_delivery(self):
        """Instance A dies (master SIGKILLed, workers follow) while mail
        streams into its LMTP: B serves every message A acknowledged.
        Named to run after the tests that need A alive."""
        self.new_user("erin")
        acked = []
        stop = threading.Event()

        def deliver():
            host, port = self.a.address("lmtp")
            try:
                with smtplib.LMTP(host, port, timeout=10) as lmtp:
                    for i in range(100000):
                        if stop.is_set():
                            return
                        lmtp.sendmail("bob@remote.test", ["erin@example.test"],
                                      message(f"k{i}"))
                        acked.append(f"k{i}")
            except (OSError, smtplib.SMTPException):
                pass

        t = threading.Thread(target=deliver)
        t.start()
        deadline = time.time() + 10
        while len(acked) < 20 and time.time() < deadline:
            time.sleep(0.01)
        self.a.proc.kill()
        self.a.proc.wait()
        t.join(30)
        stop.set()
        self.assertGreaterEqual(len(acked), 20)
        b = self.imap(self.b, "erin")
        out = b.command("s", "SELECT INBOX")
        exists = [int(l.split()[1]) for l in out if l.endswith(" EXISTS")][0]
        self.assertGreaterEqual(exists, len(acked))
        self.assertLessEqual(exists, len(acked) + 1)  # the one in flight may be stored
        subjects = b.command("f", f"FETCH 1:{exists} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        text = "\n".join(subjects)
        for subject in acked:
            self.assertIn(f"Subject: {subject}\r", text.replace("\n", "\r\n") + "\r")


if __name__ == "__main__":
    unittest.main()
