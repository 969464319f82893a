#!/usr/bin/python3
"""The health thread must never spin, whatever the driver's events do.

Found in the field: against an NVML that supports no event types and whose
nvmlEventSetWait returns at once, the plugin with health checks on burnt a
whole core while idle. Here the real plugin runs on the fake NVML's
no-events profile (and variants of it) against the kubelet stand-in, idles
for IDLE seconds, and is stopped with SIGTERM. From FAKE_NVML_TRACE (call
counts) and /proc/PID/task/*/schedstat (CPU time) it asserts:

  - the event waits are bounded: at most WAITS_PER_S per second;
  - idle CPU is at most 1 % of a core;
  - the GPUs stay advertised and Healthy, and the log says once why.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: nospin-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
"""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

PLUGIN, STANDIN, FAKE_LIB_DIR, PROFILES, MAKE_SYSFS = sys.argv[1:6]
# The stand-in's HTTP-over-unix client, shared with the plugin tests.
_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
IDLE = float(os.environ.get("NOSPIN_IDLE_SECONDS", "3"))
WAITS_PER_S = 3          # the thread waits at most once a second
CPU_SHARE_MAX = 0.01     # of one core


def ctl(path, method, url, body=None):
    conn = PT.UnixHTTP(path)
    conn.request(method, url, json.dumps(body) if body else None,
                 {"Content-Type": "application/json"})
    data = conn.getresponse().read().decode()
    conn.close()
    return json.loads(data)


def cpu_ns(pid):
    """CPU time of every thread of |pid|, in ns."""
    return PT.daemon_cpu_ns(pid)


def profile(tmp, changes):
    """The no-events profile with top-level keys replaced."""
    with open(os.path.join(PROFILES, "no-events.yaml")) as f:
        text = f.read()
    for key, value in changes.items():
        text, n = re.subn(r"(?m)^%s:.*$" % key, "%s: %s" % (key, value),
                          text)
        assert n == 1, key
    path = os.path.join(tmp, "profile.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def waits_of(trace):
    with open(trace) as f:
        counts = dict(line.split() for line in f if line.strip())
    return sum(int(n) for name, n in counts.items()
               if name.startswith("nvmlEventSetWait"))


def run_case(changes):
    """Runs the plugin idle: (event waits, its life in s, CPU share, log)."""
    tmp = tempfile.mkdtemp(prefix="gdp-nospin.")
    dp = os.path.join(tmp, "device-plugins")
    os.makedirs(dp)
    prof = profile(tmp, changes)
    sysfs = os.path.join(tmp, "sys")
    subprocess.run([MAKE_SYSFS, prof, sysfs], check=True)
    control = os.path.join(tmp, "control.sock")
    trace = os.path.join(tmp, "trace")
    log = os.path.join(tmp, "plugin.log")
    env = dict(os.environ, LD_LIBRARY_PATH=FAKE_LIB_DIR,
               FAKE_NVML_PROFILE=prof, FAKE_NVML_TRACE=trace)
    kubelet = subprocess.Popen([STANDIN, "--dir", dp, "--control", control],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    plugin = None
    try:
        assert kubelet.stdout.readline().strip() == "ready"
        born = time.monotonic()
        plugin = subprocess.Popen(
            # A 1 s probe bounds each wait to 1 s (the default 5 s probe
            # would let waits run 5 s), so that three paced early
            # returns, and their log line, fit in the idle window.
            [PLUGIN, "--kubelet-socket", os.path.join(dp, "kubelet.sock"),
             "--sysfs-root", sysfs, "--health-probe-interval=1s"], env=env,
            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        r = ctl(control, "POST", "/wait", {"resource": "nvidia.com/gpu",
                                           "allocatable": 2,
                                           "timeout_ms": 20000})
        assert r["ok"], "not advertised: %s" % r
        time.sleep(0.5)
        c0, t0 = cpu_ns(plugin.pid), time.monotonic()
        time.sleep(IDLE)
        share = (cpu_ns(plugin.pid) - c0) / 1e9 / (time.monotonic() - t0)
        res = ctl(control, "GET", "/node")["resources"]["nvidia.com/gpu"]
        assert res["allocatable"] == 2, res
        assert all(d["health"] == "Healthy" for d in res["devices"]), res
        plugin.send_signal(signal.SIGTERM)
        assert plugin.wait(timeout=10) == 0, "exit status"
        plugin = None
        life = time.monotonic() - born
        return waits_of(trace), life, share, open(log).read()
    finally:
        if plugin is not None:
            plugin.kill()
            plugin.wait()
        kubelet.terminate()
        kubelet.wait()
        subprocess.run(["rm", "-rf", tmp])


NO_TYPES = "does not support health events"
EARLY = "NVML event waits return at once without an event"

CASES = [
    ("no event types, wait answers TIMEOUT at once: nothing waited on",
     {}, [(NO_TYPES, 2), (EARLY, 0)]),
    ("no event types, wait answers SUCCESS without an event",
     {"event_wait": "immediate-empty"}, [(NO_TYPES, 2), (EARLY, 0)]),
    ("XID events registered, wait answers TIMEOUT at once: paced",
     {"supported_event_types": "8"}, [(NO_TYPES, 0), (EARLY, 1)]),
    ("XID events registered, wait answers SUCCESS without an event: paced",
     {"supported_event_types": "8", "event_wait": "immediate-empty"},
     [(NO_TYPES, 0), (EARLY, 1)]),
]


def main():
    passed = failed = 0
    for name, changes, log_says in CASES:
        try:
            waits, life, share, text = run_case(changes)
            assert waits <= WAITS_PER_S * life, \
                "%d event waits in %.1f s; idle CPU %.1f %% of a core" % (
                    waits, life, share * 100)
            assert share <= CPU_SHARE_MAX, \
                "idle CPU %.1f %% of a core" % (share * 100)
            for what, times in log_says:
                assert text.count(what) == times, \
                    "%r logged %d times, not %d: %s" % (
                        what, text.count(what), times, text[-1500:])
            print("ok - %s (%d waits, idle CPU %.3f %% of a core)" % (
                name, waits, share * 100), flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            print("not ok - %s: %s" % (name, str(e).replace("\n", " ")),
                  flush=True)
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
