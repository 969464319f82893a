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


DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "docs", "observability.md")


def doc_table():
    """docs/observability.md's metrics table: {name: (type, {labels})},
    from the rows of its "## Metrics" section."""
    with open(DOC) as f:
        text = f.read()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"`[a-z_:]+`", cells[0]):
            continue
        name = cells[0].strip("`")
        assert name not in out, "%s twice in the table" % name
        out[name] = (cells[1], set(re.findall(r"`([a-z_]+)`", cells[2])))
    assert len(out) > 10, "no metrics table in %s" % DOC
    return out


def scraped_families(text):
    """{family: (type, {label names of its samples})} of a scrape;
    a histogram's le and the _bucket/_sum/_count suffixes folded."""
    fams = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            fams[name] = (kind, set())
    for (name, labels) in parse(text):
        base = name if name in fams else re.sub(r"_(bucket|sum|count)$",
                                                "", name)
        fams[base][1].update(k for k, _ in labels if k != "le")
    return fams


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
    assert value(s, "process_max_fds") > value(s, "process_open_fds")
    assert value(s, "process_virtual_memory_bytes") > rss
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


def case_doc_table(node):
    """Every family of a scrape is in docs/observability.md's table with
    its type and exactly its labels, and every row there is scraped:
    the doc cannot drift from the code. An Allocate, an XID and the
    fake NVML's unsupported calls give every labelled family samples."""
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.plugin_args += PT.HEALTH_ARGS
    metrics_node(node)
    u = PT.profile_uuids("azure-nc24")
    node.wait(allocatable=4, registrations_at_least=1)
    assert node.allocate([u[0]])["ok"]
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "xid %s 79" % u[1])
    node.wait(allocatable=3)
    scrape(node)                        # promtool and the strict parser
    status, text, _ = http_get(node, "/metrics")
    assert status == 200
    got, doc = scraped_families(text), doc_table()
    missing = sorted(set(doc) - set(got))
    assert not missing, "in the doc, not scraped: %s" % missing
    extra = sorted(set(got) - set(doc))
    assert not extra, "scraped, not in the doc's table: %s" % extra
    for name, (kind, labels) in got.items():
        assert doc[name][0] == kind, "%s: doc says %s, scrape %s" % (
            name, doc[name][0], kind)
        if doc[name][1]:
            assert labels, "%s: no sample to check its labels" % name
        assert labels == doc[name][1], "%s: doc labels %s, scraped %s" % (
            name, sorted(doc[name][1]), sorted(labels))


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


# ---- the endpoint's own HTTP: limits and answers, on raw sockets -------

def raw_connect(node):
    """A plain socket to the node's metrics endpoint."""
    if node.metrics.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(node.metrics)
    else:
        host, port = node.metrics.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
    sock.settimeout(10)
    return sock


def read_to_eof(sock, timeout=10):
    """Everything the server sends until it closes (or shuts down its
    side); raises on a timeout, so a connection left open fails."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def split_responses(data):
    """[(status, {header: value}, body)] of HTTP/1.1 responses one after
    another, each body exactly Content-Length long (no HEAD answers:
    those have no body whatever their Content-Length says)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, "a response without the end of its headers: %r" % \
            data[:200]
        lines = head.decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        assert lines[0].startswith("HTTP/1.1 "), lines[0]
        hdrs = {k.lower(): v.strip() for k, _, v in
                (line.partition(":") for line in lines[1:])}
        n = int(hdrs["content-length"])
        out.append((status, hdrs, rest[:n]))
        assert len(rest) >= n, "body cut short: %d of %d" % (len(rest), n)
        data = rest[n:]
    return out


def case_request_too_large(node):
    metrics_node(node, kubelet=False)
    sock = raw_connect(node)
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                 b"a" * 9000 + b"\r\n\r\n")
    resp = split_responses(read_to_eof(sock))
    sock.close()
    assert len(resp) == 1 and resp[0][0] in (431, 400), resp
    assert resp[0][1].get("connection") == "close", resp[0][1]
    # Just under the cap is still answered.
    sock = raw_connect(node)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
                 b"\r\nX-Pad: " + b"a" * 7000 + b"\r\n\r\n")
    resp = split_responses(read_to_eof(sock))
    sock.close()
    assert [r[0] for r in resp] == [200], resp


def case_idle_connections(node):
    metrics_node(node, kubelet=False)
    idle = []
    for _ in range(17):
        idle.append(raw_connect(node))
        time.sleep(0.02)
    time.sleep(0.3)
    status, body, _ = http_get(node, "/healthz")
    assert status == 200, (status, body)
    # The policy: the least recently active connections make room, so
    # the first two idle ones (the 17th and this scrape's) are closed.
    for i, sock in enumerate(idle):
        sock.settimeout(0.5 if i < 2 else 0.05)
        try:
            data = sock.recv(100)
            closed = data == b""
        except socket.timeout:
            closed = False
        assert closed == (i < 2), "idle connection %d: closed %s" % (
            i, closed)
        sock.close()


def case_idle_timeout(node):
    metrics_node(node, kubelet=False)
    sock = raw_connect(node)
    t0 = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = sock.recv(4096)
    assert resp.startswith(b"HTTP/1.1 200"), resp
    assert b"keep-alive" in resp.lower(), resp
    data = read_to_eof(sock, timeout=20)
    waited = time.monotonic() - t0
    sock.close()
    assert data == b"" and 9 <= waited <= 13, (data, waited)


def case_slow_reader(node):
    metrics_node(node)
    u = PT.profile_uuids("azure-nc24")
    node.wait(allocatable=4, registrations_at_least=1)
    slow = raw_connect(node)
    n = 400    # about 400 scrapes' worth: far more than socket buffers
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * (n - 1) +
                 b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: close\r\n\r\n")
    time.sleep(0.5)
    t0 = time.monotonic()
    assert node.allocate([u[0]])["ok"]
    took = time.monotonic() - t0
    assert took < 2, "Allocate took %.2f s behind a slow reader" % took
    status, _, _ = http_get(node, "/healthz")
    assert status == 200, status
    # Now read it all: every answer whole, in order.
    resp = split_responses(read_to_eof(slow, timeout=30))
    slow.close()
    assert len(resp) == n, len(resp)
    assert all(r[0] == 200 for r in resp)
    assert resp[-1][1]["connection"] == "close", resp[-1][1]
    parse(resp[-1][2].decode())


def case_methods(node):
    metrics_node(node, kubelet=False)
    sock = raw_connect(node)
    sock.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 0\r\n\r\n"
                 b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: close\r\n\r\n")
    data = read_to_eof(sock)
    sock.close()
    # HEAD: the headers of a /metrics answer, no body: what follows
    # its blank line is the next answer's status line.
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    hdrs = head.decode().lower()
    assert "content-type: text/plain; version=0.0.4" in hdrs, hdrs
    length = int(re.search(r"content-length: (\d+)", hdrs).group(1))
    assert length > 1000, length
    resp = split_responses(rest)
    assert [r[0] for r in resp] == [405, 404, 200], resp
    assert "GET" in resp[0][1].get("allow", ""), resp[0][1]
    assert resp[2][2] == b"ok\n", resp[2]
    # HTTP/1.0 without keep-alive: answered, then closed.
    sock = raw_connect(node)
    sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    resp = split_responses(read_to_eof(sock))
    sock.close()
    assert [r[0] for r in resp] == [200], resp
    assert resp[0][1]["connection"] == "close"
    # Not HTTP, and a GET with a body: 400, closed.
    for bad in (b"HELLO THERE\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"):
        sock = raw_connect(node)
        sock.sendall(bad)
        resp = split_responses(read_to_eof(sock))
        sock.close()
        assert [r[0] for r in resp] == [400], (bad, resp)
    status, _, _ = http_get(node, "/healthz")
    assert status == 200


CASES = [
    ("3 Allocates: the counter and the histogram say 3; promtool accepts",
     case_counts_allocates),
    ("an XID: one transition counted, unhealthy devices 1",
     case_xid_counted),
    ("docs/observability.md's table: every scraped family, its type and "
     "labels; every row scraped", case_doc_table),
    ("/readyz 503 before registration, 200 after; /healthz 200",
     case_probes),
    ("registration disabled: /readyz 200", case_no_registration_ready),
    ("NVML stuck in an event wait: /healthz 503 naming the health "
     "thread, 200 once it turns", case_health_thread_stuck),
    ("host:port on loopback", case_tcp_loopback),
    ("SIGHUP: a reload counted", case_reload_counted),
    ("bad --metrics-address values: an error naming the flag",
     case_bad_address),
    ("a request over 8 KiB: 431 and closed; one under it answered",
     case_request_too_large),
    ("17 idle connections: a new scrape answered, the oldest idle closed",
     case_idle_connections),
    ("an idle keep-alive connection closed after 10 s", case_idle_timeout),
    ("a reader that does not read 400 /metrics answers: an Allocate "
     "still answered at once; then every answer whole", case_slow_reader),
    ("HEAD (no body), 405, 404, HTTP/1.0, 400 on bad requests",
     case_methods),
]


def main():
    if not PROMTOOL:
        print("# promtool not found: the strict parser alone checks")
    only = os.environ.get("GDP_CASE", "")
    return PT.run_cases([(name, lambda: PT.Node("azure-nc24"), fn)
                         for name, fn in CASES if only in name])


if __name__ == "__main__":
    sys.exit(main())
