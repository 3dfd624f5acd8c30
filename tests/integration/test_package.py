"""The Debian package: cpack -G DEB, dpkg -i, everything in place and working, dpkg -r / -P.

It installs the package on this machine (root, a throwaway test machine) and removes it again.

Build directory, first found:
  $LATCHD_BUILD_DIR                     a configured and built tree (CPackConfig.cmake in it)
  the parent of $LATCHD_BIN_DIR         (CTest sets LATCHD_BIN_DIR=<build>/bin)
  <repo>/build
  else a fresh Release build of latchd and latchctl only, in a temp dir (about 3 minutes on
  2 cores; CMAKE_SKIP_INSTALL_ALL_DEPENDENCY keeps cpack from building the unit tests too).
cpack first brings a reused build tree up to date (its preinstall step, as `make package`
does: nothing to do after a build); its output goes to a temp dir.
"""

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import log

REPO = harness.REPO_ROOT
PACKAGE = "latchd"
DEPLOY_DEBIAN = os.path.join(REPO, "deploy", "debian")
TOOLS = ("cmake", "cpack", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-shlibdeps")


def run(argv, timeout=300, check=True, env=None, cwd=None):
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    harness.vlog("%s: exit %d in %.1f s" % (" ".join(argv), r.returncode,
                                            time.monotonic() - t0))
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv), r.returncode, r.stdout[-4000:], r.stderr[-4000:]))
    return r


def dpkg(args, timeout=300):
    """dpkg, waiting (up to 3 min) while another apt/dpkg holds the lock."""
    deadline = time.monotonic() + 180
    while True:
        r = run(["dpkg"] + args, timeout=timeout, check=False)
        locked = "lock" in r.stderr and ("locked" in r.stderr or "another process" in r.stderr)
        if r.returncode == 0 or not locked or time.monotonic() > deadline:
            if r.returncode != 0:
                raise AssertionError("dpkg %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                                 r.stdout, r.stderr))
            return r
        log("dpkg lock busy, waiting")
        time.sleep(3)


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], check=False)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def includes_packaging():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return "cmake/packaging.cmake" in f.read()


def find_build_dir():
    candidates = [os.environ.get("LATCHD_BUILD_DIR")]
    if os.environ.get("LATCHD_BIN_DIR"):
        candidates.append(os.path.dirname(os.path.abspath(os.environ["LATCHD_BIN_DIR"])))
    candidates.append(os.path.join(REPO, "build"))
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "CPackConfig.cmake")) and \
                os.path.isfile(os.path.join(c, "bin", "latchd")):
            return c
    return None


class PackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:
            raise unittest.SkipTest("missing tools: %s" % ", ".join(missing))
        if os.geteuid() != 0:
            raise unittest.SkipTest("dpkg -i needs root")
        if not includes_packaging():
            raise unittest.SkipTest("CMakeLists.txt does not include cmake/packaging.cmake yet")
        cls.tmp = tempfile.mkdtemp(prefix="latchd-it-package-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.timings = {}
        build = find_build_dir()
        if build is None:
            build = os.path.join(cls.tmp, "build")
            t0 = time.monotonic()
            run(["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                 "-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON"], timeout=300)
            run(["cmake", "--build", build, "--target", "latchd", "latchctl", "--parallel",
                 str(os.cpu_count() or 2)], timeout=3600)
            cls.timings["build"] = time.monotonic() - t0
        cls.build = build
        log("packaging the build in %s" % build)
        out = os.path.join(cls.tmp, "out")
        t0 = time.monotonic()
        run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"),
             "-B", out], timeout=600)
        cls.timings["cpack"] = time.monotonic() - t0
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        if len(debs) != 1:
            raise AssertionError("cpack made %r in %s" % (debs, out))
        cls.deb = os.path.join(out, debs[0])
        cls.we_installed = False

        def purge():
            if cls.we_installed and installed():
                dpkg(["--purge", PACKAGE])
        cls.addClassCleanup(purge)

    @classmethod
    def tearDownClass(cls):
        log("timings: %s" % ", ".join("%s %.1f s" % kv for kv in cls.timings.items()))

    def test_package(self):
        deb = self.deb
        log("package %s (%d KiB)" % (os.path.basename(deb), os.path.getsize(deb) // 1024))

        # -- the archive --
        info = run(["dpkg-deb", "-I", deb]).stdout
        fields = dict(re.findall(r"^ ([A-Za-z-]+): (.*)$", info, re.M))
        self.assertEqual(fields.get("Package"), PACKAGE)
        self.assertEqual(fields.get("Maintainer"), "latchd developers")
        depends = fields.get("Depends", "")
        log("Depends: %s" % depends)
        # The ZooKeeper client is linked statically (built with SASL and TLS): its runtime
        # libraries and the SASL mechanism plugins instead of libzookeeper-mt2.
        for lib in ("libc6", "libsasl2-2", "libssl3", "libsasl2-modules-gssapi-mit",
                    "libsasl2-modules", "libsystemd0", "libgflags", "libgoogle-glog"):
            self.assertIn(lib, depends, "shlibdeps: Depends lacks %s" % lib)
        self.assertNotIn("libzookeeper-mt2", depends)
        self.assertTrue(fields.get("Description", "").strip(), info)
        control = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
        self.assertTrue(control, "no Version")
        contents = run(["dpkg-deb", "-c", deb]).stdout
        for path in ("./usr/bin/latchd", "./usr/bin/latchctl", "./etc/latchd/latchd.flags",
                     "./usr/lib/systemd/system/latchd.service",
                     "./usr/lib/systemd/system/latchd@.service",
                     "./usr/lib/sysusers.d/latchd.conf", "./usr/share/man/man8/latchd.8",
                     "./usr/share/man/man8/latchctl.8", "./usr/share/doc/latchd/design.md",
                     "./usr/share/java/latchd-client.jar"):
            self.assertIn(path, contents)
        self.assertNotIn("/include/", contents, "development files belong in no runtime package")
        ctrl = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", deb, ctrl])
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/latchd/latchd.flags"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctrl, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            run(["sh", "-n", path])

        # -- install --
        t0 = time.monotonic()
        self.__class__.we_installed = True
        dpkg(["-i", deb])
        self.timings["dpkg -i"] = time.monotonic() - t0
        self.assertTrue(installed())

        r = run(["/usr/bin/latchd", "--version"])
        self.assertIn(fields.get("Version", "").split("-")[0], r.stdout + r.stderr)
        r = run(["/usr/bin/latchctl", "--help"])
        self.assertIn("usage", r.stdout)
        r = run(["/usr/bin/latchctl", "digest", "latchd:secret"])
        self.assertTrue(r.stdout.startswith("latchd:"), r.stdout)
        # latchd refuses to start without --id and --zk_connect (the default flag file sets
        # nothing): exit 2, the message names the flag.
        r = run(["/usr/bin/latchd", "--flagfile=/etc/latchd/latchd.flags"], check=False,
                timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--id", r.stderr)

        for unit in ("latchd.service", "latchd@.service"):
            self.assertTrue(os.path.isfile(os.path.join("/lib/systemd/system", unit)), unit)
        if shutil.which("systemd-analyze"):
            r = run(["systemd-analyze", "verify", "/lib/systemd/system/latchd.service",
                     "/lib/systemd/system/latchd@pkgtest.service"], check=False, timeout=120)
            out = (r.stdout + r.stderr).strip()
            ours = [l for l in out.splitlines() if "latchd" in l]
            self.assertEqual(ours, [], "systemd-analyze verify in place:\n%s" % out)

        user = pwd.getpwnam("latchd")
        group = grp.getgrnam("latchd")
        self.assertEqual(user.pw_gid, group.gr_gid)
        self.assertEqual(user.pw_dir, "/nonexistent")
        self.assertLess(user.pw_uid, 1000)
        self.assertTrue(os.path.isfile("/etc/latchd/latchd.flags"))
        self.assertTrue(os.path.isfile("/usr/lib/sysusers.d/latchd.conf"))

        env = dict(os.environ, MANWIDTH="80")
        for page in ("/usr/share/man/man8/latchd.8", "/usr/share/man/man8/latchctl.8"):
            r = run(["man", "--warnings", "-l", page], env=env)
            self.assertEqual(r.stderr, "", "%s: warnings" % page)
            self.assertIn("EXIT STATUS", r.stdout, page)
        r = run(["man", "-w", "latchctl"], check=False)
        self.assertIn("/usr/share/man/man8/latchctl.8", r.stdout, "man -w latchctl")

        # -- remove: binaries and units go, the conffile stays until purge --
        t0 = time.monotonic()
        dpkg(["-r", PACKAGE])
        self.timings["dpkg -r"] = time.monotonic() - t0
        for path in ("/usr/bin/latchd", "/usr/bin/latchctl", "/lib/systemd/system/latchd.service",
                     "/lib/systemd/system/latchd@.service", "/usr/share/man/man8/latchd.8"):
            self.assertFalse(os.path.exists(path), "%s left after dpkg -r" % path)
        self.assertTrue(os.path.isfile("/etc/latchd/latchd.flags"), "conffile kept until purge")
        dpkg(["--purge", PACKAGE])
        self.assertFalse(os.path.exists("/etc/latchd/latchd.flags"), "conffile purged")
        self.assertFalse(installed())
        self.__class__.we_installed = False


if __name__ == "__main__":
    unittest.main()
