#!/usr/bin/python3
"""Integration tests of gpu-device-plugin, at its real boundaries.

The real plugin binary runs against the fake libnvidia-ml.so.1 (a machine
profile per test), a sysfs fixture for NUMA nodes, and the kubelet
stand-in (grpc-go, behaving like the kubelet's device manager), all in a
fresh temporary directory. Each case prints "ok - NAME" or
"not ok - NAME: why"; the last line is "N passed, M failed".

Usage: run-plugin-tests.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES_DIR MAKE_SYSFS
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

# Beside this file, also when it is loaded from elsewhere (faultloop.py).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2wire import h2_frame, hpack_literal, pb_field, pb_varint  # noqa: E402

PLUGIN, STANDIN, FAKE_LIB_DIR, PROFILES, MAKE_SYSFS = sys.argv[1:6]
RESOURCE = "nvidia.com/gpu"
# Other test scripts read it (tests/faults/faultloop.py).
SANITIZED = os.environ.get("GDP_SANITIZED") == "1"


class UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over the stand-in's unix control socket."""

    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def profile_gpus(name):
    """The GPUs of a profile, in order, as {key: value} of their scalar
    fields (a line-level read of the top-level "gpus:" list: each GPU
    starts at its "  - " line)."""
    gpus = []
    section = None
    with open(os.path.join(PROFILES, name + ".yaml")) as f:
        for line in f:
            if line[:1].isalpha():
                section = line.split(":", 1)[0]
                continue
            if section != "gpus":
                continue
            if line.startswith("  - "):
                gpus.append({})
            s = line.split("#", 1)[0].strip().lstrip("- ").strip()
            if gpus and ":" in s:
                key, value = s.split(":", 1)
                gpus[-1][key.strip()] = value.strip().strip('"\'')
    return gpus


def profile_uuids(name):
    """The GPU UUIDs of a profile, in order."""
    return [g["uuid"] for g in profile_gpus(name)]


class Node:
    """One fake node: a directory, a stand-in kubelet, maybe a plugin."""

    def __init__(self, profile, plugin_args=(), env=None, fake=True):
        self.tmp = tempfile.mkdtemp(prefix="gdp-plugin-test.")
        self.dir = os.path.join(self.tmp, "device-plugins")
        os.makedirs(self.dir)
        self.control = os.path.join(self.tmp, "control.sock")
        self.sysfs = os.path.join(self.tmp, "sys")
        self.profile = profile
        self.kubelet = None
        self.old_kubelets = []
        self.plugin = None
        self.plugin_log = os.path.join(self.tmp, "plugin.log")
        if profile:
            subprocess.run([MAKE_SYSFS, os.path.join(PROFILES,
                            profile + ".yaml"), self.sysfs], check=True)
        self.env = dict(os.environ)
        if fake:
            self.env["LD_LIBRARY_PATH"] = FAKE_LIB_DIR
            if profile:
                self.env["FAKE_NVML_PROFILE"] = os.path.join(
                    PROFILES, profile + ".yaml")
        else:
            # meson test puts the fake's folder on LD_LIBRARY_PATH: with
            # it, "no NVML" would load the fake and fail only at init.
            self.env.pop("LD_LIBRARY_PATH", None)
            self.env.pop("FAKE_NVML_PROFILE", None)
        self.env.update(env or {})
        self.plugin_args = list(plugin_args)

    def start_kubelet(self, extra=()):
        if self.kubelet is not None:  # a case's second stand-in
            self.old_kubelets.append(self.kubelet)
        self.kubelet = subprocess.Popen(
            [STANDIN, "--dir", self.dir, "--control", self.control] +
            list(extra),
            stdout=subprocess.PIPE, stderr=open(
                os.path.join(self.tmp, "kubelet.log"), "a"), text=True)
        line = self.kubelet.stdout.readline()
        if line.strip() != "ready":
            raise AssertionError("stand-in did not start: %r" % line)

    def start_plugin(self, extra=()):
        args = [PLUGIN, "--kubelet-socket",
                os.path.join(self.dir, "kubelet.sock"),
                "--sysfs-root", self.sysfs] + self.plugin_args + list(extra)
        self.plugin = subprocess.Popen(
            args, env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.plugin_log, "a"))
        return self.plugin

    def call(self, method, path, body=None):
        conn = UnixHTTP(self.control)
        conn.request(method, path, json.dumps(body) if body else None,
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read().decode()
        conn.close()
        if path == "/describe":
            return data
        return json.loads(data)

    def wait(self, **cond):
        cond.setdefault("resource", RESOURCE)
        cond.setdefault("timeout_ms", 20000)
        r = self.call("POST", "/wait", cond)
        if not r.get("ok"):
            raise AssertionError("timed out waiting for %s; node: %s; "
                                 "plugin log tail: %s" % (
                                     cond, json.dumps(r.get("node")),
                                     self.log_tail()))
        return r["node"]

    def resource(self):
        return self.call("GET", "/node")["resources"].get(RESOURCE)

    def allocate(self, ids):
        return self.call("POST", "/allocate",
                         {"resource": RESOURCE, "devices": ids})

    def log_tail(self, n=6):
        try:
            with open(self.plugin_log) as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    def stop_plugin(self, sig=signal.SIGTERM, timeout=10):
        if self.plugin is None:
            return None
        self.plugin.send_signal(sig)
        try:
            rc = self.plugin.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.plugin.kill()
            rc = "hung"
        self.plugin = None
        return rc

    def close(self):
        self.stop_plugin(signal.SIGKILL)
        for k in self.old_kubelets + [self.kubelet]:
            if k is None:
                continue
            k.terminate()
            try:
                k.wait(timeout=10)
            except subprocess.TimeoutExpired:
                k.kill()
        subprocess.run(["rm", "-rf", self.tmp])


def envs_of(answer):
    """The envs of a successful /allocate answer: the stand-in always
    gives them as a JSON object (tests/kubelet/README.md)."""
    assert answer["ok"], answer
    envs = answer["response"]["envs"]
    assert isinstance(envs, dict), answer
    return envs


def specs_of(answer):
    """The DeviceSpecs of a successful /allocate answer, as
    (container_path, host_path, permissions); always a list."""
    assert answer["ok"], answer
    specs = answer["response"]["devices"]
    assert isinstance(specs, list), answer
    return [(d["container_path"], d["host_path"], d["permissions"])
            for d in specs]


def gpu_specs(answer):
    """The specs of GPU nodes (/dev/nvidia<minor>) only: which control
    nodes come too depends on the /dev of the machine the test runs on."""
    return [t for t in specs_of(answer)
            if t[0].startswith("/dev/nvidia") and t[0][11:].isdigit()]


def restart_plugin(node, args=(), env=None, unset=()):
    """Stops the plugin (if it runs) and starts it with these flags and
    environment changes; waits until it has registered once more and
    every GPU of the profile is allocatable."""
    before = node.call("GET", "/node")["registrations"]
    node.stop_plugin()
    for k in unset:
        node.env.pop(k, None)
    node.env.update(env or {})
    node.plugin_args = list(args)
    node.start_plugin()
    return node.wait(allocatable=len(profile_uuids(node.profile)),
                     registrations_at_least=before + 1)


# ---- the cases ---------------------------------------------------------

def case_registers_and_advertises(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    text = node.call("GET", "/describe")
    assert "Capacity:" in text and "Allocatable:" in text, text
    res = node.resource()
    assert res["capacity"] == 1 and res["allocatable"] == 1, res
    assert res["endpoint"].endswith("nvidia-gpu.sock"), res
    assert res["options"] == {"pre_start_required": False,
                              "get_preferred_allocation_available": True}, \
        res


def case_list_and_watch_contents(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    res = node.resource()
    gpus = profile_gpus("azure-nc24")
    got = [d["id"] for d in res["devices"]]
    assert sorted(got) == sorted(g["uuid"] for g in gpus), (got, gpus)
    assert all(d["health"] == "Healthy" for d in res["devices"]), res
    # NUMA nodes come from the sysfs fixture the profile describes.
    numa = {g["uuid"]: int(g["numa_node"]) for g in gpus}
    assert all(d["numa"] == numa[d["id"]] for d in res["devices"]), res


def case_allocate(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    one = node.allocate([u[2]])
    assert one["ok"], one
    assert envs_of(one)["NVIDIA_VISIBLE_DEVICES"] == u[2], one
    several = node.allocate([u[3], u[0], u[1]])
    assert envs_of(several)["NVIDIA_VISIBLE_DEVICES"] == \
        ",".join([u[3], u[0], u[1]]), several
    dup = node.allocate([u[1], u[1], u[0], u[1]])
    assert envs_of(dup)["NVIDIA_VISIBLE_DEVICES"] == \
        ",".join([u[1], u[0]]), dup
    bad = node.allocate([u[0], "GPU-does-not-exist"])
    assert not bad["ok"], bad
    assert "GPU-does-not-exist" in bad["message"], bad
    assert RESOURCE in bad["message"], bad
    pod = node.call("POST", "/allocate-pod",
                    {"resource": RESOURCE, "count": 2})
    assert pod["ok"] and len(pod["devices"]) == 2, pod


def case_kubelet_restarts(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    for i in range(20):
        before = node.call("GET", "/node")["registrations"]
        node.call("POST", "/restart")
        node.wait(allocatable=1, registrations_at_least=before + 1)
    assert node.plugin.poll() is None, "plugin exited"


def case_plugin_restart(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    node.stop_plugin(signal.SIGKILL)   # leaves a stale socket behind
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=2)


def case_sigterm(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1)
    sock = os.path.join(node.dir, "nvidia-gpu.sock")
    assert os.path.exists(sock)
    # A stuck loop shows as "hung" (stop_plugin's 10 s limit), not as a
    # wall-clock bound here, which a loaded machine would skew.
    rc = node.stop_plugin(signal.SIGTERM)
    assert rc == 0, rc
    assert not os.path.exists(sock), "socket left behind"


def case_sighup(node):
    # SIGHUP reads the configuration and discovers again; with nothing
    # changed the kubelet sees nothing of it: no re-registration (so no
    # old stream's end can race with a new endpoint: the kubelet's
    # PluginDisconnected would stop it), no message, the stream kept, and
    # an Allocate right after it is served. (tests/plugin/reload-test.py
    # has the reloads that change something.)
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    lists = node.resource()["lists_received"]
    for i in range(3):
        node.plugin.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while open(node.plugin_log).read().count("Reload done") <= i:
            assert time.monotonic() < deadline, node.log_tail()
            time.sleep(0.01)
        r = node.allocate([profile_uuids("azure-nc6")[0]])
        assert r["ok"], r
    assert node.call("GET", "/node")["registrations"] == 1
    res = node.resource()
    assert res["connected"] and res["lists_received"] == lists, res
    log = open(node.plugin_log).read()
    assert log.count("nothing changed") == 3, log


def case_no_gpus_idle(node):
    node.start_kubelet()
    node.start_plugin()
    time.sleep(0.5)
    assert node.plugin.poll() is None, "plugin exited"
    assert node.call("GET", "/node")["registrations"] == 0
    assert node.stop_plugin() == 0


def case_no_gpus_fail(node):
    node.start_kubelet()
    p = node.start_plugin(["--fail-on-no-gpus"])
    assert p.wait(timeout=10) == 1
    node.plugin = None


def case_nvml_missing_fails(node):
    p = node.start_plugin(["--driver-root-ctr-path", "/nonexistent"])
    assert p.wait(timeout=10) == 1
    node.plugin = None
    log = open(node.plugin_log).read()
    assert "Failed to initialize NVML: cannot load libnvidia-ml.so.1" in \
        log and "not under /nonexistent" in log, log


def case_nvml_missing_idle(node):
    node.start_kubelet()
    node.start_plugin(["--fail-on-init-error=false"])
    time.sleep(0.5)
    assert node.plugin.poll() is None, "plugin exited"
    assert node.stop_plugin() == 0
    log = open(node.plugin_log).read()
    assert "cannot load libnvidia-ml.so.1" in log, log


def case_init_error(node):
    p = node.start_plugin()
    assert p.wait(timeout=10) == 1
    node.plugin = None
    log = open(node.plugin_log).read()
    assert "NVML_ERROR_DRIVER_NOT_LOADED" in log, log


def case_preferred(node):
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    r = node.call("POST", "/preferred", {
        "resource": RESOURCE, "available": [u[3], u[1], u[0], u[2]],
        "must_include": [u[2]], "size": 3})
    assert r["ok"], r
    assert len(r["response"]["container_responses"]) == 1, r
    got = r["response"]["container_responses"][0]["deviceIDs"]
    assert got == [u[2], u[0], u[1]], r


def case_preferred_odd_requests(node):
    # What the kubelet should not send is answered all the same (never an
    # error) and said in the log once a kind, not once a pod.
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    asks = [([u[0], u[1]], [], 0), ([u[0], u[1]], [u[2], u[3]], 1),
            ([u[0], "GPU-not-ours"], [], 1)]
    for _ in range(3):
        for avail, must, size in asks:
            r = node.call("POST", "/preferred", {
                "resource": RESOURCE, "available": avail,
                "must_include": must, "size": size})
            assert r["ok"], r
            got = r["response"]["container_responses"][0]["deviceIDs"]
            assert len(got) == (size if not must else len(must[:size])), r
            assert set(got) <= set(avail + must), r
    log = open(node.plugin_log).read()
    for text in ("size 0 asked of 2 ids", "2 must-include ids for size 1",
                 'device id "GPU-not-ours" is not one'):
        assert log.count(text) == 1, (text, log.count(text))


def case_index_strategy(node):
    node.start_kubelet()
    node.start_plugin(["--device-id-strategy=index"])
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    r = node.allocate([u[2], u[0]])
    assert envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == "2,0", r


def case_bad_settings(node):
    bad = subprocess.run([PLUGIN, "--device-id-strategy=serial"],
                         env=node.env, capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2, bad
    assert "device-id-strategy" in bad.stderr and "serial" in bad.stderr, \
        bad.stderr
    env = dict(node.env, FAIL_ON_INIT_ERROR="maybe")
    bad = subprocess.run([PLUGIN], env=env, capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2, bad
    assert "FAIL_ON_INIT_ERROR" in bad.stderr and "maybe" in bad.stderr, \
        bad.stderr
    bad = subprocess.run([PLUGIN, "--no-such-flag"], env=node.env,
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "--no-such-flag" in bad.stderr, bad


# ---- settings: precedence, NVIDIA's aliases, device specs ---------------

def case_id_strategy_precedence(node):
    u = profile_uuids("azure-nc24")
    by_uuid, by_index = ",".join([u[2], u[0]]), "2,0"
    node.start_kubelet()
    steps = [  # (flags, environment, NVIDIA_VISIBLE_DEVICES wanted)
        ([], {}, by_uuid),                                      # default
        ([], {"DEVICE_ID_STRATEGY": "index"}, by_index),        # env
        (["--device-id-strategy=uuid"],
         {"DEVICE_ID_STRATEGY": "index"}, by_uuid),             # flag wins
        (["--device-id-strategy", "index"],
         {"DEVICE_ID_STRATEGY": "uuid"}, by_index),             # both ways
    ]
    for args, env, want in steps:
        restart_plugin(node, args, env, unset=["DEVICE_ID_STRATEGY"])
        got = envs_of(node.allocate([u[2], u[0]]))["NVIDIA_VISIBLE_DEVICES"]
        assert got == want, (args, env, got, want)


def case_pass_device_specs_precedence(node):
    u = profile_uuids("azure-nc6")
    spec = [("/dev/nvidia0", "/dev/nvidia0", "rw")]
    node.start_kubelet()
    steps = [  # (flags, environment, the GPU's DeviceSpecs wanted)
        ([], {}, []),                                           # default
        ([], {"PASS_DEVICE_SPECS": "true"}, spec),              # env
        (["--pass-device-specs=false"],
         {"PASS_DEVICE_SPECS": "true"}, []),                    # flag wins
        (["--pass-device-specs"],
         {"PASS_DEVICE_SPECS": "false"}, spec),                 # both ways
    ]
    for args, env, want in steps:
        restart_plugin(node, args, env, unset=["PASS_DEVICE_SPECS"])
        a = node.allocate([u[0]])
        assert gpu_specs(a) == want, (args, env, a)
        if not want:   # nor any control node
            assert specs_of(a) == [], (args, env, a)


def case_dev_root_device_specs(node):
    gpus = profile_gpus("azure-nc24")
    root = os.path.join(node.tmp, "host")
    node.start_kubelet()
    node.start_plugin(["--pass-device-specs", "--dev-root=" + root])
    node.wait(allocatable=4)
    a = node.allocate([gpus[2]["uuid"], gpus[0]["uuid"]])
    specs = specs_of(a)
    # Every node (control nodes too): the host path carries the dev
    # root, the container path does not; all read-write.
    assert specs and all(c.startswith("/dev/") and h == root + c and
                         p == "rw" for c, h, p in specs), a
    # One node per GPU, in request order.
    assert [c for c, _, _ in gpu_specs(a)] == [
        "/dev/nvidia" + gpus[2]["minor_number"],
        "/dev/nvidia" + gpus[0]["minor_number"]], a


def case_flag_aliases(node):
    u = profile_uuids("azure-nc6")
    dev, drv = os.path.join(node.tmp, "dev-root"), \
        os.path.join(node.tmp, "driver-root")
    node.start_kubelet()
    # --nvidia-dev-root is --dev-root.
    restart_plugin(node, ["--pass-device-specs", "--nvidia-dev-root", dev])
    assert gpu_specs(node.allocate([u[0]])) == [
        ("/dev/nvidia0", dev + "/dev/nvidia0", "rw")]
    # --nvidia-driver-root is --driver-root, which the dev root defaults
    # to.
    restart_plugin(node, ["--pass-device-specs",
                          "--nvidia-driver-root=" + drv])
    assert gpu_specs(node.allocate([u[0]])) == [
        ("/dev/nvidia0", drv + "/dev/nvidia0", "rw")]
    # --container-driver-root (flag) and CONTAINER_DRIVER_ROOT (env) are
    # --driver-root-ctr-path: NVML is loaded from under it, without the
    # loader's search path.
    ctr = os.path.join(node.tmp, "ctr")
    lib = os.path.join(ctr, "usr", "lib64", "libnvidia-ml.so.1")
    os.makedirs(os.path.dirname(lib))
    shutil.copy(os.path.join(FAKE_LIB_DIR, "libnvidia-ml.so.1"), lib)
    env = {k: v for k, v in node.env.items() if k != "LD_LIBRARY_PATH"}
    for args, extra in ((["--container-driver-root=" + ctr], {}),
                        ([], {"CONTAINER_DRIVER_ROOT": ctr})):
        out = subprocess.run([PLUGIN, "list", "--sysfs-root", node.sysfs] +
                             args, env=dict(env, **extra),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, (args, extra, out.stderr)
        assert "NVML %s (" % lib in out.stdout, (args, extra, out.stdout)
        assert u[0] in out.stdout, (args, extra, out.stdout)


def case_lost_gpu_at_start(node):
    u = profile_uuids("lost-gpu")
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    res = node.resource()
    # The lost GPU is left out, not advertised Unhealthy.
    assert res["capacity"] == 1, res
    assert [(d["id"], d["health"]) for d in res["devices"]] == \
        [(u[0], "Healthy")], res
    # Its UUID cannot be read, so the log names it by index.
    lines = [ln for ln in open(node.plugin_log).read().splitlines()
             if "Not advertised" in ln]
    assert len(lines) == 1 and "GPU 1:" in lines[0] and \
        "NVML_ERROR_GPU_IS_LOST" in lines[0], lines
    ok = node.allocate([u[0]])
    assert envs_of(ok)["NVIDIA_VISIBLE_DEVICES"] == u[0], ok
    bad = node.allocate([u[1]])
    assert not bad["ok"] and u[1] in bad["message"], bad


# ---- health (the fake's control FIFO plays the hardware) ----------------

HEALTH_ARGS = ["--health-probe-interval=100ms",
               "--health-recovery-quiet=1s"]


def health_node(node, env=None, watched=True):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.env.update(env or {})
    node.start_kubelet()
    node.start_plugin(HEALTH_ARGS)
    node.wait(allocatable=4)
    if watched:
        wait_for_log(node, "Health events registered")
    return profile_uuids("azure-nc24")


def wait_for_log(node, text, timeout=10):
    """Waits until the plugin's log has |text| (the health thread's
    registration, say: an XID before it is lost, as on a real GPU)."""
    deadline = time.monotonic() + timeout
    while text not in open(node.plugin_log).read():
        if time.monotonic() > deadline:
            raise AssertionError("no %r in the log: %s" % (
                text, node.log_tail()))
        time.sleep(0.01)


def inject(node, line):
    """Writes one command to the fake NVML's FIFO (once it is open)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            fd = os.open(node.fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError("fake NVML FIFO never opened")
            time.sleep(0.02)
    os.write(fd, (line + "\n").encode())
    os.close(fd)


def health_of(node):
    return {d["id"]: d["health"] for d in node.resource()["devices"]}


def case_ignored_xid(node):
    u = health_node(node)
    inject(node, "xid %s 13" % u[0])
    inject(node, "xid %s 48" % u[1])   # a marker that is critical
    node.wait(allocatable=3)
    h = health_of(node)
    assert h[u[0]] == "Healthy" and h[u[1]] == "Unhealthy", h


def case_critical_xid(node):
    u = health_node(node)
    inject(node, "xid %s 48" % u[2])
    node.wait(allocatable=3)
    res = node.resource()
    assert res["capacity"] == 4, res
    bad = node.allocate([u[2]])
    assert not bad["ok"], bad
    assert u[2] in bad["message"] and "unhealthy" in bad["message"] and \
        "XID 48" in bad["message"], bad
    assert node.allocate([u[0]])["ok"]


def case_reason_survives_other_causes(node):
    u = health_node(node)
    inject(node, "xid %s 48" % u[2])
    node.wait(allocatable=3)
    inject(node, "wait-error NVML_ERROR_UNKNOWN")
    node.wait(allocatable=0)
    inject(node, "wait-ok")
    node.wait(allocatable=3)
    bad = node.allocate([u[2]])
    assert not bad["ok"] and "XID 48" in bad["message"], bad


def case_env_disable(node):
    u = health_node(node, {"DP_DISABLE_HEALTHCHECKS": "48"})
    inject(node, "xid %s 48" % u[0])
    inject(node, "xid %s 79" % u[1])
    node.wait(allocatable=3)
    h = health_of(node)
    assert h[u[0]] == "Healthy" and h[u[1]] == "Unhealthy", h


def case_env_enable(node):
    u = health_node(node, {"DP_ENABLE_HEALTHCHECKS": "13"})
    inject(node, "xid %s 13" % u[3])
    node.wait(allocatable=3)
    assert health_of(node)[u[3]] == "Unhealthy"


def case_disable_all(node):
    u = health_node(node, {"DP_DISABLE_HEALTHCHECKS": "all"}, False)
    inject(node, "xid %s 79" % u[0])
    inject(node, "lost %s" % u[1])
    time.sleep(0.5)    # nothing may happen; give it the chance to
    assert node.resource()["allocatable"] == 4
    assert "Health checks disabled" in open(node.plugin_log).read()


def case_lost_without_event(node):
    u = health_node(node)
    inject(node, "lost %s" % u[1])
    node.wait(allocatable=3)
    assert health_of(node)[u[1]] == "Unhealthy"
    inject(node, "reset %s" % u[1])
    node.wait(allocatable=4)


def case_wait_failure(node):
    u = health_node(node)
    inject(node, "wait-error NVML_ERROR_UNKNOWN")
    node.wait(allocatable=0)
    inject(node, "wait-ok")
    node.wait(allocatable=4)
    log = open(node.plugin_log).read()
    assert log.count("NVML event wait failing") == 1, log
    assert node.plugin.poll() is None
    assert u


def case_transient_recovers(node):
    u = health_node(node)
    inject(node, "xid %s 94" % u[0])
    node.wait(allocatable=3)
    node.wait(allocatable=4)           # after the 1 s quiet period
    log = open(node.plugin_log).read()
    assert "Unhealthy -> Healthy" in log, log


def case_reset_class_waits_for_reset(node):
    u = health_node(node)
    inject(node, "xid %s 79" % u[3])
    node.wait(allocatable=3)
    time.sleep(1.6)                    # past the quiet period
    assert health_of(node)[u[3]] == "Unhealthy", "recovered without reset"
    inject(node, "lost %s" % u[3])
    time.sleep(0.3)                    # the probe sees it gone
    inject(node, "reset %s" % u[3])
    node.wait(allocatable=4)


def case_mig_scoped_xid(node):
    u = health_node(node)
    inject(node, "xid %s 48 1 0" % u[1])
    node.wait(allocatable=3)
    assert "GPU instance 1" in open(node.plugin_log).read()


def case_registration_retried(node):
    # GPU 1's event registration fails (lost at that moment); once its
    # probe answers, the thread registers it again: healthy, and its
    # XIDs are seen.
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.env["FAKE_NVML_FAIL"] = \
        "nvmlDeviceRegisterEvents:2:NVML_ERROR_GPU_IS_LOST"
    node.start_kubelet()
    node.start_plugin(HEALTH_ARGS)
    u = profile_uuids("azure-nc24")
    wait_for_log(node, "registered for health events again")
    node.wait(allocatable=4)
    log = open(node.plugin_log).read()
    assert "cannot register for health events" in log and \
        "NVML_ERROR_GPU_IS_LOST" in log, log
    inject(node, "xid %s 48" % u[1])
    node.wait(allocatable=3)
    assert health_of(node)[u[1]] == "Unhealthy"


def case_old_driver_whole_gpu_xid(node):
    # A driver without nvmlEventSetWait_v2: events come in the v1 layout,
    # which has no instance ids, so an XID is the whole GPU's.
    u = health_node(node, {"FAKE_NVML_HIDE": "nvmlEventSetWait_v2"})
    inject(node, "xid %s 48" % u[1])
    node.wait(allocatable=3)
    bad = node.allocate([u[1]])
    assert not bad["ok"] and "XID 48" in bad["message"], bad
    assert "instance" not in bad["message"], bad
    log = open(node.plugin_log).read()
    assert "GPU instance" not in log, log


def profile_case(name):
    def run(node):
        n = len(profile_uuids(name))
        node.start_kubelet()
        node.start_plugin()
        node.wait(allocatable=n)
        res = node.resource()
        assert res["capacity"] == n, res
    return run


def case_list_command(node):
    out = subprocess.run([PLUGIN, "list", "--sysfs-root", node.sysfs],
                         env=node.env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    for u in profile_uuids("dgx-h100"):
        assert u in out.stdout, out.stdout
    assert "nvidia.com/gpu: 8" in out.stdout, out.stdout


def case_socket_path_too_long(node):
    # Issue 8: a plugin socket path longer than a unix socket can have
    # is refused at start, saying so (it was "Invalid argument" every 2 s).
    long_dir = os.path.join(node.tmp, "d" * 100)
    os.makedirs(long_dir)
    out = subprocess.run([PLUGIN, "--kubelet-socket",
                          os.path.join(long_dir, "kubelet.sock"),
                          "--sysfs-root", node.sysfs], env=node.env,
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert "longer than the 107 bytes a unix socket path may have" in \
        out.stderr, out.stderr
    assert long_dir in out.stderr, out.stderr


def case_old_driver_layouts(node):
    # Without the _v2/_v3 entry points the driver writes the v1 PCI
    # layout; read right, it says the same bus ids and NVLinks.
    def listing(hide):
        env = dict(node.env, FAKE_NVML_HIDE=hide)
        out = subprocess.run([PLUGIN, "list", "--sysfs-root", node.sysfs],
                             env=env, capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        return [ln for ln in out.stdout.splitlines()
                if ln.startswith(("GPU ", "0", "1", "2", "3", "4", "5",
                                  "6", "7"))]
    new = listing("")
    old = listing("nvmlDeviceGetPciInfo_v3,nvmlDeviceGetPciInfo_v2,"
                  "nvmlDeviceGetNvLinkRemotePciInfo_v2")
    assert len(new) == 9 and old == new, (old, new)
    assert "00000000:1B:00.0" in "\n".join(old).upper(), old


# ---- least privilege: capabilities, no_new_privs, seccomp ---------------
# (docs/security.md). The tests run as root, so the capabilities are
# really there to drop; the forbidden calls come from inside the NVML
# library (the fake's "syscall NAME" control command, run on a thread the
# library started before the filter was installed).

CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
CAP_SETPCAP = 8


def can_empty_bounding_set():
    """Whether a child of ours can empty its bounding set: it needs
    CAP_SETPCAP, which the tests have as root (as CI runs them)."""
    with open("/proc/self/status") as f:
        eff = [ln.split()[1] for ln in f if ln.startswith("CapEff:")][0]
    return bool(int(eff, 16) >> CAP_SETPCAP & 1)


def thread_status(pid):
    """The /proc status of every thread of |pid|, as {tid: {key: value}}."""
    threads = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                threads[tid] = dict((k, v.strip()) for k, _, v in
                                    (ln.partition(":") for ln in f))
        except FileNotFoundError:
            continue        # a thread that just ended
    return threads


def assert_least_privilege(pid, seccomp="2"):
    """Every thread: no capability in any set, no_new_privs, and the
    seccomp mode (2: a filter; 0: none)."""
    threads = thread_status(pid)
    fields = [k for k in CAP_FIELDS
              if k != "CapBnd" or can_empty_bounding_set()]
    for tid, st in threads.items():
        for k in fields:
            assert int(st[k], 16) == 0, (tid, k, st[k])
        assert st["NoNewPrivs"] == "1", (tid, st["NoNewPrivs"])
        assert st["Seccomp"] == seccomp, (tid, st["Seccomp"])
    return threads


def sandbox_node(node, args=()):
    """A serving plugin with health checks and the fake's control FIFO."""
    node.plugin_args = list(args)
    return health_node(node)


def case_least_privilege(node):
    u = sandbox_node(node)
    # The loop, the health thread, and the thread the fake NVML started
    # at init (before any sandboxing): all of them.
    threads = assert_least_privilege(node.plugin.pid)
    assert len(threads) >= 3, threads.keys()
    # And it still does its work under the filter: Allocate, a SIGHUP
    # rediscovery, an XID seen by the (new) health thread, a kubelet
    # restart.
    assert envs_of(node.allocate([u[1]]))["NVIDIA_VISIBLE_DEVICES"] == u[1]
    node.plugin.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10     # rediscovered, nothing changed
    while "Reload done" not in open(node.plugin_log).read():
        assert time.monotonic() < deadline, node.log_tail()
        time.sleep(0.01)
    inject(node, "xid %s 48" % u[0])
    node.wait(allocatable=3)
    before = node.call("GET", "/node")["registrations"]
    node.call("POST", "/restart")
    node.wait(allocatable=3, registrations_at_least=before + 1)
    assert node.plugin.poll() is None, "plugin exited"
    assert_least_privilege(node.plugin.pid)
    assert node.stop_plugin() == 0


def case_seccomp_kills(node):
    # Default (enforce): a call off the list ends the process at once with
    # SIGSYS; the call never returns to say anything.
    for call in ("unshare", "execve"):
        sandbox_node(node)
        inject(node, "syscall %s" % call)
        rc = node.plugin.wait(timeout=30)
        node.plugin = None
        assert rc == -signal.SIGSYS, (call, rc, node.log_tail())
        assert "syscall %s:" % call not in open(node.plugin_log).read()


def case_seccomp_refuses_other_sockets(node):
    # A socket other than AF_UNIX is refused with an errno the caller can
    # handle (a library probing for a network), not with death.
    sandbox_node(node)
    inject(node, "syscall socket-inet")
    wait_for_log(node, "syscall socket-inet: failed: Address family not "
                 "supported by protocol")
    assert node.allocate(profile_uuids("azure-nc24")[:1])["ok"]
    assert node.stop_plugin() == 0


def case_seccomp_log(node):
    # --seccomp=log: the same filter, but a call off the list is let
    # through (the kernel logs it), so development can find what is
    # missing without the daemon dying.
    sandbox_node(node, ["--seccomp=log"])
    assert_least_privilege(node.plugin.pid)
    inject(node, "syscall unshare")
    wait_for_log(node, "syscall unshare: returned 0")
    inject(node, "syscall execve")
    wait_for_log(node, "syscall execve: failed: No such file or directory")
    assert node.allocate(profile_uuids("azure-nc24")[:1])["ok"]
    assert node.stop_plugin() == 0


def case_seccomp_off(node):
    # GDP_SECCOMP=off: no filter; capabilities still dropped, and
    # no_new_privs still set.
    node.env["GDP_SECCOMP"] = "off"
    sandbox_node(node)
    assert_least_privilege(node.plugin.pid, seccomp="0")
    inject(node, "syscall unshare")
    wait_for_log(node, "syscall unshare: returned 0")
    assert node.stop_plugin() == 0


def case_seccomp_bad_value(node):
    bad = subprocess.run([PLUGIN, "--seccomp=strict"], env=node.env,
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2, bad
    assert "--seccomp" in bad.stderr and "strict" in bad.stderr and \
        "enforce" in bad.stderr, bad.stderr
    env = dict(node.env, GDP_SECCOMP="")
    bad = subprocess.run([PLUGIN], env=env, capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2 and "GDP_SECCOMP" in bad.stderr, bad


def case_nvml_loaded_under_filter(node):
    # No NVML at start (idle, filter on); then the driver's library
    # appears and a SIGHUP finds it: dlopen, init, discovery, a new
    # socket and registration, all under the filter.
    root = os.path.join(node.tmp, "driver")
    node.env["FAKE_NVML_PROFILE"] = os.path.join(PROFILES, "azure-nc6.yaml")
    node.start_kubelet()
    node.start_plugin(["--fail-on-init-error=false",
                       "--driver-root-ctr-path", root,
                       "--driver-root", root])
    wait_for_log(node, "continuing without GPUs")
    wait_for_log(node, "system-call filter: enforce")
    assert_least_privilege(node.plugin.pid)
    os.makedirs(os.path.join(root, "usr/lib64"))
    shutil.copy(os.path.join(FAKE_LIB_DIR, "libnvidia-ml.so.1"),
                os.path.join(root, "usr/lib64"))
    node.plugin.send_signal(signal.SIGHUP)
    node.wait(allocatable=1, registrations_at_least=1)
    assert "Loaded NVML from %s/usr/lib64" % root in \
        open(node.plugin_log).read(), node.log_tail()
    assert_least_privilege(node.plugin.pid)
    assert node.stop_plugin() == 0


# ---- issue 8 item 4: the socket and its directory ----------------------

import resource  # noqa: E402 - kept with the cases that use them
import stat  # noqa: E402

def plugin_sock(node):
    return os.path.join(node.dir, "nvidia-gpu.sock")


def wait_for_line(node, *words, timeout=10):
    """Waits until one line of the plugin's log has all |words|."""
    deadline = time.monotonic() + timeout
    while not any(all(w in ln for w in words)
                  for ln in open(node.plugin_log).read().splitlines()):
        if time.monotonic() > deadline:
            raise AssertionError("no line with %r in the log: %s" % (
                words, node.log_tail()))
        time.sleep(0.01)


def start_plugin_umask(node, mask, extra=()):
    """start_plugin with the process's umask set to |mask|."""
    old = os.umask(mask)
    try:
        return node.start_plugin(extra)
    finally:
        os.umask(old)


def case_socket_owner_only(node):
    # Created 0600 whatever the umask: with umask 000 a plain bind()
    # makes the socket 0777, connectable by every local user.
    node.start_kubelet()
    start_plugin_umask(node, 0)
    node.wait(allocatable=1, registrations_at_least=1)
    mode = os.lstat(plugin_sock(node)).st_mode
    assert mode & 0o777 == 0o600, oct(mode)
    # Served again after a kubelet restart: 0600 again.
    node.call("POST", "/restart")
    node.wait(allocatable=1, registrations_at_least=2)
    mode = os.lstat(plugin_sock(node)).st_mode
    assert mode & 0o777 == 0o600, oct(mode)
    assert node.stop_plugin() == 0


def case_stale_paths_replaced(node):
    # What a crashed instance or a container runtime leaves at the path
    # (a file, an empty directory from a hostPath mount of a missing
    # file, a symlink) is removed and the plugin serves; a symlink is
    # never followed: its target survives untouched.
    sock = plugin_sock(node)
    outside = os.path.join(node.tmp, "outside")
    with open(outside, "w") as f:
        f.write("keep me\n")
    makers = [("a regular file", lambda: open(sock, "w").close()),
              ("an empty directory", lambda: os.mkdir(sock)),
              ("a symlink to a file", lambda: os.symlink(outside, sock)),
              ("a dangling symlink",
               lambda: os.symlink(os.path.join(node.tmp, "nowhere"), sock))]
    node.start_kubelet()
    for what, make in makers:
        make()
        before = node.call("GET", "/node")["registrations"]
        node.start_plugin()
        try:
            node.wait(allocatable=1, registrations_at_least=before + 1,
                      timeout_ms=10000)
        except AssertionError as e:
            raise AssertionError("%s at the path: %s" % (what, e))
        assert stat.S_ISSOCK(os.lstat(sock).st_mode), what
        assert stat.S_ISREG(os.lstat(outside).st_mode), what
        with open(outside) as f:
            assert f.read() == "keep me\n", what
        assert node.stop_plugin() == 0, what
        assert not os.path.lexists(sock), what


def case_live_socket_not_stolen(node):
    # Another process serving on the path keeps it: the plugin exits 1
    # naming the path, and the other listener still accepts.
    sock = plugin_sock(node)
    node.start_kubelet()   # first: it removes every socket in the folder
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(sock)
    other.listen(8)
    ino = os.lstat(sock).st_ino
    p = node.start_plugin()
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the plugin did not exit; it took the path "
                             "over: %s" % node.log_tail())
    node.plugin = None
    assert rc == 1, rc
    log = open(node.plugin_log).read()
    assert sock in log and "another" in log.lower(), log
    assert os.lstat(sock).st_ino == ino, "socket file replaced"
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect(sock)
    client.sendall(b"still mine")
    other.settimeout(10)
    got = b""
    while got != b"still mine":   # the plugin's probe may come first
        conn, _ = other.accept()
        conn.settimeout(10)
        got = conn.recv(64)
        conn.close()
    client.close()
    other.close()
    assert node.call("GET", "/node")["registrations"] == 0


def case_live_socket_later_waited_out(node):
    # Later (not at start) a live socket at our path is waited out, not
    # taken: our socket was gone and could not be made again (no fds),
    # and meanwhile another process serves there. The plugin keeps
    # running without registering, and serves once the other is gone
    # (here: it crashed, leaving its socket file behind).
    sock = plugin_sock(node)
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    pid = node.plugin.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, hard))
    node.call("POST", "/restart")
    wait_for_line(node, sock, "Too many open files")
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(sock)
    other.listen(8)
    ino = os.lstat(sock).st_ino
    before = node.call("GET", "/node")["registrations"]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    wait_for_line(node, sock, "Another process is serving", "once it")
    time.sleep(0.3)
    assert node.plugin.poll() is None, "plugin exited"
    assert os.lstat(sock).st_ino == ino, "socket file replaced"
    assert node.call("GET", "/node")["registrations"] == before, \
        "registered an endpoint it does not serve"
    other.close()      # a crash: the file stays, nobody accepts
    node.wait(allocatable=1, connected=True,
              registrations_at_least=before + 1)
    assert node.stop_plugin() == 0


def remove_tree(path):
    """rm -rf |path|, again while the plugin serves again in it (it
    makes its socket anew each time the last one is removed)."""
    for _ in range(100):
        try:
            shutil.rmtree(path)
            return
        except OSError:
            time.sleep(0.01)
    raise AssertionError("cannot remove %s" % path)


def case_dir_recreated(node):
    # The device-plugins directory removed (or moved away, or removed
    # with its parent) and created again, then a kubelet restart in it:
    # the plugin serves in the new directory and registers; and it still
    # watches the new directory (a second kubelet restart there is
    # noticed too).
    parent = os.path.join(node.tmp, "kubelet")
    os.rmdir(node.dir)
    node.dir = os.path.join(parent, "device-plugins")
    os.makedirs(node.dir)
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    for how in ("removed", "removed for a while", "moved away",
                "removed with its parent"):
        if how == "moved away":
            os.rename(node.dir, node.dir + ".old")
        else:
            remove_tree(parent if how.endswith("parent") else node.dir)
        if how != "removed":
            time.sleep(0.3)   # not a wait: lets the plugin see it gone
        os.makedirs(node.dir)
        for _ in range(2):
            before = node.call("GET", "/node")["registrations"]
            node.call("POST", "/restart")
            try:
                node.wait(allocatable=1, connected=True,
                          registrations_at_least=before + 1)
            except AssertionError as e:
                raise AssertionError("directory %s: %s" % (how, e))
            assert os.path.exists(plugin_sock(node)), how
    assert node.stop_plugin() == 0


def case_failed_serve_retried(node):
    # A serve that fails is retried until it works, without a restart:
    # (1) a directory that is not empty at the path is refused, named,
    # and never deleted; once emptied it is removed and the plugin
    # serves; (2) EMFILE (the fd limit lowered under the running plugin)
    # when the kubelet restarts: served again once fds are back.
    sock = plugin_sock(node)
    os.mkdir(sock)
    keep = os.path.join(sock, "keep")
    open(keep, "w").close()
    node.start_kubelet()
    node.start_plugin()
    wait_for_line(node, sock, "not empty")
    time.sleep(0.3)
    assert node.plugin.poll() is None, "plugin exited"
    assert os.path.exists(keep), "the directory's content was deleted"
    assert node.call("GET", "/node")["registrations"] == 0
    os.unlink(keep)
    node.wait(allocatable=1, registrations_at_least=1)
    pid = node.plugin.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, hard))
    before = node.call("GET", "/node")["registrations"]
    node.call("POST", "/restart")
    wait_for_line(node, sock, "Too many open files")
    time.sleep(0.3)
    assert not os.path.exists(sock), "served with no fds to spare?"
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    node.wait(allocatable=1, registrations_at_least=before + 1)
    assert node.stop_plugin() == 0


SOCKET_CASES = [
    ("socket: mode 0600 whatever the umask", "azure-nc6", {},
     case_socket_owner_only),
    ("socket: a stale file, empty directory or symlink is replaced",
     "azure-nc6", {}, case_stale_paths_replaced),
    ("socket: a live socket is not stolen: exit 1 naming it", "azure-nc6",
     {}, case_live_socket_not_stolen),
    ("socket: later, a live socket is waited out, then served",
     "azure-nc6", {}, case_live_socket_later_waited_out),
    ("socket: the directory removed and created again: served again",
     "azure-nc6", {}, case_dir_recreated),
    ("socket: a failed serve is retried until it works", "azure-nc6", {},
     case_failed_serve_retried),
]


# ---- issue 8: the gRPC server's limits, seen from outside ------------

LIMIT_FLAGS = ("max-connections", "max-streams-per-connection",
               "max-partial-bytes-per-connection", "max-partial-bytes-total",
               "max-queued-output-per-call",
               "max-queued-output-per-connection", "max-queued-output-total",
               "max-header-list-size",
               "preface-timeout", "request-timeout", "idle-timeout")


def case_limit_flags(node):
    # Each limit has a flag and a GDP_* variable that --help lists, and a
    # bad value is refused naming it.
    out = subprocess.run([PLUGIN, "--help"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out
    for flag in LIMIT_FLAGS:
        env = "GDP_" + flag.upper().replace("-", "_")
        assert "--" + flag in out.stdout and env in out.stdout, flag
        bad = subprocess.run([PLUGIN, "--%s=-3" % flag], env=node.env,
                             capture_output=True, text=True, timeout=10)
        assert bad.returncode == 2 and "--" + flag in bad.stderr, bad
        bad = subprocess.run([PLUGIN], env=dict(node.env, **{env: "x"}),
                             capture_output=True, text=True, timeout=10)
        assert bad.returncode == 2 and env in bad.stderr, bad


def daemon_cpu_ns(pid):
    """CPU time of every thread of |pid|, in ns (nospin-test.py too)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total


def case_fd_limit_flood(node):
    # Issue 8 R5: at a low descriptor limit, 150 connections that never
    # say anything neither spin the loop (EMFILE on accept spun at 100 %)
    # nor lock the kubelet out: its connection keeps working, and after a
    # kubelet restart the plugin registers and is dialled back again.
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    node.start_kubelet()
    node.plugin = subprocess.Popen(
        [PLUGIN, "--kubelet-socket", os.path.join(node.dir, "kubelet.sock"),
         "--sysfs-root", node.sysfs], env=node.env,
        stdout=subprocess.DEVNULL, stderr=open(node.plugin_log, "a"),
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                              (64, hard)))
    node.wait(allocatable=1, registrations_at_least=1)
    uuid = profile_uuids(node.profile)[0]
    held = []
    for _ in range(150):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(os.path.join(node.dir, "nvidia-gpu.sock"))
        except OSError:
            pass  # the backlog is full: a spinning plugin accepts nothing
        held.append(s)
    time.sleep(0.5)
    cpu = daemon_cpu_ns(node.plugin.pid)
    time.sleep(2)
    cpu = daemon_cpu_ns(node.plugin.pid) - cpu
    assert cpu < 200_000_000, "%.2f s of CPU in 2 s idle" % (cpu / 1e9)
    assert envs_of(node.allocate([uuid]))["NVIDIA_VISIBLE_DEVICES"] == uuid
    before = node.call("GET", "/node")["registrations"]
    node.call("POST", "/restart")
    node.wait(allocatable=1, registrations_at_least=before + 1)
    assert envs_of(node.allocate([uuid]))["NVIDIA_VISIBLE_DEVICES"] == uuid
    for s in held:
        s.close()


CASES = [
    ("the server's limits: flags, variables, --help, bad values",
     "azure-nc6", {}, case_limit_flags),
    ("a flood of idle connections at a low fd limit: no spin, kubelet "
     "served", "azure-nc6", {}, case_fd_limit_flood),
    ("registers and advertises nvidia.com/gpu: 1", "azure-nc6", {},
     case_registers_and_advertises),
    ("ListAndWatch lists every GPU, Healthy, with NUMA", "azure-nc24", {},
     case_list_and_watch_contents),
    ("Allocate one, several, duplicates, unknown; a pod of 2",
     "azure-nc24", {}, case_allocate),
    ("20 kubelet restarts, each registered again", "azure-nc6", {},
     case_kubelet_restarts),
    ("plugin killed and restarted registers again", "azure-nc6", {},
     case_plugin_restart),
    ("SIGTERM: exit 0 within a second, socket removed", "azure-nc6", {},
     case_sigterm),
    ("SIGHUP: discovers again; nothing changed, so nothing sent",
     "azure-nc6", {}, case_sighup),
    ("no GPUs: stays idle", "no-gpus", {}, case_no_gpus_idle),
    ("no GPUs with --fail-on-no-gpus: exit 1", "no-gpus", {},
     case_no_gpus_fail),
    ("NVML missing, fail-on-init-error true: exit 1 with the cause", None,
     {"fake": False}, case_nvml_missing_fails),
    ("NVML missing, fail-on-init-error false: idle", None,
     {"fake": False}, case_nvml_missing_idle),
    ("NVML init fails: exit 1 naming the NVML error", "init-fails", {},
     case_init_error),
    ("list prints the GPUs and the resource", "dgx-h100", {},
     case_list_command),
    ("an old driver's v1 PCI layouts read as the new ones", "dgx-h100",
     {}, case_old_driver_layouts),
    ("a socket path too long for a unix socket: exit 1 saying so",
     "azure-nc6", {}, case_socket_path_too_long),
    ("GetPreferredAllocation: odd requests answered, logged once a kind",
     "azure-nc24", {}, case_preferred_odd_requests),
    ("GetPreferredAllocation: must-include first, then by index",
     "azure-nc24", {}, case_preferred),
    ("--device-id-strategy=index: NVIDIA_VISIBLE_DEVICES holds indices",
     "azure-nc24", {}, case_index_strategy),
    ("bad flags and environment values: exit 2 naming them", "azure-nc6",
     {}, case_bad_settings),
    ("--device-id-strategy beats DEVICE_ID_STRATEGY beats the default",
     "azure-nc24", {}, case_id_strategy_precedence),
    ("--pass-device-specs beats PASS_DEVICE_SPECS beats the default",
     "azure-nc6", {}, case_pass_device_specs_precedence),
    ("--pass-device-specs --dev-root: host paths prefixed, container "
     "paths not", "azure-nc24", {}, case_dev_root_device_specs),
    ("NVIDIA's aliases: --nvidia-dev-root, --nvidia-driver-root, "
     "--container-driver-root, CONTAINER_DRIVER_ROOT", "azure-nc6", {},
     case_flag_aliases),
    ("a GPU lost at start-up: left out and logged; the other allocates",
     "lost-gpu", {}, case_lost_gpu_at_start),
    ("health: an ignored XID leaves health alone", "azure-nc24", {},
     case_ignored_xid),
    ("health: a critical XID: Unhealthy, capacity kept, Allocate refused",
     "azure-nc24", {}, case_critical_xid),
    ("health: the XID stays the named cause after events fail and return",
     "azure-nc24", {}, case_reason_survives_other_causes),
    ("health: DP_DISABLE_HEALTHCHECKS=48 ignores XID 48", "azure-nc24", {},
     case_env_disable),
    ("health: DP_ENABLE_HEALTHCHECKS=13 makes XID 13 critical",
     "azure-nc24", {}, case_env_enable),
    ("health: DP_DISABLE_HEALTHCHECKS=all turns checks off", "azure-nc24",
     {}, case_disable_all),
    ("health: a lost GPU without an event, then reset", "azure-nc24", {},
     case_lost_without_event),
    ("health: event waits failing: unhealthy, logged once, then back",
     "azure-nc24", {}, case_wait_failure),
    ("health: a transient XID recovers after the quiet period",
     "azure-nc24", {}, case_transient_recovers),
    ("health: a reset-class XID waits for a reset", "azure-nc24", {},
     case_reset_class_waits_for_reset),
    ("health: a MIG-scoped XID marks the GPU's whole-GPU view",
     "azure-nc24", {}, case_mig_scoped_xid),
    ("health: an old driver's v1 event is a whole-GPU XID", "azure-nc24",
     {}, case_old_driver_whole_gpu_xid),
    ("health: a failed event registration is retried once the GPU answers",
     "azure-nc24", {}, case_registration_retried),
    ("least privilege: every thread without capabilities, no_new_privs, "
     "seccomp filter; serving, health, SIGHUP and kubelet restart work",
     "azure-nc24", {}, case_least_privilege),
    ("seccomp enforce (default): a forbidden call inside NVML: SIGSYS",
     "azure-nc24", {}, case_seccomp_kills),
    ("seccomp: a socket other than AF_UNIX fails with EAFNOSUPPORT",
     "azure-nc24", {}, case_seccomp_refuses_other_sockets),
    ("--seccomp=log: a forbidden call runs, the daemon serves on",
     "azure-nc24", {}, case_seccomp_log),
    ("GDP_SECCOMP=off: no filter, capabilities still dropped",
     "azure-nc24", {}, case_seccomp_off),
    ("a bad --seccomp or GDP_SECCOMP: exit 2 naming it", "azure-nc6", {},
     case_seccomp_bad_value),
    ("NVML that appears after start is loaded on SIGHUP under the filter",
     "azure-nc6", {"fake": False}, case_nvml_loaded_under_filter),
] + [("profile %s advertises every GPU" % p, p, {}, profile_case(p))
     for p in ("azure-nc6", "azure-nc24", "azure-nd96asr-v4", "dgx-h100")] \
    + SOCKET_CASES


# ---- issue 8: request bounds, id bytes, XID floods, stale watchers ------
# Requests the kubelet never sends, made on the plugin's socket by a
# grpcio client (the messages hand-encoded) or by raw HTTP/2 frames; the
# bounds they meet are in docs/plugin.md.

PLUGIN_METHOD = "/v1beta1.DevicePlugin/"






def pb_allocate(containers):
    """AllocateRequest{container_requests: [{devices_ids: ids}, ...]}."""
    return b"".join(pb_field(1, b"".join(pb_field(1, i) for i in ids))
                    for ids in containers)


def pb_preferred(available, size):
    """PreferredAllocationRequest with one container request."""
    c = b"".join(pb_field(1, i) for i in available) + \
        pb_varint(3 << 3) + pb_varint(size)
    return pb_field(1, c)


def plugin_call(node, method, body, timeout=120):
    """One raw unary call on a connection of its own: (code, details,
    answer bytes); code is a grpc.StatusCode."""
    import grpc
    ch = grpc.insecure_channel(
        "unix:" + os.path.join(node.dir, "nvidia-gpu.sock"),
        options=[("grpc.default_authority", "localhost"),
                 ("grpc.max_send_message_length", -1),
                 ("grpc.max_receive_message_length", -1)])
    try:
        answer = ch.unary_unary(PLUGIN_METHOD + method)(body,
                                                        timeout=timeout)
        return grpc.StatusCode.OK, "", answer
    except grpc.RpcError as e:
        return e.code(), e.details() or "", b""
    finally:
        ch.close()


def bound_named(details, what):
    """The bound an error names as "at most N <what>"."""
    import re
    m = re.search(r"at most (\d+) %s" % what, details)
    assert m, "no bound named for %s: %r" % (what, details)
    return int(m.group(1))


def case_preferred_huge_list(node):
    import grpc
    import threading
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    n = 150000   # 1.2 MB of unknown ids: 42 s of loop once
    body = pb_preferred([b"GPU-%08d" % i for i in range(n)], n)
    got = {}
    t = threading.Thread(target=lambda: got.update(
        r=plugin_call(node, "GetPreferredAllocation", body)))
    t.start()
    # Another connection is served meanwhile.
    ok = node.allocate([u[1]])
    t.join(120)
    assert not t.is_alive(), "GetPreferredAllocation not answered"
    assert envs_of(ok)["NVIDIA_VISIBLE_DEVICES"] == u[1], ok
    code, details, _ = got["r"]
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert str(n) in details and RESOURCE in details, details
    most = bound_named(details, "device ids")
    assert 4 <= most < n, details
    # One id past the bound is refused; at the bound it is answered.
    code, details, answer = plugin_call(node, "GetPreferredAllocation",
                                        pb_preferred([b"GPU-%08d" % i for
                                                      i in range(most)] +
                                                     [u[2].encode()], 2))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    code, details, answer = plugin_call(node, "GetPreferredAllocation",
                                        pb_preferred([u[2].encode()] +
                                                     [b"GPU-%08d" % i for
                                                      i in range(most - 1)],
                                                     most))
    assert code == grpc.StatusCode.OK, (code, details)
    assert u[2].encode() in answer and answer.count(b"GPU-") == most


def case_allocate_empty_containers(node):
    import grpc
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    # 2 million empty container requests: 4 MB in, once 56 MB out. They
    # would decode to 128 MB: the gRPC layer refuses them while decoding
    # (a request decodes to at most 16 times its size, plus 64 KiB).
    code, details, _ = plugin_call(node, "Allocate", b"\x0a\x00" * 2000000)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    assert "decodes to more than" in details, details
    # 1,000 of them decode within that: refused by the resource core,
    # naming its bound.
    code, details, _ = plugin_call(node, "Allocate", b"\x0a\x00" * 1000)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert "1000" in details and RESOURCE in details, details
    most = bound_named(details, "container requests")
    assert 1 <= most < 1000, details
    # Fewer of them, but one empty: refused, naming the empty one.
    code, details, _ = plugin_call(node, "Allocate", pb_allocate(
        [[u[0].encode()], [], [u[1].encode()]]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert "container request 2 of 3" in details and \
        "no device id" in details, details
    # Containers that each ask for a device are answered, one each.
    code, details, answer = plugin_call(node, "Allocate", pb_allocate(
        [[u[0].encode()], [u[1].encode()]]))
    assert code == grpc.StatusCode.OK, (code, details)
    assert answer.count(b"NVIDIA_VISIBLE_DEVICES") == 2, answer
    # More ids in one request than any node has: refused, naming it.
    code, details, _ = plugin_call(node, "Allocate", pb_allocate(
        [[u[0].encode()] * 50000]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert "50000" in details, details
    assert 4 <= bound_named(details, "device ids") < 50000, details
    assert node.allocate([u[3]])["ok"]


def case_ids_are_length_delimited(node):
    import grpc
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    u = profile_uuids("azure-nc24")
    nul = u[0].encode() + b"\x00junk"
    for method, body in (("Allocate", pb_allocate([[nul]])),
                         ("GetPreferredAllocation",
                          pb_preferred([u[1].encode(), nul], 1))):
        code, details, _ = plugin_call(node, method, body)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, \
            (method, code, details)
        assert u[0] + "\\x00junk" in details and "NUL" in details, \
            (method, details)
    bad = u[1].encode() + b"\xff\xfe"
    code, details, _ = plugin_call(node, "Allocate", pb_allocate([[bad]]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert u[1] + "\\xff\\xfe" in details and "UTF-8" in details, details
    # The GPU's own id still allocates it.
    r = node.allocate([u[0]])
    assert envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == u[0], r


def case_xid_flood_logs_bounded(node):
    u = health_node(node)
    line = ("xid %s 13\n" % u[0]).encode()
    sent = 0
    fd = os.open(node.fifo, os.O_WRONLY)
    for _ in range(40):                 # 2,000 XIDs in bursts
        os.write(fd, line * 50)
        sent += 50
        time.sleep(0.005)
    os.close(fd)
    # Events are handled in order: once a marker XID after the flood
    # shows, the flood has been read (the fake drops what its queue of
    # 64 cannot hold, so the marker is sent until it lands).
    for _ in range(20):
        inject(node, "xid %s 48" % u[1])
        r = node.call("POST", "/wait", {"resource": RESOURCE,
                                        "allocatable": 3,
                                        "timeout_ms": 1000})
        if r.get("ok"):
            break
    else:
        raise AssertionError("marker XID never seen: " + node.log_tail())

    def xid13():
        return [ln for ln in open(node.plugin_log).read().splitlines()
                if "XID 13 " in ln]
    first = xid13()
    assert 1 <= len(first) <= 2, "%d lines: %s" % (len(first), first[:4])
    assert "application error" in first[0], first
    # The rest are summed up once the interval is over.
    deadline = time.monotonic() + 20
    while not any("repeated" in ln for ln in xid13()):
        assert time.monotonic() < deadline, "no summary: %s" % xid13()
        time.sleep(0.2)
    lines = xid13()
    summary = [ln for ln in lines if "repeated" in ln][0]
    import re
    m = re.search(r"XID 13 on GPU 0 \(%s\) repeated (\d+) times in the "
                  r"last (\d+) s" % re.escape(u[0]), summary)
    assert m and 1 <= int(m.group(1)) < sent, summary
    assert len(lines) == 2, lines






def never_reading_watchers(node, streams):
    """A connection with |streams| ListAndWatch streams whose window is 0:
    no list can leave the plugin's queue, and the socket is never read
    after the handshake. Returns the socket (keep it open)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(node.dir, "nvidia-gpu.sock"))
    # SETTINGS: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 0.
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(
        4, 0, 0, b"\x00\x02\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00"))
    head = s.recv(9)
    assert len(head) == 9 and head[3] == 4, head   # the server's SETTINGS
    want = int.from_bytes(head[:3], "big")
    while want > 0:
        want -= len(s.recv(want))
    block = b"".join(hpack_literal(k, v) for k, v in (
        (":method", "POST"), (":scheme", "http"),
        (":path", PLUGIN_METHOD + "ListAndWatch"),
        (":authority", "localhost"), ("content-type", "application/grpc"),
        ("te", "trailers")))
    out = [h2_frame(4, 1, 0)]                      # SETTINGS ACK
    for i in range(streams):
        sid = 2 * i + 1
        out.append(h2_frame(1, 4, sid, block))     # END_HEADERS
        out.append(h2_frame(0, 1, sid, b"\x00" * 5))  # empty, END_STREAM
    s.sendall(b"".join(out))
    return s


def loop_wakeups(pid):
    """Voluntary context switches of the plugin's main (loop) thread."""
    with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
        for ln in f:
            if ln.startswith("voluntary_ctxt_switches:"):
                return int(ln.split()[1])
    raise AssertionError("no context switch count")


def case_stale_watchers_cost_nothing(node):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4)
    wait_for_log(node, "Health events registered")
    u = profile_uuids("azure-nc24")
    socks = [never_reading_watchers(node, 1000) for _ in range(3)]
    try:
        lists = node.resource()["lists_received"]
        time.sleep(0.5)
        # A change: 3,000 streams now hold an old list they cannot send.
        inject(node, "xid %s 48" % u[0])
        node.wait(allocatable=3, lists_at_least=lists + 1)
        time.sleep(3)                  # the resend timer backs off
        w0, c0, t0 = loop_wakeups(node.plugin.pid), \
            cpu_of_main(node.plugin.pid), time.monotonic()
        time.sleep(4)
        took = time.monotonic() - t0
        wakes = loop_wakeups(node.plugin.pid) - w0
        share = (cpu_of_main(node.plugin.pid) - c0) / 1e9 / took
        assert wakes <= 2 * took, "%d loop wake-ups in %.1f s" % (
            wakes, took)
        assert share <= 0.01, "loop CPU %.1f %%" % (share * 100)
        # The kubelet still gets every change at once.
        lists = node.resource()["lists_received"]
        inject(node, "xid %s 48" % u[1])
        node.wait(allocatable=2, lists_at_least=lists + 1)
        assert node.plugin.poll() is None
    finally:
        for s in socks:
            s.close()


def cpu_of_main(pid):
    with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
        return int(f.read().split()[0])


def case_slow_kubelet_watch(node):
    # A loaded kubelet opens the stream late. Registering again would
    # replace the endpoint the kubelet is about to watch (and end the
    # connection under any Allocate on it), so the plugin gives the
    # kubelet seconds, not one, before it decides the stream is lost.
    node.start_kubelet(["--watch-delay-ms", "2000"])
    node.start_plugin()
    node.wait(allocatable=1)
    r = node.allocate(profile_uuids("azure-nc6")[:1])
    assert r["ok"], r
    n = node.call("GET", "/node")
    assert n["registrations"] == 1, (n["registrations"], node.log_tail())
    assert "no ListAndWatch stream open" not in open(node.plugin_log).read()


def case_slow_kubelet_restart(node):
    # A kubelet restart ends the stream (a look is due in a second) and
    # then registers the plugin anew: the new Register's grace replaces
    # that look, or a kubelet slower than a second is registered twice.
    node.start_kubelet(["--watch-delay-ms", "2500"])
    node.start_plugin()
    node.wait(allocatable=1)
    for _ in range(2):
        before = node.call("GET", "/node")["registrations"]
        node.call("POST", "/restart")
        node.wait(allocatable=1, registrations_at_least=before + 1)
        time.sleep(1.5)  # past the stream-end look, before any grace ends
        n = node.call("GET", "/node")
        assert n["registrations"] == before + 1, (before, n["registrations"])
    assert "no ListAndWatch stream open" not in open(node.plugin_log).read()


def notify_until(sock, wanted, seen):
    """Reads datagrams until one holds the line |wanted|; returns it."""
    while True:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no %r from the plugin; got %r"
                                 % (wanted, seen)) from None
        seen.append(msg)
        if wanted in msg.split("\n"):
            return msg


def case_service_manager_told(node):
    # As a Type=notify unit with WatchdogSec= runs it: $NOTIFY_SOCKET is
    # a datagram socket, $WATCHDOG_USEC the interval (here 200 ms, so
    # pings every 100 ms). An abstract socket name works alike ('@').
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = "@gdp-notify-test-%d" % os.getpid()
    sock.bind("\0" + name[1:])
    sock.settimeout(20)
    node.env["NOTIFY_SOCKET"] = name
    node.env["WATCHDOG_USEC"] = "200000"
    seen = []
    try:
        node.start_kubelet()
        node.start_plugin()
        ready = notify_until(sock, "READY=1", seen)
        assert "STATUS=Serving 1 resource;" in ready, ready
        notify_until(sock, "WATCHDOG=1", seen)
        notify_until(sock, "WATCHDOG=1", seen)
        node.wait(allocatable=4)
        node.plugin.send_signal(signal.SIGHUP)
        notify_until(sock, "RELOADING=1", seen)
        notify_until(sock, "READY=1", seen)
        assert node.stop_plugin(signal.SIGTERM) == 0
        notify_until(sock, "STOPPING=1", seen)
    finally:
        sock.close()


CASES += [
    ("GetPreferredAllocation of 150,000 ids: refused naming the bound, "
     "others served", "azure-nc24", {}, case_preferred_huge_list),
    ("Allocate of 2 million empty container requests: refused naming the "
     "bound", "azure-nc24", {}, case_allocate_empty_containers),
    ("an id with a NUL or bad UTF-8 is refused, not taken for the GPU",
     "azure-nc24", {}, case_ids_are_length_delimited),
    ("health: an XID flood logs one line, then one summary per interval",
     "azure-nc24", {}, case_xid_flood_logs_bounded),
    ("3,000 never-reading ListAndWatch streams: the loop stays idle",
     "azure-nc24", {}, case_stale_watchers_cost_nothing),
    ("a kubelet slow to open ListAndWatch (2 s) gets no second Register",
     "azure-nc6", {}, case_slow_kubelet_watch),
    ("a kubelet slow to open ListAndWatch after its restart gets one "
     "Register", "azure-nc6", {}, case_slow_kubelet_restart),
    ("systemd's notify protocol: READY with a status, watchdog pings, "
     "RELOADING on SIGHUP, STOPPING on SIGTERM", "azure-nc24", {},
     case_service_manager_told),
]


def run_cases(cases):
    """Runs (name, make_node, fn) cases, each on a node of its own:
    "ok - NAME" or "not ok - NAME: why" with the plugin's last lines, then
    "N passed, M failed". Returns the exit status. The other plugin test
    scripts run their cases with it too."""
    passed = failed = 0
    for name, make_node, fn in cases:
        node = make_node()
        try:
            fn(node)
            print("ok - %s" % name, flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            why = str(e) or traceback.format_exc().splitlines()[-1]
            print("not ok - %s: %s" % (name, why.replace("\n", " ")),
                  flush=True)
            for line in node.log_tail(10).split(" | "):
                print("#   plugin: %s" % line)
            failed += 1
        finally:
            node.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    # GDP_CASE=TEXT runs only the cases whose name holds TEXT (by hand).
    only = os.environ.get("GDP_CASE", "")
    return run_cases([
        (name, lambda p=profile, o=opts: Node(p, fake=o.get("fake", True)),
         fn) for name, profile, opts, fn in CASES if only in name])


if __name__ == "__main__":
    sys.exit(main())
