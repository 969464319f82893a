#!/usr/bin/python3
"""`gpu-device-plugin mps-control-daemon` against a stand-in control tool.

The real binary runs on the fake NVML (a profile's GPUs) with
GDP_MPS_CONTROL and GDP_NVIDIA_SMI pointing at fake-mps-control, which
records every call (fake-mps-control.c). What is checked, through the
record, the MPS root on disk, the log and the exit status:

- per GPU: EXCLUSIVE_PROCESS, then `-d` with CUDA_MPS_PIPE_DIRECTORY and
  CUDA_MPS_LOG_DIRECTORY under <mps-root>/<resource>/, the pinned memory
  limit (memory / replicas, in MiB, per GPU UUID, per-GPU replica
  counts) and the active thread percentage (100 / replicas); the ready
  file written, locked while the daemon runs;
- a daemon that dies: the ready file removed, the daemon started again;
  starts that fail are retried after 1 s, 2 s, 4 s;
- SIGTERM: `quit` to every daemon, ready files removed, DEFAULT compute
  mode, exit 0; SIGHUP with new replicas: the daemon restarted with the
  new limits; a daemon left from before is quit first;
- bad configs: exit 1 and the key and the device named.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". GDP_CASE=NAME runs one case. Usage: mps-daemon-test.py PLUGIN
FAKE_CONTROL FAKE_LIB_DIR PROFILES
"""

import fcntl
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import yaml

PLUGIN, FAKE, FAKE_LIB_DIR, PROFILES = sys.argv[1:5]
PROFILE = "a100-pcie-4x"
MEM_MIB = 40536
WAIT_S = 30


def profile_uuids(profile):
    out = []
    with open(os.path.join(PROFILES, profile + ".yaml")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("uuid: GPU-"):
                out.append(line.split()[1])
    return out


def wait_for(what, fn, timeout=WAIT_S):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Node:
    def __init__(self, config, profile=PROFILE, env=None):
        self.tmp = tempfile.mkdtemp(prefix="gdp-mps-")
        self.root = os.path.join(self.tmp, "mps")
        self.record = os.path.join(self.tmp, "record")
        self.config = os.path.join(self.tmp, "config.yaml")
        self.log = os.path.join(self.tmp, "daemon.log")
        self.write_config(config)
        self.env = dict(os.environ, LD_LIBRARY_PATH=FAKE_LIB_DIR,
                        FAKE_NVML_PROFILE=os.path.join(
                            PROFILES, profile + ".yaml"),
                        GDP_MPS_CONTROL=FAKE, GDP_NVIDIA_SMI=FAKE,
                        FAKE_MPS_RECORD=self.record,
                        GDP_MPS_PROBE_INTERVAL_MS="100")
        self.env.update(env or {})
        self.proc = None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def dir(self, resource="nvidia.com/gpu"):
        return os.path.join(self.root, resource)

    def ready(self, resource="nvidia.com/gpu"):
        return os.path.exists(os.path.join(self.dir(resource), ".ready"))

    def start(self, extra=()):
        self.proc = subprocess.Popen(
            [PLUGIN, "mps-control-daemon", "--config-file", self.config,
             "--mps-root", self.root] + list(extra),
            env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "a"))
        return self.proc

    def run(self, extra=()):
        """Runs to its exit; (status, stderr)."""
        p = subprocess.run(
            [PLUGIN, "mps-control-daemon", "--config-file", self.config,
             "--mps-root", self.root] + list(extra),
            env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, timeout=WAIT_S)
        return p.returncode, p.stderr

    def lines(self, prefix=""):
        try:
            with open(self.record) as f:
                return [l.rstrip("\n") for l in f if l.startswith(prefix)
                        and "get_default_active_thread_percentage"
                        not in l]
        except FileNotFoundError:
            return []

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def fake(self, command, resource="nvidia.com/gpu"):
        env = dict(self.env, FAKE_MPS_RECORD=os.path.join(self.tmp, "x"),
                   CUDA_MPS_PIPE_DIRECTORY=os.path.join(
                       self.dir(resource), "pipe"))
        subprocess.run([FAKE], input=command + "\n", text=True, env=env,
                       check=True)

    def fake_pid(self, resource="nvidia.com/gpu"):
        try:
            with open(os.path.join(self.dir(resource), "pipe",
                                   "fake-mps.pid")) as f:
                return int(f.read())
        except FileNotFoundError:
            return 0

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for dirpath, _, files in os.walk(self.root):
            if "fake-mps.pid" in files:
                with open(os.path.join(dirpath, "fake-mps.pid")) as f:
                    try:
                        os.kill(int(f.read()), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def mps_config(replicas=4, resources=None, rename=False):
    """A config file's text: sharing.mps with |resources| (dicts), or
    nvidia.com/gpu on every GPU with |replicas|."""
    mps = {"resources": resources or [
        {"name": "nvidia.com/gpu", "replicas": replicas}]}
    if rename:
        mps["renameByDefault"] = True
    return yaml.safe_dump({"version": "v1", "sharing": {"mps": mps}})


def gpu(replicas, devices):
    return {"name": "nvidia.com/gpu", "replicas": replicas,
            "devices": devices}


def limits_of(node):
    return {l.split()[3]: l.split()[4] for l in node.lines("cmd")
            if "set_default_device_pinned_mem_limit" in l}


def case_limits_and_dirs(node):
    uuids = profile_uuids(PROFILE)
    node.start()
    wait_for("the ready file", node.ready)
    pipe = os.path.join(node.dir(), "pipe")
    log = os.path.join(node.dir(), "log")
    smi = node.lines("smi")
    assert smi == ["smi %s EXCLUSIVE_PROCESS" % u for u in uuids], smi
    starts = node.lines("start")
    assert starts == ["start %s %s" % (pipe, log)], starts
    # The containers' /dev/shm (Allocate mounts <root>/shm) is made,
    # open to every client like /dev/shm.
    shm = os.stat(os.path.join(node.root, "shm"))
    assert stat.S_IMODE(shm.st_mode) == 0o1777, oct(shm.st_mode)
    want = {u: "%dM" % (MEM_MIB // 4) for u in uuids}
    assert limits_of(node) == want, limits_of(node)
    assert "cmd %s set_default_active_thread_percentage 25" % pipe in \
        node.lines("cmd"), node.lines("cmd")
    # Every limit before the ready file: the last command is the
    # percentage, and the ready file holds the daemon's pid.
    assert node.lines()[-1].endswith("percentage 25"), node.lines()
    with open(os.path.join(node.dir(), ".ready")) as f:
        text = f.read()
    assert "pid %d" % node.proc.pid in text, text
    # Locked while the daemon runs.
    with open(os.path.join(node.dir(), ".ready")) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            raise AssertionError("the ready file is not locked")
        except BlockingIOError:
            pass


def case_per_gpu_replicas(node):
    uuids = profile_uuids(PROFILE)
    node.write_config(mps_config(resources=[
        gpu(2, [0, 1]), gpu(5, [uuids[2], uuids[3]])]))
    node.start()
    wait_for("the ready file", node.ready)
    want = {uuids[0]: "%dM" % (MEM_MIB // 2),
            uuids[1]: "%dM" % (MEM_MIB // 2),
            uuids[2]: "%dM" % (MEM_MIB // 5),
            uuids[3]: "%dM" % (MEM_MIB // 5)}
    assert limits_of(node) == want, limits_of(node)
    # One daemon for the resource: its default share is the smallest.
    pct = [l for l in node.lines("cmd") if "percentage" in l]
    assert len(pct) == 1 and pct[0].endswith(" 20"), pct
    assert len(node.lines("start")) == 1, node.lines("start")


def case_count_and_rename(node):
    uuids = profile_uuids(PROFILE)
    node.write_config(mps_config(rename=True, resources=[gpu(3, 2)]))
    node.start()
    wait_for("the ready file", lambda: node.ready("nvidia.com/gpu.shared"))
    assert sorted(limits_of(node)) == sorted(uuids[:2]), limits_of(node)
    assert node.lines("smi") == ["smi %s EXCLUSIVE_PROCESS" % u
                                 for u in uuids[:2]], node.lines("smi")


def case_restart_after_death(node):
    node.start()
    wait_for("the ready file", node.ready)
    first = node.fake_pid()
    node.fake("die")
    wait_for("the ready file to go", lambda: not node.ready())
    wait_for("the ready file again", node.ready)
    assert node.fake_pid() not in (0, first)
    assert len(node.lines("start")) == 2, node.lines("start")
    assert len([l for l in node.lines("cmd") if "percentage 25" in l]) \
        == 2, node.lines("cmd")
    log = node.logtext()
    assert "stopped answering" in log and "starting again in 1 s" in log, \
        log


def case_backoff_doubles(node):
    fails = os.path.join(node.tmp, "fails")
    with open(fails, "w") as f:
        f.write("3\n")
    node.env["FAKE_MPS_FAIL_STARTS"] = fails
    node.start()
    wait_for("the ready file", node.ready)
    log = node.logtext()
    delays = [l.split("starting again in ")[1] for l in log.splitlines()
              if "starting again in" in l]
    assert delays == ["1 s", "2 s", "4 s"], delays
    assert len(node.lines("start")) == 4, node.lines("start")


def case_sigterm_quits_all(node):
    uuids = profile_uuids(PROFILE)
    node.write_config(mps_config(resources=[gpu(2, [0, 1])]))
    node.start()
    wait_for("the ready file", node.ready)
    pid = node.fake_pid()
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(timeout=WAIT_S) == 0
    assert not node.ready()
    pipe = os.path.join(node.dir(), "pipe")
    assert node.lines()[-3:] == [
        "cmd %s quit" % pipe, "smi %s DEFAULT" % uuids[0],
        "smi %s DEFAULT" % uuids[1]], node.lines()
    wait_for("the MPS daemon to end", lambda: not os.path.exists(
        "/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2]
        == "Z")


def case_sighup_new_limits(node):
    node.write_config(mps_config(replicas=2))
    node.start()
    wait_for("the ready file", node.ready)
    node.write_config(mps_config(replicas=8))
    node.proc.send_signal(signal.SIGHUP)
    wait_for("the new limits", lambda: any(
        l.endswith("percentage 12") for l in node.lines("cmd")))
    wait_for("the ready file", node.ready)
    lines = node.lines()
    quit_at = [i for i, l in enumerate(lines) if l.endswith(" quit")]
    assert len(quit_at) == 1 and quit_at[0] < [
        i for i, l in enumerate(lines) if l.startswith("start")][1], lines
    assert set(limits_of(node).values()) == {"%dM" % (MEM_MIB // 8)}
    # The same config again: nothing restarts.
    n = len(node.lines())
    node.proc.send_signal(signal.SIGHUP)
    wait_for("the reload", lambda: node.logtext().count("SIGHUP") == 2)
    time.sleep(0.3)
    assert len(node.lines()) == n, node.lines()[n:]


def case_leftover_daemon_quit(node):
    pipe = os.path.join(node.dir(), "pipe")
    os.makedirs(pipe)
    env = dict(node.env, CUDA_MPS_PIPE_DIRECTORY=pipe,
               FAKE_MPS_RECORD=os.path.join(node.tmp, "x"))
    subprocess.run([FAKE, "-d"], env=env, check=True)
    old = node.fake_pid()
    node.start()
    wait_for("the ready file", node.ready)
    assert node.fake_pid() not in (0, old)
    assert "a daemon from before" in node.logtext()
    assert node.lines()[0] == "cmd %s quit" % pipe, node.lines()


def bad(config, *want, extra=(), profile=None):
    def case(node):
        node.write_config(config)
        if profile:
            node.env["FAKE_NVML_PROFILE"] = os.path.join(
                PROFILES, profile + ".yaml")
        rc, err = node.run(extra)
        assert rc == 1, (rc, err)
        for w in want:
            assert w in err, (w, err)
        assert node.lines() == [], node.lines()
    return case


CASES = [
    ("limits, directories and the ready file", case_limits_and_dirs),
    ("per-GPU replica counts", case_per_gpu_replicas),
    ("a count of devices, renamed by default", case_count_and_rename),
    ("a daemon that dies is started again", case_restart_after_death),
    ("failed starts back off 1 s, 2 s, 4 s", case_backoff_doubles),
    ("SIGTERM quits every daemon", case_sigterm_quits_all),
    ("SIGHUP applies new replicas", case_sighup_new_limits),
    ("a daemon left from before is quit", case_leftover_daemon_quit),
    ("bad config: a GPU index not on the node", bad(mps_config(
        resources=[gpu(2, [7])]),
        "sharing.mps.resources[0].devices: no matching device at index: "
        "7")),
    ("bad config: more devices than the node has", bad(mps_config(
        resources=[gpu(2, 9)]), "requested 9 devices to be replicated, "
        "but only 4 devices")),
    ("bad config: a GPU in two entries", bad(mps_config(
        resources=[gpu(2, [1]), gpu(3, [1])]),
        "sharing.mps.resources[1].devices: GPU 1", "already shared by ",
        "sharing.mps.resources[0]")),
    ("bad config: replicas 1", bad(mps_config(replicas=1),
                                   "number of replicas must be >= 2")),
]


def main():
    only = os.environ.get("GDP_CASE")
    passed = failed = 0
    for name, fn in CASES:
        if only and only != name:
            continue
        node = Node(mps_config())
        try:
            fn(node)
            print("ok - " + name)
            passed += 1
        except Exception as e:  # pylint: disable=broad-except
            print("not ok - %s: %r" % (name, e))
            try:
                print("# log:\n# " + node.logtext().replace("\n", "\n# "))
            except OSError:
                pass
            failed += 1
        finally:
            node.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
