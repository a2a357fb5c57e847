"""The master: start, status, restarts, reload, stop, config errors."""
import os
import signal
import ssl
import subprocess
import time
import unittest

from harness import (WILDDUCK, Lines, Suite, make_cert, open_fds, process_children)


def greeting(suite, tls=False):
    sock = suite.connect(tls=tls)
    conn = Lines(sock)
    return sock, conn, conn.readline()


class StartStop(unittest.TestCase):
    def test_start_status_and_graceful_stop(self):
        suite = Suite(imap_workers=2)
        try:
            suite.start()
            r = suite.wdctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("imap", r.stdout)
            self.assertRegex(r.stdout, r"imap\s+enabled\s+2/2\s+0\s+0")
            self.assertEqual(len(suite.worker_pids()), 2)
            sock, conn, hello = greeting(suite)
            self.assertTrue(hello.startswith("* OK "), hello)
            pidfile = os.path.join(suite.dir, "wildduck.pid")
            with open(pidfile) as f:
                self.assertEqual(int(f.read()), suite.proc.pid)
            # a connected client hears goodbye, the master exits 0
            self.assertEqual(suite.stop(), 0)
            self.assertEqual(conn.readline(), "* BYE Server shutting down")
            self.assertFalse(os.path.exists(pidfile))
            self.assertFalse(os.path.exists(suite.control))
            r = suite.wdctl("status")
            self.assertEqual(r.returncode, 1)
            self.assertIn("not running", r.stderr)
        finally:
            suite.close()

    def test_wdctl_stop_waits_for_exit(self):
        with Suite(imap_workers=1) as suite:
            pids = suite.worker_pids()
            r = suite.wdctl("stop")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("stopped", r.stdout)
            # the control connection closes as the master exits
            self.assertEqual(suite.proc.wait(2), 0)
            for pid in pids:
                self.assertFalse(os.path.exists(f"/proc/{pid}"), "worker left behind")

    def test_second_master_refused(self):
        with Suite(imap_workers=1) as suite:
            r = subprocess.run([WILDDUCK, "-F", "-c", suite.config_path], capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"already running (pid {suite.proc.pid}", r.stdout + r.stderr)
            self.assertTrue(suite.all_running())

    def test_background_start(self):
        suite = Suite(imap_workers=1)
        try:
            r = subprocess.run([WILDDUCK, "-c", suite.config_path], capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stderr)
            suite.wait_running()
            r = suite.wdctl("stop")
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            suite.close()

    def test_wdctl_usage_and_unknown_command(self):
        with Suite(imap_workers=1) as suite:
            self.assertEqual(suite.wdctl("frobnicate").returncode, 2)
            self.assertEqual(suite.wdctl().returncode, 2)

    @unittest.skipUnless(os.geteuid() == 0, "privilege drop needs root")
    def test_workers_drop_privileges(self):
        with Suite(imap_workers=2) as suite:
            nobody = int(subprocess.check_output(["id", "-u", "nobody"]))
            for pid in suite.worker_pids():
                with open(f"/proc/{pid}/status") as f:
                    uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
                self.assertEqual({int(u) for u in uids}, {nobody})
            with open(f"/proc/{suite.proc.pid}/status") as f:
                self.assertIn("\t0\t", [l for l in f if l.startswith("Uid:")][0])


class ConfigErrors(unittest.TestCase):
    def test_check_reports_file_and_line(self):
        suite = Suite()
        try:
            suite.write_config("imap:\n  workers: 2\n  wrokers: 3\n")
            r = subprocess.run([WILDDUCK, "-t", "-c", suite.config_path], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"{suite.config_path}:3: unknown option 'imap.wrokers'", r.stderr)
            suite.write_config("log_level: loud\n")
            r = subprocess.run([WILDDUCK, "-t", "-c", suite.config_path], capture_output=True,
                               text=True)
            self.assertIn(":1: log_level:", r.stderr)
            suite.write_config()
            r = subprocess.run([WILDDUCK, "-t", "-c", suite.config_path], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("is valid", r.stdout)
        finally:
            suite.close()

    def test_broken_certificate_refused(self):
        suite = Suite(tls=True)
        try:
            with open(suite.certs[0][1], "w") as f:
                f.write("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
            r = subprocess.run([WILDDUCK, "-t", "-c", suite.config_path], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("tls.certificates[0].key", r.stderr)
        finally:
            suite.close()

    def test_port_in_use_fails_start(self):
        with Suite(imap_workers=1) as first:
            host, port = first.address()
            second = Suite(imap__listen=[{"address": f"{host}:{port}"}])
            try:
                second.start(wait=False)
                self.assertEqual(second.proc.wait(10), 1)
                self.assertIn("Address already in use", second.log_text())
            finally:
                second.close()
