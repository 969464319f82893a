#!/usr/bin/env python3
"""sandbox-test.py: the plugin registers under the unit's sandbox as far
as it can be built without a service manager (issue 11, item 2).

The unit runs the plugin as root with CapabilityBoundingSet= (empty),
NoNewPrivileges=yes and PrivateNetwork=yes. Here the same is made by hand:
`unshare -n` (a network namespace of its own: the unix sockets on the file
system must still connect both ways) and `setpriv --no-new-privs
--bounding-set=-all --inh-caps=-all` (root's execve then gets no
capability). The kubelet stand-in, in this machine's namespace, must see
the registration and connect back to the plugin's socket, and the plugin
must say it runs with no capabilities. The unit's
SystemCallFilter=~@privileged @resources (EPERM) is played too, by
deny-calls.py beside this file (capset, for one, is refused there: a
plugin that insists on calling it would never start under the unit).

Skipped (77) when unshare -n is refused (not root), setpriv is missing, or
Debian's python3-seccomp is.

Usage: sandbox-test.py PLUGIN STANDIN FAKE-LIB-DIR PROFILES
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

PROFILE = "azure-nc24.yaml"
WAIT_S = 30  # a ceiling for the wait, not a timing under test


def wait_for(path, text, proc):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if os.path.exists(path) and text in open(path).read():
            return True
        if proc.poll() is not None:
            return text in open(path).read()
        time.sleep(0.05)
    return False


def main():
    plugin, standin, fake_dir, profiles = map(os.path.abspath, sys.argv[1:5])
    if shutil.which("setpriv") is None or shutil.which("unshare") is None:
        print("sandbox-test: setpriv or unshare missing (util-linux)")
        return 77
    if subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        print("sandbox-test: unshare -n refused (needs root)")
        return 77
    if subprocess.run(["/usr/bin/python3", "-c", "import seccomp"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("sandbox-test: Debian's python3-seccomp missing")
        return 77
    deny = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "deny-calls.py")
    with tempfile.TemporaryDirectory(prefix="gdp-sandbox-test.") as tmp:
        d = os.path.join(tmp, "device-plugins")
        os.mkdir(d)
        klog, plog = os.path.join(tmp, "kubelet.log"), os.path.join(
            tmp, "plugin.log")
        kubelet = subprocess.Popen(
            [standin, "--dir", d, "--control", os.path.join(tmp, "c.sock")],
            stdout=subprocess.PIPE, stderr=open(klog, "w"), text=True)
        plugin_proc = None
        try:
            if kubelet.stdout.readline().strip() != "ready":
                print("FAIL the kubelet stand-in did not start")
                return 1
            env = dict(os.environ, LD_LIBRARY_PATH=fake_dir,
                       FAKE_NVML_PROFILE=os.path.join(profiles, PROFILE))
            plugin_proc = subprocess.Popen(
                ["unshare", "-n", "setpriv", "--no-new-privs",
                 "--bounding-set=-all", "--inh-caps=-all",
                 "/usr/bin/python3", deny, "@privileged", "@resources", "--",
                 plugin,
                 "--kubelet-socket", os.path.join(d, "kubelet.sock")],
                env=env, stdout=subprocess.DEVNULL, stderr=open(plog, "w"))
            ok = wait_for(klog, "connected to " + os.path.join(
                d, "nvidia-gpu.sock"), kubelet)
            log = open(plog).read()
            checks = [
                (ok, "the stand-in, outside the plugin's network namespace, "
                 "connected to the plugin's socket"),
                ("Registered device plugin for 'nvidia.com/gpu'" in log,
                 "the plugin logs its registration"),
                ("No capabilities, no_new_privs" in log,
                 "the plugin runs with no capabilities, no_new_privs"),
            ]
        finally:
            for p in (plugin_proc, kubelet):
                if p is not None and p.poll() is None:
                    p.terminate()
                    p.wait()
        failed = 0
        for good, what in checks:
            print(("ok   " if good else "FAIL ") + what)
            failed += not good
        if failed:
            print("plugin log:\n" + log)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
