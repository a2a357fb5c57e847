"""Reload: new certificates for new connections, old connections stay up,
a broken config keeps the running one."""
import hashlib
import os
import shutil
import signal
import unittest

from harness import Lines, Suite, make_cert


def cert_fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(path):
    import ssl
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


class Reload(unittest.TestCase):
    def swap_cert(self, suite):
        """Replaces the configured certificate files with a new pair."""
        make_cert(suite.dir, "mail.example.test")  # same file names, new pair
        return file_fingerprint(suite.certs[0][0])

    def test_sighup_new_cert_old_connection_stays(self):
        with Suite(tls=True, imap_workers=1) as suite:
            old_fp = file_fingerprint(suite.certs[0][0])
            old = suite.connect(tls=True)
            self.assertEqual(cert_fingerprint(old), old_fp)
            old_conn = Lines(old)
            self.assertTrue(old_conn.readline().startswith("* OK"))
            old_pids = suite.worker_pids()

            new_fp = self.swap_cert(suite)
            self.assertNotEqual(new_fp, old_fp)
            os.kill(suite.proc.pid, signal.SIGHUP)
            suite.wait_until(lambda: suite.status()["master"]["generation"] == "2" and
                             all(w["state"] == "draining" for w in suite.status()["workers"]
                                 if w["generation"] == "1") and
                             len(suite.worker_pids(generation=2)) == 1 and
                             all(w["state"] == "running" for w in suite.status()["workers"]
                                 if w["generation"] == "2"),
                             what="new generation running, old draining")

            new = suite.connect(tls=True)
            self.assertEqual(cert_fingerprint(new), new_fp)
            self.assertTrue(Lines(new).readline().startswith("* OK"))
            new.close()

            # the old connection still works on the old worker
            self.assertEqual(old_conn.command("a1", "NOOP")[-1], "a1 OK NOOP completed")
            self.assertTrue(all(os.path.exists(f"/proc/{p}") for p in old_pids))
            # and once it leaves, the old worker exits
            old_conn.command("a2", "LOGOUT")
            old.close()
            suite.wait_until(lambda: not any(os.path.exists(f"/proc/{p}") and
                                             open(f"/proc/{p}/stat").read().split()[2] != "Z"
                                             for p in old_pids), what="old worker exits")
            suite.wait_until(lambda: suite.worker_pids(generation=1) == [],
                             what="old generation gone")

    def test_wdctl_reload_and_starttls_gets_new_cert(self):
        with Suite(tls=True, imap_workers=2) as suite:
            new_fp = self.swap_cert(suite)
            r = suite.wdctl("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("generation=2", r.stdout)
            # wdctl returns only when the old generation stopped accepting
            for w in suite.status()["workers"]:
                if w["generation"] == "1":
                    self.assertEqual(w["state"], "draining")
            for _ in range(4):  # whichever new worker takes it
                s = suite.connect(tls=True)
                self.assertEqual(cert_fingerprint(s), new_fp)
                s.close()

    def test_broken_config_keeps_running_one(self):
        with Suite(tls=True, imap_workers=1) as suite:
            pids = suite.worker_pids()
            good = open(suite.config_path).read()
            suite.write_config(good.replace('"workers": 1', '"workers": "many"'))
            r = suite.wdctl("reload")
            self.assertEqual(r.returncode, 1)
            self.assertIn("imap.workers", r.stderr)
            self.assertRegex(r.stderr, r"wildduck.yaml:\d+:")
            # a broken key file is refused the same way
            suite.write_config(good)
            shutil.copy(suite.certs[0][0], suite.certs[0][1])  # a cert where the key should be
            r = suite.wdctl("reload")
            self.assertEqual(r.returncode, 1)
            self.assertIn("tls.certificates[0].key", r.stderr)
            os.kill(suite.proc.pid, signal.SIGHUP)
            suite.wait_until(lambda: "event=reload_failed" in suite.log_text().split(
                "by=sighup")[-1], what="reload_failed logged")
            st = suite.status()
            self.assertEqual(st["master"]["generation"], "1")
            self.assertEqual(suite.worker_pids(), pids)
            s = suite.connect(tls=True)
            self.assertTrue(s.recv(100).startswith(b"* OK"))
            s.close()

    def test_reload_changes_worker_count_and_listeners(self):
        with Suite(imap_workers=1) as suite:
            plain = suite.address()
            cfg = suite.config()
            cfg["imap"]["workers"] = 3
            cfg["imap"]["listen"].append({"address": "127.0.0.1:0", "tls": False})
            import json
            cfg["imap"]["listen"][1]["address"] = "127.0.0.2:0"
            suite.write_config(json.dumps(cfg))
            r = suite.wdctl("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            suite.wait_until(lambda: len(suite.worker_pids(generation=2)) == 3 and
                             suite.worker_pids(generation=1) == [], what="3 new workers")
            addrs = [l["address"] for l in suite.status()["listeners"]]
            self.assertIn(f"{plain[0]}:{plain[1]}", addrs, "the kept listener kept its port")
            self.assertEqual(len(addrs), 2)
            self.assertTrue(any(a.startswith("127.0.0.2:") for a in addrs))
