#!/usr/bin/env python3
"""count-plugin.py: heap allocations or instructions per Allocate in the
plugin itself.

The plugin (fake NVML, kubelet stand-in, set up as bench/plugin-bench.py
does) answers h2load's Allocate calls, with bench/mcount.c preloaded
(allocs) or under callgrind (ir: instructions, server side, as
bench/count-calls.sh counts them for grpc-testserver). As there, a first
run warms up and only a second is counted. Under callgrind the plugin runs
with --seccomp=off: valgrind makes system calls of its own that the
allowlist does not name. KEEP=FILE keeps the callgrind output.
Usage: bench/count-plugin.py allocs|ir [BUILD_DIR] [CALLS]
"""
import importlib.util
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODE = sys.argv[1] if len(sys.argv) > 1 else ""
BUILD = sys.argv[2] if len(sys.argv) > 2 else "build"
CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
if MODE not in ("allocs", "ir"):
    sys.exit(__doc__)
sys.path.insert(0, HERE)
sys.argv = [sys.argv[0], BUILD]
spec = importlib.util.spec_from_file_location(
    "plugin_bench", os.path.join(HERE, "plugin-bench.py"))
pb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pb)


class Counted(pb.Setup):
    """The plugin with the counting preload."""

    def start_plugin(self):
        lib = os.path.join(self.tmp, "mcount.so")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib,
                        os.path.join(HERE, "mcount.c")], check=True)
        self.count = os.path.join(self.tmp, "count")
        env = dict(self.env, LD_PRELOAD=lib, MCOUNT_OUT=self.count)
        self.plugin = subprocess.Popen(
            [pb.PLUGIN, "--kubelet-socket",
             os.path.join(self.dir, "kubelet.sock"), "--sysfs-root",
             self.sys], env=env, stderr=subprocess.DEVNULL)


class Profiled(pb.Setup):
    """The plugin under callgrind, instrumentation on from the start."""

    def start_plugin(self):
        self.cg = os.path.join(self.tmp, "cg")
        self.plugin = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" +
             self.cg + ".%p", pb.PLUGIN, "--seccomp=off",
             "--kubelet-socket", os.path.join(self.dir, "kubelet.sock"),
             "--sysfs-root", self.sys], env=self.env,
            stderr=subprocess.DEVNULL)

    def count(self, pid, sock, dev):
        """Instructions per call of the second of two h2load runs."""
        pb.h2load(pid, sock, dev, CALLS)
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True,
                       stdout=subprocess.DEVNULL)
        pb.h2load(pid, sock, dev, CALLS)
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        dumps = sorted(f for f in os.listdir(self.tmp)
                       if f.startswith("cg.%d." % pid))
        path = os.path.join(self.tmp, dumps[-1])
        if os.environ.get("KEEP"):
            subprocess.run(["cp", path, os.environ["KEEP"]], check=True)
        with open(path) as f:
            total = [int(line.split()[1]) for line in f
                     if line.startswith("summary:")][0]
        print("%d instructions per Allocate" % (total // CALLS))


def started(s):
    """Starts the plugin of |s| and waits for it to serve: its socket and
    the first GPU's id."""
    s.start_plugin()
    s.wait(allocatable=8, registrations_at_least=1)
    node = pb.ctl(s.control, "GET", "/node")
    dev = node["resources"]["nvidia.com/gpu"]["devices"][0]["id"]
    return os.path.join(s.dir, "nvidia-gpu.sock"), dev


def profile():
    s = Profiled()
    try:
        sock, dev = started(s)
        s.count(s.plugin.pid, sock, dev)
    finally:
        s.close()


def main():
    if MODE == "ir":
        profile()
        return
    s = Counted()
    try:
        sock, dev = started(s)
        pid = s.plugin.pid
        pb.h2load(pid, sock, dev, CALLS)
        s.plugin.send_signal(12)
        time.sleep(0.3)
        pb.h2load(pid, sock, dev, CALLS)
        s.plugin.send_signal(12)
        time.sleep(0.3)
        with open(s.count) as f:
            a, b = [int(x) for x in f.read().split()]
        print("%.2f allocations per Allocate" % ((b - a) / CALLS))
    finally:
        s.close()


if __name__ == "__main__":
    main()
