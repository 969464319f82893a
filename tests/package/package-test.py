#!/usr/bin/env python3
"""package-test.py: builds the Debian package (scripts/build-deb.sh) and
checks it the way a node image's build would meet it (issue 11, item 3).

- The build leaves the source tree as it was (git status before == after).
- dpkg-deb -I: the name, the version (meson.build's), Depends computed
  from the binary's libraries by dpkg-shlibdeps.
- dpkg-deb -c: the files; every file under /etc a conffile.
- The maintainer scripts debhelper wrote: the unit enabled on install,
  started, restarted after an upgrade, stopped on removal.
- lintian on the .changes (binary and source): no error, warning or info
  tag (experimental ones aside); each accepted tag needs an override with
  its reason in debian/.
- dpkg installs the package into a throwaway root (--root with
  --force-script-chrootless: the maintainer scripts run with DPKG_ROOT
  set, which deb-systemd-helper honours; systemctl and deb-systemd-invoke
  are stubs that record their calls, so nothing touches this machine's
  systemd), and the files and the unit's links are checked there; then
  it removes and purges it and checks the links are gone.

Skipped (77) without dpkg-buildpackage, debhelper or lintian
(scripts/install-deps.sh installs them).

Usage: package-test.py SOURCE-ROOT VERSION
"""
import os
import shutil
import subprocess
import sys
import tempfile

# What the package must hold, always.
REQUIRED = [
    "./usr/bin/gpu-device-plugin",
    "./usr/share/man/man8/gpu-device-plugin.8.gz",
    "./usr/share/man/man5/gpu-device-plugin.yaml.5.gz",
    "./usr/share/man/man8/nvidia-device-plugin.8.gz",
    "./usr/share/doc/gpu-device-plugin/copyright",
    "./usr/share/doc/gpu-device-plugin/changelog.gz",
    "./usr/bin/nvidia-device-plugin",
    "./lib/systemd/system/gpu-device-plugin.service",
    "./lib/systemd/system/gpu-device-plugin-mps-control-daemon.service",
    "./etc/default/gpu-device-plugin",
    "./etc/gpu-device-plugin/config.yaml",
]
UNIT_REQUIRED = True
UNIT = "gpu-device-plugin.service"
ALIAS = "nvidia-device-plugin.service"
# Installed, never enabled: wanted only where the config shares with MPS.
MPS_UNIT = "gpu-device-plugin-mps-control-daemon.service"
# Libraries the binary links: each must be in Depends (computed).
LIBRARIES = ["libc6", "libhttp-parser2.9", "libjansson4", "libnghttp2-14",
             "libprotobuf-c1", "libseccomp2", "libyaml-0-2"]

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def git_status(root):
    if shutil.which("git") is None or not os.path.isdir(
            os.path.join(root, ".git")) and not os.path.isfile(
            os.path.join(root, ".git")):
        return None
    return run(["git", "-C", root, "status", "--porcelain"]).stdout


def contents(deb):
    """Path -> (mode string, link target or None) of the data."""
    out = run(["dpkg-deb", "-c", deb]).stdout
    files = {}
    for line in out.splitlines():
        f = line.split(None, 5)
        name, target = f[5], None
        if " -> " in name:
            name, target = name.split(" -> ", 1)
        files[name] = (f[0], target)
    return files


def check_info(deb, version):
    field = lambda name: run(["dpkg-deb", "-f", deb, name]).stdout.strip()
    check(field("Package") == "gpu-device-plugin", "Package: "
          "gpu-device-plugin")
    check(field("Version") == version, "Version %s (meson.build's), got %s"
          % (version, field("Version")))
    depends = [d.split()[0] for d in field("Depends").split(", ")]
    print("info Depends: " + field("Depends"))
    for lib in LIBRARIES:
        check(lib in depends, "Depends has " + lib)
    check("${" not in field("Depends"), "Depends has no unexpanded "
          "substitution")


def check_files(files, ctrl):
    for path in REQUIRED:
        check(path in files, "the package holds " + path)
    programs = sorted(p for p in files if p.startswith("./usr/bin/") and
                      p != "./usr/bin/")
    check(set(programs) <= {"./usr/bin/gpu-device-plugin",
                            "./usr/bin/nvidia-device-plugin"},
          "no program but the plugin and its NVIDIA name (test tools and "
          "gpu-validate stay out): %s" % programs)
    link = files.get("./usr/bin/nvidia-device-plugin")
    if link is not None:
        check(link[1] == "gpu-device-plugin", "nvidia-device-plugin is a "
              "link to gpu-device-plugin (%s)" % (link[1],))
    check(not any(p.startswith("./usr/lib/systemd/system/") for p in files),
          "no unit in usr/lib/systemd/system (bookworm's dh_installsystemd "
          "enables only units in lib/systemd/system)")
    conffiles = []
    if os.path.exists(os.path.join(ctrl, "conffiles")):
        conffiles = open(os.path.join(ctrl, "conffiles")).read().split()
    for path, (mode, _) in files.items():
        if path.startswith("./etc/") and mode.startswith("-"):
            check(path[1:] in conffiles, path[1:] + " is a conffile")


def check_scripts(files, ctrl):
    if "./lib/systemd/system/" + UNIT not in files:
        if not check(not UNIT_REQUIRED, "the unit %s is in the package" %
                     UNIT):
            return False
        print("skip no %s in the package: the maintainer scripts and the "
              "unit's links are not checked" % UNIT)
        return False
    read = lambda n: open(os.path.join(ctrl, n)).read() if os.path.exists(
        os.path.join(ctrl, n)) else ""
    postinst, prerm, postrm = read("postinst"), read("prerm"), read("postrm")
    check("deb-systemd-helper enable '%s'" % UNIT in postinst or
          "deb-systemd-helper enable %s" % UNIT in postinst,
          "postinst enables " + UNIT)
    check("deb-systemd-invoke $_dh_action" in postinst and
          "_dh_action=restart" in postinst, "postinst starts it, and "
          "restarts it after an upgrade")
    check("deb-systemd-invoke stop" in prerm, "prerm stops it on removal")
    check("deb-systemd-helper purge" in postrm, "postrm forgets it on purge")
    return True


def stubs(tmp):
    """systemctl and deb-systemd-invoke that log their arguments."""
    d = os.path.join(tmp, "stubs")
    os.mkdir(d)
    log = os.path.join(tmp, "invoked.log")
    for name in ("systemctl", "deb-systemd-invoke"):
        with open(os.path.join(d, name), "w") as f:
            f.write("#!/bin/sh\necho \"%s $*\" >>'%s'\n" % (name, log))
        os.chmod(os.path.join(d, name), 0o755)
    return d, log


def dpkg_root(root, stubdir, *args):
    os.makedirs(os.path.join(root, "var/lib/dpkg/info"), exist_ok=True)
    os.makedirs(os.path.join(root, "var/lib/dpkg/updates"), exist_ok=True)
    for f in ("status", "available"):
        open(os.path.join(root, "var/lib/dpkg", f), "a").close()
    env = dict(os.environ, PATH=stubdir + ":" + os.environ["PATH"])
    cmd = ["dpkg", "--root=" + root, "--force-script-chrootless",
           "--force-depends", "--force-not-root", "--log=/dev/null"]
    return run(cmd + list(args), env=env)


def check_installed(deb, tmp, files, unit):
    root = os.path.join(tmp, "root")
    stubdir, log = stubs(tmp)
    r = dpkg_root(root, stubdir, "--install", deb)
    if not check(r.returncode == 0, "dpkg --root --install"):
        print(r.stderr)
        return
    for path, (mode, target) in files.items():
        p = os.path.join(root, path[2:])
        if mode.startswith("l"):
            check(os.path.islink(p), "installed link " + path)
        elif mode.startswith("-"):
            check(os.path.isfile(p), "installed " + path)
    st = run(["dpkg", "--root=" + root, "-s", "gpu-device-plugin"]).stdout
    check("Status: install ok installed" in st, "dpkg says installed")
    wants = os.path.join(root, "etc/systemd/system/multi-user.target.wants",
                         UNIT)
    alias = os.path.join(root, "etc/systemd/system", ALIAS)
    if unit:
        check(os.path.islink(wants) and os.readlink(wants) ==
              "/lib/systemd/system/" + UNIT, "enabled: " + wants[len(root):])
        check(os.path.islink(alias), "the alias " + ALIAS + " is linked")
        mps = os.path.join(os.path.dirname(wants), MPS_UNIT)
        check(not os.path.lexists(mps), "not enabled: " + mps[len(root):])
        started = [c for c in (open(log).read().splitlines()
                               if os.path.exists(log) else [])
                   if MPS_UNIT in c and ("start" in c or "enable" in c)]
        check(not started, "the install neither starts nor enables %s (%s)"
              % (MPS_UNIT, started))
    r = dpkg_root(root, stubdir, "--purge", "gpu-device-plugin")
    if not check(r.returncode == 0, "dpkg --root --purge"):
        print(r.stderr)
    check(not os.path.lexists(wants) and not os.path.lexists(alias),
          "purge removed the unit's links")
    left = [os.path.join(d, f)[len(root):] for d, _, fs in os.walk(root)
            for f in fs if not os.path.join(d, f).startswith(
                os.path.join(root, "var/lib/dpkg"))]
    check(not left, "purge left nothing outside dpkg's database (%s)"
          % left[:5])
    if unit and os.path.exists(log):
        calls = open(log).read()
        print("info service manager calls (stubbed):",
              calls.replace("\n", "; "))


def lintian(tmp, files):
    changes = [f for f in os.listdir(tmp) if f.endswith(".changes")]
    r = run(["lintian", "--pedantic", "-I", "-E", "--color=never",
             os.path.join(tmp, changes[0])])
    tags = [t for t in r.stdout.splitlines() if t[:2] in ("E:", "W:", "I:")]
    for t in r.stdout.splitlines():
        print("     lintian: " + t)
    check(not tags and r.returncode == 0, "lintian: no error, warning or "
          "info tag (%d)" % len(tags))


def main():
    src, version = sys.argv[1], sys.argv[2]
    for tool in ("dpkg-buildpackage", "dh", "lintian", "dpkg-deb"):
        if shutil.which(tool) is None:
            print("package-test: %s not installed "
                  "(scripts/install-deps.sh)" % tool)
            return 77
    before = git_status(src)
    with tempfile.TemporaryDirectory(prefix="gdp-pkg-test.") as tmp:
        r = run([os.path.join(src, "scripts/build-deb.sh"), tmp])
        if not check(r.returncode == 0, "scripts/build-deb.sh builds the "
                     "package"):
            print(r.stderr)
            return 1
        if before is not None:
            check(git_status(src) == before, "the source tree is as it was")
        deb = r.stdout.split()[-1]
        print("info %s: %d bytes" % (os.path.basename(deb),
                                     os.path.getsize(deb)))
        ctrl = os.path.join(tmp, "control")
        run(["dpkg-deb", "-e", deb, ctrl])
        files = contents(deb)
        check_info(deb, version)
        check_files(files, ctrl)
        unit = check_scripts(files, ctrl)
        lintian(tmp, files)
        check_installed(deb, tmp, files, unit)
        print("info files:\n  " + "\n  ".join(sorted(
            p for p, (m, _) in files.items() if not m.startswith("d"))))
    if failures:
        print("package-test: %d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
