#!/usr/bin/env python3
"""Valgrind memcheck of a short end-to-end session (`make valgrind`, CI).

Starts the suite with the master under valgrind and every worker (imap,
pop3, lmtp, auth, api, indexer) under valgrind too, through the master's
WD_WORKER_WRAPPER hook; then: LMTP delivery, the indexer catching up, IMAP
LOGIN, APPEND, FETCH, SEARCH through the index, SORT, THREAD, STORE,
EXPUNGE, POP3 RETR, API calls (authenticate, mailboxes, message list and
get, search, raw source, threads), a graceful stop. Fails when any process logged a
memcheck error or a definite leak, or did not leave a valgrind summary.
    BUILD=build python3 t/valgrind/session.py [--keep]"""
import glob
import http.client
import imaplib
import json
import os
import poplib
import re
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import BUILD, WILDDUCK, Suite  # noqa: E402

TOOL = os.path.join(BUILD, "t", "bench", "lmtp_tool")
SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wildduck.supp")


def valgrind_argv(logdir):
    return ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--track-fds=no", "--num-callers=30", f"--suppressions={SUPP}",
            f"--log-file={logdir}/vg.%p.log"]


class ValgrindSuite(Suite):
    """The harness suite, with the master started under valgrind and the
    workers wrapped by it; generous timeouts, since valgrind is ~20x slower."""

    def __init__(self, logdir, **kw):
        self.logdir = logdir
        super().__init__(**kw)

    def start(self, wait=True):
        if self.redis_socket and self.redis_proc is None:
            self.start_redis()
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, WD_WORKER_WRAPPER=" ".join(valgrind_argv(self.logdir)))
        self.proc = subprocess.Popen(valgrind_argv(self.logdir) + [WILDDUCK, "-F", "-c",
                                                                   self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_running(timeout=180)
        return self


def message(n):
    return (f"From: Sender <s@remote.test>\r\nTo: <vg@example.test>\r\nSubject: vg {n}\r\n"
            f"Message-ID: <{n}.{time.time_ns()}@remote.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello {n}\r\n.dot\r\n--B\r\n"
            f"Content-Type: application/octet-stream; name*=utf-8''%E2%82%AC.bin\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n" + "QUJDRA==\r\n" * 400 +
            "--B--\r\n").encode()


def session(suite):
    db = os.path.join(suite.dir, "data", "wildduck.db")
    kw = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
    subprocess.run([TOOL, db, "user", "vg", "vg@example.test", "0", "secret-pw"],
                   check=True, capture_output=True, timeout=60, **kw)
    host, port = suite.address("lmtp")
    with smtplib.LMTP(host, port, timeout=120) as l:
        for n in range(3):
            l.sendmail("s@remote.test", ["vg@example.test"], message(n))
    host, port = suite.address("imap")
    m = imaplib.IMAP4(host, port, timeout=120)
    m.login("vg", "secret-pw")
    assert m.select("INBOX")[0] == "OK"
    assert m.append("INBOX", None, None, message(9))[0] == "OK"
    typ, data = m.fetch("1:*", "(UID FLAGS BODYSTRUCTURE ENVELOPE BODY.PEEK[])")
    assert typ == "OK" and len([d for d in data if isinstance(d, tuple)]) == 4, data
    wait_indexed(suite, 3)
    assert m.search(None, "BODY", "Hello")[0] == "OK"
    assert m._simple_command("SORT", "(REVERSE DATE SUBJECT)", "UTF-8", "ALL")[0] == "OK"
    assert m.thread("REFERENCES", "UTF-8", "ALL")[0] == "OK"
    assert m.store("1", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert m.expunge()[0] == "OK"
    m.logout()
    host, port = suite.address("pop3")
    p = poplib.POP3(host, port, timeout=120)
    p.user("vg")
    p.pass_("secret-pw")
    count, _ = p.stat()
    assert count == 3, count
    lines = p.retr(1)[1]
    assert any(b"Hello" in x for x in lines)
    p.quit()
    api_calls(suite)


def wait_indexed(suite, count, timeout=120):
    """Until the indexer has count messages in its index file."""
    import sqlite3
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with sqlite3.connect(f"file:{suite.fts_path}?mode=ro", uri=True) as db:
                if db.execute("SELECT count(*) FROM docs").fetchone()[0] >= count:
                    return
        except sqlite3.Error:
            pass
        time.sleep(1)
    raise AssertionError(f"the indexer did not index {count} messages in {timeout}s")


def api_calls(suite):
    host, port = suite.address("api")
    conn = http.client.HTTPConnection(host, port, timeout=120)
    def call(method, path, body=None, token=suite.api_token):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"X-Access-Token": token, "Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200, (method, path, resp.status, data[:500])
        return json.loads(data) if resp.getheader("Content-Type", "").startswith(
            "application/json") else data
    auth = call("POST", "/authenticate", {"username": "vg", "password": "secret-pw",
                                           "token": True})
    token, user = auth["token"], auth["id"]
    boxes = call("GET", f"/users/{user}/mailboxes", token=token)["results"]
    inbox = [b for b in boxes if b["path"] == "INBOX"][0]["id"]
    msgs = call("GET", f"/users/{user}/mailboxes/{inbox}/messages?limit=10", token=token)
    first = msgs["results"][0]["id"]
    call("GET", f"/users/{user}/mailboxes/{inbox}/messages/{first}", token=token)
    call("GET", f"/users/{user}/mailboxes/{inbox}/messages/{first}/message.eml", token=token)
    call("GET", f"/users/{user}/search?q=Hello", token=token)
    call("GET", f"/users/{user}/threads", token=token)
    call("GET", "/users?limit=5")
    conn.close()


def check_logs(logdir):
    """(problems, summaries) over every valgrind log."""
    problems, summaries = [], 0
    for path in sorted(glob.glob(os.path.join(logdir, "vg.*.log"))):
        text = open(path, errors="replace").read()
        cmd = re.search(r"Command: (.*)", text)
        name = f"{os.path.basename(path)} ({cmd.group(1) if cmd else '?'})"
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m is None:
            problems.append(f"{name}: no ERROR SUMMARY (killed?)\n{text[-3000:]}")
            continue
        summaries += 1
        if int(m.group(1)) != 0:  # definite leaks count as errors too
            problems.append(f"{name}:\n{text[-12000:]}")
    return problems, summaries


def main():
    keep = "--keep" in sys.argv
    logdir = tempfile.mkdtemp(prefix="wd-valgrind-")
    os.chmod(logdir, 0o1777)  # workers write their logs as nobody
    start = time.time()
    suite = ValgrindSuite(logdir, auth=True, lmtp=True, pop3=True, api=True, indexer=True,
                          imap_workers=1,
                          shutdown_grace="120s", worker_timeout="120s", log_level="info")
    try:
        suite.start()
        session(suite)
        rc = suite.stop(timeout=300)
    except Exception:
        print(suite.log_text()[-6000:])
        raise
    finally:
        if suite.proc is not None and suite.proc.poll() is None:
            suite.proc.kill()
            suite.proc.wait()
        suite.stop_redis()
    problems, summaries = check_logs(logdir)
    print(f"valgrind: {summaries} processes checked, {len(problems)} with errors, master "
          f"exit {rc}, {time.time() - start:.0f}s (logs in {logdir})")
    for p in problems:
        print(p)
    ok = not problems and summaries >= 7 and rc == 0
    if ok and not keep:
        import shutil
        shutil.rmtree(logdir, ignore_errors=True)
        shutil.rmtree(suite.dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
