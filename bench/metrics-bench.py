#!/usr/bin/python3
"""metrics-bench.py: what --metrics-address costs, measured, not asserted.

Runs the real gpu-device-plugin on the fake NVML (dgx-h100, 8 GPUs)
against the kubelet stand-in, the endpoint on a unix socket, and measures:

  1. Allocate latency p50/p99 at concurrency 1 (grpc-go client,
     tests/interop/gdp-go-peer, SECONDS each) on one plugin, quiet and
     while a scraper GETs /metrics at 10 Hz over one keep-alive
     connection (as Prometheus does), ROUNDS rounds alternating; the
     reference is the same plugin in the same run, quiet: the ratio
     scraped / quiet is the scrape's cost to the kubelet's calls;
  2. the CPU one scrape costs the plugin (its threads' schedstat over
     10 s of 10 Hz scrapes, no other load);
  3. idle CPU and RSS with the endpoint off and on: the plugin
     registered, one scrape (on), then IDLE seconds untouched; CPU from
     /proc/PID/stat (utime + stime, in clock ticks) and from every
     thread's schedstat (ns), wake-ups from voluntary_ctxt_switches,
     VmRSS and RssAnon at the end. The reference over the same seconds
     is bench/sleeper (a process that only wakes every 5 s, sharing no
     code with the plugin).

Usage: bench/metrics-bench.py [BUILD_DIR]
       (env: ROUNDS=3 SECONDS=5 IDLE=60)
Prints a markdown report on stdout.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from standin import UnixHTTP, ctl, status_kb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.join(ROOT, "build"))
PLUGIN = os.path.join(BUILD, "src/gpu-device-plugin")
STANDIN = os.path.join(BUILD, "tests/kubelet/gdp-kubelet")
PEER = os.path.join(BUILD, "tests/interop/gdp-go-peer")
SLEEPER = os.path.join(BUILD, "bench/sleeper")
FAKE_DIR = os.path.join(BUILD, "tests/fakenvml")
PROFILE = os.path.join(ROOT, "tests/fakenvml/profiles/dgx-h100.yaml")
MAKE_SYSFS = os.path.join(ROOT, "tests/fakenvml/make-sysfs.sh")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECONDS = int(os.environ.get("SECONDS", "5"))
IDLE = int(os.environ.get("IDLE", "60"))
TCK = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    """utime + stime of the process, clock ticks (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def per_task(pid, fn):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            total += fn("/proc/%d/task/%s/" % (pid, tid))
        except FileNotFoundError:
            pass        # a thread that ended between listdir and open
    return total


def cpu_ns(pid):
    """CPU of every thread, ns (schedstat, finer than ticks)."""
    def one(d):
        with open(d + "schedstat") as f:
            return int(f.read().split()[0])
    return per_task(pid, one)


def wakeups(pid):
    """voluntary_ctxt_switches summed over the threads."""
    def one(d):
        with open(d + "status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
        return 0
    return per_task(pid, one)


class Node:
    """A stand-in and one plugin, metrics on a unix socket or off."""

    def __init__(self, metrics):
        self.tmp = tempfile.mkdtemp(prefix="gdp-mbench.")
        self.dir = os.path.join(self.tmp, "dp")
        os.makedirs(self.dir)
        sysfs = os.path.join(self.tmp, "sys")
        subprocess.run([MAKE_SYSFS, PROFILE, sysfs], check=True)
        self.control = os.path.join(self.tmp, "control.sock")
        self.metrics = os.path.join(self.tmp, "metrics.sock")
        env = dict(os.environ, LD_LIBRARY_PATH=FAKE_DIR,
                   FAKE_NVML_PROFILE=PROFILE)
        self.kubelet = subprocess.Popen(
            [STANDIN, "--dir", self.dir, "--control", self.control],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.kubelet.stdout.readline().strip() == "ready"
        args = [PLUGIN, "--kubelet-socket",
                os.path.join(self.dir, "kubelet.sock"), "--sysfs-root",
                sysfs]
        if metrics:
            args += ["--metrics-address", self.metrics]
        self.plugin = subprocess.Popen(args, env=env,
                                       stderr=subprocess.DEVNULL)
        r = ctl(self.control, "POST", "/wait",
                {"resource": "nvidia.com/gpu", "allocatable": 8,
                 "timeout_ms": 20000})
        assert r["ok"], r
        self.dev = r["node"]["resources"]["nvidia.com/gpu"]["devices"][0][
            "id"]
        self.sock = os.path.join(self.dir, "nvidia-gpu.sock")

    def close(self):
        for p in (self.plugin, self.kubelet):
            if p.poll() is None:
                p.terminate()
                p.wait()
        subprocess.run(["rm", "-rf", self.tmp], check=False)


class Scraper(threading.Thread):
    """GET /metrics every 1/hz s over one keep-alive connection."""

    def __init__(self, path, hz=10):
        super().__init__(daemon=True)
        self.path, self.period = path, 1.0 / hz
        self.stop = threading.Event()
        self.count, self.size = 0, 0

    def run(self):
        conn = UnixHTTP(self.path, timeout=10)
        due = time.monotonic()
        while not self.stop.is_set():
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, resp.status
            self.count += 1
            self.size = len(body)
            due += self.period
            self.stop.wait(max(0, due - time.monotonic()))
        conn.close()

    def finish(self):
        self.stop.set()
        self.join()


def go_bench(node):
    out = subprocess.run([PEER, "bench", "--socket", node.sock,
                          "--concurrency", "1", "--duration", str(SECONDS),
                          "--id", node.dev], capture_output=True, text=True,
                         check=True)
    r = json.loads(out.stdout)
    assert r["errors"] == 0, out.stderr
    return r


def allocates(node):
    """[(quiet p50, p99, scraped p50, p99, scrapes)] per round, µs."""
    rounds = []
    for _ in range(ROUNDS):
        quiet = go_bench(node)
        s = Scraper(node.metrics)
        s.start()
        scraped = go_bench(node)
        s.finish()
        rounds.append((quiet["p50_us"], quiet["p99_us"], scraped["p50_us"],
                       scraped["p99_us"], s.count, s.size))
    return rounds


def per_scrape(node, seconds=10):
    """CPU per scrape (µs, schedstat) over |seconds| of 10 Hz."""
    pid = node.plugin.pid
    time.sleep(1)
    c0 = cpu_ns(pid)
    s = Scraper(node.metrics)
    s.start()
    time.sleep(seconds)
    s.finish()
    return (cpu_ns(pid) - c0) / 1e3 / s.count, s.count


def idle(metrics):
    """Idle cost over IDLE s: plugin and sleeper, same seconds."""
    node = Node(metrics)
    try:
        pid = node.plugin.pid
        if metrics:
            conn = UnixHTTP(node.metrics)
            conn.request("GET", "/metrics")
            conn.getresponse().read()
            conn.close()
        time.sleep(12)      # past the endpoint's 10 s idle close
        ref = subprocess.Popen([SLEEPER, "5000"])
        try:
            time.sleep(1)
            t0, c0, w0 = ticks(pid), cpu_ns(pid), wakeups(pid)
            r0, rw0 = cpu_ns(ref.pid), wakeups(ref.pid)
            time.sleep(IDLE)
            out = {"ticks": ticks(pid) - t0, "ns": cpu_ns(pid) - c0,
                   "wake": wakeups(pid) - w0, "ref_ns": cpu_ns(ref.pid) - r0,
                   "ref_wake": wakeups(ref.pid) - rw0}
        finally:
            ref.kill()
            ref.wait()
        out.update(status_kb(pid))
        return out
    finally:
        node.close()


def report_allocates(rounds, cost, scrapes):
    print("| round | quiet p50 | quiet p99 | scraped p50 | scraped p99 "
          "| scrapes |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rounds):
        print("| %d | %.1f | %.1f | %.1f | %.1f | %d |" % ((i + 1,) + r[:5]))
    q50 = statistics.median(r[0] for r in rounds)
    q99 = statistics.median(r[1] for r in rounds)
    s50 = statistics.median(r[2] for r in rounds)
    s99 = statistics.median(r[3] for r in rounds)
    print("")
    print("| Allocate, c=1, µs, median of rounds | quiet (reference) | "
          "10 Hz scrape | ratio |")
    print("|---|---|---|---|")
    print("| p50 | %.1f | %.1f | %.2f |" % (q50, s50, s50 / q50))
    print("| p99 | %.1f | %.1f | %.2f |" % (q99, s99, s99 / q99))
    print("")
    print("A scrape: %d bytes; plugin CPU per scrape %.1f µs (schedstat, "
          "%d scrapes at 10 Hz, nothing else)." % (rounds[-1][5], cost,
                                                    scrapes))


def report_idle(off, on):
    print("")
    print("| idle, %d s, 8 GPUs | metrics off | metrics on | on / off |"
          % IDLE)
    print("|---|---|---|---|")
    print("| CPU, utime+stime (ticks of %d ms) | %d | %d | |" % (
        1000 // TCK, off["ticks"], on["ticks"]))
    print("| CPU, schedstat (ms) | %.2f | %.2f | %.2f |" % (
        off["ns"] / 1e6, on["ns"] / 1e6, on["ns"] / off["ns"]))
    print("| bench/sleeper, same seconds (ms) | %.2f | %.2f | |" % (
        off["ref_ns"] / 1e6, on["ref_ns"] / 1e6))
    print("| plugin / sleeper | %.2f | %.2f | |" % (
        off["ns"] / off["ref_ns"], on["ns"] / on["ref_ns"]))
    print("| wake-ups (voluntary switches, all threads) | %d | %d | |" % (
        off["wake"], on["wake"]))
    print("| bench/sleeper wake-ups | %d | %d | |" % (
        off["ref_wake"], on["ref_wake"]))
    print("| VmRSS (kB) | %d | %d | %.3f |" % (
        off["VmRSS"], on["VmRSS"], on["VmRSS"] / off["VmRSS"]))
    print("| RssAnon (kB) | %d | %d | %.3f |" % (
        off["RssAnon"], on["RssAnon"], on["RssAnon"] / off["RssAnon"]))


def main():
    node = Node(True)
    try:
        rounds = allocates(node)
        cost, scrapes = per_scrape(node)
    finally:
        node.close()
    report_allocates(rounds, cost, scrapes)
    report_idle(idle(False), idle(True))


if __name__ == "__main__":
    main()
