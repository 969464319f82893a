#!/usr/bin/python3
"""The metrics endpoint (--metrics-address): /metrics, /healthz, /readyz.

The real plugin runs against the fake NVML and the kubelet stand-in (the
plugin tests' Node, run-plugin-tests.py), with its system-call filter on,
and the endpoint on a unix socket (or TCP on loopback). Each scrape is
checked by `promtool check metrics` (Debian's prometheus package) and by
a strict parser of the text format below, and its values against what the
test did: 3 Allocates, an XID injected through the fake NVML, a
registration, the kubelet arriving after the plugin.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: metrics-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES
MAKE_SYSFS
"""

import http.client
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time

_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
RESOURCE = PT.RESOURCE
PROMTOOL = shutil.which("promtool")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
                   r'(,|$)')


def http_get(node, path):
    """GET |path| on the node's metrics endpoint: (status, body)."""
    if node.metrics.startswith("/"):
        conn = PT.UnixHTTP(node.metrics)
    else:
        host, port = node.metrics.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode()
    ctype = resp.getheader("Content-Type", "")
    conn.close()
    return resp.status, body, ctype


def parse(text):
    """A strict read of the text format: {(name, frozenset(labels)):
    value}; every sample's family has HELP and TYPE first."""
    typed, out = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            assert len(parts) == 4, line
            if parts[1] == "TYPE":
                typed[parts[2]] = parts[3]
            continue
        assert not line.startswith("#") and line, "bad line %r" % line
        m = SAMPLE.match(line)
        assert m, "bad sample %r" % line
        name, labels = m.group(1), {}
        rest = m.group(3) or ""
        while rest:
            lm = LABEL.match(rest)
            assert lm, "bad labels in %r" % line
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        base = re.sub(r'_(bucket|sum|count)$', '', name)
        assert name in typed or base in typed, "no TYPE for %s" % name
        key = (name, frozenset(labels.items()))
        assert key not in out, "duplicate sample %r" % line
        out[key] = float(m.group(4))
    return out


def scrape(node):
    status, text, ctype = http_get(node, "/metrics")
    assert status == 200, (status, text)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, "promtool: %s %s" % (r.stdout, r.stderr)
    return parse(text)


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in samples, "no %s%s in %s" % (name, labels, sorted(
        k for k in samples if k[0] == name))
    return samples[key]


def metrics_node(node, extra=(), kubelet=True):
    node.metrics = os.path.join(node.tmp, "metrics.sock")
    node.plugin_args += ["--metrics-address", node.metrics] + list(extra)
    if kubelet:
        node.start_kubelet()
    node.start_plugin()
    deadline = time.monotonic() + 10
    while not os.path.exists(node.metrics):
        assert node.plugin.poll() is None, node.log_tail()
        assert time.monotonic() < deadline, "no metrics socket"
        time.sleep(0.01)


# ---- the cases ---------------------------------------------------------

def case_counts_allocates(node):
    metrics_node(node)
    u = PT.profile_uuids("azure-nc24")
    node.wait(allocatable=4, registrations_at_least=1)
    for i in range(3):
        assert node.allocate([u[i]])["ok"]
    s = scrape(node)
    assert value(s, "gdp_grpc_requests_total", method="Allocate",
                 code="OK") == 3, s
    assert value(s, "gdp_grpc_request_duration_seconds_count",
                 method="Allocate") == 3
    assert value(s, "gdp_grpc_request_duration_seconds_bucket",
                 method="Allocate", le="+Inf") == 3
    assert value(s, "gdp_kubelet_registrations_total", result="ok") == 1
    assert value(s, "gdp_devices", resource=RESOURCE,
                 health="healthy") == 4
    assert value(s, "gdp_devices", resource=RESOURCE,
                 health="unhealthy") == 0
    assert value(s, "gdp_grpc_connections_open") >= 1
    rss = value(s, "process_resident_memory_bytes")
    assert 1e5 < rss < 1e9, rss
    assert value(s, "process_open_fds") > 3
    assert value(s, "process_start_time_seconds") > time.time() - 600
    assert value(s, "process_cpu_seconds_total") >= 0
    names = {k[0] for k in s}
    assert any(n == "gdp_build_info" for n in names), names
    # A clean stop with the endpoint up: exit 0 (under ASan, no leak),
    # the socket file removed.
    rc = node.stop_plugin()
    assert rc == 0, "exit %s: %s" % (rc, node.log_tail())
    assert not os.path.exists(node.metrics), "metrics socket left behind"


def case_xid_counted(node):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.plugin_args += PT.HEALTH_ARGS
    metrics_node(node)
    u = PT.profile_uuids("azure-nc24")
    node.wait(allocatable=4)
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "xid %s 48" % u[2])
    node.wait(allocatable=3)
    s = scrape(node)
    assert value(s, "gdp_health_transitions_total", uuid=u[2],
                 cause="xid", xid="48") == 1, s
    assert value(s, "gdp_devices", resource=RESOURCE,
                 health="unhealthy") == 1
    assert value(s, "gdp_devices", resource=RESOURCE,
                 health="healthy") == 3


def case_probes(node):
    metrics_node(node, kubelet=False)
    status, body, _ = http_get(node, "/readyz")
    assert status == 503 and "regist" in body, (status, body)
    status, body, _ = http_get(node, "/healthz")
    assert status == 200, (status, body)
    assert value(scrape(node), "gdp_ready") == 0
    node.start_kubelet()
    node.wait(allocatable=4, registrations_at_least=1)
    deadline = time.monotonic() + 10
    while http_get(node, "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.05)
    assert value(scrape(node), "gdp_ready") == 1
    # A kubelet restart: not ready until registered with the new one.
    node.kubelet.terminate()
    node.kubelet.wait(timeout=10)
    deadline = time.monotonic() + 10
    while http_get(node, "/readyz")[0] != 503:
        assert time.monotonic() < deadline, "still ready without a kubelet"
        time.sleep(0.05)
    node.start_kubelet()
    node.wait(allocatable=4, registrations_at_least=1)
    deadline = time.monotonic() + 10
    while http_get(node, "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "not ready after the restart"
        time.sleep(0.05)
    s = scrape(node)
    assert value(s, "gdp_kubelet_restarts_total") >= 1, s
    status, body, _ = http_get(node, "/nope")
    assert status == 404, status
    s = scrape(node)
    assert value(s, "gdp_kubelet_registrations_total", result="ok") >= 1


def case_health_thread_stuck(node):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    metrics_node(node)
    node.wait(allocatable=4, registrations_at_least=1)
    PT.wait_for_log(node, "Health events registered")
    assert http_get(node, "/healthz")[0] == 200
    PT.inject(node, "wait-hang")
    deadline = time.monotonic() + 60
    while True:
        status, body, _ = http_get(node, "/healthz")
        if status == 503:
            break
        assert time.monotonic() < deadline, "still %d after 60 s" % status
        time.sleep(0.5)
    assert "health thread" in body, body
    PT.inject(node, "wait-ok")
    deadline = time.monotonic() + 20
    while http_get(node, "/healthz")[0] != 200:
        assert time.monotonic() < deadline, "not healthy again"
        time.sleep(0.2)


def case_no_registration_ready(node):
    node.metrics = os.path.join(node.tmp, "metrics.sock")
    node.start_kubelet()
    node.plugin = subprocess.Popen(
        [PT.PLUGIN, "--kubelet-socket=", "--sysfs-root", node.sysfs,
         "--metrics-address", node.metrics], env=node.env,
        stdout=subprocess.DEVNULL, stderr=open(node.plugin_log, "a"))
    PT.wait_for_log(node, "metrics")
    deadline = time.monotonic() + 10
    while not os.path.exists(node.metrics):
        assert time.monotonic() < deadline, node.log_tail()
        time.sleep(0.01)
    status, body, _ = http_get(node, "/readyz")
    assert status == 200, (status, body)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def case_tcp_loopback(node):
    node.metrics = "127.0.0.1:%d" % free_port()
    node.plugin_args += ["--metrics-address", node.metrics]
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4, registrations_at_least=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            s = scrape(node)
            break
        except OSError:
            assert time.monotonic() < deadline, node.log_tail()
            time.sleep(0.05)
    assert value(s, "gdp_kubelet_registrations_total", result="ok") == 1


def case_reload_counted(node):
    metrics_node(node)
    node.wait(allocatable=4, registrations_at_least=1)
    node.plugin.send_signal(1)
    PT.wait_for_log(node, "Reload done")
    s = scrape(node)
    assert value(s, "gdp_config_reloads_total", result="ok") == 1


def case_bad_address(node):
    for bad in ("nohost", "127.0.0.1:99999", "127.0.0.1:", "::1:80",
                "example.invalid:80"):
        r = subprocess.run([PT.PLUGIN, "--metrics-address", bad],
                           env=node.env, capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 2, (bad, r)
        assert "--metrics-address" in r.stderr and "METRICS_ADDRESS" in \
            r.stderr and bad in r.stderr, r.stderr
    env = dict(node.env, METRICS_ADDRESS="bad")
    r = subprocess.run([PT.PLUGIN, "--check-config"], env=env,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "METRICS_ADDRESS" in r.stderr, r


CASES = [
    ("3 Allocates: the counter and the histogram say 3; promtool accepts",
     case_counts_allocates),
    ("an XID: one transition counted, unhealthy devices 1",
     case_xid_counted),
    ("/readyz 503 before registration, 200 after; /healthz 200",
     case_probes),
    ("registration disabled: /readyz 200", case_no_registration_ready),
    ("NVML stuck in an event wait: /healthz 503 naming the health "
     "thread, 200 once it turns", case_health_thread_stuck),
    ("host:port on loopback", case_tcp_loopback),
    ("SIGHUP: a reload counted", case_reload_counted),
    ("bad --metrics-address values: an error naming the flag",
     case_bad_address),
]


def main():
    if not PROMTOOL:
        print("# promtool not found: the strict parser alone checks")
    only = os.environ.get("GDP_CASE", "")
    return PT.run_cases([(name, lambda: PT.Node("azure-nc24"), fn)
                         for name, fn in CASES if only in name])


if __name__ == "__main__":
    sys.exit(main())
