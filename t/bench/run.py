#!/usr/bin/env python3
"""`make bench`: runs every load generator in t/bench/ one after the other
and prints their figures. Each bench measures its own baseline in the same
run (NOOP round trips for IMAP, ...) and reports ratios against it.
    BUILD=build python3 t/bench/run.py [--quick]"""
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))


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
        out.append((name, [binary]))
    return out


def main():
    quick = "--quick" in sys.argv
    failed = 0
    for name, argv in benches(quick):
        print(f"== {name}", flush=True)
        start = time.time()
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        print(r.stdout.rstrip())
        if r.returncode != 0:
            failed += 1
            print(f"   FAILED ({r.returncode}): {r.stderr[-2000:]}")
        print(f"   ({time.time() - start:.0f}s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
