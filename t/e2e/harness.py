"""End-to-end harness: runs the real suite in a temporary folder.

Suite() writes a config with listeners on 127.0.0.1 port 0 (the kernel picks
free ports, read back from the control socket), starts `wildduck -F`, waits
until every worker runs, and stops it again. Tests speak the real protocols
over sockets. BUILD (default build/) names the folder with the binaries.

Shared plumbing for the test classes: needs_mongodb and start_mongodb() run a
class on the MongoDB store (the FerretDB test server from t/mongo/server.py),
start_redis()/stop_redis() a private redis-server, peak_rss()/reset_peak_rss()
read a process's memory peak.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
WILDDUCK = os.path.join(BUILD, "wildduck")
WDCTL = os.path.join(BUILD, "wdctl")

sys.path.insert(0, os.path.join(ROOT, "t", "mongo"))
import server as mongo_server  # noqa: E402

# class decorator for tests that run the suite on MongoDB: they skip without
# the FerretDB-based test server binary
needs_mongodb = unittest.skipUnless(mongo_server.available(),
                                    "no build/ferretdb-test (make mongo-test-server)")


def start_mongodb(cls, database):
    """Starts a private MongoDB test server for the test class `cls` (as
    cls.mongo; stopped after the class, also when its set-up fails) and returns
    the Suite options for the MongoDB store on it, in a fresh database named
    `database`_<random>. Call it from setUpClass."""
    cls.mongo = mongo_server.MongoServer().start()
    cls.addClassCleanup(cls.mongo.stop)
    return dict(store__driver="mongodb", store__mongodb_uri=cls.mongo.uri,
                store__mongodb_database=database + "_" + uuid.uuid4().hex[:8])


def make_cert(folder, name):
    """A self-signed EC certificate for DNS name `name`; returns (cert, key)."""
    cert = os.path.join(folder, f"{name}.crt")
    key = os.path.join(folder, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def ipc_escape(field):
    return (field.replace("\x01", "\x011").replace("\t", "\x01t")
            .replace("\r", "\x01r").replace("\n", "\x01n"))


def ipc_unescape(field):
    out, i = [], 0
    while i < len(field):
        if field[i] == "\x01":
            out.append({"1": "\x01", "t": "\t", "r": "\r", "n": "\n"}[field[i + 1]])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def control_request(path, command, timeout=30):
    """One request on the master's control socket: returns (ok, lines), each
    line a list of unescaped fields."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(f"{ipc_escape(command)}\t1\n".encode())
    data, lines = b"", []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("control socket closed")
        data += chunk
        while b"\n" in data:
            raw, data = data.split(b"\n", 1)
            fields = [ipc_unescape(f) for f in raw.decode().split("\t")]
            lines.append(fields)
            if fields[0] in ("OK", "FAIL"):
                s.close()
                return fields[0] == "OK", lines


def kv(fields):
    return dict(f.split("=", 1) for f in fields[2:] if "=" in f)


def start_redis(folder, unix_socket):
    """A private redis-server listening on unix_socket only (no persistence,
    working dir folder); returns its Popen once it accepts connections."""
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", unix_socket,
         "--unixsocketperm", "777", "--save", "", "--appendonly", "no",
         "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(unix_socket)
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise AssertionError("redis-server did not start")


def stop_redis(proc):
    """Stops a redis-server from start_redis() (None or already gone: nothing)."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Suite:
    def __init__(self, tls=False, imap_workers=2, certs=None, redis=False,
                 auth=False, lmtp=False, pop3=False, api=False, indexer=False, **options):
        self.dir = tempfile.mkdtemp(prefix="wd-e2e-")
        os.chmod(self.dir, 0o755)  # workers run as nobody when we are root
        self.proc = None
        self.certs = certs
        if tls and certs is None:
            self.certs = [make_cert(self.dir, "mail.example.test")]
        self.tls = tls or bool(certs)
        self.options = options
        self.imap_workers = imap_workers
        self.config_path = os.path.join(self.dir, "wildduck.yaml")
        self.control = os.path.join(self.dir, "control.sock")
        self.log_path = os.path.join(self.dir, "wildduck.log")
        self.auth_socket = os.path.join(self.dir, "auth.sock")
        # redis=True: a private redis-server on a unix socket in the temp dir
        self.redis_socket = os.path.join(self.dir, "redis.sock") if redis else None
        self.redis_proc = None
        # auth=True starts wd-auth; off by default so that tests of the master
        # see only the imap workers they count
        self.auth = auth
        # lmtp=True / pop3=True start wd-lmtp / wd-pop3 (pop3 with TLS too
        # when the suite has certificates); outbound mail goes to self.spool
        self.lmtp, self.pop3 = lmtp, pop3
        self.spool = os.path.join(self.dir, "outbound")
        # api=True starts wd-api with root token self.api_token (HTTPS too
        # when the suite has certificates)
        self.api = api
        self.api_token = "root-token-for-tests"
        # indexer=True starts wd-indexer (index file self.fts_path)
        self.indexer = indexer
        self.fts_path = os.path.join(self.dir, "data", "fts.db")
        self.write_config()

    def config(self):
        listen = [{"address": "127.0.0.1:0"}]
        if self.tls:
            listen.append({"address": "127.0.0.1:0", "tls": True})
        cfg = {
            "data_dir": os.path.join(self.dir, "data"),
            "pid_file": os.path.join(self.dir, "wildduck.pid"),
            "control_socket": self.control,
            "log_level": "debug",
            "shutdown_grace": "5s",
            "restart_delay_min": "100ms",
            "restart_delay_max": "1s",
            "imap": {"workers": self.imap_workers, "listen": listen},
            "auth": {"enabled": self.auth, "workers": 1,
                     "listen": [{"address": "unix:" + self.auth_socket}]},
            "lmtp": {"enabled": self.lmtp, "workers": 1,
                     "listen": [{"address": "127.0.0.1:0"}],
                     "outbound_spool": self.spool},
            "pop3": {"enabled": self.pop3, "workers": 1, "listen": [dict(l) for l in listen]},
            "api": {"enabled": self.api, "workers": 1, "listen": [dict(l) for l in listen],
                    "access_token": self.api_token},
            "indexer": {"enabled": self.indexer, "workers": 1},
        }
        if self.redis_socket:
            cfg["redis"] = {"address": "unix:" + self.redis_socket}
        if os.geteuid() == 0:
            cfg["user"], cfg["group"] = "nobody", "nogroup"
        if self.certs:
            cfg["tls"] = {"certificates": [{"cert": c, "key": k} for c, k in self.certs]}
        for key, value in self.options.items():
            section, _, name = key.rpartition("__")
            (cfg.setdefault(section, {}) if section else cfg)[name] = value
        return cfg

    def write_config(self, text=None):
        with open(self.config_path, "w") as f:
            f.write(text if text is not None else json.dumps(self.config(), indent=2))

    def start_redis(self):
        self.redis_proc = start_redis(self.dir, self.redis_socket)

    def stop_redis(self):
        stop_redis(self.redis_proc)

    def start(self, wait=True):
        if self.redis_socket and self.redis_proc is None:
            self.start_redis()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([WILDDUCK, "-F", "-c", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_running()
        return self

    def status(self):
        ok, lines = control_request(self.control, "STATUS")
        assert ok, lines
        st = {"master": {}, "services": {}, "workers": [], "listeners": []}
        for f in lines:
            if f[0] == "MASTER":
                st["master"] = kv(f)
            elif f[0] == "SERVICE":
                st["services"][kv(f)["name"]] = kv(f)
            elif f[0] == "WORKER":
                st["workers"].append(kv(f))
            elif f[0] == "LISTEN":
                st["listeners"].append(kv(f))
        return st

    def wait_until(self, predicate, timeout=10, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except (OSError, ConnectionError, AssertionError, KeyError):
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"master exited ({self.proc.returncode}) waiting for "
                                     f"{what}\n{self.log_text()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.log_text()[-4000:]}")

    def all_running(self):
        st = self.status()
        for s in st["services"].values():
            if s["enabled"] == "yes" and s["workers"] != s["wanted"]:
                return False
        return all(w["state"] == "running" for w in st["workers"]) and st

    def wait_running(self, timeout=10):
        return self.wait_until(self.all_running, timeout, "all workers running")

    def worker_pids(self, service="imap", generation=None):
        return [int(w["pid"]) for w in self.status()["workers"]
                if w["service"] == service and int(w["pid"]) > 0 and
                (generation is None or int(w["generation"]) == generation)]

    def address(self, service="imap", tls=False):
        for l in self.status()["listeners"]:
            if l["service"] == service and (l["tls"] == "yes") == tls:
                host, _, port = l["address"].rpartition(":")
                return host.strip("[]"), int(port)
        raise KeyError(f"no {service} listener with tls={tls}")

    def connect(self, service="imap", tls=False, server_name="mail.example.test", timeout=5):
        host, port = self.address(service, tls)
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=server_name)
        return sock

    def wdctl(self, *args, timeout=60):
        return subprocess.run([WDCTL, "-s", self.control, *args], capture_output=True,
                              text=True, timeout=timeout)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("master did not stop in time\n" + self.log_text()[-4000:])

    SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

    def close(self):
        try:
            self.stop()
            # a sanitizer report in any process of the suite fails the test
            log = self.log_text()
            for mark in self.SANITIZER_MARKS:
                if mark in log:
                    raise AssertionError(f"sanitizer report in the suite log:\n{log[-6000:]}")
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stop_redis()
            if hasattr(self, "log"):
                self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class Lines:
    """Line reader over a socket (CRLF), for protocol tests."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self, timeout=5):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def command(self, tag, text, timeout=5):
        """Sends 'tag text' and returns all lines up to the tagged reply."""
        self.send(f"{tag} {text}\r\n")
        lines = []
        while True:
            line = self.readline(timeout)
            lines.append(line)
            if line.startswith(tag + " "):
                return lines


def process_children(pid):
    """(pid, state) of every process whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        if int(rest[1]) == pid:
            out.append((int(entry), rest[0]))
    return out


def open_fds(pid):
    return sorted(os.listdir(f"/proc/{pid}/fd"))


def reset_peak_rss(pid):
    """Resets the peak resident set size (VmHWM) of process pid."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def peak_rss(pid):
    """The peak resident set size (VmHWM) of process pid, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        return int([l for l in f if l.startswith("VmHWM:")][0].split()[1]) * 1024
