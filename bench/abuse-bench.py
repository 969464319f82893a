#!/usr/bin/python3
"""abuse-bench.py: the plugin under abuse, while the kubelet is served.
Measured and reported, never a CI test (issue 8, "must have" item 7).

Runs the real gpu-device-plugin on the fake NVML (dgx-h100 profile, 8
GPUs, a control FIFO to inject XIDs) against the kubelet stand-in, and:

  1. a quiet phase: the stand-in calls Allocate every 10 ms (POST
     /allocate on its control socket, one GPU); its p99 is the baseline;
  2. each abuse scenario for --seconds, the same Allocate calls running:
       idle     1,000 connections that finish the HTTP/2 handshake, then
                do nothing;
       slow     200 connections that send the client preface one byte
                every --drip-seconds (even ones) or nothing at all (odd);
       partial  100 connections with 100 streams each, every stream
                announcing a 4 MiB gRPC message and sending all of it but
                the last byte (round robin, as flow control allows),
                never finishing;
       r1       one open ListAndWatch call with grpc-timeout 2562047H;
       r1-max   the same with 99999999H;
       r2       one GetPreferredAllocation with 150,000 unknown ids
                (about 1.2 MB) and an allocation size of 150,000;
     while sampling the plugin every 100 ms: RSS (VmRSS, peak), fds,
     CPU (utime+stime). One second in, a transient XID (94) is written to
     the fake's FIFO for GPU 0; with --health-recovery-quiet=3s the GPU
     must leave Allocatable and come back before the scenario ends
     ("timers keep firing"). Then the abusers are closed, the bench waits
     until Allocate answers again (bounded), and records RSS after and
     whether the plugin is still registered (stand-in state).

The abusers run in a child process (this script with --abuser), so their
Python work does not share a GIL with the Allocate caller. Raw HTTP/2
frames are written by hand (HPACK literals, no Huffman); nothing beyond
Python 3's standard library is needed. Every socket operation has a
timeout and every phase a bound: the bench never waits on the plugin
forever. For the machine's sake a scenario stops early when the plugin's
RSS passes --rss-cap-mb (2 GiB): the partial-message abuser also stops
sending at that point.

Usage: bench/abuse-bench.py [--build DIR] [--seconds 30] [--scenarios
idle,slow,...] [--daemon-arg=--flag=value ...] [--daemon-nofile N]
[--rss-limit-mb M]    (see --help). Prints a markdown report on stdout,
progress on stderr; exits 0 when every check passed, 1 when one failed.
"""

import argparse
import http.client
import json
import os
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "plugin"))
from h2wire import h2_frame as frame  # noqa: E402 - after its path
from h2wire import hpack_literal, pb_varint  # noqa: E402
from h2wire import pb_field as pb_bytes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.path.join(ROOT, "tests/fakenvml/profiles/dgx-h100.yaml")
MAKE_SYSFS = os.path.join(ROOT, "tests/fakenvml/make-sysfs.sh")
RES = "nvidia.com/gpu"
GPUS = 8
TRANSIENT_XID = 94      # "contained ECC error": transient (docs/health.md)
TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

SCENARIOS = ("idle", "slow", "partial", "r1", "r1-max", "r2")
R1_TIMEOUTS = {"r1": "2562047H", "r1-max": "99999999H"}


def log(msg):
    print("[abuse-bench %s] %s" % (time.strftime("%H:%M:%S"), msg),
          file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# HTTP/2 by hand
# ---------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = (
    0, 1, 3, 4, 6, 7, 8)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
MAX_FRAME = 16384
BIG_WINDOW = (1 << 31) - 1








def grpc_headers(method, timeout=None):
    fields = [(":method", "POST"), (":scheme", "http"),
              (":path", "/v1beta1.DevicePlugin/" + method),
              (":authority", "localhost"),
              ("content-type", "application/grpc"), ("te", "trailers")]
    if timeout is not None:
        fields.append(("grpc-timeout", timeout))
    return b"".join(hpack_literal(n, v) for n, v in fields)






def preferred_request(n_ids):
    """PreferredAllocationRequest: one container, |n_ids| unknown ids
    available and allocation_size |n_ids| (what made it quadratic: every
    unknown id is an answer candidate)."""
    ids = b"".join(pb_bytes(1, b"%06d" % i) for i in range(n_ids))
    return pb_bytes(1, ids + b"\x18" + pb_varint(n_ids))


class H2Conn:
    """One client connection on a unix socket, blocking with a timeout on
    every operation. Tracks the server's flow-control windows and records
    stream ends, RST_STREAM, GOAWAY and EOF; never decodes headers."""

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.closed = False      # either of the two below
        self.eof = False         # the server closed (EOF or reset)
        self.broken = False      # a send timed out: the server stopped
                                 # reading
        self.reply = True        # acknowledge SETTINGS and PING
        self.goaway = False
        self.got_settings = False
        self.conn_window = 65535
        self.initial_window = 65535
        self.windows = {}        # stream -> send window
        self.ended = {}          # stream -> time its END_STREAM/RST came
        self.received = {}       # stream -> DATA bytes the server sent
        self.next_stream = 1

    def fileno(self):
        return self.sock.fileno()

    def send(self, data):
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except socket.timeout:
            self.closed = self.broken = True
        except OSError:
            # Reset or closed by the server: read what it said (GOAWAY).
            self.closed = self.eof = True
            self._drain()
        return False

    def _drain(self):
        try:
            self.sock.settimeout(0.0)
            while len(self.buf) < 1 << 20:
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                self.buf += data
        except OSError:
            pass
        self._frames()

    def start(self):
        """Preface, SETTINGS (huge window: we never block the server's
        answers) and a connection WINDOW_UPDATE."""
        return self.send(PREFACE + frame(SETTINGS, 0, 0, struct.pack(
            ">HI", 4, BIG_WINDOW)) + frame(WINDOW_UPDATE, 0, 0, struct.pack(
                ">I", BIG_WINDOW - 65535)))

    def handshake(self, deadline):
        """start(), then read until the server's SETTINGS came (and were
        acknowledged). Returns whether it did before |deadline|."""
        if not self.start():
            return False
        while not self.got_settings and not self.closed:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 1.0)):
                break
        return self.got_settings and not self.closed

    def pump(self, timeout):
        """Reads what is there (waiting up to |timeout| s for the first
        bytes) and handles whole frames. Returns False on EOF or error."""
        if self.closed:
            return False
        try:
            self.sock.settimeout(timeout if timeout > 0 else 0.0)
            data = self.sock.recv(1 << 16)
        except (BlockingIOError, socket.timeout):
            return True
        except OSError:
            self.closed = self.eof = True
            return False
        finally:
            if not self.closed:
                self.sock.settimeout(2.0)
        if not data:
            self.closed = self.eof = True
            return False
        self.buf += data
        self._frames()
        return not self.closed

    def _frames(self):
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            self._frame(ftype, flags, stream, payload)

    def _frame(self, ftype, flags, stream, payload):
        now = time.monotonic()
        if ftype == SETTINGS and not flags & ACK:
            for i in range(0, len(payload) - 5, 6):
                ident, value = struct.unpack(">HI", payload[i:i + 6])
                if ident == 4:
                    delta = value - self.initial_window
                    self.initial_window = value
                    for s in self.windows:
                        self.windows[s] += delta
            self.got_settings = True
            if self.reply:
                self.send(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK and self.reply:
            self.send(frame(PING, ACK, 0, payload))
        elif ftype == WINDOW_UPDATE and len(payload) == 4:
            inc = int.from_bytes(payload, "big") & 0x7FFFFFFF
            if stream == 0:
                self.conn_window += inc
            elif stream in self.windows:
                self.windows[stream] += inc
        if ftype == DATA:
            self.received[stream] = self.received.get(stream, 0) + len(
                payload)
        if ftype == GOAWAY:
            self.goaway = True
        elif ftype == RST_STREAM or (ftype in (DATA, HEADERS) and
                                     flags & END_STREAM):
            self.ended.setdefault(stream, now)

    def open_stream(self, method, timeout=None, end=False):
        stream = self.next_stream
        self.next_stream += 2
        self.windows[stream] = self.initial_window
        flags = END_HEADERS | (END_STREAM if end else 0)
        self.send(frame(HEADERS, flags, stream, grpc_headers(method,
                                                             timeout)))
        return stream

    def room(self, stream):
        """How many DATA bytes flow control lets us send now."""
        return max(0, min(self.conn_window, self.windows[stream], MAX_FRAME))

    def send_data(self, stream, data, end=False):
        self.conn_window -= len(data)
        self.windows[stream] -= len(data)
        return self.send(frame(DATA, END_STREAM if end else 0, stream, data))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# The abusers (child process: bench/abuse-bench.py --abuser NAME ...)
# ---------------------------------------------------------------------------

def daemon_rss_kb(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE_KB
    except OSError:
        return 0


class Abuser:
    """Opens the scenario's connections, reports "ready", then keeps them
    (and does the scenario's slow work) until stdin closes or the time
    limit passes; prints one JSON line of what it saw and exits."""

    def __init__(self, a):
        self.a = a
        self.conns = []
        self.sel = selectors.DefaultSelector()
        self.sel.register(sys.stdin, selectors.EVENT_READ, None)
        self.stop = False
        self.limit = time.monotonic() + a.abuse_limit
        self.notes = {}

    def report(self, **kv):
        print(json.dumps(kv), flush=True)

    def connect(self, n, handshake, reply=True):
        deadline = time.monotonic() + self.a.setup_seconds
        failed = 0
        for _ in range(n):
            if time.monotonic() > deadline:
                failed += 1
                continue
            try:
                c = H2Conn(self.a.socket, 2.0)
            except OSError:
                failed += 1
                continue
            c.reply = reply
            if handshake and not c.handshake(min(deadline,
                                                 time.monotonic() + 5)):
                failed += 1
            self.conns.append(c)
            self.sel.register(c.sock, selectors.EVENT_READ, c)
        self.notes["connect_failed"] = failed
        return failed

    def wait(self, timeout):
        """Serves every readable connection (ACKs, window updates, EOF)
        for up to |timeout| s; sets self.stop when stdin closes."""
        for key, _ in self.sel.select(max(0.0, timeout)):
            if key.data is None:
                if not os.read(sys.stdin.fileno(), 4096):
                    self.stop = True
                    self.sel.unregister(sys.stdin)
                continue
            c = key.data
            if not c.pump(0) or c.closed:
                self.sel.unregister(c.sock)
        if time.monotonic() > self.limit:
            self.stop = True

    def hold(self, step=None, period=0.2):
        """Keeps the connections until told to stop; calls |step| about
        every |period| s."""
        while not self.stop:
            self.wait(period)
            if step is not None and not self.stop:
                step()

    def finish(self):
        self.notes["conns"] = len(self.conns)
        self.notes["closed_by_server"] = sum(c.eof for c in self.conns)
        self.notes["send_timed_out"] = sum(c.broken for c in self.conns)
        self.notes["goaway"] = sum(c.goaway for c in self.conns)
        for c in self.conns:
            c.close()
        self.report(final=self.notes)

    # -- scenarios --

    def idle(self):
        self.connect(self.a.idle, True)
        self.report(ready=True, conns=len(self.conns))
        self.hold()

    def slow(self):
        self.connect(self.a.slow, False, reply=False)
        self.report(ready=True, conns=len(self.conns))
        sent = [0] * len(self.conns)
        last = [time.monotonic()]

        def drip():
            if time.monotonic() - last[0] < self.a.drip_seconds:
                return
            last[0] = time.monotonic()
            for i in range(0, len(self.conns), 2):
                if sent[i] < len(PREFACE) and self.conns[i].send(
                        PREFACE[sent[i]:sent[i] + 1]):
                    sent[i] += 1
            self.notes["preface_bytes_sent_max"] = max(sent)
        self.hold(drip)

    def partial(self):
        a = self.a
        self.connect(a.partial_conns, True)
        body = bytes(MAX_FRAME)
        left = {}
        for c in self.conns:
            for _ in range(a.partial_streams):
                if c.closed:
                    break
                s = c.open_stream("Allocate")
                # The 5-byte gRPC prefix announces a 4 MiB message.
                if c.send_data(s, b"\x00" + struct.pack(">I", 4 << 20)):
                    left[(c, s)] = a.partial_bytes
        self.report(ready=True, conns=len(self.conns), streams=len(left))
        sent, capped = [0], [False]

        def fill():
            if capped[0]:
                return
            t_end = time.monotonic() + 0.2
            progress = True
            while progress and time.monotonic() < t_end:
                progress = False
                for c in self.conns:
                    if time.monotonic() > t_end:
                        break
                    c.pump(0)
                    if c.closed or c.goaway:
                        continue
                    for s in range(1, c.next_stream, 2):
                        n = min(left.get((c, s), 0), c.room(s))
                        if n <= 0 or s in c.ended:
                            continue
                        if not c.send_data(s, body[:n]):
                            break
                        left[(c, s)] -= n
                        sent[0] += n
                        progress = True
                    if daemon_rss_kb(a.pid) > a.rss_cap_mb * 1024:
                        capped[0] = True
                        self.notes["capped_at_rss_mb"] = a.rss_cap_mb
                        self.report(capped=True)
                        return
            self.notes["bytes_sent_mb"] = round(sent[0] / 2**20, 1)
            self.notes["streams_ended_by_server"] = sum(
                len(c.ended) for c in self.conns)
        self.hold(fill, 0.01)
        self.notes["bytes_sent_mb"] = round(sent[0] / 2**20, 1)

    def r1(self):
        self.connect(1, True)
        c = self.conns[0]
        t0 = time.monotonic()
        # ListAndWatch: the request is whole (an empty message), and the
        # call stays open by design, so no request timeout may end it.
        s = c.open_stream("ListAndWatch", timeout=R1_TIMEOUTS[self.a.abuser])
        c.send_data(s, bytes(5), end=True)
        self.report(ready=not c.closed, conns=1)
        self.hold()
        self.notes["call_ended_after_s"] = (
            round(c.ended[s] - t0, 3) if s in c.ended else None)

    def r2(self):
        self.connect(1, True)
        c = self.conns[0]
        msg = preferred_request(self.a.r2_ids)
        msg = b"\x00" + struct.pack(">I", len(msg)) + msg
        self.notes["request_bytes"] = len(msg)
        s = c.open_stream("GetPreferredAllocation")
        self.report(ready=not c.closed, conns=1)
        off, t0 = [0], time.monotonic()

        def send_more():
            while off[0] < len(msg) and not c.closed:
                n = min(c.room(s), len(msg) - off[0])
                if n <= 0:
                    return
                end = off[0] + n == len(msg)
                c.send_data(s, msg[off[0]:off[0] + n], end)
                off[0] += n
                if end:
                    self.notes["sent_after_s"] = round(time.monotonic() -
                                                       t0, 3)
        self.hold(send_more, 0.01)
        self.notes["answered_after_s"] = (
            round(c.ended[s] - t0, 3) if s in c.ended else None)
        self.notes["answer_bytes"] = c.received.get(s, 0)

    def run(self):
        name = self.a.abuser
        getattr(self, "r1" if name.startswith("r1") else name)()
        self.finish()


# ---------------------------------------------------------------------------
# The plugin, the stand-in, the Allocate caller and the sampler
# ---------------------------------------------------------------------------

class Control(http.client.HTTPConnection):
    """HTTP/1.1 to the stand-in's control socket, with a timeout."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def ctl(path, method, url, body=None, timeout=30):
    c = Control(path, timeout)
    try:
        c.request(method, url, json.dumps(body) if body else None)
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def pct(values, p):
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1,
                      int(round(p / 100 * (len(values) - 1))))]


class Allocator(threading.Thread):
    """Calls Allocate through the stand-in every |interval| s, one call at
    a time; records (start, seconds, ok). A call still running is known
    too (self.pending), so a stall shows even when nothing completes.
    With |resource| one the stand-in does not know, the same control call
    never reaches the plugin: the machine's reference, same window."""

    def __init__(self, control, device, interval, timeout, resource=RES):
        super().__init__(daemon=True)
        self.control, self.device, self.resource = control, device, resource
        self.interval, self.timeout = interval, timeout
        self.samples = []
        self.pending = None
        self.done = threading.Event()
        self.conn = None

    def call(self):
        if self.conn is None:
            self.conn = Control(self.control, self.timeout)
        try:
            self.conn.request("POST", "/allocate", json.dumps(
                {"resource": self.resource, "devices": [self.device]}))
            r = json.loads(self.conn.getresponse().read())
            return r.get("ok", False) or (self.resource != RES and
                                          r.get("called") is False)
        except (OSError, http.client.HTTPException, ValueError):
            self.conn.close()
            self.conn = None
            return False

    def run(self):
        next_at = time.monotonic()
        while not self.done.is_set():
            t0 = time.monotonic()
            self.pending = t0
            ok = self.call()
            t1 = time.monotonic()
            self.samples.append((t0, t1 - t0, ok))
            self.pending = None
            next_at = max(next_at + self.interval, t1)
            self.done.wait(max(0.0, next_at - time.monotonic()))

    def window(self, t0, t1):
        """Latencies (s) of calls started in [t0, t1), a call still
        running at t1 counted as lasting until t1; and how many failed."""
        lat = [d for s, d, _ in self.samples if t0 <= s < t1]
        bad = sum(1 for s, _, ok in self.samples if t0 <= s < t1 and not ok)
        p = self.pending
        if p is not None and t0 <= p < t1:
            lat.append(t1 - p)
        return lat, bad

    def answered_since(self, t):
        return any(s >= t and ok for s, _, ok in self.samples)


def read_proc(pid):
    """(RSS kB, fds, CPU ticks) of |pid|, or None once it is gone."""
    try:
        with open("/proc/%d/statm" % pid) as f:
            rss = int(f.read().split()[1]) * PAGE_KB
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        fds = len(os.listdir("/proc/%d/fd" % pid))
        return rss, fds, int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


class Sampler(threading.Thread):
    """Samples the plugin every 100 ms: (time, RSS kB, fds, CPU ticks)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            s = read_proc(self.pid)     # self.pid changes on a restart
            if s is not None:
                self.samples.append((time.monotonic(),) + s)
            self.done.wait(0.1)

    def last(self):
        return self.samples[-1] if self.samples else None

    def window(self, t0, t1):
        return [s for s in self.samples if t0 <= s[0] <= t1]


def set_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = min(n, hard) if hard != resource.RLIM_INFINITY else n
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


class Node:
    """The stand-in, the fake NVML's sysfs and FIFO, and the plugin."""

    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="gdp-abuse.")
        self.dir = os.path.join(self.tmp, "dp")
        os.makedirs(self.dir)
        self.sys = os.path.join(self.tmp, "sys")
        subprocess.run([MAKE_SYSFS, PROFILE, self.sys], check=True,
                       stdout=subprocess.DEVNULL)
        self.control = os.path.join(self.tmp, "control.sock")
        self.fifo = os.path.join(self.tmp, "nvml.fifo")
        self.socket = os.path.join(self.dir, "nvidia-gpu.sock")
        self.kubelet = subprocess.Popen(
            [os.path.join(a.build, "tests/kubelet/gdp-kubelet"), "--dir",
             self.dir, "--control", self.control], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        if readline(self.kubelet.stdout, 30).strip() != "ready":
            raise RuntimeError("the kubelet stand-in did not start")
        self.plugin = None
        self.fifo_fd = None
        self.starts = 0

    def start_plugin(self):
        a = self.a
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(
            a.build, "tests/fakenvml"), FAKE_NVML_PROFILE=PROFILE,
            FAKE_NVML_CONTROL=self.fifo)
        self.log_path = os.path.join(self.tmp, "plugin-%d.log" % self.starts)
        self.starts += 1
        before = ctl(self.control, "GET", "/node")["registrations"]
        with open(self.log_path, "w") as err:
            self.plugin = subprocess.Popen(
                [a.plugin,
                 "--kubelet-socket", os.path.join(self.dir, "kubelet.sock"),
                 "--sysfs-root", self.sys,
                 "--health-recovery-quiet=" + a.recovery_quiet] +
                a.daemon_arg, env=env, stderr=err,
                preexec_fn=lambda: set_nofile(a.daemon_nofile))
        deadline = time.monotonic() + 30
        while True:
            r = ctl(self.control, "POST", "/wait", {
                "resource": RES, "allocatable": GPUS, "connected": True,
                "registrations_at_least": before + 1, "timeout_ms": 500},
                timeout=10)
            if r["ok"]:
                break
            if self.plugin.poll() is not None:
                raise RuntimeError("the plugin exited with status %d: %s" % (
                    self.plugin.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("the plugin did not register in 30 s: " +
                                   self.log_tail())
        devs = r["node"]["resources"][RES]["devices"]
        self.uuids = [d["id"] for d in devs]
        if self.fifo_fd is not None:
            os.close(self.fifo_fd)
        # The fake creates its FIFO when NVML starts; it exists by now.
        self.fifo_fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)

    def log_tail(self, n=5):
        try:
            with open(self.log_path) as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def inject_xid(self, uuid, xid):
        os.write(self.fifo_fd, ("xid %s %d\n" % (uuid, xid)).encode())

    def node(self):
        return ctl(self.control, "GET", "/node", timeout=10)

    def registered(self):
        r = self.node()["resources"].get(RES)
        return bool(r and r["connected"] and r["capacity"] == GPUS)

    def wait(self, timeout_s, **cond):
        cond.update(resource=RES, timeout_ms=max(1, int(timeout_s * 1000)))
        return ctl(self.control, "POST", "/wait", cond,
                   timeout=timeout_s + 10)["ok"]

    def stop_plugin(self):
        if self.plugin is None:
            return
        if self.plugin.poll() is None:
            self.plugin.terminate()
            try:
                self.plugin.wait(10)
            except subprocess.TimeoutExpired:
                self.plugin.kill()
                self.plugin.wait()
        self.plugin = None

    def close(self):
        self.stop_plugin()
        if self.fifo_fd is not None:
            os.close(self.fifo_fd)
        self.kubelet.terminate()
        try:
            self.kubelet.wait(10)
        except subprocess.TimeoutExpired:
            self.kubelet.kill()
            self.kubelet.wait()
        if not self.a.keep_tmp:
            subprocess.run(["rm", "-rf", self.tmp])


class XidCheck(threading.Thread):
    """Injects a transient XID on GPU 0 at |at| and watches the stand-in:
    the GPU must leave Allocatable and come back before |end|."""

    def __init__(self, node, at, end):
        super().__init__(daemon=True)
        self.node, self.at, self.end = node, at, end
        self.down = self.up = None

    def run(self):
        time.sleep(max(0.0, self.at - time.monotonic()))
        t0 = time.monotonic()
        self.node.inject_xid(self.node.uuids[0], TRANSIENT_XID)
        if self.node.wait(self.end - time.monotonic(), allocatable=GPUS - 1):
            self.down = time.monotonic() - t0
            if self.node.wait(self.end - time.monotonic(),
                              allocatable=GPUS):
                self.up = time.monotonic() - t0

    def verdict(self):
        if self.up is not None:
            return "yes (down %.3f s, back %.2f s)" % (self.down, self.up)
        if self.down is not None:
            return "**no** (down %.3f s, not back)" % self.down
        return "**no** (never reported down)"


# ---------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------

def summarize(name, sampler, alloc, t0, t1, stopped_early=None):
    win = sampler.window(t0, t1)
    lat, bad = alloc.window(t0, t1)
    ref = alloc.ref.window(t0, t1)[0]
    row = {"scenario": name, "seconds": t1 - t0, "calls": len(lat),
           "failed": bad, "p99_ms": None, "rss_peak": None, "fds_peak": None,
           "cpu": None, "stopped_early": stopped_early}
    if lat:
        row["p99_ms"] = pct(lat, 99) * 1000
        row["max_ms"] = max(lat) * 1000
    row["ref_p99_ms"] = pct(ref, 99) * 1000 if ref else None
    if win:
        row["rss_peak"] = max(s[1] for s in win)
        row["fds_peak"] = max(s[2] for s in win)
        if len(win) > 1 and win[-1][0] > win[0][0]:
            row["cpu"] = ((win[-1][3] - win[0][3]) / TCK /
                          (win[-1][0] - win[0][0]) * 100)
    return row


def start_abuser(a, node, name):
    cmd = [sys.executable, os.path.abspath(__file__), "--abuser", name,
           "--socket", node.socket, "--pid", str(node.plugin.pid),
           "--abuse-limit", str(a.seconds + a.setup_seconds + 60)]
    for opt in ("idle", "slow", "drip_seconds", "partial_conns",
                "partial_streams", "partial_bytes", "r2_ids", "rss_cap_mb",
                "setup_seconds"):
        cmd += ["--" + opt.replace("_", "-"), str(getattr(a, opt))]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: set_nofile(1 << 20))


def readline(pipe, timeout):
    """One line from |pipe| within |timeout| s ("" if none came)."""
    sel = selectors.DefaultSelector()
    sel.register(pipe, selectors.EVENT_READ)
    try:
        return pipe.readline() if sel.select(timeout) else ""
    finally:
        sel.close()


def read_line(proc, timeout):
    """One JSON line from the abuser within |timeout| s, or None."""
    line = readline(proc.stdout, timeout)
    try:
        return json.loads(line) if line else None
    except ValueError:
        return None


def stop_abuser(proc):
    try:
        proc.stdin.close()
    except OSError:
        pass
    final, deadline = None, time.monotonic() + 15
    while final is None and time.monotonic() < deadline:
        msg = read_line(proc, deadline - time.monotonic())
        if msg is None:
            break
        final = msg.get("final")      # other lines ("capped") come first
    if proc.poll() is None:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return final or {"abuser": "no report"}


def quiet(a, node, sampler, alloc, name):
    """A phase without abuse: the Allocate baseline and a control XID."""
    log("%s phase, %g s" % (name, a.seconds))
    t0 = time.monotonic()
    xid = XidCheck(node, t0 + 1.0, t0 + a.seconds)
    xid.start()
    time.sleep(a.seconds)
    row = summarize(name, sampler, alloc, t0, time.monotonic())
    xid.join(15)
    row["xid"] = xid.verdict()
    last = sampler.last()
    row["rss_after"] = last[1] if last else None
    row["fds_after"] = last[2] if last else None
    row["registered"] = node.registered()
    node.wait(20, allocatable=GPUS)
    return row


def scenario(a, node, sampler, alloc, name):
    """One abuse scenario; returns its row."""
    log("scenario %s: starting the abuser" % name)
    proc = start_abuser(a, node, name)
    ready = read_line(proc, a.setup_seconds + 30)
    t0 = time.monotonic()
    end = t0 + a.seconds
    xid = XidCheck(node, t0 + 1.0, end)
    xid.start()
    cap_kb = a.rss_cap_mb * 1024
    stopped = None
    while time.monotonic() < end:
        time.sleep(0.05)
        last = sampler.last()
        if node.plugin.poll() is not None:
            stopped = "plugin exited (status %s) at t=%.1fs" % (
                node.plugin.returncode, time.monotonic() - t0)
            break
        msg = read_line(proc, 0)
        if (msg and msg.get("capped")) or (last and last[1] > cap_kb):
            stopped = "over %d MiB at t=%.1fs" % (a.rss_cap_mb,
                                                 time.monotonic() - t0)
            break
        if proc.poll() is not None:
            stopped = "abuser exited at t=%.1fs" % (time.monotonic() - t0)
            break
    t1 = time.monotonic()
    xid_done = xid.up is not None
    row = summarize(name, sampler, alloc, t0, t1, stopped)
    row["ready"] = ready
    # The verdict belongs to the abuse: read it before the abusers go.
    row["xid"] = xid.verdict() if xid_done or stopped is None else (
        "(stopped early) " + xid.verdict())
    log("scenario %s: stopping the abuser" % name)
    row["abuser"] = stop_abuser(proc)
    xid.join(max(0.0, end - time.monotonic()) + 15)
    settle(a, node, sampler, alloc, row, t1)
    return row


def settle(a, node, sampler, alloc, row, t_stop):
    """After a scenario: bounded wait for the plugin to answer Allocate
    again and for GPU 0 to be back; then RSS after and registration.
    A plugin that died or stays stuck is restarted for the next one."""
    t = time.monotonic()
    while (node.plugin.poll() is None and not alloc.answered_since(t) and
           time.monotonic() - t < a.settle_timeout):
        time.sleep(0.1)
    row["answering_after_s"] = None
    if alloc.answered_since(t):
        row["answering_after_s"] = time.monotonic() - t_stop
    if node.plugin.poll() is None and row["answering_after_s"] is not None:
        node.wait(max(5.0, a.settle_timeout - (time.monotonic() - t)),
                  allocatable=GPUS)
        time.sleep(2)
        last = read_proc(node.plugin.pid)
        row["rss_after"] = last[0] if last else None
        row["fds_after"] = last[1] if last else None
    else:
        row["rss_after"] = row["fds_after"] = None
    try:
        row["registered"] = node.registered()
    except (OSError, ValueError, http.client.HTTPException):
        row["registered"] = False
    if node.plugin.poll() is not None or row["answering_after_s"] is None:
        row["restarted"] = True
        log("restarting the plugin after %s" % row["scenario"])
        restart(node, sampler)


def restart(node, sampler):
    node.stop_plugin()
    node.start_plugin()
    sampler.pid = node.plugin.pid


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def mb(kb):
    return "–" if kb is None else "%.1f MB" % (kb / 1024)


def fmt(v, f):
    return "–" if v is None else f % v


def table(rows, quiet_p99):
    out = ["| scenario | RSS peak | RSS after | fds peak | CPU % | "
           "Allocate p99 (ms) | p99/quiet | stand-in only p99 (ms) | "
           "XID recovered | registered |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["scenario"]
        if r.get("stopped_early"):
            name += " (stopped: %s)" % r["stopped_early"]
        ratio = (r["p99_ms"] / quiet_p99 if r["p99_ms"] is not None and
                 quiet_p99 else None)
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, mb(r["rss_peak"]), mb(r.get("rss_after")),
            fmt(r["fds_peak"], "%d"), fmt(r["cpu"], "%.1f"),
            fmt(r["p99_ms"], "%.2f"), fmt(ratio, "%.2f"),
            fmt(r["ref_p99_ms"], "%.2f"), r["xid"],
            "yes" if r.get("registered") else "**no**"))
    return out


def details(rows):
    out = []
    for r in rows:
        extra = ["%d Allocate calls over %.1f s, %d failed" % (
            r["calls"], r["seconds"], r["failed"])]
        if r.get("max_ms") is not None:
            extra.append("max %.1f ms" % r["max_ms"])
        if r["scenario"].startswith("quiet"):
            pass
        elif r.get("answering_after_s") is not None:
            extra.append("answering again %.2f s after the scenario "
                         "ended" % r["answering_after_s"])
        else:
            extra.append("**not answering** after the scenario ended")
        if "ready" in r and r["ready"] is None:
            extra.append("**the abuser was not ready** within its set-up "
                         "bound")
        if r.get("restarted"):
            extra.append("plugin restarted for the next scenario")
        if r.get("abuser"):
            extra.append("abuser: " + json.dumps(r["abuser"],
                                                  sort_keys=True))
        out.append("- %s: %s." % (r["scenario"], "; ".join(extra)))
    return out


def verdicts(a, rows, quiet_p99):
    lim = a.rss_limit_mb * 1024
    abuse = [r for r in rows if not r["scenario"].startswith("quiet")]
    ref0 = min(rows[0]["ref_p99_ms"] or 0.0, rows[-1]["ref_p99_ms"] or 0.0)

    def line(ok, what, bad):
        return "- %s: %s%s" % ("PASS" if ok else "FAIL", what,
                               "" if ok else " (" + ", ".join(bad) + ")")
    over = [r["scenario"] for r in abuse
            if r["rss_peak"] is None or r["rss_peak"] > lim]
    slow = [r["scenario"] + (
        " (the stand-in-only reference rose %.1fx too)" % (
            r["ref_p99_ms"] / ref0) if ref0 and r["ref_p99_ms"] and
        r["ref_p99_ms"] > 2 * ref0 else "")
        for r in abuse if r["p99_ms"] is None or r["p99_ms"] > 2 * quiet_p99]
    frozen = [r["scenario"] for r in abuse if not r["xid"].startswith("yes")]
    unreg = [r["scenario"] for r in rows if not r.get("registered")]
    return [
        line(not over, "RSS peak within %d MiB (--rss-limit-mb) in every "
             "scenario" % a.rss_limit_mb, over),
        line(not slow, "Allocate p99 within 2x the quiet %.2f ms (the "
             "lower quiet phase) in every scenario" % quiet_p99, slow),
        line(not frozen, "a transient XID recovers during every scenario",
             frozen),
        line(not unreg, "the plugin is registered after every scenario",
             unreg)]


# ---------------------------------------------------------------------------

def duration_s(text):
    """"3s", "500ms", "1m" -> seconds; None if it is none of these."""
    for unit, scale in (("ms", 0.001), ("s", 1), ("m", 60)):
        if text.endswith(unit):
            try:
                return float(text[:-len(unit)]) * scale
            except ValueError:
                return None
    return None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="where the stand-in, the fake NVML and (unless "
                   "--plugin) the plugin are")
    p.add_argument("--plugin", help="the plugin binary (default: "
                   "BUILD/src/gpu-device-plugin)")
    p.add_argument("--seconds", type=float, default=30,
                   help="length of the quiet phase and of each scenario")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="comma-separated, from: " + ", ".join(SCENARIOS))
    p.add_argument("--daemon-arg", action="append", default=[],
                   help="a flag passed through to the plugin (repeat)")
    p.add_argument("--daemon-nofile", type=int, default=1 << 20,
                   help="the plugin's RLIMIT_NOFILE (capped at the hard "
                   "limit; default as in a container)")
    p.add_argument("--rss-limit-mb", type=int, default=256,
                   help="the configured totals the RSS peak must stay in")
    p.add_argument("--rss-cap-mb", type=int, default=2048,
                   help="stop a scenario when the plugin's RSS passes this")
    p.add_argument("--recovery-quiet", default="3s",
                   help="the plugin's --health-recovery-quiet")
    p.add_argument("--interval-ms", type=float, default=10)
    p.add_argument("--call-timeout", type=float, default=60,
                   help="seconds one Allocate through the stand-in may take")
    p.add_argument("--settle-timeout", type=float, default=120,
                   help="seconds to wait for Allocate after a scenario")
    p.add_argument("--setup-seconds", type=float, default=60,
                   help="bound on an abuser's connection set-up")
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--slow", type=int, default=200)
    p.add_argument("--drip-seconds", type=float, default=2)
    p.add_argument("--partial-conns", type=int, default=100)
    p.add_argument("--partial-streams", type=int, default=100)
    p.add_argument("--partial-bytes", type=int, default=(4 << 20) - 1,
                   help="body bytes sent per partial stream (of 4 MiB)")
    p.add_argument("--r2-ids", type=int, default=150000)
    p.add_argument("--keep-tmp", action="store_true")
    # The abuser child's own arguments.
    p.add_argument("--abuser", help=argparse.SUPPRESS)
    p.add_argument("--socket", help=argparse.SUPPRESS)
    p.add_argument("--pid", type=int, help=argparse.SUPPRESS)
    p.add_argument("--abuse-limit", type=float, default=600,
                   help=argparse.SUPPRESS)
    a = p.parse_args()
    a.build = os.path.abspath(a.build)
    a.plugin = os.path.abspath(a.plugin or os.path.join(
        a.build, "src/gpu-device-plugin"))
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    quiet = duration_s(a.recovery_quiet)
    if quiet is None:
        p.error("--recovery-quiet=%s: not a duration such as 3s or 500ms"
                % a.recovery_quiet)
    if not a.abuser and a.seconds < 1 + quiet + 2:
        p.error("--seconds=%g is too short to see a transient XID recover "
                "(injected at 1 s, quiet for %g s): give at least %g" % (
                    a.seconds, quiet, 3 + quiet))
    for s in a.scenarios:
        if s not in SCENARIOS:
            p.error("unknown scenario %r (known: %s)" % (
                s, ", ".join(SCENARIOS)))
    return a


def main():
    a = parse_args()
    set_nofile(1 << 20)
    if a.abuser:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        Abuser(a).run()
        return
    try:
        rows = measure(a)
    except RuntimeError as e:
        sys.exit("abuse-bench: %s" % e)
    sys.exit(0 if report(a, rows) else 1)


def measure(a):
    """Every phase, in order; returns their rows."""
    node = Node(a)
    rows = []
    try:
        node.start_plugin()
        sampler = Sampler(node.plugin.pid)
        sampler.start()
        alloc = Allocator(node.control, node.uuids[1], a.interval_ms / 1000,
                          a.call_timeout)
        alloc.ref = Allocator(node.control, node.uuids[1],
                              a.interval_ms / 1000, a.call_timeout,
                              "example.com/not-served")
        alloc.start()
        alloc.ref.start()
        time.sleep(1)
        rows.append(quiet(a, node, sampler, alloc, "quiet"))
        for name in a.scenarios:
            rows.append(scenario(a, node, sampler, alloc, name))
        rows.append(quiet(a, node, sampler, alloc, "quiet, at the end"))
        alloc.done.set()
        alloc.ref.done.set()
        sampler.done.set()
    finally:
        node.close()
    return rows


def report(a, rows):
    # The baseline is the lower of the two quiet phases: the stricter.
    qp = min(rows[0]["p99_ms"] or 0.0, rows[-1]["p99_ms"] or 0.0)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print("\n".join(table(rows, qp)))
    print("")
    lines = verdicts(a, rows, qp)
    print("\n".join(lines))
    print("")
    print("\n".join(details(rows)))
    print("")
    print("Plugin RLIMIT_NOFILE %d (asked %d); %g s per phase; Allocate "
          "every %g ms through the stand-in; XID %d on GPU 0 one second "
          "in, --health-recovery-quiet=%s; plugin flags: %s." % (
              min(a.daemon_nofile, hard), a.daemon_nofile, a.seconds,
              a.interval_ms, TRANSIENT_XID, a.recovery_quiet,
              " ".join(a.daemon_arg) or "(none)"))
    return all(line.startswith("- PASS") for line in lines)


if __name__ == "__main__":
    main()
