#!/usr/bin/python3
"""MIG end to end: each --mig-strategy on each MIG profile of the fake NVML.

The real plugin runs against the fake NVML (its MIG profiles, and the
mig-minors file make-proc.sh writes for each) and the kubelet stand-in
(the plugin tests' Node, run-plugin-tests.py). What is checked, through
the stand-in only:

- which resources register and what their ListAndWatch lists hold (the
  MIG UUIDs of the profile, the parent's NUMA node), per strategy;
- Allocate: NVIDIA_VISIBLE_DEVICES=MIG-<uuid> (or i:j by index), and with
  --pass-device-specs the parent node and the two nvidia-cap nodes whose
  minors the mig-minors file gives, host paths under --dev-root;
- the layouts NVIDIA refuses, with its messages and exit status 1;
- with cdi-cri, the CDI spec's MIG devices (parent and nvidia-cap nodes)
  and the CDI names Allocate gives;
- health: a MIG-scoped XID marks only that MIG device; an XID of the GPU
  marks all its MIG devices in one ListAndWatch message; recovery
  restores exactly those;
- a layout change (the fake's `mig-layout` command) re-advertised without
  a restart: by SIGHUP, and by NVML's MIG config change event alone.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: mig-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES
MAKE_SYSFS
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import yaml

_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
MAKE_PROC = os.path.join(os.path.dirname(os.path.abspath(PT.MAKE_SYSFS)),
                         "make-proc.sh")
GPU = "nvidia.com/gpu"
HEALTH_ARGS = ["--health-probe-interval=100ms",
               "--health-recovery-quiet=1s"]


def gpus_of(profile):
    with open(os.path.join(PT.PROFILES, profile + ".yaml")) as f:
        return yaml.safe_load(f)["gpus"]


def migs_of(profile):
    """(gpu index, mig index, gpu, mig) of every MIG device, in order."""
    out = []
    for i, g in enumerate(gpus_of(profile)):
        if g.get("mig_mode") != "enabled":
            continue
        for j, m in enumerate(g.get("mig_devices") or []):
            out.append((i, j, g, m))
    return out


def resource_of(profile):
    """NVIDIA's mixed-strategy resource name of a MIG profile."""
    return "nvidia.com/mig-" + profile.replace("+", ".")


def cap_minors(gpu, mig):
    """The minors make-proc.sh gives (as the driver numbers them)."""
    gi = 3 + 135 * gpu["minor_number"] + 9 * mig["gi"]
    return gi, gi + 1 + mig["ci"]


def mig_node(profile, env=None):
    """A node on |profile| with its mig-minors and the NVML FIFO."""
    node = PT.Node(profile, env=env)
    proc = os.path.join(node.tmp, "proc")
    subprocess.run([MAKE_PROC, os.path.join(PT.PROFILES, profile + ".yaml"),
                    proc], check=True)
    node.proc = proc
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.plugin_args = ["--proc-root", proc]
    return node


def log_of(node):
    with open(node.plugin_log) as f:
        return f.read()


def served(node):
    """{resource: [(id, health, numa)]} of what the stand-in holds."""
    res = node.call("GET", "/node")["resources"]
    return {name: [(d["id"], d["health"], d["numa"]) for d in r["devices"]]
            for name, r in res.items() if r.get("connected")}


def expected_mixed(profile):
    """{resource: [mig uuid, ...]} and the GPUs without MIG."""
    want = {}
    for g in gpus_of(profile):
        if g.get("mig_mode") != "enabled":
            want.setdefault(GPU, []).append(g["uuid"])
    for _, _, _, m in migs_of(profile):
        want.setdefault(resource_of(m["profile"]), []).append(m["uuid"])
    return want


def wait_all(node, want):
    for name, ids in want.items():
        node.wait(resource=name, allocatable=len(ids), connected=True)


def allocate(node, resource, ids):
    return node.call("POST", "/allocate",
                     {"resource": resource, "devices": ids})


def check_allocate(node, resource, entry, index=False):
    i, j, g, m = entry
    r = allocate(node, resource, [m["uuid"]])
    envs = PT.envs_of(r)
    want = "%d:%d" % (i, j) if index else m["uuid"]
    assert envs["NVIDIA_VISIBLE_DEVICES"] == want, envs
    gi, ci = cap_minors(g, m)
    nodes = [t for t in PT.specs_of(r) if t[0] not in (
        "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
        "/dev/nvidia-modeset")]
    assert nodes == [
        ("/dev/nvidia%d" % g["minor_number"],
         "/host/dev/nvidia%d" % g["minor_number"], "rw"),
        ("/dev/nvidia-caps/nvidia-cap%d" % gi,
         "/host/dev/nvidia-caps/nvidia-cap%d" % gi, "rw"),
        ("/dev/nvidia-caps/nvidia-cap%d" % ci,
         "/host/dev/nvidia-caps/nvidia-cap%d" % ci, "rw")], nodes


# ---- strategies on each profile -----------------------------------------

def mixed_case(profile):
    def run(node):
        node.start_kubelet()
        node.start_plugin(["--mig-strategy=mixed", "--pass-device-specs",
                           "--dev-root=/host"])
        want = expected_mixed(profile)
        wait_all(node, want)
        got = served(node)
        assert sorted(got) == sorted(want), (sorted(got), sorted(want))
        numa = {m["uuid"]: g.get("numa_node") for _, _, g, m in
                migs_of(profile)}
        for name, ids in want.items():
            assert [d[0] for d in got[name]] == ids, (name, got[name])
            assert all(d[1] == "Healthy" for d in got[name]), got[name]
            if name != GPU:
                assert all(d[2] == numa[d[0]] for d in got[name]), got
        sock = os.listdir(node.dir)
        for e in migs_of(profile):
            name = resource_of(e[3]["profile"])
            assert "nvidia-%s.sock" % name.split("/")[1] in sock, sock
            check_allocate(node, name, e)
        # A pod asking for every device of a profile: the preferred
        # answer and Allocate, as the kubelet runs them.
        for name, ids in want.items():
            r = node.call("POST", "/allocate-pod",
                          {"resource": name, "count": len(ids)})
            assert r["ok"] and sorted(r["devices"]) == sorted(ids), r
    return run


def single_case(profile):
    def run(node):
        node.start_kubelet()
        node.start_plugin(["--mig-strategy=single", "--pass-device-specs",
                           "--dev-root=/host", "--device-id-strategy=index"])
        migs = migs_of(profile)
        node.wait(resource=GPU, allocatable=len(migs))
        got = served(node)
        assert list(got) == [GPU], got
        assert [d[0] for d in got[GPU]] == [e[3]["uuid"] for e in migs], got
        for e in (migs[0], migs[-1]):
            check_allocate(node, GPU, e, index=True)
    return run


def none_case(profile):
    def run(node):
        node.start_kubelet()
        node.start_plugin(["--mig-strategy=none"])
        uuids = [g["uuid"] for g in gpus_of(profile)]
        node.wait(resource=GPU, allocatable=len(uuids))
        got = served(node)
        assert list(got) == [GPU], got
        assert [d[0] for d in got[GPU]] == uuids, got
        assert "with --mig-strategy=none it is served whole" in log_of(node)
    return run


def refused_case(strategy, message):
    def run(node):
        node.start_kubelet()
        p = node.start_plugin(["--mig-strategy=" + strategy])
        assert p.wait(timeout=20) == 1
        node.plugin = None
        log = log_of(node)
        assert message in log, log
        assert node.call("GET", "/node")["registrations"] == 0
    return run


# NVIDIA's wrapping differs per message, as its device map wraps each.
WRAP = ("error building device map: error building device map from "
        "config.resources: ")
INVALID = WRAP + "invalid MIG configuration: "
EMPTY = INVALID + ("at least one device with migEnabled=true was not "
                   "configured correctly: ")


def case_mixed_warns_for_gpu_without_mig_devices(node):
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=mixed"])
    want = expected_mixed("mig-no-devices")
    wait_all(node, want)
    assert sorted(served(node)) == sorted(want)
    assert "device 1 has no MIG devices configured" in log_of(node)


def case_attribute_names(node):
    # NVIDIA's names for the attribute profiles, spelled out.
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=mixed"])
    names = ["nvidia.com/mig-1g.24gb.gfx", "nvidia.com/mig-1g.24gb-me",
             "nvidia.com/mig-2g.48gb.me.all", "nvidia.com/mig-2g.48gb",
             "nvidia.com/mig-1g.24gb.me.all", "nvidia.com/mig-1g.24gb"]
    for name in names:
        node.wait(resource=name, allocatable=1, connected=True)
    assert sorted(served(node)) == sorted(names), sorted(served(node))
    socks = sorted(os.listdir(node.dir))
    for name in names:
        assert "nvidia-%s.sock" % name.split("/")[1] in socks, socks


def case_missing_cap_minor(node):
    path = os.path.join(node.proc, "driver", "nvidia-caps", "mig-minors")
    i, j, g, m = migs_of("h100-80gb-mig")[1]
    gi, _ = cap_minors(g, m)
    line = "gpu%d/gi%d/access %d\n" % (g["minor_number"], m["gi"], gi)
    with open(path) as f:
        lines = f.readlines()
    assert line in lines, line
    with open(path, "w") as f:
        f.writelines(x for x in lines if x != line)
    node.start_kubelet()
    p = node.start_plugin(["--mig-strategy=mixed"])
    assert p.wait(timeout=20) == 1
    node.plugin = None
    log = log_of(node)
    assert "missing MIG GPU instance capability path" in log, log
    assert m["uuid"] in log and "(%d:%d)" % (i, j) in log, log


def case_cdi_spec_and_names(node):
    profile = "h100-80gb-mig"
    spec_dir = os.path.join(node.tmp, "cdi")
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=mixed", "--device-list-strategy",
                       "cdi-cri", "--cdi-spec-dir", spec_dir])
    want = expected_mixed(profile)
    wait_all(node, want)
    with open(os.path.join(spec_dir,
                           "k8s.device-plugin.nvidia.com-gpu.json")) as f:
        spec = json.load(f)
    devices = {d["name"]: [n["path"] for n in
                           d["containerEdits"]["deviceNodes"]]
               for d in spec["devices"]}
    migs = migs_of(profile)
    assert sorted(devices) == sorted(e[3]["uuid"] for e in migs), devices
    for _, _, g, m in migs:
        gi, ci = cap_minors(g, m)
        assert devices[m["uuid"]] == [
            "/dev/nvidia%d" % g["minor_number"],
            "/dev/nvidia-caps/nvidia-cap%d" % gi,
            "/dev/nvidia-caps/nvidia-cap%d" % ci], devices[m["uuid"]]
    m = migs[2][3]
    r = allocate(node, resource_of(m["profile"]), [m["uuid"]])
    assert r["ok"], r
    assert r["response"]["cdi_devices"] == [
        {"name": "k8s.device-plugin.nvidia.com/gpu=" + m["uuid"]}], r


# ---- health ---------------------------------------------------------------

def health_start(node, strategy):
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=" + strategy] + HEALTH_ARGS)
    PT.wait_for_log(node, "Health events registered")


def health(node, resource):
    return {d[0]: d[1] for d in served(node)[resource]}


def lists(node, resource):
    return node.call("GET", "/node")["resources"][resource]["lists_received"]


def case_mig_xid_marks_only_that_device(node):
    profile = "h100-80gb-mig-single"
    migs = migs_of(profile)
    health_start(node, "single")
    node.wait(allocatable=len(migs))
    target = migs[3][3]["uuid"]
    PT.inject(node, "xid %s 94" % target)   # transient: recovers
    node.wait(allocatable=len(migs) - 1)
    h = health(node, GPU)
    assert [u for u, s in h.items() if s != "Healthy"] == [target], h
    node.wait(allocatable=len(migs))        # after the quiet period
    assert all(s == "Healthy" for s in health(node, GPU).values())


def case_gpu_xid_marks_all_its_mig_devices(node):
    profile = "h100-80gb-mig"
    health_start(node, "mixed")
    want = expected_mixed(profile)
    wait_all(node, want)
    g1 = gpus_of(profile)[1]
    on_g1 = {m["uuid"] for _, _, g, m in migs_of(profile) if g is not None
             and g["uuid"] == g1["uuid"]}
    before = {name: lists(node, name) for name in want}
    PT.inject(node, "xid %s 94" % g1["uuid"])
    for name, ids in want.items():
        hit = len([u for u in ids if u in on_g1])
        node.wait(resource=name, allocatable=len(ids) - hit)
    for name, ids in want.items():
        h = health(node, name)
        assert {u for u, s in h.items() if s != "Healthy"} == \
            on_g1 & set(ids), (name, h)
        hit = any(u in on_g1 for u in ids)
        # One message per resource the fault touches, none elsewhere.
        assert lists(node, name) == before[name] + (1 if hit else 0), name
    for name, ids in want.items():
        node.wait(resource=name, allocatable=len(ids))
    assert all(s == "Healthy" for name in want
               for s in health(node, name).values())


# ---- layout changes -------------------------------------------------------

RELAYOUT = "a100-sxm4-40gb-mig-relayout"


def check_relayout(node, before_lists, before_regs):
    old = expected_mixed("a100-sxm4-40gb-mig")
    new = expected_mixed(RELAYOUT)
    wait_all(node, new)
    deadline = time.monotonic() + 10
    while sorted(served(node)) != sorted(new):
        assert time.monotonic() < deadline, (sorted(served(node)),
                                             sorted(new))
        time.sleep(0.05)
    got = served(node)
    for name, ids in new.items():
        assert [d[0] for d in got[name]] == ids, (name, got[name])
    sock = os.listdir(node.dir)
    for name in old:
        if name not in new:
            assert "nvidia-%s.sock" % name.split("/")[1] not in sock, sock
    regs = node.call("GET", "/node")["registrations"]
    added = [n for n in new if n not in old]
    assert regs == before_regs + len(added), (regs, before_regs, added)
    for name in new:
        if name in old and old[name] == new[name]:
            assert lists(node, name) == before_lists[name], name


def relayout_start(node):
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=mixed"])
    old = expected_mixed("a100-sxm4-40gb-mig")
    wait_all(node, old)
    PT.wait_for_log(node, "Health events registered")
    return ({name: lists(node, name) for name in old},
            node.call("GET", "/node")["registrations"])


def case_relayout_by_event(node):
    lists0, regs0 = relayout_start(node)
    PT.inject(node, "mig-layout " + os.path.join(PT.PROFILES,
                                                 RELAYOUT + ".yaml"))
    check_relayout(node, lists0, regs0)
    assert "The MIG layout changed" in log_of(node)


def case_relayout_by_sighup(node):
    # Health checks off: no event set, so only SIGHUP can tell.
    node.env["DP_DISABLE_HEALTHCHECKS"] = "all"
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=mixed"])
    old = expected_mixed("a100-sxm4-40gb-mig")
    wait_all(node, old)
    lists0 = {name: lists(node, name) for name in old}
    regs0 = node.call("GET", "/node")["registrations"]
    PT.inject(node, "mig-layout " + os.path.join(PT.PROFILES,
                                                 RELAYOUT + ".yaml"))
    time.sleep(0.5)
    assert sorted(served(node)) == sorted(old)   # nothing told yet
    node.plugin.send_signal(signal.SIGHUP)
    check_relayout(node, lists0, regs0)


def layout_file(node, name, keep, most=7):
    """a100-sxm4-40gb-mig with only the first |most| MIG devices of
    profile |keep| on each GPU, written as |name| in the node's
    directory."""
    with open(os.path.join(PT.PROFILES, "a100-sxm4-40gb-mig.yaml")) as f:
        doc = yaml.safe_load(f)
    for g in doc["gpus"]:
        g["mig_devices"] = [m for m in g["mig_devices"]
                            if m["profile"] == keep][:most]
    path = os.path.join(node.tmp, name + ".yaml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    return path, doc


def case_single_relayout_refused_then_taken(node):
    good, doc = layout_file(node, "single-ok", "1g.5gb")
    node.env["FAKE_NVML_PROFILE"] = good
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=single"])
    ids = [m["uuid"] for g in doc["gpus"] for m in g["mig_devices"]]
    node.wait(allocatable=len(ids))
    PT.wait_for_log(node, "Health events registered")
    lists0 = lists(node, GPU)
    # Two types: the reload is refused in NVIDIA's words, the plugin
    # lives and serves what it served.
    PT.inject(node, "mig-layout " + os.path.join(
        PT.PROFILES, "a100-sxm4-40gb-mig.yaml"))
    PT.wait_for_log(node, "Reload refused")
    log = log_of(node)
    assert INVALID + "more than one MIG device type present on node" in \
        log, log
    assert node.plugin.poll() is None
    assert [d[0] for d in served(node)[GPU]] == ids
    assert lists(node, GPU) == lists0
    # A uniform layout again (one 1g.5gb per GPU): served.
    one, doc = layout_file(node, "single-one", "1g.5gb", 1)
    PT.inject(node, "mig-layout " + one)
    one_ids = [m["uuid"] for g in doc["gpus"] for m in g["mig_devices"]]
    node.wait(allocatable=len(one_ids), capacity=len(one_ids))
    assert [d[0] for d in served(node)[GPU]] == one_ids


def case_fault_of_a_remade_instance_ends(node):
    # GPU 0's 3g.20gb (GPU instance 1) takes an XID that needs a GPU
    # reset; so does one 1g.5gb. The 3g.20gb is destroyed and made again
    # with the same instance ids and a new UUID: the new MIG device
    # starts healthy, the 1g.5gb that stayed keeps its fault.
    path = os.path.join(PT.PROFILES, "a100-sxm4-40gb-mig.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    g0 = doc["gpus"][0]
    big = [m for m in g0["mig_devices"] if m["profile"] == "3g.20gb"][0]
    small = [m for m in g0["mig_devices"] if m["profile"] == "1g.5gb"][0]
    old_uuid = big["uuid"]
    node.start_kubelet()
    node.start_plugin(["--mig-strategy=mixed"] + HEALTH_ARGS)
    want = expected_mixed("a100-sxm4-40gb-mig")
    wait_all(node, want)
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "xid %s 48" % old_uuid)
    PT.inject(node, "xid %s 48" % small["uuid"])
    node.wait(resource="nvidia.com/mig-3g.20gb", allocatable=0)
    node.wait(resource="nvidia.com/mig-1g.5gb",
              allocatable=len(want["nvidia.com/mig-1g.5gb"]) - 1)
    big["uuid"] = "MIG-0bad0bad-0000-4000-8000-000000000001"
    remade = os.path.join(node.tmp, "remade.yaml")
    with open(remade, "w") as f:
        yaml.safe_dump(doc, f)
    PT.inject(node, "mig-layout " + remade)
    node.plugin.send_signal(signal.SIGHUP)
    node.wait(resource="nvidia.com/mig-3g.20gb", allocatable=1)
    assert health(node, "nvidia.com/mig-3g.20gb") == {
        big["uuid"]: "Healthy"}
    h = health(node, "nvidia.com/mig-1g.5gb")
    assert h[small["uuid"]] == "Unhealthy", h
    assert "its MIG instance is gone" in log_of(node)


PROFILES_MIG = ["a100-sxm4-40gb-mig", "h100-80gb-mig", "h200-141gb-mig",
                "rtx-pro-6000-mig"]
SINGLES = ["a100-sxm4-40gb-mig-single", "h100-80gb-mig-single",
           "h200-141gb-mig-single"]

CASES = (
    [("mixed on %s: a resource per profile, lists, Allocate" % p, p,
      mixed_case(p)) for p in PROFILES_MIG + SINGLES] +
    [("single on %s: every MIG device as nvidia.com/gpu, by index" % p, p,
      single_case(p)) for p in SINGLES] +
    [("none on %s: the GPUs whole" % p, p, none_case(p))
     for p in PROFILES_MIG] +
    [("single refuses a GPU without MIG devices", "mig-no-devices",
      refused_case("single", EMPTY + "device 1 has no MIG devices "
                   "configured")),
     ("single refuses MIG on and off", "mig-and-full-gpus",
      refused_case("single", WRAP + "all devices on the node must be "
                   "configured with the same migEnabled value")),
     ("single refuses two MIG device types", "mig-two-types",
      refused_case("single", INVALID + "more than one MIG device type "
                   "present on node")),
     ("single refuses the mixed layouts", "h100-80gb-mig",
      refused_case("single", INVALID + "more than one MIG device type "
                   "present on node")),
     ("mixed refuses C < G", "mig-c-lt-g",
      refused_case("mixed", WRAP + "error building MIG device map: MIG "
                   "profile '1c.2g.10gb' does not match any resource "
                   "patterns")),
     ("mixed: a GPU without MIG devices is only warned about",
      "mig-no-devices", case_mixed_warns_for_gpu_without_mig_devices),
     ("mixed: NVIDIA's names for .gfx, -me, .me.all profiles",
      "rtx-pro-6000-mig", case_attribute_names),
     ("mixed refuses a MIG device without its capability minor",
      "h100-80gb-mig", case_missing_cap_minor),
     ("cdi-cri: the MIG devices in the CDI spec, named in Allocate",
      "h100-80gb-mig", case_cdi_spec_and_names),
     ("a MIG-scoped XID marks only that MIG device; it recovers",
      "h100-80gb-mig-single", case_mig_xid_marks_only_that_device),
     ("a GPU XID marks all its MIG devices in one message; they recover",
      "h100-80gb-mig", case_gpu_xid_marks_all_its_mig_devices),
     ("a layout change re-advertises on NVML's event alone",
      "a100-sxm4-40gb-mig", case_relayout_by_event),
     ("a layout change re-advertises on SIGHUP", "a100-sxm4-40gb-mig",
      case_relayout_by_sighup),
     ("single: a layout it refuses at a reload keeps what was served",
      "a100-sxm4-40gb-mig", case_single_relayout_refused_then_taken),
     ("the fault of a MIG instance made anew ends; the others stay",
      "a100-sxm4-40gb-mig", case_fault_of_a_remade_instance_ends)])


def main():
    only = os.environ.get("GDP_CASE")
    return PT.run_cases([(name, lambda p=profile: mig_node(p), fn)
                         for name, profile, fn in CASES
                         if only is None or only == name])


if __name__ == "__main__":
    sys.exit(main())
