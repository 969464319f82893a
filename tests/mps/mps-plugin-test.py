#!/usr/bin/python3
"""MPS readiness gating through the real plugin and the kubelet stand-in.

The plugin serves NVIDIA's MPS example (ten replicas per GPU) under an
MPS root in a temporary folder; beside it runs the real
`gpu-device-plugin mps-control-daemon` on the same config file, with the
stand-in nvidia-cuda-mps-control (fake-mps-control.c). What is checked,
through the stand-in kubelet only:

- before the control daemon is ready, every replica is listed Unhealthy
  (allocatable 0) and Allocate is refused, naming the missing ready file;
- once it is ready, all are Healthy and Allocate gives the pipe
  directory;
- the MPS daemon dying: withdrawn (Unhealthy) at once, offered again when
  the control daemon has started it again;
- the control daemon killed with SIGKILL (its ready file left behind):
  withdrawn, since nobody holds the file; started again: offered;
- the control daemon stopped with SIGTERM: withdrawn.

Prints "ok - NAME" / "not ok - NAME: why", then "N passed, M failed".
Usage: mps-plugin-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
FAKE_CONTROL
"""

import importlib.util
import os
import signal
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.abspath(sys.argv[6])
sys.argv = sys.argv[:6]
_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(_HERE, "..", "plugin",
                                "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
GPU = "nvidia.com/gpu"
NC24 = "azure-nc24"
CONFIG = """version: v1
sharing:
  mps:
    resources:
    - name: nvidia.com/gpu
      replicas: 10
"""


class MpsNode(PT.Node):
    def __init__(self):
        super().__init__(NC24)
        self.root = os.path.join(self.tmp, "mps")
        self.config = os.path.join(self.tmp, "config.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        self.env["MPS_ROOT"] = self.root
        self.env.update(GDP_MPS_CONTROL=FAKE, GDP_NVIDIA_SMI=FAKE,
                        FAKE_MPS_RECORD=os.path.join(self.tmp, "record"),
                        GDP_MPS_PROBE_INTERVAL_MS="100")
        self.daemon = None

    def start_all(self):
        self.start_kubelet()
        self.start_plugin(["--config-file", self.config])

    def start_daemon(self):
        self.daemon = subprocess.Popen(
            [PT.PLUGIN, "mps-control-daemon", "--config-file",
             self.config], env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.tmp, "daemon.log"), "a"))

    def health(self):
        r = self.call("GET", "/node")["resources"].get(GPU)
        return {d["health"] for d in r["devices"]} if r else set()

    def fake_die(self):
        env = dict(self.env, CUDA_MPS_PIPE_DIRECTORY=os.path.join(
            self.root, GPU, "pipe"),
            FAKE_MPS_RECORD=os.path.join(self.tmp, "x"))
        subprocess.run([FAKE], input="die\n", text=True, env=env,
                       check=True)

    def close(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        pid = os.path.join(self.root, GPU, "pipe", "fake-mps.pid")
        try:
            with open(pid) as f:
                os.kill(int(f.read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        super().close()


def uuid0():
    return PT.profile_uuids(NC24)[0]


def allocate(node):
    return node.call("POST", "/allocate", {"resource": GPU,
                                           "devices": [uuid0() + "::3"]})


def case_withheld_until_ready(node):
    node.start_all()
    node.wait(resource=GPU, capacity=40, allocatable=0)
    assert node.health() == {"Unhealthy"}, node.health()
    bad = allocate(node)
    assert not bad["ok"] and ".ready" in bad["message"], bad
    node.start_daemon()
    node.wait(resource=GPU, allocatable=40)
    assert node.health() == {"Healthy"}
    r = allocate(node)
    assert r["ok"] and PT.envs_of(r)["CUDA_MPS_PIPE_DIRECTORY"] == \
        "/mps/nvidia.com/gpu/pipe", r


def case_mps_daemon_dies(node):
    node.start_all()
    node.start_daemon()
    node.wait(resource=GPU, allocatable=40)
    node.fake_die()
    node.wait(resource=GPU, allocatable=0)
    node.wait(resource=GPU, allocatable=40)
    assert allocate(node)["ok"]


def case_control_daemon_killed(node):
    node.start_all()
    node.start_daemon()
    node.wait(resource=GPU, allocatable=40)
    node.daemon.kill()
    node.daemon.wait()
    node.wait(resource=GPU, allocatable=0)
    assert os.path.exists(os.path.join(node.root, GPU, ".ready"))
    bad = allocate(node)
    assert not bad["ok"] and "gone" in bad["message"], bad
    node.start_daemon()
    node.wait(resource=GPU, allocatable=40)


def case_control_daemon_stopped(node):
    node.start_all()
    node.start_daemon()
    node.wait(resource=GPU, allocatable=40)
    node.daemon.send_signal(signal.SIGTERM)
    assert node.daemon.wait(timeout=20) == 0
    node.wait(resource=GPU, allocatable=0)
    assert not os.path.exists(os.path.join(node.root, GPU, ".ready"))


CASES = [
    ("MPS replicas withheld until the control daemon is ready",
     case_withheld_until_ready),
    ("the MPS daemon dies: withdrawn, then offered again",
     case_mps_daemon_dies),
    ("the control daemon killed: its stale ready file is not ready",
     case_control_daemon_killed),
    ("the control daemon stopped: withdrawn", case_control_daemon_stopped),
]


def main():
    only = os.environ.get("GDP_CASE")
    passed = failed = 0
    for name, fn in CASES:
        if only and only != name:
            continue
        node = MpsNode()
        try:
            fn(node)
            print("ok - " + name)
            passed += 1
        except Exception as e:  # pylint: disable=broad-except
            print("not ok - %s: %r" % (name, e))
            failed += 1
        finally:
            node.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
