#!/usr/bin/python3
"""plugin-bench.py: the plugin's footprint and speed, measured, not asserted.

Runs the real gpu-device-plugin on the fake NVML with the dgx-h100 profile
(8 GPUs) against the kubelet stand-in, and measures:

  1. idle RSS after registration (reference in the same run: the floor
     server of bench/, bench/h2floor.c, a bare nghttp2 server sharing no
     code with ours);
  2. process start -> Register received by the stand-in (reference: start
     -> "ready" of the floor server), RUNS runs;
  3. kubelet.sock re-created -> Register received again, over RESTARTS
     kubelet restarts, with the plugin's fds and RSS before and after;
  4. Allocate latency p50/p99 at concurrency 1 and calls/s and server CPU
     per call at concurrency 64 (grpc-go client), against the floor
     server answering a fixed pre-encoded reply.

Usage: bench/plugin-bench.py [BUILD_DIR]   (env: RUNS=20 RESTARTS=200)
Prints a markdown report on stdout.
"""

import json
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
PEER = os.path.join(BUILD, "tests/interop/gdp-go-peer")
FLOOR = os.path.join(BUILD, "bench/h2floor")
FAKE_DIR = os.path.join(BUILD, "tests/fakenvml")
PROFILE = os.path.join(ROOT, "tests/fakenvml/profiles/dgx-h100.yaml")
MAKE_SYSFS = os.path.join(ROOT, "tests/fakenvml/make-sysfs.sh")
RUNS = int(os.environ.get("RUNS", "20"))
RESTARTS = int(os.environ.get("RESTARTS", "200"))
TCK = os.sysconf("SC_CLK_TCK")




def memory_kb(pid):
    """RSS, PSS and private dirty memory, from smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in ("Rss:", "Pss:", "Private_Dirty:"):
                out[parts[0][:-1]] = int(parts[1])
    return out


def rss_kb(pid):
    return memory_kb(pid)["Rss"]


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))



class Setup:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="gdp-bench.")
        self.dir = os.path.join(self.tmp, "dp")
        os.makedirs(self.dir)
        self.sys = os.path.join(self.tmp, "sys")
        subprocess.run([MAKE_SYSFS, PROFILE, self.sys], check=True)
        self.control = os.path.join(self.tmp, "control.sock")
        self.env = dict(os.environ, LD_LIBRARY_PATH=FAKE_DIR,
                        FAKE_NVML_PROFILE=PROFILE)
        self.kubelet = subprocess.Popen(
            [STANDIN, "--dir", self.dir, "--control", self.control],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.kubelet.stdout.readline().strip() == "ready"
        self.plugin = None

    def start_plugin(self):
        t0 = time.time_ns()
        self.plugin = subprocess.Popen(
            [PLUGIN, "--kubelet-socket", os.path.join(self.dir, "kubelet.sock"),
             "--sysfs-root", self.sys], env=self.env,
            stderr=subprocess.DEVNULL)
        return t0

    def wait(self, **cond):
        cond.update(resource="nvidia.com/gpu", timeout_ms=20000)
        r = ctl(self.control, "POST", "/wait", cond)
        assert r["ok"], r
        return r["node"]

    def stop_plugin(self):
        self.plugin.terminate()
        self.plugin.wait()

    def close(self):
        if self.plugin and self.plugin.poll() is None:
            self.stop_plugin()
        self.kubelet.terminate()
        self.kubelet.wait()
        subprocess.run(["rm", "-rf", self.tmp])


def start_floor(path):
    t0 = time.monotonic_ns()
    p = subprocess.Popen([FLOOR, "--socket", path], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    return p, (time.monotonic_ns() - t0) / 1e6


def go_bench(sock, conc, dev_id, seconds=5):
    out = subprocess.run([PEER, "bench", "--socket", sock, "--concurrency",
                          str(conc), "--duration", str(seconds), "--id",
                          dev_id], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    assert r["errors"] == 0, out.stderr
    return r


def h2load(pid, sock, dev_id, calls=300000):
    """calls/s and server CPU µs per call under h2load -c4 -m32."""
    body = os.path.join(os.path.dirname(sock), "alloc.grpc")
    ident = dev_id.encode()
    inner = b"\x0a" + bytes([len(ident)]) + ident
    msg = b"\x0a" + bytes([len(inner)]) + inner
    with open(body, "wb") as f:
        f.write(b"\x00" + len(msg).to_bytes(4, "big") + msg)
    t0 = cpu_ticks(pid)
    out = subprocess.run(
        ["h2load", "-n", str(calls), "-c", "4", "-m", "32", "-B",
         "unix:" + sock, "-d", body, "-H", "content-type: application/grpc",
         "-H", "te: trailers",
         "http://localhost/v1beta1.DevicePlugin/Allocate"],
        capture_output=True, text=True, check=True).stdout
    cpu_us = (cpu_ticks(pid) - t0) / TCK * 1e6 / calls
    rps = float(out.split("req/s")[0].split(",")[-1])
    assert " %d succeeded" % calls in out, out
    return rps, cpu_us


def bench_allocate(pid, sock, dev_id):
    c1 = go_bench(sock, 1, dev_id)
    t0 = cpu_ticks(pid)
    c64 = go_bench(sock, 64, dev_id)
    cpu_us = (cpu_ticks(pid) - t0) / TCK * 1e6 / c64["calls"]
    rps, h2cpu = h2load(pid, sock, dev_id)
    return (c1["p50_us"], c1["p99_us"], c64["calls_per_s"], cpu_us, rps,
            h2cpu)


def main():
    report = []
    s = Setup()
    try:
        # 2. start -> Register, and 1. idle RSS
        starts = []
        for _ in range(RUNS):
            before = ctl(s.control, "GET", "/node")["registrations"]
            t0 = s.start_plugin()
            node = s.wait(allocatable=8, registrations_at_least=before + 1)
            starts.append((node["times"]["last_register_ns"] - t0) / 1e6)
            s.stop_plugin()
        floor_starts = []
        for _ in range(RUNS):
            fp, ms = start_floor(os.path.join(s.tmp, "floor.sock"))
            floor_starts.append(ms)
            fp.terminate()
            fp.wait()
        s.start_plugin()
        s.wait(allocatable=8)
        time.sleep(2)
        mem = memory_kb(s.plugin.pid)
        fp, _ = start_floor(os.path.join(s.tmp, "floor.sock"))
        time.sleep(1)
        floor_mem = memory_kb(fp.pid)

        # 3. kubelet restarts
        pid = s.plugin.pid
        fds0, rss0 = nfds(pid), rss_kb(pid)
        gaps = []
        for _ in range(RESTARTS):
            before = ctl(s.control, "GET", "/node")["registrations"]
            created = ctl(s.control, "POST", "/restart")["socket_created_ns"]
            node = s.wait(allocatable=8, registrations_at_least=before + 1)
            gaps.append((node["times"]["last_register_ns"] - created) / 1e6)
        fds1, rss1 = nfds(pid), rss_kb(pid)

        # 4. Allocate, against the floor
        dev = ctl(s.control, "GET", "/node")["resources"]["nvidia.com/gpu"][
            "devices"][0]["id"]
        ours = bench_allocate(pid, os.path.join(s.dir, "nvidia-gpu.sock"),
                              dev)
        floor = bench_allocate(fp.pid, os.path.join(s.tmp, "floor.sock"),
                               dev)
        fp.terminate()
        fp.wait()
    finally:
        s.close()

    report.append("| measure | plugin | reference | ratio |")
    report.append("|---|---|---|---|")
    for key, what in (("Rss", "idle RSS"), ("Pss", "idle PSS"),
                      ("Private_Dirty", "idle private dirty")):
        report.append("| %s, 8 GPUs (kB) | %d | %d (bare nghttp2 server) "
                      "| %.2f |" % (what, mem[key], floor_mem[key],
                                    mem[key] / floor_mem[key]))
    report.append("| start -> Register received, median of %d (ms) | %.2f "
                  "| %.2f (floor server start -> ready) | %.2f |" % (
                      RUNS, statistics.median(starts),
                      statistics.median(floor_starts),
                      statistics.median(starts) /
                      statistics.median(floor_starts)))
    report.append("| Allocate p50, c=1 (µs) | %.1f | %.1f (fixed reply) | "
                  "%.2f |" % (ours[0], floor[0], ours[0] / floor[0]))
    report.append("| Allocate p99, c=1 (µs) | %.1f | %.1f | %.2f |" % (
        ours[1], floor[1], ours[1] / floor[1]))
    report.append("| Allocate calls/s, c=64 | %.0f | %.0f | %.2f |" % (
        ours[2], floor[2], ours[2] / floor[2]))
    report.append("| server CPU per Allocate, c=64 (µs) | %.2f | %.2f | "
                  "%.2f |" % (ours[3], floor[3], ours[3] / floor[3]))
    report.append("| Allocate calls/s, h2load -c4 -m32 | %.0f | %.0f | "
                  "%.2f |" % (ours[4], floor[4], ours[4] / floor[4]))
    report.append("| server CPU per Allocate, h2load (µs) | %.2f | %.2f | "
                  "%.2f |" % (ours[5], floor[5], ours[5] / floor[5]))
    report.append("")
    report.append("kubelet.sock re-created -> Register received, %d "
                  "restarts: median %.2f ms, p90 %.2f ms, max %.2f ms; "
                  "plugin fds %d -> %d, RSS %d -> %d kB." % (
                      RESTARTS, statistics.median(gaps), pct(gaps, 90),
                      max(gaps), fds0, fds1, rss0, rss1))
    report.append("start -> Register, all runs (ms): min %.2f, max %.2f." % (
        min(starts), max(starts)))
    print("\n".join(report))


if __name__ == "__main__":
    main()
