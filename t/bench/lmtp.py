#!/usr/bin/env python3
"""LMTP delivery benchmark: messages/s delivered by wd-lmtp (one pipelining
client connection, and 4 in parallel) for 1 and 10 recipients and 10 KB and
1 MB messages, and the store bytes per delivered copy (database file after a
WAL checkpoint, divided by copies). Each case runs on a fresh suite with the
default durability (synchronous=FULL).
    BUILD=build python3 t/bench/lmtp.py [--quick]"""
import base64
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import BUILD, Suite  # noqa: E402

TOOL = os.path.join(BUILD, "t", "bench", "lmtp_tool")


def make_message(size, n):
    head = (f"From: Bench <bench@remote.test>\r\nTo: <u0@example.test>\r\n"
            f"Subject: bench {n}\r\nMessage-ID: <{n}.{time.time_ns()}@remote.test>\r\n"
            f"MIME-Version: 1.0\r\n").encode()
    if size < 100000:
        text = (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 200)[:size]
        body = b"\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))
        return head + b"Content-Type: text/plain\r\n\r\n" + body + b"\r\n"
    raw = os.urandom(size * 3 // 4)
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return (head + b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\n"
            b"Content-Type: text/plain\r\n\r\nSee the attachment.\r\n--BB\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=data.bin\r\n\r\n" + b64 + b"--BB--\r\n")


class Client:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=120)
        self.buf = b""
        self.reply()
        self.send(b"LHLO bench\r\n")
        self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        while True:
            while b"\r\n" not in self.buf:
                self.buf += self.sock.recv(65536)
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return line

    def deliver(self, rcpts, raw):
        cmds = b"MAIL FROM:<bench@remote.test>\r\n" + b"".join(
            b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n"
        self.send(cmds)
        for _ in range(len(rcpts) + 2):
            line = self.reply()
            if line[:1] not in (b"2", b"3"):
                raise RuntimeError(line)
        self.send(raw.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        for _ in rcpts:
            line = self.reply()
            if not line.startswith(b"250"):
                raise RuntimeError(line)


def run_case(size, nrcpt, count, conns):
    with Suite(lmtp=True, imap_workers=1) as suite:
        db = os.path.join(suite.dir, "data", "wildduck.db")
        kw = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
        for i in range(nrcpt):
            subprocess.run([TOOL, db, "user", f"u{i}", f"u{i}@example.test"], check=True,
                           capture_output=True, **kw)
        rcpts = [f"u{i}@example.test" for i in range(nrcpt)]
        addr = suite.address("lmtp")
        msgs = [make_message(size, n) for n in range(count)]
        clients = [Client(addr) for _ in range(conns)]
        errors = []

        def work(c, part):
            try:
                for raw in part:
                    c.deliver(rcpts, raw)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        start = time.time()
        threads = [threading.Thread(target=work, args=(c, msgs[i::conns]))
                   for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - start
        if errors:
            raise errors[0]
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        stored = os.path.getsize(db)
        return count / elapsed, stored / (count * nrcpt), len(msgs[0])


def main():
    quick = "--quick" in sys.argv
    print(f"{'message':>8} {'rcpts':>5} {'conns':>5} {'msgs/s':>8} {'copies/s':>9} "
          f"{'MB/s in':>8} {'stored B/copy':>13} {'raw B':>8}")
    for size, count in ((10 * 1024, 100 if quick else 400), (1024 * 1024, 10 if quick else 40)):
        for nrcpt in (1, 10):
            for conns in (1, 4):
                rate, per_copy, raw = run_case(size, nrcpt, count, conns)
                print(f"{size // 1024:>6}KB {nrcpt:>5} {conns:>5} {rate:>8.1f} "
                      f"{rate * nrcpt:>9.1f} {rate * raw / 1e6:>8.1f} {per_copy:>13.0f} {raw:>8}",
                      flush=True)


if __name__ == "__main__":
    main()
