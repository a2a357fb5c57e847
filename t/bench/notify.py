#!/usr/bin/env python3
"""Cross-instance notification latency: two complete instances on one
MongoDB (the FerretDB test server) and one Redis; an IMAP session IDLEs on
A while N messages are delivered one by one through LMTP on B; the latency
is from B's 250 reply to "* n EXISTS" on A (p50/p99). Baseline: the same on
one SQLite instance (local datagram beacons). Also LMTP deliveries/s of that
run on both drivers (sequential, one connection: the FerretDB figure is a
test server's, serialising every request, not MongoDB's).
    BUILD=build python3 t/bench/notify.py [--quick] [-n N]"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "mongo"))
from harness import WDCTL, Lines, Suite  # noqa: E402
import server as mongo_server  # noqa: E402


def message(n):
    return (f"From: Bench <bench@remote.test>\r\nTo: idle@example.test\r\nSubject: n {n}\r\n"
            f"Message-ID: <{n}.{time.time_ns()}@remote.test>\r\n\r\n" + "x" * 2000 + "\r\n"
            ).encode()


class Lmtp:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=60)
        self.buf = b""
        self.reply()
        self.sock.sendall(b"LHLO bench\r\n")
        self.reply()

    def reply(self):
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("lmtp closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return line

    def deliver(self, raw):
        self.sock.sendall(b"MAIL FROM:<bench@remote.test>\r\nRCPT TO:<idle@example.test>\r\n"
                          b"DATA\r\n")
        for _ in range(3):
            self.reply()
        self.sock.sendall(raw + b".\r\n")
        line = self.reply()
        if not line.startswith(b"250"):
            raise AssertionError(line)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def run(a, b, n):
    r = subprocess.run([WDCTL, "-c", a.config_path, "user", "create", "idle", "secret",
                        "idle@example.test"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sock = a.connect()
    imap = Lines(sock)
    imap.readline()
    assert imap.command("l", "LOGIN idle secret")[-1].startswith("l OK")
    imap.command("s", "SELECT INBOX")
    imap.send("i IDLE\r\n")
    assert imap.readline() == "+ idling"
    lmtp = Lmtp(b.address("lmtp"))
    latencies = []
    start = time.time()
    for i in range(n):
        lmtp.deliver(message(i))
        acked = time.time()
        line = imap.readline(timeout=10)
        assert line == f"* {i + 1} EXISTS", line
        latencies.append((time.time() - acked) * 1000)
    took = time.time() - start
    sock.close()
    return latencies, n / took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-n", type=int, default=1000)
    args = ap.parse_args()
    n = 200 if args.quick else args.n
    if not mongo_server.available():
        print("notify bench: skipped (no build/ferretdb-test: make mongo-test-server)")
        return 0
    tmp = tempfile.mkdtemp(prefix="wd-bench-notify-")
    os.chmod(tmp, 0o755)
    sock_path = os.path.join(tmp, "redis.sock")
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock_path,
                              "--unixsocketperm", "777", "--save", "", "--appendonly", "no",
                              "--dir", tmp], stdout=subprocess.DEVNULL)
    while not os.path.exists(sock_path):
        time.sleep(0.02)
    try:
        with Suite(auth=True, lmtp=True, imap_workers=1) as local:
            base_lat, base_rate = run(local, local, n)
        with mongo_server.MongoServer() as mongo:
            opts = dict(store__driver="mongodb", store__mongodb_uri=mongo.uri,
                        store__mongodb_database="bench_" + uuid.uuid4().hex[:8],
                        redis__address="unix:" + sock_path)
            with Suite(auth=True, lmtp=True, imap_workers=1, **opts) as a, \
                    Suite(auth=True, lmtp=True, imap_workers=1, **opts) as b:
                lat, rate = run(a, b, n)
    finally:
        redis.terminate()
        redis.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"notify: {n} deliveries, LMTP on B -> IDLE EXISTS on A (mongodb+redis): "
          f"p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms; "
          f"one sqlite instance: p50 {pct(base_lat, 50):.2f} ms, p99 {pct(base_lat, 99):.2f} ms")
    print(f"lmtp sequential deliveries/s: mongodb (FerretDB test server) {rate:.0f}, "
          f"sqlite {base_rate:.0f}")
    print("BENCH " + json.dumps({"name": "notify cross-instance (mongodb+redis)",
                                 "p50": round(pct(lat, 50), 2), "p99": round(pct(lat, 99), 2),
                                 "baseline": f"sqlite local p50 {pct(base_lat, 50):.2f} ms",
                                 "ratio": round(pct(lat, 50) / max(pct(base_lat, 50), 1e-3), 2)}))
    print("BENCH " + json.dumps({"name": "lmtp 1 conn (mongodb, FerretDB)", "ops": round(rate),
                                 "baseline": f"sqlite {base_rate:.0f}/s",
                                 "ratio": round(rate / base_rate, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
