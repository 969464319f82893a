#!/usr/bin/env python3
"""e2e-test.py: the config-manager and the real plugin, as the chart's pod
runs them.

The fake API server of configmgr-test.py serves the node; the plugin runs
against the fake NVML and the kubelet stand-in (the plugin tests' node,
tests/plugin/run-plugin-tests.py) with CONFIG_FILE pointing at the link
the config-manager keeps. First the init container's run (ONESHOT, no
signal) sets the link, then the plugin starts, then the sidecar follows
the label: relabelling the node from a config with the uuid device ID
strategy to one with index must change the kubelet's Allocate answers
(NVIDIA_VISIBLE_DEVICES=GPU-... becomes the GPU's index), and back. The plugin runs from a copy under a name of its own, given as
PROCESS_TO_SIGNAL, so that no other plugin on this machine gets the
signal (this test shares the machine's PID namespace).

Usage: e2e-test.py CONFIG_MANAGER PLUGIN STANDIN FAKE_LIB_DIR PROFILES
    MAKE_SYSFS
Exits 77 (skipped) without openssl.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name, path, argv):
    saved = sys.argv
    sys.argv = argv
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.argv = saved
    return mod


CM = os.path.abspath(sys.argv[1])
PT = load("plugintests", os.path.join(HERE, "../plugin/run-plugin-tests.py"),
          [sys.argv[0]] + sys.argv[2:7])
FX = load("cmtests", os.path.join(HERE, "configmgr-test.py"), [sys.argv[0]])
PROFILE = "azure-nc24"

UUID = "version: v1\nflags:\n  plugin:\n    deviceIDStrategy: uuid\n"
INDEX = "version: v1\nflags:\n  plugin:\n    deviceIDStrategy: index\n"


def manager(fx, src, dst, name, env):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "KUBERNETES_SERVICE_HOST": "127.0.0.1",
         "KUBERNETES_SERVICE_PORT": str(fx.port),
         "SERVICEACCOUNT_DIR": fx.sa, "NODE_NAME": FX.NODE,
         "CONFIG_FILE_SRCDIR": src, "CONFIG_FILE_DST": dst,
         "PROCESS_TO_SIGNAL": name}
    e.update(env)
    log = open(os.path.join(fx.tmp, "cm-%s.log" % env.get("ONESHOT", "no")),
               "w")
    return subprocess.Popen([CM], env=e, stderr=log)


def visible(node, gpu):
    return PT.envs_of(node.allocate([gpu])).get("NVIDIA_VISIBLE_DEVICES")


def wait_until(cond, what, timeout=15):
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out waiting for " + what
        time.sleep(0.1)


def run(fx, node):
    src = os.path.join(fx.tmp, "available-configs")
    os.mkdir(src)
    for n, text in (("by-uuid", UUID), ("by-index", INDEX)):
        with open(os.path.join(src, n), "w") as f:
            f.write(text)
    dst = os.path.join(fx.tmp, "config", "config.yaml")
    os.mkdir(os.path.dirname(dst))
    name = "gdp-e2e-plugin-%d" % os.getpid()
    PT.PLUGIN = os.path.join(fx.tmp, name)
    shutil.copy(sys.argv[2], PT.PLUGIN)

    fx.api.set_label("by-uuid", push=False)
    init = manager(fx, src, dst, name, {"ONESHOT": "true",
                                        "SEND_SIGNAL": "false"})
    assert init.wait(timeout=10) == 0, "the init run failed"
    assert os.readlink(dst) == os.path.join(src, "by-uuid"), \
        os.readlink(dst)
    print("ok - init container: link set before the plugin starts")

    node.env["CONFIG_FILE"] = dst
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=4, registrations_at_least=1)
    gpu = PT.profile_uuids(PROFILE)[1]
    assert visible(node, gpu) == gpu, visible(node, gpu)
    print("ok - the plugin serves the linked config: IDs by UUID")

    side = manager(fx, src, dst, name, {})
    try:
        time.sleep(0.5)
        fx.api.set_label("by-index")
        wait_until(lambda: visible(node, gpu) == "1", "index answers")
        PT.wait_for_log(node, "Received SIGHUP")
        print("ok - label by-index: the sidecar relinks and signals, the "
              "plugin answers with the index")
        fx.api.set_label("by-uuid")
        wait_until(lambda: visible(node, gpu) == gpu, "UUID answers")
        print("ok - label back to by-uuid: UUIDs again")
        assert side.poll() is None, "the sidecar exited"
    finally:
        side.kill()
        side.wait()


def main():
    if shutil.which("openssl") is None:
        print("SKIP: openssl not found")
        return 77
    tmp = tempfile.mkdtemp(prefix="gdp-cm-e2e-")
    node = PT.Node(PROFILE)
    try:
        fx = FX.Fixture(CM, tmp)
        run(fx, node)
    except Exception as e:  # noqa: BLE001 - report any failure
        print("not ok - %s" % (str(e) or type(e).__name__))
        print("# plugin: %s" % node.log_tail(10))
        for f in sorted(os.listdir(tmp)):
            if f.startswith("cm-"):
                print("# %s: %s" % (f, open(os.path.join(tmp, f)).read()))
        return 1
    finally:
        node.close()
        if "fx" in locals():
            fx.api.events.put(None)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
