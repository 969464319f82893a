#!/usr/bin/python3
"""preferred-bench.py: server CPU per GetPreferredAllocation, on link graphs.

Runs the real gpu-device-plugin on the fake NVML against the kubelet
stand-in, with the DGX-1 V100 profile (8 GPUs, hybrid cube-mesh) and the
16-GPU synthetic graph, and measures the plugin's CPU time per call
(every thread's on-CPU time from /proc/PID/task/*/schedstat, in ns, over
CALLS calls) for each request size, every GPU available, no
must-include. Reference in the same run, through the same client, socket
and server: Allocate of one GPU, the cheapest RPC the plugin answers
(decoding, framing and writing without any choice). The difference is
what the choice costs.

The client is the stand-in's /preferred and /allocate (one HTTP request
per call, the stand-in's grpc-go connection kept); its own cost is not
counted, only the plugin's.

Usage: bench/preferred-bench.py [BUILD_DIR]   (env: CALLS=1000)
Prints a markdown table on stdout.
"""

import glob
import os
import subprocess
import sys
import tempfile

from standin import ctl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.join(ROOT, "build"))
PLUGIN = os.path.join(BUILD, "src/gpu-device-plugin")
STANDIN = os.path.join(BUILD, "tests/kubelet/gdp-kubelet")
FAKE_DIR = os.path.join(BUILD, "tests/fakenvml")
PROFILES = os.path.join(ROOT, "tests/fakenvml/profiles")
MAKE_SYSFS = os.path.join(ROOT, "tests/fakenvml/make-sysfs.sh")
CALLS = int(os.environ.get("CALLS", "1000"))
RESOURCE = "nvidia.com/gpu"


def cpu_ns(pid):
    """On-CPU time of every thread of |pid|, in ns."""
    total = 0
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def uuids(profile):
    out = []
    with open(os.path.join(PROFILES, profile + ".yaml")) as f:
        for line in f:
            s = line.strip()
            if s.startswith("uuid:"):
                out.append(s.split(":", 1)[1].strip())
    return out


def per_call(pid, control, path, body):
    for _ in range(50):  # warm-up
        r = ctl(control, "POST", path, body)
        assert r.get("ok"), r
    t0 = cpu_ns(pid)
    for _ in range(CALLS):
        ctl(control, "POST", path, body)
    return (cpu_ns(pid) - t0) / CALLS


def bench(profile):
    tmp = tempfile.mkdtemp(prefix="gdp-bench.")
    dp = os.path.join(tmp, "dp")
    os.makedirs(dp)
    prof = os.path.join(PROFILES, profile + ".yaml")
    subprocess.run([MAKE_SYSFS, prof, os.path.join(tmp, "sys")], check=True,
                   stdout=subprocess.DEVNULL)
    control = os.path.join(tmp, "control.sock")
    kubelet = subprocess.Popen([STANDIN, "--dir", dp, "--control", control],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert kubelet.stdout.readline().strip() == "ready"
    env = dict(os.environ, LD_LIBRARY_PATH=FAKE_DIR, FAKE_NVML_PROFILE=prof)
    plugin = subprocess.Popen(
        [PLUGIN, "--kubelet-socket", os.path.join(dp, "kubelet.sock"),
         "--sysfs-root", os.path.join(tmp, "sys")], env=env,
        stderr=subprocess.DEVNULL)
    ids = uuids(profile)
    try:
        r = ctl(control, "POST", "/wait", {"resource": RESOURCE,
                                           "allocatable": len(ids),
                                           "timeout_ms": 20000})
        assert r["ok"], r
        ref = per_call(plugin.pid, control, "/allocate",
                       {"resource": RESOURCE, "devices": [ids[0]]})
        rows = []
        for size in range(1, len(ids) + 1):
            ns = per_call(plugin.pid, control, "/preferred", {
                "resource": RESOURCE, "available": ids, "must_include": [],
                "size": size})
            rows.append((size, ns))
        return ref, rows
    finally:
        plugin.terminate()
        plugin.wait()
        kubelet.terminate()
        kubelet.wait()
        subprocess.run(["rm", "-rf", tmp])


def main():
    print("| graph | Allocate (reference) µs | GetPreferredAllocation "
          "µs by size |")
    print("|---|---|---|")
    for profile in ("dgx1-v100", "synthetic-16"):
        ref, rows = bench(profile)
        cells = " / ".join("%d: %.1f" % (s, ns / 1000) for s, ns in rows)
        print("| %s (%d GPUs) | %.1f | %s |" % (profile, len(rows),
                                               ref / 1000, cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
