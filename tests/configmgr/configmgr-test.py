#!/usr/bin/env python3
"""configmgr-test.py: gdp-config-manager against a fake API server.

The program is run as a pod runs it: its service account (token, ca.crt)
in a directory, KUBERNETES_SERVICE_HOST/PORT pointing at a fake API server
that speaks HTTPS on loopback with a certificate made here by openssl, the
available configs in a directory and the link it maintains beside them.
The server serves the node and a watch stream whose events the test pushes
one by one. Each run happens in a PID namespace of its own (unshare), where
the only other process (besides the launcher, PID 1) is a recorder exec'd with argv[0]
nvidia-device-plugin (or gpu-device-plugin) that writes a line per SIGHUP:
so the program's /proc scan sees exactly it, and no plugin of anyone else
on this machine gets a signal.

Usage: configmgr-test.py GDP_CONFIG_MANAGER
       configmgr-test.py --recorder FILE          (internal)
       configmgr-test.py --launch ARGV0 FILE -- PROGRAM ARGS (internal)
Exits 77 (skipped) without root, unshare or openssl.
"""
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

NODE = "gpu-node-1"
# As long as a bound service account token (a JWT of 1 to 2 KB).
TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "x" * 1800 + ".sig"


def recorder(path):
    """The fake plugin: one line per SIGHUP, 'ready' once armed."""
    def on_hup(signum, frame):
        with open(path, "a") as f:
            f.write("HUP\n")
    signal.signal(signal.SIGHUP, on_hup)
    with open(path, "a") as f:
        f.write("ready\n")
    while True:
        signal.pause()


def launch(argv0, path, prog):
    """PID 1 of the namespace (as the pause container is in a pod): start
    the recorder, wait until it is armed, run the program, and give the
    recorder a moment to note a last signal before the namespace goes."""
    subprocess.Popen([argv0, os.path.abspath(__file__), "--recorder", path],
                     executable=sys.executable)
    for _ in range(200):
        if os.path.exists(path) and "ready" in open(path).read():
            break
        time.sleep(0.02)
    rc = subprocess.call(prog)
    time.sleep(0.3)
    return rc if rc >= 0 else 128 - rc


class Api:
    """State of the fake API server, driven by the test."""

    def __init__(self):
        self.label = None
        self.rv = 100
        self.events = queue.Queue()
        self.requests = []
        self.gone_once = False
        self.lock = threading.Lock()

    def node(self):
        labels = {"kubernetes.io/hostname": NODE}
        if self.label is not None:
            labels["nvidia.com/device-plugin.config"] = self.label
        return {"kind": "Node", "apiVersion": "v1",
                "metadata": {"name": NODE, "resourceVersion": str(self.rv),
                             "labels": labels}}

    def set_label(self, value, push=True):
        with self.lock:
            self.label = value
            self.rv += 1
            ev = {"type": "MODIFIED", "object": self.node()}
        if push:
            self.events.put(ev)


def handler_for(api):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def chunk(self, obj):
            data = (json.dumps(obj) + "\n").encode()
            # Split each event in two chunks: the reader must join them.
            half = len(data) // 2
            for part in (data[:half], data[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()

        def do_GET(self):
            api.requests.append(self.path)
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                self.send_json(401, {"kind": "Status", "status": "Failure",
                                     "message": "Unauthorized",
                                     "reason": "Unauthorized", "code": 401})
                return
            if self.path == "/api/v1/nodes/" + NODE:
                with api.lock:
                    self.send_json(200, api.node())
                return
            want = ("/api/v1/nodes?fieldSelector=metadata.name%3D" + NODE +
                    "&watch=true&resourceVersion=")
            if not self.path.startswith(want):
                self.send_json(404, {"kind": "Status", "code": 404,
                                     "message": "no such path " + self.path})
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if api.gone_once:
                api.gone_once = False
                self.chunk({"type": "ERROR", "object": {
                    "kind": "Status", "code": 410, "reason": "Expired",
                    "message": "too old resource version"}})
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True
                return
            while True:
                ev = api.events.get()
                if ev is None:
                    break
                self.chunk(ev)
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
    return Handler


class Fixture:
    def __init__(self, prog, tmp):
        self.prog = prog
        self.tmp = tmp
        self.sa = os.path.join(tmp, "sa")
        os.mkdir(self.sa)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=kube-apiserver",
             "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", os.path.join(tmp, "key.pem"),
             "-out", os.path.join(self.sa, "ca.crt")],
            check=True, capture_output=True)
        with open(os.path.join(self.sa, "token"), "w") as f:
            f.write(TOKEN + "\n")
        with open(os.path.join(self.sa, "namespace"), "w") as f:
            f.write("gpu-resources\n")
        self.api = Api()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.sa, "ca.crt"),
                            os.path.join(tmp, "key.pem"))
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), handler_for(self.api))
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket,
                                             server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.runs = 0

    def configs(self, names):
        d = os.path.join(self.tmp, "available-%d" % self.runs)
        os.mkdir(d)
        for n in names:
            with open(os.path.join(d, n), "w") as f:
                f.write("version: v1\n# %s\n" % n)
        return d

    def start(self, srcdir, env=None, argv0="nvidia-device-plugin",
              port=None):
        self.runs += 1
        self.dst = os.path.join(self.tmp, "config-%d" % self.runs,
                                "config.yaml")
        os.mkdir(os.path.dirname(self.dst))
        self.hups = os.path.join(self.tmp, "hups-%d" % self.runs)
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "KUBERNETES_SERVICE_HOST": "127.0.0.1",
             "KUBERNETES_SERVICE_PORT": str(port or self.port),
             "SERVICEACCOUNT_DIR": self.sa,
             "NODE_NAME": NODE,
             "CONFIG_FILE_SRCDIR": srcdir,
             "CONFIG_FILE_DST": self.dst}
        e.update(env or {})
        cmd = ["unshare", "--pid", "--kill-child", "--mount-proc",
               sys.executable, os.path.abspath(__file__), "--launch",
               argv0, self.hups, "--", self.prog]
        self.stderr_path = os.path.join(self.tmp, "stderr-%d" % self.runs)
        self.proc = subprocess.Popen(cmd, env=e,
                                     stderr=open(self.stderr_path, "w"))
        return self.proc

    def stderr(self):
        return open(self.stderr_path).read()

    def nhups(self):
        if not os.path.exists(self.hups):
            return 0
        return open(self.hups).read().count("HUP")

    def link(self):
        try:
            return os.readlink(self.dst)
        except OSError:
            return None

    def stop(self):
        # unshare ignores SIGTERM while it waits; SIGKILL it, and
        # --kill-child takes the namespace down with it.
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


failures = 0


def check(ok, what, fx=None):
    global failures
    if ok:
        print("ok - " + what)
    else:
        failures += 1
        print("not ok - " + what)
        if fx is not None:
            sys.stdout.write("  stderr:\n" + fx.stderr())


def wait_for(cond, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_watch(fx):
    src = fx.configs(["a", "b"])
    fx.api.set_label("a", push=False)
    fx.api.requests.clear()
    fx.start(src)
    a, b = os.path.join(src, "a"), os.path.join(src, "b")
    check(wait_for(lambda: fx.link() == a and fx.nhups() == 1),
          "label selects config: link to it and one SIGHUP", fx)
    fx.api.set_label("b")
    check(wait_for(lambda: fx.link() == b and fx.nhups() == 2),
          "label change: relinked and a second SIGHUP", fx)
    fx.api.set_label("b")
    time.sleep(1.0)
    check(fx.link() == b and fx.nhups() == 2,
          "same target: no signal", fx)
    lists = [r for r in fx.api.requests if "watch=true" not in r]
    check(len(lists) == 1 and "E" not in
          [line[:1] for line in fx.stderr().splitlines()],
          "changes came through one watch, not by listing again (%d "
          "lists)" % len(lists), fx)
    fx.api.set_label("nope")
    try:
        rc = fx.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc not in (None, 0), "missing config: exits non-zero (%s)" % rc,
          fx)
    check("specified config nope does not exist" in fx.stderr(),
          "missing config: error names it", fx)
    check(fx.link() == b and fx.nhups() == 2,
          "missing config: link left as it was, no signal", fx)
    fx.stop()


def test_gone(fx):
    src = fx.configs(["a", "b"])
    fx.api.set_label("a", push=False)
    fx.api.gone_once = True
    fx.api.requests.clear()
    fx.start(src, argv0="gpu-device-plugin")
    a = os.path.join(src, "a")
    check(wait_for(lambda: fx.link() == a and fx.nhups() == 1),
          "our binary's name gpu-device-plugin gets the SIGHUP too", fx)
    lists = lambda: [r for r in fx.api.requests if "watch" not in r]
    check(wait_for(lambda: len(lists()) >= 2),
          "410 Gone: the node is listed again", fx)
    fx.api.set_label("b")
    check(wait_for(lambda: fx.link() == os.path.join(src, "b")),
          "410 Gone: the new watch sees the next change", fx)
    fx.stop()


def test_label_removed(fx):
    src = fx.configs(["a", "b"])
    fx.api.set_label("a", push=False)
    fx.start(src, {"DEFAULT_CONFIG": "b"})
    check(wait_for(lambda: fx.link() == os.path.join(src, "a")),
          "label a, DEFAULT_CONFIG b: a", fx)
    fx.api.set_label(None)
    check(wait_for(lambda: fx.link() == os.path.join(src, "b") and
                   fx.nhups() == 2),
          "label removed: back to DEFAULT_CONFIG, signalled", fx)
    fx.stop()


def oneshot(fx, src, label, env):
    fx.api.set_label(label, push=False)
    e = {"ONESHOT": "true"}
    e.update(env)
    p = fx.start(src, e)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fx.stop()
        rc = None
    return rc


def test_fallbacks(fx):
    src = fx.configs(["a", "b", "default"])
    rc = oneshot(fx, src, "a", {})
    check(rc == 0 and fx.link() == os.path.join(src, "a") and
          fx.nhups() == 1, "ONESHOT: linked once, signalled, exit 0 "
          "(rc %s, %d SIGHUP)" % (rc, fx.nhups()), fx)
    rc = oneshot(fx, src, "", {"DEFAULT_CONFIG": "b"})
    check(rc == 0 and fx.link() == os.path.join(src, "b"),
          "empty label: DEFAULT_CONFIG", fx)
    rc = oneshot(fx, src, None, {"FALLBACK_STRATEGIES": "named,single"})
    check(rc == 0 and fx.link() == os.path.join(src, "default"),
          "no label: 'named' picks the config called default", fx)
    one = fx.configs(["only"])
    rc = oneshot(fx, one, "", {"FALLBACK_STRATEGIES": "named,single"})
    check(rc == 0 and fx.link() == os.path.join(one, "only"),
          "no label: 'single' picks the only config", fx)
    rc = oneshot(fx, src, "", {"FALLBACK_STRATEGIES": "single,empty"})
    check(rc == 0 and fx.link() == "/dev/null",
          "no label: 'empty' links to /dev/null", fx)
    rc = oneshot(fx, src, "", {"FALLBACK_STRATEGIES": "single",
                               "SEND_SIGNAL": "false"})
    check(rc not in (None, 0) and "FALLBACK_STRATEGIES" in fx.stderr(),
          "no label, no strategy applies: error names FALLBACK_STRATEGIES",
          fx)
    rc = oneshot(fx, src, "a", {"SEND_SIGNAL": "false"})
    check(rc == 0 and fx.nhups() == 0, "SEND_SIGNAL=false: no signal", fx)
    rc = oneshot(fx, src, "a", {"NODE_NAME": ""})
    check(rc not in (None, 0) and "NODE_NAME" in fx.stderr(),
          "no NODE_NAME: the error names the variable", fx)


def test_bad_token(fx):
    src = fx.configs(["a"])
    with open(os.path.join(fx.sa, "token"), "w") as f:
        f.write("wrong\n")
    rc = oneshot(fx, src, "a", {})
    with open(os.path.join(fx.sa, "token"), "w") as f:
        f.write(TOKEN + "\n")
    err = fx.stderr()
    check(rc not in (None, 0) and "401" in err and "Unauthorized" in err,
          "bad token: 401 and the server's message reported", fx)
    check(fx.link() is None, "bad token: no link made", fx)


def test_wrong_ca(fx):
    src = fx.configs(["a"])
    ca = os.path.join(fx.sa, "ca.crt")
    shutil.copy(ca, ca + ".good")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=someone-else", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout",
         os.path.join(fx.tmp, "other.key"), "-out", ca],
        check=True, capture_output=True)
    rc = oneshot(fx, src, "a", {})
    shutil.move(ca + ".good", ca)
    check(rc not in (None, 0) and "not trusted" in fx.stderr() and
          fx.link() is None,
          "server certificate not signed by ca.crt: refused, said so", fx)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_wrong_name(fx):
    """A certificate from the right CA that names another address."""
    src = fx.configs(["a"])
    key, crt = os.path.join(fx.tmp, "dns.key"), os.path.join(fx.tmp, "dns.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=kubernetes", "-addext",
         "subjectAltName=DNS:kubernetes.default,IP:10.0.0.1",
         "-keyout", key, "-out", crt], check=True, capture_output=True)
    ca = os.path.join(fx.sa, "ca.crt")
    shutil.copy(ca, ca + ".good")
    shutil.copy(crt, ca)
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-quiet", "-www",
                            "-accept", "127.0.0.1:%d" % port, "-cert", crt,
                            "-key", key], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port))
                 == 0, 5)
        fx.start(src, {"ONESHOT": "true"}, port=port)
        rc = fx.proc.wait(timeout=10)
    finally:
        srv.kill()
        srv.wait()
        shutil.move(ca + ".good", ca)
    check(rc != 0 and "does not name that address" in fx.stderr(),
          "certificate for another address: refused, said so", fx)


def test_silent_server(fx):
    """A server that accepts and then says nothing (a dead peer)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    src = fx.configs(["a"])
    t0 = time.time()
    fx.start(src, {"ONESHOT": "true", "API_TIMEOUT": "1"},
             port=lsock.getsockname()[1])
    try:
        rc = fx.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fx.stop()
        rc = None
    lsock.close()
    check(rc not in (None, 0) and "no data from the server in 1 s" in
          fx.stderr() and time.time() - t0 < 8,
          "silent API server: given up after API_TIMEOUT, said so", fx)


class V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def test_ipv6(fx):
    """KUBERNETES_SERVICE_HOST an IPv6 address, as on a v6 cluster."""
    src = fx.configs(["a"])
    key, crt = os.path.join(fx.tmp, "v6.key"), os.path.join(fx.tmp, "v6.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=kube-apiserver", "-addext", "subjectAltName=IP:::1",
         "-keyout", key, "-out", crt], check=True, capture_output=True)
    try:
        srv = V6Server(("::1", 0), handler_for(fx.api))
    except OSError:
        print("ok - # SKIP IPv6: no ::1 here")
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ca = os.path.join(fx.sa, "ca.crt")
    shutil.copy(ca, ca + ".good")
    shutil.copy(crt, ca)
    try:
        rc = oneshot(fx, src, "a", {"KUBERNETES_SERVICE_HOST": "::1",
                                    "KUBERNETES_SERVICE_PORT":
                                    str(srv.server_address[1])})
        path = kubeconfig(fx, "kc-v6.json", {
            "server": "https://[::1]:%d" % srv.server_address[1],
            "certificate-authority": crt}, {"token": TOKEN})
        rc6 = oneshot(fx, src, "a", {"KUBECONFIG": path})
        check(rc6 == 0, "KUBECONFIG: server https://[::1]:PORT", fx)
    finally:
        shutil.move(ca + ".good", ca)
        srv.shutdown()
    check(rc == 0 and fx.link() == os.path.join(src, "a"),
          "IPv6 API server address: reached, certificate checked", fx)


def kubeconfig(fx, name, cluster, user):
    """A kubeconfig of one context, in JSON (which is YAML)."""
    path = os.path.join(fx.tmp, name)
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
           "contexts": [{"name": "other", "context": {}},
                        {"name": "ctx", "context": {"cluster": "c",
                                                    "user": "u"}}],
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": user}]}
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def test_kubeconfig(fx):
    import base64
    src = fx.configs(["a", "b"])
    server = "https://127.0.0.1:%d" % fx.port
    ca = open(os.path.join(fx.sa, "ca.crt"), "rb").read()
    # The service account is made useless: only the kubeconfig works.
    away = {"KUBERNETES_SERVICE_PORT": "1", "SERVICEACCOUNT_DIR": "/none"}
    path = kubeconfig(fx, "kc-data.json", {
        "server": server,
        "certificate-authority-data": base64.b64encode(ca).decode()},
        {"token": TOKEN})
    rc = oneshot(fx, src, "a", dict(away, KUBECONFIG=path))
    check(rc == 0 and fx.link() == os.path.join(src, "a"),
          "KUBECONFIG: server, certificate-authority-data, token", fx)
    shutil.copy(os.path.join(fx.sa, "ca.crt"), os.path.join(fx.tmp, "kc-ca"))
    shutil.copy(os.path.join(fx.sa, "token"), os.path.join(fx.tmp, "kc-tok"))
    path = kubeconfig(fx, "kc-files.json", {
        "server": server + "/", "certificate-authority": "kc-ca"},
        {"tokenFile": "kc-tok"})
    rc = oneshot(fx, src, "b", dict(away, KUBECONFIG=path))
    check(rc == 0 and fx.link() == os.path.join(src, "b"),
          "KUBECONFIG: files relative to it", fx)
    path = kubeconfig(fx, "kc-cert.json", {
        "server": server, "certificate-authority": "kc-ca"},
        {"client-certificate-data": "eA==", "client-key-data": "eA=="})
    rc = oneshot(fx, src, "a", dict(away, KUBECONFIG=path))
    check(rc not in (None, 0) and "user u has no token" in fx.stderr(),
          "KUBECONFIG with a client certificate: refused, said so", fx)


def test_server_down(fx):
    port = free_port()
    src = fx.configs(["a"])
    fx.start(src, port=port)
    time.sleep(4.5)
    fx.stop()
    n = fx.stderr().count("retrying in")
    check(2 <= n <= 4, "API server down: retried with backoff (%d tries "
          "in 4.5 s)" % n, fx)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--recorder":
        recorder(sys.argv[2])
        return 0
    if len(sys.argv) >= 6 and sys.argv[1] == "--launch":
        return launch(sys.argv[2], sys.argv[3], sys.argv[5:])
    if os.geteuid() != 0:
        print("SKIP: needs root (a PID namespace per run)")
        return 77
    for tool in ("unshare", "openssl"):
        if shutil.which(tool) is None:
            print("SKIP: %s not found" % tool)
            return 77
    prog = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="gdp-configmgr-")
    try:
        fx = Fixture(prog, tmp)
        for t in (test_watch, test_gone, test_label_removed,
                  test_fallbacks, test_bad_token, test_wrong_ca,
                  test_wrong_name, test_silent_server, test_ipv6, test_kubeconfig,
                  test_server_down):
            t(fx)
            fx.api.events.put(None)  # end any watch still open
            fx.api.events = queue.Queue()
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
