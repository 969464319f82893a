#!/usr/bin/python3
"""What the metrics endpoint costs in memory: the plugin's idle VmRSS and
RssAnon with --metrics-address and without, on the fake node azure-nc24
(4 GPUs) registered with the kubelet stand-in.

Each run starts a stand-in and the plugin, waits for registration, makes
one scrape of /metrics (metrics on), waits 3 s and reads
/proc/PID/status; RUNS runs per mode, printed one line each and as a
range. Reuses the plugin tests' Node (tests/plugin/run-plugin-tests.py).

Usage (from the build directory, LD_LIBRARY_PATH=tests/fakenvml):
  [RUNS=N] [MODES="off on"] bench/metrics-rss.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
"""

import importlib.util
import os
import sys
import time

from standin import status_kb

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = 5
_SPEC = importlib.util.spec_from_file_location(
    "metricstest", os.path.join(HERE, "..", "tests", "plugin",
                                "metrics-test.py"))
MT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(MT)
PT = MT.PT


def one(metrics):
    node = PT.Node("azure-nc24")
    try:
        if metrics:
            MT.metrics_node(node)
        else:
            node.start_kubelet()
            node.start_plugin()
        node.wait(allocatable=4, registrations_at_least=1)
        if metrics:
            MT.scrape(node)
        time.sleep(3)
        return status_kb(node.plugin.pid)
    finally:
        node.close()


def main():
    runs = int(os.environ.get("RUNS", RUNS))
    modes = os.environ.get("MODES", "off on").split()
    for metrics in [m == "on" for m in modes]:
        got = [one(metrics) for _ in range(runs)]
        for g in got:
            print("metrics %s: VmRSS %d kB, RssAnon %d kB" % (
                "on " if metrics else "off", g["VmRSS"], g["RssAnon"]))
        print("metrics %s: VmRSS %d-%d kB, RssAnon %d-%d kB" % (
            "on " if metrics else "off",
            min(g["VmRSS"] for g in got), max(g["VmRSS"] for g in got),
            min(g["RssAnon"] for g in got), max(g["RssAnon"] for g in got)))


if __name__ == "__main__":
    main()
