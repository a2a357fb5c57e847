#!/usr/bin/env python3
"""SEARCH BODY with the full-text index against a plain scan, in one run.
Starts the suite with wd-indexer, appends N messages (default 10,000) to
INBOX, waits until the indexer has them all, then stops the indexer
(SIGSTOP) and copies them to a second mailbox, which therefore is not
indexed and is answered by the scan. Prints p50/p90 of UID SEARCH BODY for
a rare and a common word in both mailboxes and the ratio (goal: index p50
< 50 ms on 10,000 messages). --mongodb runs the suite on the FerretDB test
server (store and index in MongoDB; FerretDB's figures are only indicative
of a real mongod's).
    BUILD=build python3 t/bench/search.py [--messages 10000] [--runs 30] [--mongodb]"""
import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mongo"))
from harness import WDCTL, Lines, Suite  # noqa: E402
import server as mongo_server  # noqa: E402

WORDS = ("mail server index thread search folder message quota delivery report meeting "
         "budget travel invoice project review schedule update backup network").split()


def message(n, rng):
    words = [rng.choice(WORDS) for _ in range(250)]
    if n % 100 == 7:
        words.insert(rng.randrange(len(words)), "zebracorn")  # 1% of messages
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    body = "\r\n".join(lines)
    return (f"From: Sender {n % 50} <s{n % 50}@example.test>\r\nTo: u@example.test\r\n"
            f"Subject: {rng.choice(WORDS)} {rng.choice(WORDS)} {n}\r\n"
            f"Date: Wed, 25 Nov 2026 07:00:00 +0000\r\nMessage-ID: <{n}@bench.test>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def timed(conn, tag, command, timeout=600):
    start = time.perf_counter()
    lines = conn.command(tag, command, timeout=timeout)
    elapsed = time.perf_counter() - start
    assert lines[-1].startswith(tag + " OK"), lines[-1]
    hits = [l for l in lines if l.startswith("* SEARCH")][0].split()[2:]
    return elapsed, len(hits)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--scan-runs", type=int, default=5)
    ap.add_argument("--mongodb", action="store_true")
    ap.add_argument("--quick", action="store_true", help="1,000 messages, 10 runs")
    args = ap.parse_args()
    if args.quick:
        args.messages, args.runs, args.scan_runs = min(args.messages, 1000), 10, 3
    rng = random.Random(9)
    mongo = None
    options = {}
    if args.mongodb:
        mongo = mongo_server.MongoServer().start()
        options = dict(store__driver="mongodb", store__mongodb_uri=mongo.uri,
                       store__mongodb_database="bench_" + uuid.uuid4().hex[:8])
    suite = Suite(auth=True, indexer=True, imap_workers=1, indexer__poll_interval="1s",
                  **options)
    suite.start()
    try:
        r = subprocess.run([WDCTL, "-c", suite.config_path, "user", "create", "bench", "secret",
                            "bench@example.test"], capture_output=True, text=True, check=True)
        user_id = r.stdout.strip()
        conn = Lines(suite.connect())
        conn.readline()
        assert conn.command("l", "LOGIN bench secret")[-1].startswith("l OK")
        start = time.time()
        # APPEND with LITERAL+, pipelined in groups
        for base in range(0, args.messages, 100):
            chunk = b""
            count = min(100, args.messages - base)
            for n in range(base, base + count):
                raw = message(n, rng)
                chunk += f"a{n} APPEND INBOX {{{len(raw)}+}}\r\n".encode() + raw + b"\r\n"
            conn.send(chunk)
            done = 0
            while done < count:
                line = conn.readline(timeout=120)
                if line.startswith("a") and " OK" in line:
                    done += 1
                elif line.startswith("a"):
                    raise AssertionError(line)
        print(f"appended {args.messages} messages in {time.time() - start:.1f}s")
        start = time.time()

        def indexed():
            if args.mongodb:
                r = subprocess.run([WDCTL, "-c", suite.config_path, "reindex", "--status",
                                    "bench"], capture_output=True, text=True)
                st = dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l)
                return int(st.get("indexed", 0))
            try:
                db = sqlite3.connect(f"file:{suite.fts_path}?mode=ro", uri=True, timeout=10)
                n = db.execute("SELECT count(*) FROM docs WHERE user = ?", (user_id,)).fetchone()[0]
                db.close()
                return n
            except sqlite3.OperationalError:
                return 0

        suite.wait_until(lambda: indexed() == args.messages, 1800, "all messages indexed")
        print(f"indexed in {time.time() - start:.1f}s more; " +
              ("index in MongoDB" if args.mongodb else
               f"index file {os.path.getsize(suite.fts_path) / 1e6:.1f} MB"))
        for pid in suite.worker_pids("indexer"):
            os.kill(pid, signal.SIGSTOP)
        try:
            assert conn.command("c", "CREATE Scan")[-1].startswith("c OK")
            assert conn.command("s", "SELECT INBOX")[-1].startswith("s OK")
            assert conn.command("c", "UID COPY 1:* Scan", timeout=600)[-1].startswith("c OK")
            results = {}
            for word in ("zebracorn", "invoice"):
                for box, runs in (("INBOX", args.runs), ("Scan", args.scan_runs)):
                    assert conn.command("s", f"SELECT {box}")[-1].startswith("s OK")
                    times, hits = [], None
                    for i in range(runs):
                        t, hits = timed(conn, f"q{i}", f"UID SEARCH BODY {word}")
                        times.append(t * 1000)
                    times.sort()
                    results[(word, box)] = (statistics.median(times),
                                            times[int(len(times) * 0.9) - 1 if len(times) > 1 else 0],
                                            hits)
            print(f"\n{'query':<22} {'mailbox':<14} {'hits':>6} {'p50 ms':>9} {'p90 ms':>9}")
            for (word, box), (p50, p90, hits) in results.items():
                label = "index" if box == "INBOX" else "scan"
                print(f"BODY {word:<17} {box + ' (' + label + ')':<14} {hits:>6} {p50:>9.1f} "
                      f"{p90:>9.1f}")
            for word in ("zebracorn", "invoice"):
                i50, s50 = results[(word, "INBOX")][0], results[(word, "Scan")][0]
                assert results[(word, "INBOX")][2] == results[(word, "Scan")][2]
                print(f"BODY {word}: index p50 {i50:.1f} ms, scan p50 {s50:.1f} ms, "
                      f"scan/index = {s50 / i50:.0f}x")
            backend = "mongodb" if args.mongodb else "sqlite"
            for word in ("zebracorn", "invoice"):
                print("BENCH " + json.dumps({
                    "name": f"SEARCH BODY {word} ({backend}, {args.messages} msgs)",
                    "p50": round(results[(word, "INBOX")][0], 1),
                    "baseline": "scan p50",
                    "ratio": round(results[(word, "Scan")][0] / results[(word, "INBOX")][0],
                                   1)}), flush=True)
            goal = results[("zebracorn", "INBOX")][0]
            print(f"goal (< 50 ms p50 on {args.messages} messages): "
                  f"{'met' if goal < 50 else 'NOT met'}")
        finally:
            for pid in suite.worker_pids("indexer"):
                os.kill(pid, signal.SIGCONT)
    finally:
        suite.close()
        if mongo is not None:
            mongo.stop()


if __name__ == "__main__":
    main()
