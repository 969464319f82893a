#!/usr/bin/python3
"""Issue 8 R7/R8: what idle connections and floods cost the gRPC server.

Runs grpc-testserver (our server; or an older build's, to compare), and
with grpcio (Debian's /usr/bin/python3) measures:

  - Allocate latency (p50/p99, sequential) and the server's CPU per call,
    quiet and then with N idle connections open (each sent its preface
    and SETTINGS, then nothing);
  - the server's RSS before, with the N connections, and after they
    close (R8: is the memory given back?);
  - RSS peak and after for one 4 MiB request made of tiny unknown
    protobuf fields.

Not a test: numbers for docs/benchmarks.md. Usage:
  limits-bench.py TESTSERVER [--idle N] [--calls K] [-- SERVER-ARGS...]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import grpc

ALLOCATE = "/v1beta1.DevicePlugin/Allocate"
# AllocateRequest{container_requests:[{devices_ids:["GPU-0"]}]}
REQUEST = b"\x0a\x07\x0a\x05GPU-0"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(
    [0, 0, 0, 4, 0, 0, 0, 0, 0])


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def latencies(call, pid, k):
    times = []
    cpu = cpu_ns(pid)
    for _ in range(k):
        t = time.perf_counter()
        call(REQUEST, timeout=10)
        times.append((time.perf_counter() - t) * 1e6)
    cpu = (cpu_ns(pid) - cpu) / 1e3 / k
    times.sort()
    return times[len(times) // 2], times[len(times) * 99 // 100], cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("rest", nargs="*")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gdp-limits-bench.")
    path = os.path.join(tmp, "s.sock")
    srv = subprocess.Popen([a.server, "--socket", path] + a.rest,
                           stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline().strip() == "ready"
    ch = grpc.insecure_channel("unix:" + path)
    call = ch.unary_unary(ALLOCATE)
    latencies(call, srv.pid, 200)   # warm up
    rss0 = status_kb(srv.pid, "VmRSS")
    q = latencies(call, srv.pid, a.calls)
    socks = []
    for _ in range(a.idle):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(PREFACE)
        socks.append(s)
    time.sleep(1)
    busy = latencies(call, srv.pid, a.calls)
    rss1 = status_kb(srv.pid, "VmRSS")
    for s in socks:
        s.close()
    time.sleep(2)
    latencies(call, srv.pid, 50)
    rss2 = status_kb(srv.pid, "VmRSS")
    print("quiet: p50 %.1f us, p99 %.1f us, server CPU %.1f us/call" % q)
    print("with %d idle connections: p50 %.1f us, p99 %.1f us, server "
          "CPU %.1f us/call" % ((a.idle,) + busy))
    print("RSS kB: before %d, with them %d, after they closed %d" % (
        rss0, rss1, rss2))
    hwm0 = status_kb(srv.pid, "VmHWM")
    blob = b"\x78\x01" * ((4 << 20) // 2 - 64)
    try:
        call(blob, timeout=30)
    except grpc.RpcError as e:
        print("unknown-fields request: %s" % e.code())
    time.sleep(0.5)
    latencies(call, srv.pid, 50)
    print("4 MiB of unknown fields: RSS peak %d kB (was %d), after %d kB"
          % (status_kb(srv.pid, "VmHWM"), hwm0,
             status_kb(srv.pid, "VmRSS")))
    ch.close()
    srv.terminate()
    srv.wait(timeout=10)
    os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
