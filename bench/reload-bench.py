#!/usr/bin/python3
"""reload-bench.py: how long a reload takes, and what the kubelet sees of
it. Measured, never asserted.

Runs the real plugin on the fake NVML (dgx-h100 profile, 8 GPUs) with its
control FIFO and a config file, against the kubelet stand-in:

  1. unchanged: SAMPLES SIGHUPs with nothing changed. Per round: the
     plugin's own "Reload done in X ms" (config read, discovery, resource
     table, diff) and, from outside, SIGHUP sent -> that line in the log
     (the log is polled every 0.2 ms). The stand-in's registrations,
     ListAndWatch messages and stream ends must not move; their totals
     are printed.
  2. changed: SAMPLES SIGHUPs that each take one GPU away or bring it
     back (the fake's "lost"/"reset"; health checks off, so that only the
     reload changes the list). Per round: SIGHUP sent -> the stand-in has
     the new list (its last_list_ns; the same clock), and the plugin's
     own figure. Registrations must not move.
  3. config file: SAMPLES rewrites of the config file (new bytes, no
     SIGHUP): write -> "Reload done" in the log. This includes the watch's
     CONFIG_WATCH_QUIET_MS (100 ms) quiet period.
  4. reference, in the same run: what NVIDIA's plugin does on SIGHUP, a
     full teardown and rebuild, approximated by restarting our plugin:
     SIGTERM -> a new process registered with the list allocatable
     (RESTARTS rounds). It re-registers every time.
  5. CDI spec generation (DEVICE_LIST_STRATEGY=cdi-cri on a fake driver
     root, tests/cdi/fakedriver.py): the plugin's own "Wrote the CDI spec
     ... in X ms" at start and at each of SAMPLES SIGHUPs (discovery of
     the driver's files, the JSON, the atomic write). Reference in the
     same run, sharing none of our code: Python writing the same bytes
     the same way (temporary file, fsync, fchmod 0644, rename), SAMPLES
     times; the difference is what generating the spec costs.

Usage: bench/reload-bench.py [BUILD_DIR]  (env: SAMPLES=50 RESTARTS=10)
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from standin import ctl, pct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.join(ROOT, "build"))
PLUGIN = os.path.join(BUILD, "src/gpu-device-plugin")
STANDIN = os.path.join(BUILD, "tests/kubelet/gdp-kubelet")
PROFILE = os.path.join(ROOT, "tests/fakenvml/profiles/dgx-h100.yaml")
SAMPLES = int(os.environ.get("SAMPLES", "50"))
RESTARTS = int(os.environ.get("RESTARTS", "10"))
RESOURCE = "nvidia.com/gpu"
DONE = re.compile(r"Reload done in ([0-9.]+) ms")


def uuids():
    with open(PROFILE) as f:
        return re.findall(r"uuid: (GPU-[0-9a-f-]+)", f.read())


def gpus():
    """The profile's GPUs as fakedriver.make() takes them: their minor
    numbers, PCI bus ids and UUIDs, from the "gpus:" section."""
    out, section = [], None
    with open(PROFILE) as f:
        for line in f:
            if line[:1].isalpha():
                section = line.split(":", 1)[0]
            elif section == "gpus" and line.startswith("  - "):
                out.append({})
            m = re.match(r'\s+-?\s*(minor_number|pci_bus_id|uuid): "?([^"\n]*)',
                         line)
            if section == "gpus" and m and out:
                out[-1][m[1]] = m[2]
    return out


class Node:
    def __init__(self, env=None, args=()):
        self.tmp = tempfile.mkdtemp(prefix="gdp-rbench.")
        self.dp = os.path.join(self.tmp, "dp")
        os.makedirs(self.dp)
        self.sysfs = os.path.join(self.tmp, "sys")
        subprocess.run([os.path.join(ROOT, "tests/fakenvml/make-sysfs.sh"),
                        PROFILE, self.sysfs], check=True)
        self.control = os.path.join(self.tmp, "control.sock")
        self.fifo = os.path.join(self.tmp, "nvml.fifo")
        self.config = os.path.join(self.tmp, "config.yaml")
        self.log = os.path.join(self.tmp, "plugin.log")
        with open(self.config, "w") as f:
            f.write("version: v1\n")
        self.kubelet = subprocess.Popen(
            [STANDIN, "--dir", self.dp, "--control", self.control],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.kubelet.stdout.readline().strip() == "ready"
        self.env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(
            BUILD, "tests/fakenvml"), FAKE_NVML_PROFILE=PROFILE,
            FAKE_NVML_CONTROL=self.fifo, **(env or {}))
        self.args = list(args)
        self.plugin = None
        self.start()

    def start(self):
        before = self.node()["registrations"]
        self.plugin = subprocess.Popen(
            [PLUGIN, "--kubelet-socket", os.path.join(self.dp, "kubelet.sock"),
             "--sysfs-root", self.sysfs, "--config-file", self.config] +
            self.args, env=self.env, stderr=open(self.log, "a"))
        self.wait(allocatable=8, registrations_at_least=before + 1,
                  connected=True)

    def node(self):
        return ctl(self.control, "GET", "/node")

    def wait(self, **cond):
        cond.setdefault("resource", RESOURCE)
        cond.setdefault("timeout_ms", 20000)
        r = ctl(self.control, "POST", "/wait", cond)
        assert r["ok"], r
        return r["node"]

    def counts(self):
        n = self.node()
        res = n["resources"][RESOURCE]
        ends = sum(1 for e in ctl(self.control, "GET", "/events")["events"]
                   if e["kind"] == "disconnected")
        return n["registrations"], res["lists_received"], ends

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def wait_done(self, before):
        """Waits for reload number |before|+1; its own figure (ms)."""
        while True:
            found = DONE.findall(self.log_text())
            if len(found) > before:
                return float(found[before])
            assert self.plugin.poll() is None, "plugin exited"
            time.sleep(0.0002)

    def inject(self, line):
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, (line + "\n").encode())
        os.close(fd)

    def close(self):
        if self.plugin is not None:
            self.plugin.terminate()
            self.plugin.wait()
        self.kubelet.terminate()
        self.kubelet.wait()
        subprocess.run(["rm", "-rf", self.tmp])


def summary(name, values):
    print("%-58s p50 %7.2f  p99 %7.2f  max %7.2f ms (n=%d)" % (
        name, statistics.median(values), pct(values, 99), max(values),
        len(values)))


def bench_unchanged():
    node = Node()
    try:
        before = node.counts()
        inside, outside = [], []
        for i in range(SAMPLES):
            t0 = time.monotonic()
            node.plugin.send_signal(signal.SIGHUP)
            inside.append(node.wait_done(i))
            outside.append((time.monotonic() - t0) * 1000)
        after = node.counts()
        summary("unchanged: plugin's own reload time", inside)
        summary("unchanged: SIGHUP -> 'Reload done' in the log", outside)
        print("  registrations, ListAndWatch messages, stream ends: "
              "%s before, %s after" % (before, after))
    finally:
        node.close()


def bench_changed():
    node = Node({"DP_DISABLE_HEALTHCHECKS": "all"})
    u = uuids()
    try:
        regs = node.counts()[0]
        inside, to_kubelet = [], []
        for i in range(SAMPLES):
            gone = i % 2 == 0
            node.inject(("lost %s" if gone else "reset %s") % u[7])
            time.sleep(0.02)      # the fake's control thread has it
            lists = node.node()["resources"][RESOURCE]["lists_received"]
            t0 = time.time_ns()
            node.plugin.send_signal(signal.SIGHUP)
            n = node.wait(capacity=7 if gone else 8,
                          lists_at_least=lists + 1)
            to_kubelet.append((n["resources"][RESOURCE]["last_list_ns"] -
                               t0) / 1e6)
            inside.append(node.wait_done(i))
        summary("changed (a GPU gone or back): plugin's own reload time",
                inside)
        summary("changed: SIGHUP -> stand-in has the new list", to_kubelet)
        print("  registrations: %d before, %d after" % (
            regs, node.counts()[0]))
    finally:
        node.close()


def bench_config_file():
    node = Node()
    try:
        regs = node.counts()[0]
        took = []
        for i in range(SAMPLES):
            t0 = time.monotonic()
            with open(node.config, "w") as f:
                f.write("version: v1\n# round %d\n" % i)
            node.wait_done(i)
            took.append((time.monotonic() - t0) * 1000)
        summary("config file rewritten -> 'Reload done' (100 ms quiet "
                "incl.)", took)
        print("  registrations: %d before, %d after" % (
            regs, node.counts()[0]))
    finally:
        node.close()


def bench_restart():
    node = Node()
    try:
        took = []
        for _ in range(RESTARTS):
            t0 = time.monotonic()
            node.plugin.terminate()
            node.plugin.wait()
            node.start()
            took.append((time.monotonic() - t0) * 1000)
        summary("reference: restart (SIGTERM -> registered, list "
                "allocatable)", took)
    finally:
        node.close()


SPEC_DONE = re.compile(r"Wrote the CDI spec (\S+) \(\d+ devices\) in "
                       r"([0-9.]+) ms")


def atomic_write(path, data):
    """The reference: the spec's bytes written as the plugin writes them."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fchmod(fd, 0o644)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def bench_cdi_spec():
    sys.path.insert(0, os.path.join(ROOT, "tests/cdi"))
    import fakedriver  # noqa: E402 - the tests' driver root, by path
    tmp = tempfile.mkdtemp(prefix="gdp-cdibench.")
    root, cdi = os.path.join(tmp, "driver"), os.path.join(tmp, "cdi")
    with open(PROFILE) as f:
        version = re.search(r'driver_version: "?([0-9.]+)', f.read())[1]
    fakedriver.make(root, gpus(), version, os.path.join(
        BUILD, "tests/fakenvml/libnvidia-ml.so.1"))
    node = Node({"DEVICE_LIST_STRATEGY": "cdi-cri", "CDI_SPEC_DIR": cdi},
                ["--driver-root", root, "--container-driver-root", root])
    try:
        for i in range(SAMPLES):
            node.plugin.send_signal(signal.SIGHUP)
            node.wait_done(i)
        writes = SPEC_DONE.findall(node.log_text())
        ours = [float(ms) for _, ms in writes]
        with open(writes[0][0], "rb") as f:
            data = f.read()
        ref = []
        for _ in range(SAMPLES):
            t0 = time.monotonic()
            atomic_write(os.path.join(tmp, "ref.json"), data)
            ref.append((time.monotonic() - t0) * 1000)
        summary("CDI spec (8 GPUs, %d bytes): the plugin's own time" %
                len(data), ours)
        summary("reference: the same bytes written atomically (Python)",
                ref)
        print("  ratio of medians: %.2f" % (statistics.median(ours) /
                                            statistics.median(ref)))
    finally:
        node.close()
        subprocess.run(["rm", "-rf", tmp])


def main():
    print("reload-bench: dgx-h100 (8 GPUs), %d samples, %d restarts" % (
        SAMPLES, RESTARTS))
    bench_unchanged()
    bench_changed()
    bench_config_file()
    bench_restart()
    bench_cdi_spec()


if __name__ == "__main__":
    main()
