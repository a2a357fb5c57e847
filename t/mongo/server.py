"""Starts the FerretDB-based MongoDB test server (build/ferretdb-test, built
by `make mongo-test-server` from t/mongo/main.go) for the store contract
suite and the e2e tests.

    from server import MongoServer, binary_path
    with MongoServer() as m:
        os.environ["WD_TEST_MONGODB_URI"] = m.uri

Also a command: `python3 t/mongo/server.py -- CMD ARGS...` runs CMD with
WD_TEST_MONGODB_URI set to a fresh server and stops the server afterwards.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary_path():
    """build/ferretdb-test (the Go binary does not depend on SANITIZE)."""
    return os.path.join(ROOT, "build", "ferretdb-test")


def available():
    return os.access(binary_path(), os.X_OK)


class MongoServer:
    """A private server on a free loopback port with its data in a temp dir.
    The server exits when its stdin closes, so it never outlives us."""

    def __init__(self, data_dir=None, address="127.0.0.1:0"):
        self.address = address
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="wd-mongo-")
        self.proc = None
        self.uri = None

    def start(self, timeout=30):
        if not available():
            raise FileNotFoundError(f"{binary_path()} missing: run make mongo-test-server")
        self.log = open(os.path.join(self.dir, "ferretdb.log"), "ab")
        self.proc = subprocess.Popen([binary_path(), self.address,
                                      os.path.join(self.dir, "data")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        deadline = time.time() + timeout
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("mongodb://"):
            self.stop()
            raise RuntimeError(f"ferretdb-test did not start: {line!r}")
        self.uri = line
        self.address = line[len("mongodb://"):].rstrip("/")  # a restart keeps the port
        while time.time() < deadline:  # the proxy answers once FerretDB does
            import socket
            host, port = line[len("mongodb://"):].rstrip("/").rsplit(":", 1)
            try:
                socket.create_connection((host, int(port)), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("ferretdb-test does not accept connections")

    def kill(self):
        """Stops the server but keeps its data: start() brings it back on
        the same port (a store outage for tests)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            self.log.close()

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            self.log.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print(__doc__)
        return 2
    with MongoServer() as m:
        env = dict(os.environ, WD_TEST_MONGODB_URI=m.uri)
        print(f"WD_TEST_MONGODB_URI={m.uri}", file=sys.stderr, flush=True)
        return subprocess.run(args, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
