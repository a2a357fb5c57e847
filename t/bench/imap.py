#!/usr/bin/env python3
"""IMAP load generator. Starts the suite (embedded store) on loopback and
prints, for this run:
  - NOOP round trips/s over the same connections: the baseline;
  - N concurrent clients doing a SELECT/FETCH/STORE/APPEND/EXPUNGE mix:
    commands/s, p50/p99 latency per command, and the ratio to the baseline;
  - RSS per idle connection with M clients logged in and IDLEing, measured
    on the worker processes (their VmRSS before and after).
    BUILD=build python3 t/bench/imap.py [--clients 8] [--seconds 10] [--idle 1000]"""
import argparse
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import WDCTL, Lines, Suite  # noqa: E402


def message(n, size=2000):
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * (size // 58 + 1))
    return (f"From: Bench <bench@example.test>\r\nTo: u@example.test\r\nSubject: bench {n}\r\n"
            f"Message-ID: <{n}.{time.time_ns()}@example.test>\r\n\r\n{body}").encode()


class Client:
    def __init__(self, addr, user):
        self.sock = socket.create_connection(addr, timeout=60)
        self.conn = Lines(self.sock)
        self.conn.readline()
        self.n = 0
        self.timed("LOGIN", f"LOGIN {user} secret")

    def timed(self, name, text, stats=None):
        self.n += 1
        tag = f"t{self.n}"
        start = time.perf_counter()
        lines = self.conn.command(tag, text, timeout=60)
        took = time.perf_counter() - start
        if not lines[-1].startswith(f"{tag} OK"):
            raise RuntimeError(f"{text!r}: {lines[-1]}")
        if stats is not None:
            stats.setdefault(name, []).append(took)
        return lines

    def append(self, raw, stats):
        self.n += 1
        tag = f"t{self.n}"
        start = time.perf_counter()
        self.conn.send(f"{tag} APPEND INBOX {{{len(raw)}+}}\r\n".encode() + raw + b"\r\n")
        line = self.conn.readline(timeout=60)
        while not line.startswith(tag):
            line = self.conn.readline(timeout=60)
        stats.setdefault("APPEND", []).append(time.perf_counter() - start)
        return int(line.split("]")[0].split()[-1])


def mix(client, deadline, stats, seed):
    rnd = random.Random(seed)
    while time.time() < deadline:
        client.timed("SELECT", "SELECT INBOX", stats)
        client.timed("FETCH", "FETCH 1:20 (UID FLAGS ENVELOPE RFC822.SIZE)", stats)
        client.timed("FETCH-BODY", f"FETCH {rnd.randint(1, 50)} BODY.PEEK[]", stats)
        client.timed("STORE", f"STORE {rnd.randint(1, 50)} +FLAGS (\\Seen)", stats)
        uid = client.append(message(rnd.randint(0, 10**9)), stats)
        client.timed("STORE", f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)", stats)
        client.timed("EXPUNGE", f"UID EXPUNGE {uid}", stats)


def noop_baseline(clients, seconds):
    counts = [0] * len(clients)
    deadline = time.time() + seconds
    def run(i):
        while time.time() < deadline:
            clients[i].timed("NOOP", "NOOP")
            counts[i] += 1
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def rss_of(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total  # KiB


def worker_rss(suite, service="imap"):
    return rss_of(suite.worker_pids(service))


def idle_rss(addr, rss, users, count):
    """RSS (KiB, from rss()) before and after count clients sit in IDLE."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    time.sleep(0.5)
    before = rss()
    socks = []
    for i in range(count):
        c = Client(addr, users[i % len(users)])
        c.timed("SELECT", "SELECT INBOX")
        c.conn.send("i IDLE\r\n")
        c.conn.readline()
        socks.append(c)
    time.sleep(1.0)
    after = rss()
    for c in socks:
        c.sock.close()
    return before, after


def run_load(addr, users, args):
    """Fills each user's INBOX with 50 messages, then measures the NOOP
    baseline and the mix: (NOOP/s, stats by command, seconds)."""
    clients = [Client(addr, u) for u in users]
    fill = {}
    for c in clients:
        for n in range(50):
            c.append(message(n, 2000 + 100 * n), fill)
    base = noop_baseline(clients, min(3.0, args.seconds))
    stats = {}
    deadline = time.time() + args.seconds
    threads = [threading.Thread(target=mix, args=(c, deadline, stats, i))
               for i, c in enumerate(clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.sock.close()
    return base, stats, time.time() - start


DOVECOT = "/usr/sbin/dovecot"
DOVECOT_CONF = """
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{d}/mail/%u
mail_max_userip_connections = 100000
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  process_min_avail = 1
  client_limit = 10000
  service_count = 0
}}
service imap {{
  process_limit = 10000
}}
default_vsz_limit = 0
"""


class Dovecot:
    """Debian's dovecot-imapd on loopback with a maildir in a temp dir, the
    same users and password as the suite: the baseline for the same load."""

    def __init__(self, users):
        import pwd, grp, shutil, tempfile  # noqa: E401
        self.dir = tempfile.mkdtemp(prefix="wd-dovecot-")
        os.chmod(self.dir, 0o755)
        me = pwd.getpwuid(os.getuid())
        user, group = (("nobody", "nogroup") if os.geteuid() == 0 else
                       (me.pw_name, grp.getgrgid(me.pw_gid).gr_name))
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.dir, sub))
        if os.geteuid() == 0:
            shutil.chown(os.path.join(self.dir, "mail"), user, group)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.writelines(f"{u}:{{PLAIN}}secret\n" for u in users)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=self.dir, user=user, group=group, port=self.port))
        subprocess.run([DOVECOT, "-c", self.conf], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(self.address(), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start")

    def address(self):
        return ("127.0.0.1", self.port)

    def pids(self):
        """Every process of this instance (master and children)."""
        with open(os.path.join(self.dir, "run", "master.pid")) as f:
            master = int(f.read())
        out = [master]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                            out.append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass
        return out

    def close(self):
        import shutil
        subprocess.run([DOVECOT, "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-dovecot", action="store_true")
    args = ap.parse_args()
    suite = Suite(auth=True, imap_workers=args.workers, imap__max_user_connections=0,
                  imap__max_connections=5000, log_level="warn").start()
    users = [f"bench{i}" for i in range(args.clients)]
    try:
        for u in users:
            subprocess.run([WDCTL, "-c", suite.config_path, "user", "create", u, "secret"],
                           check=True, capture_output=True)
        base, stats, took = run_load(suite.address(), users, args)
        total = sum(len(v) for v in stats.values())
        print(f"imap bench: {args.clients} clients, {args.workers} workers, {took:.1f}s, "
              f"store=sqlite")
        print(f"  baseline NOOP: {base:.0f} commands/s")
        print(f"  mix: {total / took:.0f} commands/s ({total / took / base:.2f} x NOOP)")
        print(f"  {'command':<11} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}")
        for name in sorted(stats):
            v = stats[name]
            print(f"  {name:<11} {len(v):>7} {pct(v, 0.5):>8.2f} {pct(v, 0.99):>8.2f}")
        per = None
        if args.idle > 0:
            before, after = idle_rss(suite.address(), lambda: worker_rss(suite), users,
                                     args.idle)
            per = (after - before) / args.idle
            print(f"  idle: {args.idle} connections in IDLE: worker RSS {before} KiB -> {after} "
                  f"KiB, {per:.1f} KiB per connection")
    finally:
        suite.close()
    if args.no_dovecot or not os.access(DOVECOT, os.X_OK):
        print("  dovecot: not installed, no baseline (apt-get install dovecot-imapd)")
        return
    dove = Dovecot(users)
    try:
        dbase, dstats, dtook = run_load(dove.address(), users, args)
        dtotal = sum(len(v) for v in dstats.values())
        print(f"  dovecot mix: {dtotal / dtook:.0f} commands/s (NOOP {dbase:.0f}/s); "
              f"ours/dovecot {(total / took) / (dtotal / dtook):.2f}")
        for name in sorted(dstats):
            if name in stats:
                v, o = dstats[name], stats[name]
                print(f"  dovecot {name:<11} {len(v):>7} {pct(v, 0.5):>8.2f} {pct(v, 0.99):>8.2f}"
                      f" ours {pct(o, 0.5):.2f} {pct(o, 0.99):.2f}")
        if args.idle > 0:
            before, after = idle_rss(dove.address(), lambda: rss_of(dove.pids()), users,
                                     args.idle)
            dper = (after - before) / args.idle
            print(f"  dovecot idle: {dper:.1f} KiB per connection (all dovecot processes); "
                  f"ours/dovecot {per / dper if dper else 0:.4f}")
    finally:
        dove.close()


if __name__ == "__main__":
    main()
