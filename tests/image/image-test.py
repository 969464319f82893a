#!/usr/bin/python3
"""Builds the container image without a daemon and runs it, self-contained.

deploy/image/build.sh makes the OCI layout and the docker-archive tarball
from the plugin binary. The test then reads the tarball back the way a
node would get it (skopeo to an OCI layout, umoci unpack to a root file
system), checks the image's metadata and that the tree holds nothing
but the expected files, and runs the image's entry point inside that
tree with chroot, in new mount and PID namespaces with only /proc
mounted, the way the GPU Operator starts it (/bin/sh -c
/bin/entrypoint.sh) and the way a plain DaemonSet does (the image's
entry point with arguments). The only things from outside are what a
node provides: the fake libnvidia-ml.so.1 in the driver root
(/driver-root, NVIDIA's container path for it), a sysfs fixture and the
kubelet stand-in's folder at /var/lib/kubelet/device-plugins. The plugin
must register with the stand-in and list the profile's GPUs, answer an
Allocate, and exit 0 on SIGTERM, with its seccomp filter and capability
drop on as always. Any library the image lacked would stop it at exec.

Exits 77 (meson's "skipped") when umoci, skopeo, unshare or busybox-static
are missing, or when not run as root (chroot and namespaces need it).

The Containerfile cannot be built here (no daemon): its ENV, LABEL keys,
USER and ENTRYPOINT are compared with the daemonless image's instead.

Usage: image-test.py BUILD_SH PLUGIN STANDIN FAKE_LIB PROFILES MAKE_SYSFS
    WORKDIR CONTAINERFILE [CONFIG_MANAGER]

With CONFIG_MANAGER (gdp-config-manager) the image carries it too, as
the Helm chart's init container and sidecar run it: it must be in the
tree under both its names and start inside it (its libraries are there).
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time

import ocitest
from ocitest import (FAILED, SANITIZED, check, check_containerfile,
                     check_size, skip, unpack)

(BUILD_SH, PLUGIN, STANDIN, FAKE_LIB, PROFILES, MAKE_SYSFS,
 WORKDIR, CONTAINERFILE) = [os.path.abspath(a) for a in sys.argv[1:9]]
CONFIG_MANAGER = os.path.abspath(sys.argv[9]) if len(sys.argv) > 9 else None
PROFILE = "azure-nc24"
RESOURCE = "nvidia.com/gpu"
LIMIT = 5 * 1000 * 1000          # the size target, compressed bytes






class UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over the stand-in's unix control socket."""

    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def call(control, method, path, body=None):
    conn = UnixHTTP(control)
    conn.request(method, path, json.dumps(body) if body else None,
                 {"Content-Type": "application/json"})
    data = conn.getresponse().read().decode()
    conn.close()
    return json.loads(data)


def profile_uuids():
    with open(os.path.join(PROFILES, PROFILE + ".yaml")) as f:
        return [line.split(":", 1)[1].strip().strip("\"'")
                for line in f if line.strip().startswith("uuid:")]


def preflight():
    ocitest.preflight()
    if not os.path.exists("/bin/busybox"):
        skip("/bin/busybox not found (install busybox-static)")


def build():
    out = os.path.join(WORKDIR, "image")
    cm = ["--config-manager", CONFIG_MANAGER] if CONFIG_MANAGER else []
    r = subprocess.run([BUILD_SH, "--plugin", PLUGIN] + cm + ["--out", out,
                        "--version", "0.0.0-test", "--revision", "abc123",
                        "--source", "https://example.org/gdp"],
                       capture_output=True, text=True)
    print(r.stdout, end="")
    if not check("build.sh builds the image", r.returncode == 0,
                 r.stderr.strip()):
        sys.exit(1)
    return out


def check_archive(out):
    """The tarball is what docker load reads: manifest.json naming the
    tag, one layer and the config."""
    tar = os.path.join(out, "gpu-device-plugin.tar")
    with tarfile.open(tar) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        config = json.load(t.extractfile(manifest[0]["Config"]))
    check("docker-archive names the image",
          manifest[0].get("RepoTags") in (
              ["gpu-device-plugin:0.0.0-test"],
              ["docker.io/library/gpu-device-plugin:0.0.0-test"]),
          repr(manifest))
    cfg = config["config"]
    env = cfg.get("Env", [])
    for want in ("NVIDIA_VISIBLE_DEVICES=all",
                 "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
                 "NVIDIA_DISABLE_REQUIRE=true"):
        check("image env has " + want, want in env, repr(env))
    labels = cfg.get("Labels", {})
    for key, want in (("version", "0.0.0-test"), ("revision", "abc123"),
                      ("source", "https://example.org/gdp")):
        got = labels.get("org.opencontainers.image." + key)
        check("label " + key, got == want, repr(got))
    check("entry point is /bin/entrypoint.sh",
          cfg.get("Entrypoint") == ["/bin/entrypoint.sh"]
          and not cfg.get("Cmd"), repr(cfg))
    check_containerfile(CONTAINERFILE, cfg)
    return tar










def check_tree(root):
    """Nothing of a distribution: only these files, links and folders."""
    files = {"bin/busybox", "bin/entrypoint.sh", "usr/bin/gpu-device-plugin",
             "lib64/ld-linux-x86-64.so.2"}
    links = {"bin/sh": "busybox", "bin/lsmod": "busybox",
             "bin/sleep": "busybox",
             "usr/bin/nvidia-device-plugin": "gpu-device-plugin"}
    if CONFIG_MANAGER:
        files.add("usr/bin/gdp-config-manager")
        links["usr/bin/config-manager"] = "gdp-config-manager"
    got_files, got_links, extra = set(), {}, []
    for d, dirs, names in os.walk(root):
        for n in names + dirs:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                got_links[rel] = os.readlink(p)
            elif os.path.isfile(p):
                if rel.startswith("lib/") and ".so" in rel:
                    continue
                got_files.add(rel)
    extra = sorted(got_files - files)
    check("no files beyond the plugin, busybox, entrypoint and libraries",
          not extra and files <= got_files,
          "extra %s, missing %s" % (extra, sorted(files - got_files)))
    check("sh, lsmod and nvidia-device-plugin are links",
          got_links == links, repr(got_links))


def prepare(root):
    """What a node mounts: the driver root, sysfs, the kubelet folder."""
    lib = os.path.join(root, "driver-root/usr/lib/x86_64-linux-gnu")
    os.makedirs(lib)
    shutil.copy(FAKE_LIB, os.path.join(lib, "libnvidia-ml.so.1"))
    shutil.copy(os.path.join(PROFILES, PROFILE + ".yaml"),
                os.path.join(root, "driver-root/profile.yaml"))
    subprocess.run([MAKE_SYSFS, os.path.join(PROFILES, PROFILE + ".yaml"),
                    os.path.join(root, "tmp/sys")], check=True)


def start_kubelet(root):
    kdir = os.path.join(root, "var/lib/kubelet/device-plugins")
    control = os.path.join(WORKDIR, "control.sock")
    log = open(os.path.join(WORKDIR, "kubelet.log"), "a")
    k = subprocess.Popen([STANDIN, "--dir", kdir, "--control", control],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    if k.stdout.readline().strip() != "ready":
        raise AssertionError("stand-in did not start")
    return k, control


def run_image(root, process, args, log_name):
    """chroot into the tree in new mount and PID namespaces, /proc
    mounted there; the environment is the image's, plus the fake's
    profile (which a real driver does not need)."""
    env = {}
    for e in process["env"]:
        k, v = e.split("=", 1)
        env[k] = v
    env["FAKE_NVML_PROFILE"] = "/driver-root/profile.yaml"
    env["GDP_SYSFS_ROOT"] = "/tmp/sys"
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if SANITIZED and k in os.environ:
            env[k] = os.environ[k]
    log = open(os.path.join(WORKDIR, log_name), "w")
    return subprocess.Popen(
        [shutil.which("unshare"), "--mount", "--pid", "--fork", "--kill-child",
         "--mount-proc=" + os.path.join(root, "proc"),
         shutil.which("chroot"), root] + args, env=env, cwd="/",
        stdout=log, stderr=subprocess.STDOUT)


def plugin_pid(wrapper):
    """The process unshare forked: after chroot and the entrypoint's
    exec, the plugin itself (PID 1 of its namespace)."""
    for _ in range(100):
        try:
            with open("/proc/%d/task/%d/children" %
                      (wrapper.pid, wrapper.pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("unshare started no child")


def log_tail(name, n=8):
    with open(os.path.join(WORKDIR, name)) as f:
        return " | ".join(f.read().splitlines()[-n:])


def check_metrics(root, label):
    """The metrics endpoint at the image's /tmp/metrics.sock: the
    libraries it loads on demand are in the image."""
    path = os.path.join(root, "tmp/metrics.sock")
    for _ in range(100):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    try:
        conn = UnixHTTP(path)
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
    except OSError as e:
        resp, body = None, str(e)
    check(label + ": /metrics answers", resp is not None and
          resp.status == 200 and "gdp_build_info{" in body, body[:200])


def case(root, process, control, label, args, log_name, visible=None,
         metrics=False):
    """|visible|: what NVIDIA_VISIBLE_DEVICES should carry for the first
    GPU (its UUID unless the case sets another ID strategy). |metrics|:
    the plugin was given --metrics-address=/tmp/metrics.sock."""
    uuids = profile_uuids()
    visible = visible or uuids[0]
    w = run_image(root, process, args, log_name)
    try:
        r = call(control, "POST", "/wait", {
            "resource": RESOURCE, "allocatable": len(uuids),
            "timeout_ms": 20000})
        if not check(label + ": registers and lists %d GPUs" % len(uuids),
                     r.get("ok"), "node %s; log: %s" % (
                         json.dumps(r.get("node")), log_tail(log_name))):
            return
        res = call(control, "GET", "/node")["resources"][RESOURCE]
        check(label + ": capacity %d, connected" % len(uuids),
              res["capacity"] == len(uuids) and res["connected"], repr(res))
        a = call(control, "POST", "/allocate",
                 {"resource": RESOURCE, "devices": [uuids[0]]})
        check(label + ": Allocate answers",
              a.get("ok") and a["response"]["envs"].get(
                  "NVIDIA_VISIBLE_DEVICES") == visible, repr(a))
        exe = os.readlink("/proc/%d/exe" % plugin_pid(w))
        check(label + ": the plugin is the entrypoint's exec",
              exe.endswith("/usr/bin/gpu-device-plugin"), exe)
        log = open(os.path.join(WORKDIR, log_name)).read()
        check(label + ": NVML found in the driver root",
              "/driver-root/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"
              in log, log_tail(log_name))
        check(label + ": capabilities dropped, seccomp enforced",
              "No capabilities, no_new_privs; system-call filter: enforce"
              in log, log_tail(log_name))
        if metrics:
            check_metrics(root, label)
        os.kill(plugin_pid(w), signal.SIGTERM)
        rc = w.wait(timeout=20)
        check(label + ": exits 0 on SIGTERM", rc == 0,
              "rc %s; log: %s" % (rc, log_tail(log_name)))
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()


def main():
    preflight()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    os.makedirs(WORKDIR)
    out = build()
    tar = check_archive(out)
    check_size(out, LIMIT, "5 MB")
    root, process = unpack(tar, WORKDIR)
    check("unpacked entry point is /bin/entrypoint.sh",
          process["args"] == ["/bin/entrypoint.sh"], repr(process["args"]))
    check_tree(root)
    if CONFIG_MANAGER:
        # /proc mounted, as the sanitizers read their options and
        # LeakSanitizer the threads there.
        r = subprocess.run(
            [shutil.which("unshare"), "--mount", "--pid", "--fork",
             "--mount-proc=" + os.path.join(root, "proc"),
             shutil.which("chroot"), root, "/usr/bin/config-manager",
             "--help"], capture_output=True, text=True, env={})
        check("config-manager starts inside the image",
              r.returncode == 0 and "NODE_LABEL" in r.stdout,
              r.stderr[-300:])
    prepare(root)
    kubelet, control = start_kubelet(root)
    try:
        case(root, process, control, "GPU Operator's command",
             ["/bin/sh", "-c", "/bin/entrypoint.sh"], "operator.log")
        case(root, process, control, "image entry point with flags",
             process["args"] + ["--fail-on-init-error=true",
                                "--device-id-strategy=uuid",
                                "--metrics-address=/tmp/metrics.sock"],
             "daemonset.log", metrics=True)
        # The GPU Operator mounts its validations folder: the entrypoint
        # takes the driver validation's variables from driver-ready.
        vdir = os.path.join(root, "run/nvidia/validations")
        os.makedirs(vdir)
        with open(os.path.join(vdir, "driver-ready"), "w") as f:
            f.write("DEVICE_ID_STRATEGY=index\n")
        case(root, process, control, "variables from driver-ready",
             ["/bin/sh", "-c", "/bin/entrypoint.sh"], "validations.log",
             visible="0")
    finally:
        kubelet.terminate()
        kubelet.wait(timeout=10)
    print("%d failed" % len(FAILED))
    if not FAILED:
        shutil.rmtree(WORKDIR, ignore_errors=True)
    sys.exit(1 if FAILED else 0)


main()
