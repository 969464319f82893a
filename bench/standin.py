"""standin.py: what the benchmarks share: talking to the kubelet
stand-in's control socket (HTTP over a unix socket), percentiles, and a
process's memory from /proc."""

import http.client
import json
import socket


class UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def ctl(control, method, path, body=None):
    """One control call; returns the decoded JSON answer."""
    c = UnixHTTP(control)
    c.request(method, path, json.dumps(body) if body else None)
    data = c.getresponse().read()
    c.close()
    return json.loads(data)


def pct(values, p):
    """The p-th percentile (nearest rank) of |values|."""
    values = sorted(values)
    return values[min(len(values) - 1,
                      int(round(p / 100 * (len(values) - 1))))]


def status_kb(pid):
    """VmRSS and RssAnon of |pid|, kB (/proc/PID/status)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                out[key] = int(rest.split()[0])
    return out
