#!/usr/bin/env python3
"""wd-api load: requests/s for GET /users/:id/mailboxes/:mb/messages (a page
of 50 of 500 messages) and for GET of one parsed message, from N keep-alive
clients in threads against one worker with the root token, plus /health as
the baseline of the HTTP layer alone.
    BUILD=build python3 t/bench/api.py [--quick] [--seconds S] [--clients N]"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Suite  # noqa: E402


def run(host, port, token, path, seconds, clients):
    count = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i):
        c = http.client.HTTPConnection(host, port, timeout=30)
        while time.monotonic() < stop:
            c.request("GET", path, headers={"X-Access-Token": token})
            r = c.getresponse()
            r.read()
            if r.status == 200:
                count[i] += 1
            else:
                errors[i] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    return sum(count) / elapsed, sum(errors)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--messages", type=int, default=500)
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.messages = 2, 100
    suite = Suite(api=True, imap_workers=1, log_level="info", api__store_threads=4)
    suite.start()
    try:
        host, port = suite.address("api")
        token = suite.api_token
        c = http.client.HTTPConnection(host, port, timeout=30)

        def call(method, path, body=None, ctype="application/json"):
            c.request(method, path, body=body, headers={"X-Access-Token": token,
                                                        "Content-Type": ctype})
            r = c.getresponse()
            data = r.read()
            assert r.status == 200, (path, r.status, data)
            return json.loads(data)

        uid = call("POST", "/users", json.dumps({"username": "bench", "password": "x"}))["id"]
        mbs = call("GET", f"/users/{uid}/mailboxes")["results"]
        inbox = [m for m in mbs if m["path"] == "INBOX"][0]["id"]
        body = ("Some text of a typical message, repeated to make it longer. " * 40 + "\r\n")
        for i in range(a.messages):
            raw = (f"From: Sender {i} <s{i}@remote.test>\r\nTo: bench@example.test\r\n"
                   f"Subject: Benchmark message {i}\r\nMessage-ID: <{i}@bench>\r\n"
                   f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                   f"{body}").encode()
            call("POST", f"/users/{uid}/mailboxes/{inbox}/messages", raw, "message/rfc822")
        c.close()
        for name, path in (("health", "/health"),
                           ("list_50", f"/users/{uid}/mailboxes/{inbox}/messages?limit=50"),
                           ("message_get", f"/users/{uid}/mailboxes/{inbox}/messages/1")):
            rps, errors = run(host, port, token, path, a.seconds, a.clients)
            print(f"api {name}: {rps:.0f} requests/s ({a.clients} clients, {errors} errors)",
                  flush=True)
    finally:
        suite.close()


if __name__ == "__main__":
    main()
