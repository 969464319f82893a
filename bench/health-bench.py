#!/usr/bin/python3
"""health-bench.py: how fast a GPU fault reaches the kubelet, and what
health checking costs an idle node. Measured, never asserted.

Runs the real plugin on the fake NVML (dgx-h100 profile, 8 GPUs) with its
control FIFO, against the kubelet stand-in:

  1. XID -> ListAndWatch update: for SAMPLES rounds, a transient XID is
     written to the fake's FIFO (time taken just before the write) and the
     time the stand-in receives the ListAndWatch message with the GPU
     unhealthy is read from the stand-in; the GPU then recovers (a 50 ms
     quiet period) before the next round. Reference in the same run: the
     same path for a GPU that comes back (recovery message), and the
     stand-in's own restart-to-socket time is not involved.
  2. Idle CPU: the plugin's utime+stime over IDLE_SECONDS with the default
     5 s probe and the event thread waiting, scaled to one minute.
  3. The same on the fake's no-events profile (2 GPUs; an NVML with no
     event types whose event wait answers TIMEOUT at once, as one seen in
     the field), as a share of one core: the health thread must not spin.

Usage: bench/health-bench.py [BUILD_DIR]  (env: SAMPLES=200 IDLE_SECONDS=30)
"""

import os
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
NO_EVENTS = os.path.join(ROOT, "tests/fakenvml/profiles/no-events.yaml")
SAMPLES = int(os.environ.get("SAMPLES", "200"))
IDLE = int(os.environ.get("IDLE_SECONDS", "30"))





def run(extra_args, fn, profile=PROFILE, gpus=8):
    tmp = tempfile.mkdtemp(prefix="gdp-hbench.")
    dp = os.path.join(tmp, "dp")
    os.makedirs(dp)
    sysfs = os.path.join(tmp, "sys")
    subprocess.run([os.path.join(ROOT, "tests/fakenvml/make-sysfs.sh"),
                    profile, sysfs], check=True)
    control = os.path.join(tmp, "control.sock")
    fifo = os.path.join(tmp, "nvml.fifo")
    kubelet = subprocess.Popen([STANDIN, "--dir", dp, "--control", control],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert kubelet.stdout.readline().strip() == "ready"
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(
        BUILD, "tests/fakenvml"), FAKE_NVML_PROFILE=profile,
        FAKE_NVML_CONTROL=fifo)
    plugin = subprocess.Popen(
        [PLUGIN, "--kubelet-socket", os.path.join(dp, "kubelet.sock"),
         "--sysfs-root", sysfs] + extra_args, env=env,
        stderr=subprocess.DEVNULL)
    try:
        r = ctl(control, "POST", "/wait", {"resource": "nvidia.com/gpu",
                                           "allocatable": gpus,
                                           "timeout_ms": 20000})
        assert r["ok"], r
        return fn(control, fifo, plugin.pid, r["node"])
    finally:
        plugin.terminate()
        plugin.wait()
        kubelet.terminate()
        kubelet.wait()
        subprocess.run(["rm", "-rf", tmp])


def wait_for(control, allocatable):
    r = ctl(control, "POST", "/wait", {"resource": "nvidia.com/gpu",
                                       "allocatable": allocatable,
                                       "timeout_ms": 20000})
    assert r["ok"], r
    return r["node"]


def xid_latency(control, fifo, pid, node):
    uuid = node["resources"]["nvidia.com/gpu"]["devices"][0]["id"]
    fd = os.open(fifo, os.O_WRONLY)
    down = []
    for _ in range(SAMPLES):
        t0 = time.time_ns()
        os.write(fd, ("xid %s 94\n" % uuid).encode())
        n = wait_for(control, 7)
        down.append((n["times"]["last_list_ns"] - t0) / 1e6)
        n = wait_for(control, 8)
    os.close(fd)
    return down


def cpu_ns(pid):
    """CPU time of every thread, in ns (schedstat, not 10 ms ticks)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


SLEEPER = os.path.join(BUILD, "bench/sleeper")


def idle_cpu(control, fifo, pid, node):
    """Idle CPU per minute (ms) of the plugin and, over the same seconds,
    of bench/sleeper (a process that only wakes every 5 s, as an idle
    plugin's health thread does): a wake-up's cost is the machine's."""
    ref = subprocess.Popen([SLEEPER, "5000"])
    try:
        time.sleep(2)
        t0, r0 = cpu_ns(pid), cpu_ns(ref.pid)
        time.sleep(IDLE)
        scale = 60 / IDLE / 1e6
        return ((cpu_ns(pid) - t0) * scale, (cpu_ns(ref.pid) - r0) * scale)
    finally:
        ref.kill()
        ref.wait()


def main():
    down = run(["--health-recovery-quiet=50ms"], xid_latency)
    cpu, ref = run([], idle_cpu)
    spin = run([], idle_cpu, NO_EVENTS, 2)[0] / 60e3 * 100
    print("| measure | value | target |")
    print("|---|---|---|")
    print("| XID written -> stand-in has the ListAndWatch update, p50 "
          "(ms) | %.2f | |" % statistics.median(down))
    print("| same, p99 (ms) | %.2f | ≤ 5 |" % pct(down, 99))
    print("| same, max (ms) | %.2f | |" % max(down))
    print("| idle CPU per minute, 8 GPUs, probe every 5 s (ms) | %.1f | "
          "≤ 10 |" % cpu)
    print("| same, bench/sleeper waking every 5 s, same seconds (ms) | "
          "%.1f | |" % ref)
    print("| plugin / sleeper | %.2f | |" % (cpu / ref if ref else 0))
    print("| idle CPU, NVML with no event types and an immediate wait "
          "(no-events, 2 GPUs), %% of a core | %.3f | ≤ 1 |" % spin)
    print("")
    print("%d XIDs; idle CPU from /proc/PID/task/*/schedstat over %d s, "
          "scaled to a minute." % (SAMPLES, IDLE))


if __name__ == "__main__":
    main()
