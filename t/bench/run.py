#!/usr/bin/env python3
"""`make bench`: runs every load generator in t/bench/ one after the other
and prints one table of their figures: ops/s, p50/p99 latency, RSS per
connection and bytes stored per message, each with the baseline the bench
measured in the same run (NOOP round trips for IMAP, Dovecot when it is
installed, the raw message size for storage, ...) and the ratio to it.
    BUILD=build python3 t/bench/run.py [--quick] [--verbose]

A bench reports figures either in its own text format (parsed below) or
as lines "BENCH {json}" with the keys of Row (name required)."""
import glob
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
KEYS = ("name", "ops", "p50", "p99", "rss_conn", "bytes_msg", "baseline", "ratio")


def row(name, **kw):
    r = dict.fromkeys(KEYS)
    r["name"] = name
    r.update(kw)
    return r


def benches(quick):
    """(name, argv) for every bench; C benches are built into BUILD/t/bench."""
    out = []
    for py in sorted(glob.glob(os.path.join(HERE, "*.py"))):
        name = os.path.basename(py)[:-3]
        if name == "run":
            continue
        argv = [sys.executable, py]
        if quick and name == "imap":
            argv += ["--seconds", "3", "--idle", "300"]
        elif quick:
            argv += ["--quick"]
        out.append((name, argv))
    for c in sorted(glob.glob(os.path.join(HERE, "*.c"))):
        name = os.path.basename(c)[:-2]
        binary = os.path.join(BUILD, "t", "bench", name)
        if name.endswith("_tool") or not os.access(binary, os.X_OK):
            continue
        argv = [binary]
        if quick and name == "store_append":
            argv += ["-n", "500"]
        out.append((name, argv))
    return out


def parse_imap(text):
    rows = []
    base = re.search(r"baseline NOOP: (\d+) commands/s", text)
    mix = re.search(r"mix: (\d+) commands/s \(([\d.]+) x NOOP\)", text)
    idle = re.search(r"([\d.]+) KiB per connection", text)
    if mix:
        rows.append(row("imap mix", ops=float(mix.group(1)),
                        rss_conn=float(idle.group(1)) if idle else None,
                        baseline=f"NOOP {base.group(1)}/s" if base else None,
                        ratio=float(mix.group(2))))
    for m in re.finditer(r"^  ([A-Z][A-Z-]+) +(\d+) +([\d.]+) +([\d.]+)$", text, re.M):
        rows.append(row(f"imap {m.group(1)}", p50=float(m.group(3)), p99=float(m.group(4))))
    dove = re.search(r"dovecot mix: (\d+) commands/s.*?ours/dovecot ([\d.]+)", text)
    if dove:
        rows.append(row("imap mix vs Dovecot", ops=float(mix.group(1)) if mix else None,
                        baseline=f"Dovecot {dove.group(1)}/s", ratio=float(dove.group(2))))
    for m in re.finditer(r"^  dovecot (\S+) +(\d+) +([\d.]+) +([\d.]+) +ours ([\d.]+) +"
                         r"([\d.]+)$", text, re.M):
        rows.append(row(f"imap {m.group(1)} vs Dovecot", p50=float(m.group(5)),
                        p99=float(m.group(6)),
                        baseline=f"p50 {m.group(3)} ms", ratio=float(m.group(5)) /
                        max(float(m.group(3)), 1e-6)))
    didle = re.search(r"dovecot idle: ([\d.]+) KiB per connection", text)
    if didle:
        rows.append(row("imap idle vs Dovecot", rss_conn=float(idle.group(1)) if idle else None,
                        baseline=f"Dovecot {didle.group(1)} KiB",
                        ratio=(float(idle.group(1)) / max(float(didle.group(1)), 1e-6))
                        if idle else None))
    return rows


def parse_lmtp(text):
    rows = []
    for m in re.finditer(r"^ *(\d+)KB +(\d+) +(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +(\d+) +(\d+)$",
                         text, re.M):
        kb, rc, conns, rate, _, _, stored, raw = m.groups()
        rows.append(row(f"lmtp {kb}KB x{rc} rcpt, {conns} conn", ops=float(rate),
                        bytes_msg=float(stored), baseline=f"raw {raw} B",
                        ratio=float(stored) / float(raw)))
    return rows


def parse_store_append(text):
    ops = re.search(r"appends/s +([\d.]+)", text)
    p50 = re.search(r"p50 +([\d.]+) ms", text)
    p99 = re.search(r"p99 +([\d.]+) ms", text)
    per = re.search(r"bytes/message +(\d+) .*raw input (\d+) bytes/message", text)
    if not ops:
        return []
    return [row("store_append (sqlite)", ops=float(ops.group(1)),
                p50=float(p50.group(1)) if p50 else None,
                p99=float(p99.group(1)) if p99 else None,
                bytes_msg=float(per.group(1)) if per else None,
                baseline=f"raw {per.group(2)} B" if per else None,
                ratio=float(per.group(1)) / float(per.group(2)) if per else None)]


def parse_auth(text):
    rows = []
    for m in re.finditer(r"^(.+?) +([\d.]+) verifications/s +\(([\d.]+) ms each\)$", text, re.M):
        rows.append(row(f"auth {m.group(1).strip()}", ops=float(m.group(2)),
                        p50=float(m.group(3))))
    return rows


PARSERS = {"imap": parse_imap, "lmtp": parse_lmtp, "store_append": parse_store_append,
           "auth": parse_auth}


def parse(name, text):
    rows = []
    for line in text.splitlines():
        if line.startswith("BENCH "):
            rows.append(row(**json.loads(line[6:])))
    if not rows and name in PARSERS:
        rows = PARSERS[name](text)
    return rows


def fmt(v, spec):
    if v is None:
        return "-"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def print_table(rows):
    head = (f"{'bench':<34} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'KiB/conn':>9} "
            f"{'B/msg':>8}  {'baseline':<20} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name'][:34]:<34} {fmt(r['ops'], '.1f'):>9} {fmt(r['p50'], '.2f'):>8} "
              f"{fmt(r['p99'], '.2f'):>8} {fmt(r['rss_conn'], '.1f'):>9} "
              f"{fmt(r['bytes_msg'], '.0f'):>8}  {fmt(r['baseline'], '')[:20]:<20} "
              f"{fmt(r['ratio'], '.2f'):>6}")


def main():
    quick = "--quick" in sys.argv
    verbose = "--verbose" in sys.argv
    failed, rows = [], []
    for name, argv in benches(quick):
        print(f"== {name}", flush=True)
        start = time.time()
        try:
            r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800)
            out, rc, err = r.stdout, r.returncode, r.stderr
        except subprocess.TimeoutExpired as e:
            out, rc, err = e.stdout or "", "timeout", ""
            out = out.decode() if isinstance(out, bytes) else out
        got = parse(name, out)
        rows += got
        if verbose or not got:
            print(out.rstrip())
        if rc != 0:
            failed.append(name)
            print(f"   FAILED ({rc}): {err[-2000:]}")
        print(f"   {len(got)} figures ({time.time() - start:.0f}s)", flush=True)
    print()
    print_table(rows)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
