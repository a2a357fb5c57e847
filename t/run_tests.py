#!/usr/bin/env python3
"""Runs every test of the suite and prints one summary line.

Unit tests are check binaries (build/t/unit/test_*), the store contract suite
is build/t/store/store_contract, end-to-end tests are Python unittest modules
in t/e2e/ that start the real suite. The last line is "N passed, N failed".
Options: --unit, --e2e (only those), -k PATTERN (e2e test name filter).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
CHECK_RE = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def run_check_binary(path, env=None, label=""):
    """Runs one check binary; returns (passed, failed)."""
    start = time.time()
    proc = subprocess.run([path], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, CK_VERBOSITY="normal", **(env or {})),
                          timeout=1200)
    out = proc.stdout + proc.stderr
    total = failed = 0
    for m in CHECK_RE.finditer(out):
        total += int(m.group(2))
        failed += int(m.group(3)) + int(m.group(4))
    if total == 0 or proc.returncode != 0 and failed == 0:
        failed += 1  # crashed or printed nothing: count it as a failure
    name = os.path.relpath(path, ROOT) + (" " + label if label else "")
    status = "ok" if failed == 0 else "FAILED"
    # a check that needs a missing server feature passes and says "SKIP test: why"
    skips = sorted(set(re.findall(r"^SKIP (\S+): (.*)$", out, re.M)))
    skipped = f", {len(skips)} skipped: " + "; ".join(f"{t} ({why})" for t, why in skips) \
        if skips else ""
    print(f"{name}: {total - failed if total >= failed else 0}/{total} {status} "
          f"({time.time() - start:.1f}s{skipped})", flush=True)
    if failed:
        print(out[-6000:], flush=True)
    return max(total - failed, 0), failed


def run_on_mongodb(binaries):
    """The store contract suite (WD_TEST_STORE) and the index's unit tests
    (WD_TEST_FTS: lib/fts and lib/thread on the MongoDB backend) again on
    the FerretDB test server, when built (make mongo-test-server);
    WD_TEST_MONGODB_URI selects a real mongod."""
    env = {"WD_TEST_STORE": "mongodb", "WD_TEST_FTS": "mongodb"}
    uri = os.environ.get("WD_TEST_MONGODB_URI")
    passed = failed = 0
    if uri:
        for b in binaries:
            p, f = run_check_binary(b, env, "[mongodb]")
            passed, failed = passed + p, failed + f
        return passed, failed
    sys.path.insert(0, os.path.join(ROOT, "t", "mongo"))
    import server
    if not server.available():
        for b in binaries:
            print(f"{os.path.relpath(b, ROOT)} [mongodb]: skipped "
                  "(no build/ferretdb-test: make mongo-test-server)", flush=True)
        return 0, 0
    with server.MongoServer() as m:
        for b in binaries:
            p, f = run_check_binary(b, dict(env, WD_TEST_MONGODB_URI=m.uri), "[mongodb]")
            passed, failed = passed + p, failed + f
    return passed, failed


def run_unit():
    passed = failed = 0
    binaries = sorted(glob.glob(os.path.join(BUILD, "t", "unit", "test_*")))
    binaries = [b for b in binaries if os.access(b, os.X_OK) and not b.endswith(".d")]
    store = os.path.join(BUILD, "t", "store", "store_contract")
    if os.access(store, os.X_OK):
        binaries.append(store)
    for b in binaries:
        p, f = run_check_binary(b)
        passed += p
        failed += f
    on_mongodb = [b for b in binaries if os.path.basename(b) in ("test_fts", "test_thread")]
    if os.access(store, os.X_OK):
        on_mongodb.append(store)
    p, f = run_on_mongodb(on_mongodb)
    passed += p
    failed += f
    return passed, failed


def run_e2e(pattern):
    sys.path.insert(0, os.path.join(ROOT, "t", "e2e"))
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = [f"*{pattern}*"]
    suite = loader.discover(os.path.join(ROOT, "t", "e2e"), pattern="test_*.py",
                            top_level_dir=os.path.join(ROOT, "t", "e2e"))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    return result.testsRun - failed - skipped, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", action="store_true")
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("-k", dest="pattern")
    args = ap.parse_args()
    both = not args.unit and not args.e2e
    passed = failed = skipped = 0
    if args.unit or both:
        p, f = run_unit()
        passed, failed = passed + p, failed + f
    if args.e2e or both:
        p, f, s = run_e2e(args.pattern)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
