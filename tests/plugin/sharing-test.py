#!/usr/bin/python3
"""GPU sharing by replicas, end to end (docs/sharing.md).

The real plugin runs with a config file's sharing section against the
fake NVML and the kubelet stand-in (the plugin tests' Node,
run-plugin-tests.py). What is checked, through the stand-in and the
plugin's exit status and log only:

- NVIDIA's documented examples (time-slicing, renamed, MPS, mixed MIG):
  the resources registered, ids <uuid>::<n> from 0 with the GPU's NUMA
  node, Allocate giving the GPU (once) and, for MPS, the pipe directory
  and /dev/shm under --mps-root;
- failRequestsGreaterThanOne: NVIDIA's error text and gRPC code 2;
- per-GPU replica counts from the `devices` field (several entries for
  one resource, indices, MIG indices, UUIDs), devices not shared kept
  with their plain ids, and two entries sharing one device refused
  naming both config lines;
- the kubelet's 4 MiB message limit: a config past it refused at start
  (exit 1) and at a reload (the old config kept), naming the resource,
  the size and the limit;
- the largest list the bound lets through, every device Unhealthy,
  received by grpc-go (the stand-in, as the kubelet) without a
  disconnect;
- reloads that change the replica count (no new registration), rename
  the resource (the old one stopped) and end sharing;
- GetPreferredAllocation by each --shared-devices-allocation-policy,
  distributed-strict never giving two replicas of one GPU while others
  are free;
- an XID on a GPU marking all its replicas in one ListAndWatch message,
  and recovery restoring exactly those;
- `gpu-device-plugin list` showing the shared resources.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: sharing-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES
MAKE_SYSFS
"""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import yaml

_HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(_HERE, "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
EXAMPLES = os.path.join(_HERE, "..", "config", "examples")
MAKE_PROC = os.path.join(os.path.dirname(os.path.abspath(PT.MAKE_SYSFS)),
                         "make-proc.sh")
GPU = "nvidia.com/gpu"
SHARED = "nvidia.com/gpu.shared"
NC24 = "azure-nc24"
HEALTH_ARGS = ["--health-probe-interval=100ms",
               "--health-recovery-quiet=1s"]
LIMIT = 4 * 1024 * 1024


def gpus_of(profile):
    with open(os.path.join(PT.PROFILES, profile + ".yaml")) as f:
        return yaml.safe_load(f)["gpus"]


def config(node, text, name="config.yaml"):
    path = os.path.join(node.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return f.read()


def start(node, text, extra=()):
    """Starts the stand-in and the plugin with |text| as its config."""
    node.start_kubelet()
    node.start_plugin(["--config-file", config(node, text)] + list(extra))


def log_of(node):
    with open(node.plugin_log) as f:
        return f.read()


def devices(node, resource):
    """[(id, health, numa)] of |resource| as the stand-in holds it."""
    r = node.call("GET", "/node")["resources"].get(resource)
    assert r is not None, node.call("GET", "/node")
    return [(d["id"], d["health"], d["numa"]) for d in r["devices"]]


def replica_ids(uuid, n):
    return ["%s::%d" % (uuid, i) for i in range(n)]


def allocate(node, resource, ids):
    return node.call("POST", "/allocate",
                     {"resource": resource, "devices": ids})


def preferred(node, resource, available, size, must=()):
    r = node.call("POST", "/preferred", {
        "resource": resource, "available": available,
        "must_include": list(must), "size": size})
    assert r["ok"], r
    return r["response"]["container_responses"][0]["deviceIDs"]


def wait_exit(node, timeout=20):
    try:
        return node.plugin.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return "still running"


# ---- NVIDIA's examples ---------------------------------------------------

def case_time_slicing_example(node):
    start(node, example("time-slicing.yaml"))
    gpus = gpus_of(NC24)
    node.wait(resource=GPU, allocatable=40)
    got = devices(node, GPU)
    want = [i for g in gpus for i in replica_ids(g["uuid"], 10)]
    assert [d[0] for d in got] == want, got
    numa = {g["uuid"]: g.get("numa_node") for g in gpus}
    assert all(d[2] == numa[d[0].split("::")[0]] for d in got), got
    assert all(d[1] == "Healthy" for d in got), got
    text = node.call("GET", "/describe")
    assert "nvidia.com/gpu:  40" in text, text
    # Two replicas of GPU 2 and one of GPU 0: those GPUs, each once, in
    # request order; more than one replica is fine without the flag.
    u = [g["uuid"] for g in gpus]
    r = allocate(node, GPU, [u[2] + "::7", u[0] + "::0", u[2] + "::3"])
    assert PT.envs_of(r) == {"NVIDIA_VISIBLE_DEVICES": u[2] + "," + u[0]}, r
    bad = allocate(node, GPU, [u[2] + "::10"])
    assert not bad["ok"] and "unknown device: %s::10" % u[2] in \
        bad["message"], bad


def case_time_slicing_renamed_refuses_two(node):
    start(node, example("time-slicing-renamed.yaml"))
    node.wait(resource=SHARED, allocatable=40)
    assert "nvidia-gpu.shared.sock" in os.listdir(node.dir)
    assert "nvidia-gpu.sock" not in os.listdir(node.dir)
    assert GPU not in node.call("GET", "/node")["resources"]
    u = [g["uuid"] for g in gpus_of(NC24)]
    bad = allocate(node, SHARED, [u[0] + "::0", u[1] + "::0"])
    assert not bad["ok"] and bad["code"] == 2, bad
    assert bad["message"] == (
        'invalid allocation request for "nvidia.com/gpu.shared": invalid '
        'request: maximum request size for shared resources is 1; found 2'
    ), bad
    # As the kubelet admits a pod asking for 2: refused the same way.
    pod = node.call("POST", "/allocate-pod", {"resource": SHARED,
                                              "count": 2})
    assert not pod["ok"] and "maximum request size for shared resources "\
        "is 1; found 2" in pod["message"], pod
    one = allocate(node, SHARED, [u[3] + "::9"])
    assert PT.envs_of(one)["NVIDIA_VISIBLE_DEVICES"] == u[3], one


def hold_ready(directory):
    """A ready file held as the MPS control daemon holds it (mps/ready.h):
    made, locked, renamed in; the lock lives while the file is open."""
    import fcntl
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, ".ready.tmp")
    f = open(tmp, "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    os.rename(tmp, os.path.join(directory, ".ready"))
    return f


def case_mps_example(node):
    root = os.path.join(node.tmp, "mps")
    node.env["MPS_ROOT"] = root
    # The plugin offers MPS replicas only while their control daemon is
    # ready (tests/mps/mps-plugin-test.py has the rest).
    ready = hold_ready(os.path.join(root, GPU))
    start(node, example("mps.yaml"), ["--pass-device-specs"])
    node.wait(resource=GPU, allocatable=40)
    u = [g["uuid"] for g in gpus_of(NC24)]
    r = allocate(node, GPU, [u[1] + "::4"])
    envs = PT.envs_of(r)
    assert envs["CUDA_MPS_PIPE_DIRECTORY"] == "/mps/nvidia.com/gpu/pipe", r
    assert envs["NVIDIA_VISIBLE_DEVICES"] == u[1], r
    mounts = [(m["container_path"], m["host_path"])
              for m in r["response"]["mounts"]]
    assert mounts == [
        ("/mps/nvidia.com/gpu/pipe", root + "/nvidia.com/gpu/pipe"),
        ("/dev/shm", root + "/shm")], mounts
    gpu_nodes = PT.gpu_specs(r)
    minor = gpus_of(NC24)[1]["minor_number"]
    assert gpu_nodes == [("/dev/nvidia%d" % minor, "/dev/nvidia%d" % minor,
                          "rw")], gpu_nodes
    # MPS fails requests for more than one replica unless told not to.
    bad = allocate(node, GPU, [u[1] + "::4", u[1] + "::5"])
    assert not bad["ok"] and bad["code"] == 2 and \
        "maximum request size for shared resources is 1; found 2" in \
        bad["message"], bad
    log = log_of(node)
    assert "not applied yet" not in log and "not served yet" not in log, log
    ready.close()


def case_mps_needs_mps_root(node):
    start(node, example("mps.yaml"))
    assert wait_exit(node) == 1
    assert "using MPS requires --mps-root to be specified" in log_of(node)


def mig_node(profile):
    node = PT.Node(profile)
    proc = os.path.join(node.tmp, "proc")
    subprocess.run([MAKE_PROC, os.path.join(PT.PROFILES, profile + ".yaml"),
                    proc], check=True)
    node.plugin_args = ["--proc-root", proc]
    return node


def mixed_expected(profile, replicas):
    """{resource: [ids]} under mixed with |replicas| per resource name."""
    want = {}
    for i, g in enumerate(gpus_of(profile)):
        if g.get("mig_mode") != "enabled":
            want.setdefault(GPU, []).append(g["uuid"])
            continue
        for m in g.get("mig_devices") or []:
            name = "nvidia.com/mig-" + m["profile"].replace("+", ".")
            want.setdefault(name, []).append(m["uuid"])
    return {name: [r for u in ids for r in (
        replica_ids(u, replicas[name]) if name in replicas else [u])]
        for name, ids in want.items()}


def case_mig_mixed_example(node):
    profile = "a100-sxm4-40gb-mig"
    start(node, example("mig-mixed-time-slicing.yaml"))
    reps = {GPU: 2, "nvidia.com/mig-1g.5gb": 2, "nvidia.com/mig-2g.10gb": 2,
            "nvidia.com/mig-3g.20gb": 3, "nvidia.com/mig-7g.40gb": 7}
    want = mixed_expected(profile, reps)
    for name, ids in want.items():
        node.wait(resource=name, allocatable=len(ids), connected=True)
    for name, ids in want.items():
        assert [d[0] for d in devices(node, name)] == ids, name
    # A MIG replica's Allocate: its MIG device.
    ids = want["nvidia.com/mig-1g.5gb"]
    r = allocate(node, "nvidia.com/mig-1g.5gb", [ids[1]])
    assert PT.envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == \
        ids[1].split("::")[0], r


def case_mig_indices_shared(node):
    profile = "a100-sxm4-40gb-mig"
    gpus = gpus_of(profile)
    # GPU 0's MIG devices 2 and 3 are 1g.5gb (GPU 1's 2 and 3 too).
    start(node, "flags: {migStrategy: mixed}\nsharing:\n  timeSlicing:\n"
          "    resources:\n    - name: nvidia.com/mig-1g.5gb\n"
          "      rename: nvidia.com/small\n      replicas: 3\n"
          "      devices: ['0:3', '1:2']\n")
    node.wait(resource="nvidia.com/small", allocatable=6)
    g0, g1 = gpus[0]["mig_devices"], gpus[1]["mig_devices"]
    assert [d[0] for d in devices(node, "nvidia.com/small")] == \
        replica_ids(g0[3]["uuid"], 3) + replica_ids(g1[2]["uuid"], 3)
    node.wait(resource="nvidia.com/mig-1g.5gb", allocatable=2)
    assert [d[0] for d in devices(node, "nvidia.com/mig-1g.5gb")] == \
        [g0[2]["uuid"], g1[3]["uuid"]]


# ---- the devices field ---------------------------------------------------

PER_GPU = """\
version: v1
sharing:
  timeSlicing:
    resources:
    - name: nvidia.com/gpu
      replicas: 2
      devices: [0]
    - name: nvidia.com/gpu
      replicas: 8
      devices: [1, 2, %s]
"""


def case_per_gpu_counts(node):
    u = [g["uuid"] for g in gpus_of(NC24)]
    start(node, PER_GPU % u[3])
    node.wait(resource=GPU, allocatable=2 + 3 * 8)
    want = replica_ids(u[0], 2) + [i for x in u[1:] for i in
                                   replica_ids(x, 8)]
    assert [d[0] for d in devices(node, GPU)] == want


def case_unshared_keep_plain_ids(node):
    # The first two GPUs shared (renamed), the other two as they are.
    start(node, "sharing:\n  timeSlicing:\n    renameByDefault: true\n"
          "    resources:\n    - name: nvidia.com/gpu\n      replicas: 4\n"
          "      devices: 2\n")
    u = [g["uuid"] for g in gpus_of(NC24)]
    node.wait(resource=SHARED, allocatable=8)
    node.wait(resource=GPU, allocatable=2)
    assert [d[0] for d in devices(node, GPU)] == u[2:]
    assert [d[0] for d in devices(node, SHARED)] == \
        replica_ids(u[0], 4) + replica_ids(u[1], 4)
    r = allocate(node, GPU, [u[2], u[3]])
    assert PT.envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == u[2] + "," + u[3]


def case_overlap_names_both_lines(node):
    u = [g["uuid"] for g in gpus_of(NC24)]
    start(node, PER_GPU % u[0])
    assert wait_exit(node) == 1
    log = log_of(node)
    assert "config.yaml:10:16: sharing.timeSlicing.resources[1].devices: " \
        "GPU 0 (%s) of nvidia.com/gpu is already shared by " % u[0] in log \
        and "config.yaml:5:7: sharing.timeSlicing.resources[0]: a device " \
        "can be shared by one entry only" in log, log


def case_unknown_index_refused(node):
    start(node, PER_GPU % "7")
    assert wait_exit(node) == 1
    assert "sharing.timeSlicing.resources[1].devices: no matching device " \
        "at index: 7 (among the 4 devices of nvidia.com/gpu)" in \
        log_of(node), log_of(node)


# ---- the kubelet's 4 MiB ---------------------------------------------------

def over_limit(replicas=20000):
    return ("sharing:\n  timeSlicing:\n    resources:\n"
            "    - name: nvidia.com/gpu\n      replicas: %d\n" % replicas)


def check_limit_message(log):
    line = [ln for ln in log.splitlines() if "ListAndWatch message" in ln]
    assert line, log
    assert "resource nvidia.com/gpu: its ListAndWatch message would be " \
        in line[0] and "over the kubelet's limit of %d bytes (4 MiB)" % \
        LIMIT in line[0], line
    size = int(line[0].split("would be ")[1].split()[0])
    assert size > LIMIT, line


def case_4mib_refused_at_start(node):
    start(node, over_limit())
    assert wait_exit(node) == 1
    check_limit_message(log_of(node))


def case_4mib_refused_at_reload(node):
    start(node, over_limit(2))
    node.wait(resource=GPU, allocatable=8)
    config(node, over_limit())
    node.plugin.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "Reload refused" not in log_of(node):
        assert time.monotonic() < deadline, node.log_tail()
        time.sleep(0.05)
    check_limit_message(log_of(node))
    assert node.plugin.poll() is None
    assert len(devices(node, GPU)) == 8
    assert allocate(node, GPU, [devices(node, GPU)[0][0]])["ok"]


def case_reload_changes_replicas(node):
    # What the config manager does: a new config in place, the plugin
    # told (here by the file's own change). More replicas: the same
    # resource relisted, not registered again; a rename: the new name
    # served, the old one stopped.
    start(node, over_limit(2))
    node.wait(resource=GPU, allocatable=8)
    regs = node.call("GET", "/node")["registrations"]
    config(node, over_limit(5))
    node.wait(resource=GPU, allocatable=20)
    assert node.call("GET", "/node")["registrations"] == regs
    config(node, example("time-slicing-renamed.yaml"))
    node.wait(resource=SHARED, allocatable=40)
    node.wait(resource=GPU, connected=False)
    assert "nvidia-gpu.sock" not in os.listdir(node.dir)
    # Back to no sharing: the GPUs whole again.
    config(node, "version: v1\n")
    node.wait(resource=GPU, allocatable=4, connected=True)
    assert [d[0] for d in devices(node, GPU)] == \
        [g["uuid"] for g in gpus_of(NC24)]


def lists(node, text):
    """Whether `list` with |text| as the config builds the resources."""
    path = config(node, text, "probe.yaml")
    out = subprocess.run([PT.PLUGIN, "list", "--config-file", path,
                          "--sysfs-root", node.sysfs], env=node.env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode == 0


def case_largest_message_reaches_the_kubelet(node):
    # The most replicas the bound lets through (found with `list`), all
    # made Unhealthy (the longest message): grpc-go, as the kubelet,
    # still takes it, and one replica more is refused.
    lo, hi = 2, 40000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if lists(node, over_limit(mid)) else (lo, mid)
    assert lo > 10000, lo
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    start(node, over_limit(lo), HEALTH_ARGS)
    node.wait(resource=GPU, allocatable=4 * lo, timeout_ms=60000)
    PT.wait_for_log(node, "Health events registered")
    for g in gpus_of(NC24):
        PT.inject(node, "xid %s 48" % g["uuid"])
    r = node.wait(resource=GPU, allocatable=0, connected=True,
                  timeout_ms=60000)["resources"][GPU]
    assert r["capacity"] == 4 * lo and r["connected"], r["capacity"]
    assert all(d["health"] == "Unhealthy" for d in r["devices"])
    ev = node.call("GET", "/events")["events"]
    assert not [e for e in ev if e["kind"] == "disconnected"], ev[-3:]
    assert not lists(node, over_limit(lo + 1))


# ---- GetPreferredAllocation ----------------------------------------------

def policy_node(node, policy):
    start(node, "sharing:\n  timeSlicing:\n    resources:\n"
          "    - name: nvidia.com/gpu\n      replicas: 4\n",
          ["--shared-devices-allocation-policy=" + policy])
    node.wait(resource=GPU, allocatable=16)
    u = [g["uuid"] for g in gpus_of(NC24)]
    # GPU 0 all free; GPUs 1-3 two of four in use.
    avail = replica_ids(u[0], 4) + [i for x in u[1:] for i in
                                    replica_ids(x, 4)[2:]]
    return u, avail


def case_distributed(node):
    u, avail = policy_node(node, "distributed")
    # Fewest in use: GPU 0 twice (1 in use after the first pick still
    # beats the others' 2).
    assert preferred(node, GPU, avail, 2) == [u[0] + "::0", u[0] + "::1"]
    pod = node.call("POST", "/allocate-pod", {"resource": GPU, "count": 4})
    assert pod["ok"] and pod["preferred"] == [x + "::0" for x in u], pod


def case_packed(node):
    u, avail = policy_node(node, "packed")
    assert preferred(node, GPU, avail, 3) == [u[1] + "::2", u[1] + "::3",
                                              u[2] + "::2"]


def case_distributed_strict(node):
    node.env["SHARED_DEVICES_ALLOCATION_POLICY"] = "distributed-strict"
    start(node, "sharing:\n  timeSlicing:\n    resources:\n"
          "    - name: nvidia.com/gpu\n      replicas: 4\n")
    node.wait(resource=GPU, allocatable=16)
    u = [g["uuid"] for g in gpus_of(NC24)]
    avail = replica_ids(u[0], 4) + [i for x in u[1:] for i in
                                    replica_ids(x, 4)[2:]]
    got = preferred(node, GPU, avail, 4)
    assert got == [u[0] + "::0", u[1] + "::2", u[2] + "::2",
                   u[3] + "::2"], got
    # A must-include replica's GPU counts as taken.
    got = preferred(node, GPU, avail[1:], 2, must=[u[0] + "::0"])
    assert got == [u[0] + "::0", u[1] + "::2"], got
    # Past one per GPU: the rest by fewest in use.
    got = preferred(node, GPU, avail, 5)
    assert got[:4] == [u[0] + "::0", u[1] + "::2", u[2] + "::2",
                       u[3] + "::2"] and got[4] == u[0] + "::1", got
    r = allocate(node, GPU, got[:2])
    assert PT.envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == u[0] + "," + u[1]
    assert "distributed-strict" in log_of(node)


# ---- health -------------------------------------------------------------

def list_events(node, since):
    ev = node.call("GET", "/events")["events"]
    return [e["detail"] for e in ev[since:] if e["kind"] == "list" and
            e["resource"] == GPU]


def case_xid_marks_every_replica(node):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    u = [g["uuid"] for g in gpus_of(NC24)]
    start(node, PER_GPU % u[3], HEALTH_ARGS)
    node.wait(resource=GPU, allocatable=26)
    PT.wait_for_log(node, "Health events registered")
    since = len(node.call("GET", "/events")["events"])
    PT.inject(node, "xid %s 94" % u[1])     # transient: it recovers
    node.wait(resource=GPU, allocatable=18)
    sick = {d[0] for d in devices(node, GPU) if d[1] != "Healthy"}
    assert sick == set(replica_ids(u[1], 8)), sick
    # One message took all eight, and recovery gives back exactly them.
    node.wait(resource=GPU, allocatable=26)
    seen = list_events(node, since)
    assert seen == ["devices=26 healthy=18", "devices=26 healthy=26"], seen
    bad = [d for d in devices(node, GPU) if d[1] != "Healthy"]
    assert bad == [], bad


def case_reload_keeps_a_failed_gpu_unhealthy(node):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    u = [g["uuid"] for g in gpus_of(NC24)]
    start(node, over_limit(2), HEALTH_ARGS)
    node.wait(resource=GPU, allocatable=8)
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "xid %s 48" % u[1])     # needs a reset: stays
    node.wait(resource=GPU, allocatable=6)
    # More replicas: the failed GPU's new ones are born Unhealthy.
    config(node, over_limit(3))
    node.wait(resource=GPU, allocatable=9, capacity=12)
    sick = {d[0] for d in devices(node, GPU) if d[1] != "Healthy"}
    assert sick == set(replica_ids(u[1], 3)), sick
    bad = allocate(node, GPU, [u[1] + "::2"])
    assert not bad["ok"] and "XID 48" in bad["message"], bad


# ---- list ---------------------------------------------------------------

def case_list_shows_shared(node):
    path = config(node, example("time-slicing-renamed.yaml"))
    out = subprocess.run([PT.PLUGIN, "list", "--config-file", path,
                          "--sysfs-root", node.sysfs], env=node.env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "  nvidia.com/gpu.shared: 40 (socket " in out.stdout and \
        "nvidia-gpu.shared.sock), replicas by time-slicing" in out.stdout, \
        out.stdout
    assert "  nvidia.com/gpu: " not in out.stdout, out.stdout


CASES = (
    ("NVIDIA's time-slicing example: 10 replicas per GPU, <uuid>::<n>, "
     "Allocate gives each GPU once", NC24, case_time_slicing_example),
    ("NVIDIA's renamed example: nvidia.com/gpu.shared only, two replicas "
     "refused in NVIDIA's words, code 2", NC24,
     case_time_slicing_renamed_refuses_two),
    ("NVIDIA's MPS example: pipe directory and /dev/shm under --mps-root, "
     "one replica per request", NC24, case_mps_example),
    ("MPS without --mps-root: NVIDIA's error, exit 1", NC24,
     case_mps_needs_mps_root),
    ("NVIDIA's mixed MIG time-slicing example: every profile with its own "
     "count", "a100-sxm4-40gb-mig", case_mig_mixed_example),
    ("MIG indices i:j shared under a rename, the others plain",
     "a100-sxm4-40gb-mig", case_mig_indices_shared),
    ("per-GPU counts: 2 replicas on GPU 0, 8 on GPUs 1-3 (indices, UUID)",
     NC24, case_per_gpu_counts),
    ("devices: 2 shares the first two GPUs; the others keep plain ids",
     NC24, case_unshared_keep_plain_ids),
    ("one GPU in two entries: refused naming both config lines", NC24,
     case_overlap_names_both_lines),
    ("a GPU index the node lacks: refused naming the entry", NC24,
     case_unknown_index_refused),
    ("over the kubelet's 4 MiB: refused at start, naming resource, size "
     "and limit", NC24, case_4mib_refused_at_start),
    ("over the kubelet's 4 MiB: refused at a reload, the old config kept",
     NC24, case_4mib_refused_at_reload),
    ("the largest list the bound allows, all Unhealthy, reaches the "
     "kubelet (grpc-go); one replica more is refused", NC24,
     case_largest_message_reaches_the_kubelet),
    ("a reload takes new replica counts, renames and no sharing without "
     "a restart", NC24, case_reload_changes_replicas),
    ("GetPreferredAllocation, distributed: fewest replicas in use first",
     NC24, case_distributed),
    ("GetPreferredAllocation, packed: most replicas in use first", NC24,
     case_packed),
    ("GetPreferredAllocation, distributed-strict: never two of one GPU "
     "while others are free", NC24, case_distributed_strict),
    ("an XID marks every replica of its GPU in one message; recovery "
     "restores exactly those", NC24, case_xid_marks_every_replica),
    ("a reload with more replicas keeps a failed GPU's replicas, new ones "
     "too, Unhealthy", NC24, case_reload_keeps_a_failed_gpu_unhealthy),
    ("list shows the shared resources", NC24, case_list_shows_shared),
)


def main():
    only = os.environ.get("GDP_CASE", "")
    return PT.run_cases([
        (name, lambda p=profile: (mig_node(p) if "mig" in p else
                                  PT.Node(p)), fn)
        for name, profile, fn in CASES if only in name])


if __name__ == "__main__":
    sys.exit(main())
