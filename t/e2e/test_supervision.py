"""Worker supervision: restarts, backoff, hung workers, kill loops."""
import os
import signal
import time
import unittest

from harness import Suite, open_fds, process_children


class Supervision(unittest.TestCase):
    def test_killed_worker_is_restarted(self):
        with Suite(imap_workers=2) as suite:
            victim = suite.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            def restarted():
                # one snapshot: a victim not yet reaped still shows as running
                st = suite.all_running()
                return st and victim not in [int(w["pid"]) for w in st["workers"]] and st
            st = suite.wait_until(restarted, what="restart")
            self.assertEqual(st["services"]["imap"]["restarts"], "1")
            self.assertEqual(len(suite.worker_pids()), 2)
            r = suite.wdctl("status")
            self.assertRegex(r.stdout, r"imap\s+enabled\s+2/2\s+\d+\s+1\b")
            self.assertIn("signal=9", suite.log_text())
            # the restarted worker serves clients
            for _ in range(4):
                s = suite.connect()
                self.assertTrue(s.recv(100).startswith(b"* OK"))
                s.close()

    def test_hung_worker_is_killed(self):
        with Suite(imap_workers=1, worker_timeout="1s") as suite:
            victim = suite.worker_pids()[0]
            os.kill(victim, signal.SIGSTOP)
            suite.wait_until(lambda: suite.all_running() and victim not in suite.worker_pids(),
                             timeout=15, what="hung worker replaced")
            self.assertIn(f"event=worker_hung service=imap pid={victim}", suite.log_text())

    def test_crash_loop_backs_off(self):
        # workers that die at once are restarted with growing delays
        with Suite(imap_workers=1, restart_delay_min="200ms", restart_delay_max="800ms") as suite:
            for _ in range(4):
                pids = suite.worker_pids()
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                suite.wait_until(lambda: suite.worker_pids() and suite.worker_pids() != pids,
                                 timeout=5, what="restart")
            log = suite.log_text()
            self.assertIn("restart_in=200ms", log)
            self.assertIn("restart_in=400ms", log)
            self.assertIn("restart_in=800ms", log)
            self.assertTrue(suite.wait_running())

    def test_hundred_kills_leave_no_zombies_or_fds(self):
        with Suite(imap_workers=2, restart_delay_min="0ms", restart_delay_max="50ms") as suite:
            master = suite.proc.pid
            time.sleep(0.3)  # let the master close the harness's control connections
            fds_before = open_fds(master)
            killed = set()  # a pid killed but not yet reaped is still listed
            deadline = time.time() + 120
            while len(killed) < 100 and time.time() < deadline:
                pids = [p for p in suite.worker_pids() if p not in killed]
                if not pids:
                    time.sleep(0.01)
                    continue
                try:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.add(pids[0])
                except ProcessLookupError:
                    pass
                time.sleep(0.02)
            killed = len(killed)
            self.assertEqual(killed, 100)
            st = suite.wait_running(timeout=20)
            self.assertGreaterEqual(int(st["services"]["imap"]["restarts"]), 100)
            self.assertIsNone(suite.proc.poll(), "master died")
            suite.wait_until(lambda: all(state != "Z" for _, state in process_children(master)),
                             what="no zombies")
            children = process_children(master)
            self.assertEqual(sorted(p for p, _ in children), sorted(suite.worker_pids()))
            suite.wait_until(lambda: open_fds(master) == fds_before,
                             what=f"master fds back to {fds_before}")
            s = suite.connect()
            self.assertTrue(s.recv(100).startswith(b"* OK"))
            s.close()
