"""Packaging: `make install DESTDIR=...` puts a complete tree in place (binaries,
workers, man pages, config, the systemd unit with its paths filled in), and
the man pages keep up with `wdctl -h` and `wildduck -h`."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, ROOT, WDCTL, WILDDUCK

DAEMONS = sorted(d for d in ("imap", "pop3", "lmtp", "api", "auth", "indexer")
                 if os.path.exists(os.path.join(ROOT, d, "main.c")))


def read(path):
    with open(path) as f:
        return f.read()


class Install(unittest.TestCase):
    def test_make_install_destdir(self):
        dest = tempfile.mkdtemp(prefix="wd-install-")
        try:
            build = os.path.relpath(BUILD, ROOT)
            args = ["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr",
                    f"BUILD={build}"]
            if build == "build-san":
                args.append("SANITIZE=1")
            r = subprocess.run(args, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for b in ("wildduck", "wdctl"):
                p = os.path.join(dest, "usr/sbin", b)
                self.assertTrue(os.access(p, os.X_OK), p)
            for d in DAEMONS:
                p = os.path.join(dest, "usr/lib/wildduck", f"wd-{d}")
                self.assertTrue(os.access(p, os.X_OK), p)
            man8 = os.path.join(dest, "usr/share/man/man8")
            for page in ["wildduck.8", "wdctl.8"] + [f"wd-{d}.8" for d in DAEMONS
                                                     if d != "auth"]:
                self.assertTrue(os.path.exists(os.path.join(man8, page)), page)
            self.assertTrue(os.path.exists(os.path.join(man8, "wildduck-auth.8")))
            self.assertTrue(os.path.exists(os.path.join(dest, "usr/share/man/man5/wildduck.yaml.5")))
            conf = os.path.join(dest, "etc/wildduck/wildduck.yaml")
            self.assertEqual(read(conf), read(os.path.join(ROOT, "conf/wildduck.yaml")))
            self.assertEqual(os.stat(conf).st_mode & 0o777, 0o640)
            unit = read(os.path.join(dest, "usr/lib/systemd/system/wildduck.service"))
            self.assertNotIn("@", unit.replace("multi-user.target", ""))
            self.assertIn("ExecStart=/usr/sbin/wildduck -F -c /etc/wildduck/wildduck.yaml", unit)
            self.assertIn("ExecStartPre=/usr/sbin/wildduck -t -c /etc/wildduck/wildduck.yaml",
                          unit)
            self.assertIn("Type=notify", unit)
            self.assertIn("NoNewPrivileges=yes", unit)
            self.assertIn("ProtectSystem=strict", unit)
            # a second install keeps an edited configuration
            with open(conf, "a") as f:
                f.write("# edited\n")
            r = subprocess.run(args, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(read(conf).endswith("# edited\n"))
        finally:
            shutil.rmtree(dest, ignore_errors=True)


def help_text(binary):
    r = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10)
    return r.stdout + r.stderr


def man_words(page):
    """Words set in bold/italic macros or after \\- in a man page."""
    text = read(os.path.join(ROOT, "man", page))
    return text, set(re.findall(r"[a-z][a-z-]+", text.replace("\\-", "-")))


class ManPages(unittest.TestCase):
    def test_every_wdctl_command_documented(self):
        out = help_text(WDCTL)
        body = out.split("commands:", 1)[1].split("options:", 1)[0]
        commands = {m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)", body, re.M)}
        self.assertIn("status", commands)
        text, _ = man_words("wdctl.8")
        items = [l for l in text.splitlines() if l.startswith((".B ", ".BI ", ".BR "))]
        for cmd in sorted(commands):
            self.assertTrue(any(re.match(rf'\.BI? "?{re.escape(cmd)}\b', l) for l in items),
                            f"wdctl.8 does not document the command '{cmd}'")
        for opt in re.findall(r"^\s+-([a-zA-Z])\b", out, re.M):
            self.assertIn(f"\\-{opt}", text, f"wdctl.8 lacks option -{opt}")

    def test_every_wildduck_option_documented(self):
        out = help_text(WILDDUCK)
        opts = re.findall(r"^\s+-([a-zA-Z])\b", out, re.M)
        self.assertIn("F", opts)
        text = read(os.path.join(ROOT, "man", "wildduck.8"))
        for opt in opts:
            self.assertRegex(text, rf"\.BI? \\-{opt}\b", f"wildduck.8 lacks option -{opt}")


if __name__ == "__main__":
    unittest.main()
