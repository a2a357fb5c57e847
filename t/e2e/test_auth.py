"""wd-auth over its real socket: passwords, ASP scopes, the 2FA-master rule,
rate limits that kick in and expire, the auth log, bad input, and a killed
auth daemon that the master restarts while a client gets TEMPFAIL."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import WDCTL, Suite, ipc_escape, ipc_unescape  # noqa: E402


class AuthConn:
    """A raw protocol connection: many requests in flight, replies by id."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0
        self.replies = {}

    def send(self, *fields, raw=None):
        self.next_id += 1
        rid = str(self.next_id)
        line = raw if raw is not None else \
            "\t".join(ipc_escape(f) for f in ("AUTH", rid, *fields)).encode() + b"\n"
        self.sock.sendall(line)
        return rid

    def reply(self, rid):
        while rid not in self.replies:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            f = [ipc_unescape(x) for x in line.decode().split("\t")]
            self.replies[f[1]] = f
        return self.replies.pop(rid)

    def auth(self, user, secret, service="imap", ip="192.0.2.1", scope=None):
        fields = [service, user, secret, ip] + ([scope] if scope else [])
        return self.reply(self.send(*fields))


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suite = Suite(auth=True, imap_workers=1, auth__bcrypt_cost=4,
                          auth__user_failures=3, auth__user_window="2s",
                          auth__ip_failures=1000, restart_delay_min="100ms")
        cls.suite.start()
        cls.uid = cls.wd("user", "create", "alice", "correct horse", "alice@example.com")
        cls.wd("user", "create", "bob", "bob pw")
        cls.wd("user", "create", "carol", "carol pw")
        cls.wd("user", "create", "rl", "rl pw")
        out = cls.wd("asp", "create", "bob", "imap,smtp", "phone").split()
        cls.bob_asp_id, cls.bob_asp = out

    @classmethod
    def tearDownClass(cls):
        cls.suite.close()

    @classmethod
    def wd(cls, *args, check=True):
        r = subprocess.run([WDCTL, "-c", cls.suite.config_path, *args], capture_output=True,
                           text=True, timeout=30)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout.strip()

    def setUp(self):
        self.c = AuthConn(self.suite.auth_socket)

    def tearDown(self):
        self.c.sock.close()

    def test_success_wrong_unknown(self):
        r = self.c.auth("alice", "correct horse")
        self.assertEqual(r[0], "OK", r)
        self.assertEqual(r[2], self.uid.strip())
        self.assertEqual(r[3], "alice")
        self.assertEqual(self.c.auth("ALICE", "correct horse")[0], "OK")
        self.assertEqual(self.c.auth("alice@example.com", "correct horse", "pop3")[0], "OK")
        self.assertEqual(self.c.auth("alice", "wrong horse"), ["FAIL", str(self.c.next_id),
                                                               "invalid"])
        self.assertEqual(self.c.auth("nobody", "correct horse")[2], "invalid")

    def test_many_in_flight_on_one_connection(self):
        ids = [self.c.send("imap", "alice", "correct horse", "192.0.2.7") for _ in range(20)]
        ids.append(self.c.send("imap", "nobody", "x", "192.0.2.7"))
        for rid in reversed(ids):
            r = self.c.reply(rid)
            self.assertEqual(r[1], rid)
        self.assertEqual(r[0], "OK")

    def test_asp_scopes(self):
        r = self.c.auth("bob", self.bob_asp, "imap")
        self.assertEqual(r[0], "OK", r)
        self.assertEqual(r[4], "asp=" + self.bob_asp_id)
        spaced = " ".join(self.bob_asp[i:i + 4] for i in range(0, 16, 4))
        self.assertEqual(self.c.auth("bob", spaced, "smtp")[0], "OK")
        self.assertEqual(self.c.auth("bob", self.bob_asp, "pop3")[2], "scope")
        self.assertEqual(self.c.auth("bob", self.bob_asp, "api")[2], "scope")
        self.assertEqual(self.c.auth("bob", "bob pw", "pop3")[0], "OK")

    def test_2fa_master_rule(self):
        self.wd("totp", "enable", "carol", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        asp = self.wd("asp", "create", "carol", "*").split()[1]
        try:
            self.assertEqual(self.c.auth("carol", "carol pw", "imap")[2], "2fa-required")
            r = self.c.auth("carol", "carol pw", "api")
            self.assertEqual(r[0], "OK", r)
            self.assertEqual(r[4], "require2fa")
            self.assertEqual(self.c.auth("carol", "carol pw", "api", scope="master")[0], "OK")
            self.assertEqual(self.c.auth("carol", asp, "imap")[0], "OK")
            self.assertEqual(self.c.auth("carol", asp, "pop3")[0], "OK")
        finally:
            self.wd("totp", "disable", "carol")
        self.assertEqual(self.c.auth("carol", "carol pw", "imap")[0], "OK")

    def test_rate_limit_kicks_in_and_expires(self):
        for _ in range(3):
            self.assertEqual(self.c.auth("rl", "bad")[2], "invalid")
        r = self.c.auth("rl", "rl pw")
        self.assertEqual(r[:3], ["FAIL", r[1], "ratelimited"])
        self.assertGreaterEqual(int(r[3]), 1)
        self.assertEqual(self.c.auth("RL", "rl pw")[2], "ratelimited")
        # refused attempts are in the auth log too (written off the loop)
        deadline = time.time() + 2
        while "ratelimited" not in self.wd("authlog", "rl") and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("ratelimited", self.wd("authlog", "rl"))
        time.sleep(2.2)
        self.assertEqual(self.c.auth("rl", "rl pw")[0], "OK")
        # a success resets the count
        for _ in range(2):
            self.c.auth("rl", "bad")
        self.assertEqual(self.c.auth("rl", "rl pw")[0], "OK")
        for _ in range(2):
            self.c.auth("rl", "bad")
        self.assertEqual(self.c.auth("rl", "rl pw")[0], "OK")

    def test_auth_log_written(self):
        self.c.auth("bob", "bob pw", "pop3", ip="198.51.100.9")
        self.c.auth("bob", "nope", "imap", ip="198.51.100.9")
        self.c.auth("bob", self.bob_asp, "pop3", ip="198.51.100.9")
        lines = [l.split("\t") for l in self.wd("authlog", "bob").splitlines()]
        mine = [l for l in lines if l[3] == "198.51.100.9"]
        self.assertEqual([(l[1], l[2], l[4]) for l in mine[:3]],
                         [("fail", "pop3", "scope"), ("fail", "imap", "invalid"),
                          ("success", "pop3", "password")])
        self.assertEqual(mine[0][5], self.bob_asp_id)

    def test_bad_input_fails_cleanly(self):
        c = self.c
        self.assertEqual(c.auth("a" * 1025, "x")[2], "badinput")
        self.assertEqual(c.auth("alice", "x" * 1025)[2], "badinput")
        c.sock.sendall(b"AUTH\t76\timap\tal\xffice\tx\t1.2.3.4\n")  # invalid UTF-8
        self.assertEqual(c.reply("76")[2], "badinput")
        self.assertEqual(c.auth("alice", "correct horse", scope="ftp")[2], "badinput")
        rid = c.send(raw=b"AUTH\t77\timap\talice\t\xc3\x28bad\t1.2.3.4\n")
        self.assertEqual(c.reply("77")[2], "badinput")
        c.sock.sendall(b"AUTH\t78\timap\talice\tse\x010cret\t1.2.3.4\n")  # escaped NUL
        self.assertEqual(c.reply("78")[2], "badinput")
        c.sock.sendall(b"AUTH\t79\timap\talice\tse\x00cret\t1.2.3.4\n")  # raw NUL
        self.assertEqual(c.reply("79")[2], "badinput")
        c.sock.sendall(b"HELLO\t80\n")
        self.assertEqual(c.reply("80")[2], "badrequest")
        c.sock.sendall(b"AUTH\t81\timap\n")
        self.assertEqual(c.reply("81")[2], "badrequest")
        del rid
        # still serving after all that
        self.assertEqual(c.auth("alice", "correct horse")[0], "OK")

    def test_killed_auth_restarted_client_gets_tempfail(self):
        # a slow hash keeps a request in flight while wd-auth is killed
        self.wd("user", "create", "slow", "slow pw")
        slow_hash_user = subprocess.run(
            [WDCTL, "-c", self.suite.config_path, "auth", "slow", "slow pw"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(slow_hash_user.returncode, 0, slow_hash_user.stdout)
        pid = self.suite.worker_pids("auth")[0]
        proc = subprocess.Popen([WDCTL, "-c", self.suite.config_path, "auth", "nobody", "x" * 900],
                                stdout=subprocess.PIPE, text=True)
        os.kill(pid, signal.SIGKILL)
        start = time.time()
        out, _ = proc.communicate(timeout=15)
        self.assertLess(time.time() - start, 12)
        # either answered before the kill or TEMPFAIL: never a hang
        self.assertIn(out.split("\t")[0], ("FAIL", "TEMPFAIL"), out)
        self.suite.wait_until(lambda: self.suite.worker_pids("auth") and
                              self.suite.worker_pids("auth") != [pid], what="auth restart")
        self.suite.wait_running()
        r = subprocess.run([WDCTL, "-c", self.suite.config_path, "auth", "alice",
                            "correct horse"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.split("\t")[0], "OK", r.stdout)

    def test_auth_down_gives_tempfail_not_hang(self):
        # no daemon on the socket at all
        cfg = self.suite.config_path
        os.rename(self.suite.auth_socket, self.suite.auth_socket + ".away")
        try:
            start = time.time()
            r = subprocess.run([WDCTL, "-c", cfg, "auth", "alice", "correct horse"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            self.assertTrue(r.stdout.startswith("TEMPFAIL\tunavailable"), r.stdout)
            self.assertLess(time.time() - start, 5)
        finally:
            os.rename(self.suite.auth_socket + ".away", self.suite.auth_socket)


if __name__ == "__main__":
    unittest.main()


class RedisLimits(unittest.TestCase):
    """With Redis, failed logins counted by one instance limit the others."""

    def test_limits_shared_across_instances(self):
        opts = dict(auth=True, imap_workers=1, auth__bcrypt_cost=4, auth__user_failures=3,
                    auth__user_window="3s", auth__ip_failures=1000)
        a = Suite(redis=True, **opts)
        a.start()
        b = Suite(redis__address="unix:" + a.redis_socket, **opts)
        try:
            b.start()
            for s in (a, b):
                r = subprocess.run([WDCTL, "-c", s.config_path, "user", "create", "rl", "rl pw"],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
            ca, cb = AuthConn(a.auth_socket), AuthConn(b.auth_socket)
            self.assertEqual(cb.auth("rl", "rl pw")[0], "OK")
            for _ in range(3):
                self.assertEqual(ca.auth("rl", "bad")[2], "invalid")
            r = cb.auth("rl", "rl pw")  # the other instance knows
            self.assertEqual(r[2], "ratelimited", r)
            self.assertGreaterEqual(int(r[3]), 1)
            keys = subprocess.run(["redis-cli", "-s", a.redis_socket, "--scan"],
                                  capture_output=True, text=True).stdout.split()
            self.assertIn("auth:u:rl", [k.split("auth:", 1)[-1] and "auth:" + k.split("auth:", 1)[-1]
                                        for k in keys])
            time.sleep(3.2)
            self.assertEqual(cb.auth("rl", "rl pw")[0], "OK")
            # Redis gone: auth.redis_fail_open (default true) keeps logins working
            a.stop_redis()
            self.assertEqual(cb.auth("rl", "rl pw")[0], "OK")
        finally:
            b.close()
            a.close()
