#!/usr/bin/python3
"""Topology-aware GetPreferredAllocation, through the real binary.

The plugin runs on the fake NVML, playing each link-topology profile,
against the kubelet stand-in; every answer to GetPreferredAllocation (at
the socket, through the stand-in's /preferred) is compared with the best
set found here by brute force over all subsets. The pair scores are
computed here from the profile's own text (NVLinks by remote bus id, the
NVSwitches it lists, pcie_path and NUMA nodes), by code that shares
nothing with the plugin's: if the plugin reads NVML's link graph wrongly,
or scores or chooses wrongly, the sets differ. Checked on every size, with
no must-include, with must-include sets, and on smaller available sets;
and the choice an operator expects on each machine (a fully NVLinked
quad on a DGX-1, the bridged pair on 4x A100 PCIe, ...). A GPU lost on
the bus (fake NVML control channel) is never answered, and the call
never fails.

Usage: topology-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
"""

import importlib.util
import itertools
import os
import random
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(HERE, "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)

PROFILES = sys.argv[4]
# NVIDIA's pair scores (reference §8): per NVLink, and by PCIe level.
PER_NVLINK = 100
LEVEL_SCORE = {"INTERNAL": 60, "SINGLE": 50, "MULTIPLE": 40,
               "HOSTBRIDGE": 30, "NODE": 20, "SYSTEM": 10}


def load(profile):
    with open(os.path.join(PROFILES, profile + ".yaml")) as f:
        return yaml.safe_load(f)


def norm(bus):
    return bus.upper()


def level(a, b):
    """The PCIe level of two GPUs from their pcie_path and NUMA node."""
    pa, pb = a.get("pcie_path") or [], b.get("pcie_path") or []
    shared = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        shared += 1
    if pa and pb and shared >= 2:
        return "SINGLE" if len(pa) == len(pb) == shared else "MULTIPLE"
    if pa and pb and shared == 1:
        return "HOSTBRIDGE"
    na, nb = a.get("numa_node", -1), b.get("numa_node", -1)
    if na >= 0 and na == nb:
        return "NODE"
    return "SYSTEM" if na >= 0 and nb >= 0 else None


def scores(prof, graph=True):
    """Pair score matrix: NVLinks (direct, both ends agreeing; through
    NVSwitches, the smaller switch link count), then the PCIe level. With
    |graph| false, as a driver without the link queries gives them: NUMA
    nodes alone."""
    gpus = prof.get("gpus") or []
    if not graph:
        gpus = [{"pci_bus_id": g["pci_bus_id"],
                 "numa_node": g.get("numa_node", -1)} for g in gpus]
    switches = {norm(s["pci_bus_id"]) for s in prof.get("nvswitches") or []}
    links = [[norm(x) for x in g.get("nvlinks") or []] for g in gpus]
    sw = [sum(1 for x in ls if x in switches) for ls in links]
    n = len(gpus)
    s = [[0] * n for _ in range(n)]
    for i, j in itertools.permutations(range(n), 2):
        direct = min(links[i].count(norm(gpus[j]["pci_bus_id"])),
                     links[j].count(norm(gpus[i]["pci_bus_id"])))
        fabric = min(sw[i], sw[j])
        lv = level(gpus[i], gpus[j])
        s[i][j] = PER_NVLINK * (direct + fabric) + (
            LEVEL_SCORE[lv] if lv else 0)
    return s


def set_score(s, subset):
    return sum(s[i][j] for i, j in itertools.combinations(subset, 2))


def brute_best(s, avail, must, size):
    """The best-scoring |size| subset of |avail| holding |must|; ties go
    to the lexicographically smallest sorted index list."""
    rest = sorted(set(avail) - set(must))
    best, best_set = -1, None
    for extra in itertools.combinations(rest, size - len(must)):
        subset = tuple(sorted(set(must) | set(extra)))
        sc = set_score(s, subset)
        if sc > best or (sc == best and subset < best_set):
            best, best_set = sc, subset
    return best_set


def ask(node, uuids, avail, must, size):
    r = node.call("POST", "/preferred", {
        "resource": PT.RESOURCE, "available": [uuids[i] for i in avail],
        "must_include": [uuids[i] for i in must], "size": size})
    assert r["ok"], r
    got = r["response"]["container_responses"][0].get("deviceIDs") or []
    assert len(got) == len(set(got)), "duplicates: %s" % got
    idx = {u: i for i, u in enumerate(uuids)}
    return [idx[u] for u in got]


def requests(n, rng):
    """(available, must_include, size) for every size: everything
    available, no must-include; one and two must-include GPUs; a random
    smaller available set with one of its GPUs required."""
    everything = list(range(n))
    for size in range(1, n + 1):
        yield everything, [], size
        yield everything, [size % n], size
        if size >= 2:
            yield everything, sorted(rng.sample(everything, 2)), size
        avail = sorted(rng.sample(everything, rng.randint(size, n)))
        yield avail, [rng.choice(avail)], size


def check_optimal(node, profile, graph=True):
    prof = load(profile)
    s = scores(prof, graph)
    uuids = [g["uuid"] for g in prof["gpus"]]
    n = len(uuids)
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=n)
    rng = random.Random(profile)
    calls = 0
    for avail, must, size in requests(n, rng):
        got = ask(node, uuids, avail, must, size)
        want = brute_best(s, avail, must, size)
        assert got[:len(must)] == must, (avail, must, size, got)
        assert tuple(sorted(got)) == want, \
            "avail %s must %s size %d: got %s (score %d), best %s " \
            "(score %d)" % (avail, must, size, sorted(got),
                            set_score(s, got), list(want),
                            set_score(s, want))
        calls += 1
    return s, uuids, calls


def optimal_case(profile):
    def case(node):
        check_optimal(node, profile)
    return case


def trace_counts(path):
    with open(path) as f:
        return {k: int(v) for k, v in (line.split() for line in f)}


def case_dgx1_quad(node):
    node.env["FAKE_NVML_TRACE"] = os.path.join(node.tmp, "calls")
    s, uuids, calls = check_optimal(node, "dgx1-v100")
    quad = set(ask(node, uuids, list(range(8)), [], 4))
    assert quad in ({0, 1, 2, 3}, {4, 5, 6, 7}), quad
    # Asked to include GPU 5, the other quad.
    assert set(ask(node, uuids, list(range(8)), [5], 4)) == {4, 5, 6, 7}
    # A pair: two NVLinks, never one or none.
    pair = ask(node, uuids, list(range(8)), [], 2)
    assert s[pair[0]][pair[1]] >= 2 * PER_NVLINK, pair
    # The graph was read once, at discovery, not per call: one ancestor
    # query per pair, one remote query per active link (6 per GPU).
    assert node.stop_plugin() == 0
    t = trace_counts(node.env["FAKE_NVML_TRACE"])
    assert calls > 30, calls
    assert t["nvmlDeviceGetTopologyCommonAncestor"] == 28, t
    assert t["nvmlDeviceGetNvLinkRemotePciInfo_v2"] == 48, t
    assert t["nvmlDeviceGetNvLinkRemoteDeviceType"] == 48, t


def case_old_driver(node):
    """No link queries in the driver: NUMA-only scores, said once each."""
    node.env["FAKE_NVML_HIDE"] = ("nvmlDeviceGetNvLinkState,"
                                  "nvmlDeviceGetNvLinkRemoteDeviceType,"
                                  "nvmlDeviceGetTopologyCommonAncestor")
    check_optimal(node, "dgx1-v100", graph=False)
    log = open(node.plugin_log).read()
    for what in ("nvmlDeviceGetNvLinkState: NVML_ERROR_FUNCTION_NOT_FOUND",
                 "nvmlDeviceGetTopologyCommonAncestor: "
                 "NVML_ERROR_FUNCTION_NOT_FOUND"):
        assert log.count(what) == 1, (what, log.count(what))


def case_a100_bridged_pairs(node):
    _, uuids, _ = check_optimal(node, "a100-pcie-4x")
    # The NVLink bridge, not the PCIe switch (which pairs 0 with 2).
    assert set(ask(node, uuids, [0, 1, 2, 3], [], 2)) == {0, 1}
    assert set(ask(node, uuids, [0, 1, 2, 3], [2], 2)) == {2, 3}


def case_pcie_levels(node):
    _, uuids, _ = check_optimal(node, "pcie-2s-8gpu")
    assert set(ask(node, uuids, list(range(8)), [], 4)) == {0, 1, 2, 3}
    assert set(ask(node, uuids, list(range(8)), [4], 2)) == {4, 5}
    assert set(ask(node, uuids, [4, 6, 7], [4], 2)) == {4, 6}  # PHB > NODE


def case_nvswitch_one_socket(node):
    _, uuids, _ = check_optimal(node, "dgx-h100")
    # Fully connected through the switches: NUMA decides.
    assert set(ask(node, uuids, list(range(8)), [6], 4)) == {4, 5, 6, 7}


def case_lost_gpu_not_candidate(node):
    """GPU 0 of the DGX-1 falls off the bus: never answered, no error."""
    prof = load("dgx1-v100")
    uuids = [g["uuid"] for g in prof["gpus"]]
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=8)
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "lost %s" % uuids[0])
    node.wait(allocatable=7)
    for size in range(1, 9):
        got = ask(node, uuids, list(range(8)), [], size)
        assert 0 not in got, (size, got)
        assert len(got) == min(size, 7), (size, got)
    assert set(ask(node, uuids, list(range(8)), [], 3)) == {1, 2, 3}


SMI_LABEL = {"INTERNAL": "BRD", "SINGLE": "PIX", "MULTIPLE": "PXB",
             "HOSTBRIDGE": "PHB", "NODE": "NODE", "SYSTEM": "SYS", None: "?"}


def expected_matrix(prof):
    """The link matrix as nvidia-smi topo -m writes it, from the profile."""
    gpus = prof["gpus"]
    s = scores(prof)
    rows = []
    for i, a in enumerate(gpus):
        row = []
        for j, b in enumerate(gpus):
            lv = level(a, b)
            links = (s[i][j] - (LEVEL_SCORE[lv] if lv else 0)) // PER_NVLINK
            row.append("X" if i == j else "NV%d" % links if links else
                       SMI_LABEL[lv])
        rows.append(row)
    return rows


def listed_matrix(node):
    out = PT.subprocess.run([PT.PLUGIN, "list", "--sysfs-root", node.sysfs],
                            env=node.env, capture_output=True, text=True,
                            timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    head = [k for k, line in enumerate(lines)
            if line.split()[:2] == ["GPU0", "GPU1"]]
    assert len(head) == 1, out.stdout
    cols = lines[head[0]].split()
    assert cols[-1] == "NUMA", cols
    rows = []
    for line in lines[head[0] + 1:]:
        words = line.split()
        if not words or not words[0].startswith("GPU"):
            break
        assert words[0] == "GPU%d" % len(rows), line
        rows.append(words[1:-1])
    return rows, out.stdout


def case_list_matrix(node):
    for profile in ("dgx1-v100", "pcie-2s-8gpu", "a100-pcie-4x",
                    "dgx-h100", "synthetic-16"):
        node.env["FAKE_NVML_PROFILE"] = os.path.join(PROFILES,
                                                     profile + ".yaml")
        PT.subprocess.run([PT.MAKE_SYSFS, node.env["FAKE_NVML_PROFILE"],
                           node.sysfs], check=True)
        rows, out = listed_matrix(node)
        assert rows == expected_matrix(load(profile)), (profile, out)
    # DGX-1: what nvidia-smi topo -m shows on the real machine (the
    # profile's header comment).
    node.env["FAKE_NVML_PROFILE"] = os.path.join(PROFILES, "dgx1-v100.yaml")
    PT.subprocess.run([PT.MAKE_SYSFS, node.env["FAKE_NVML_PROFILE"],
                       node.sysfs], check=True)
    real = []
    with open(node.env["FAKE_NVML_PROFILE"]) as f:
        for line in f:
            w = line.lstrip("#").split()
            if w and w[0].startswith("GPU") and len(w) == 9:
                real.append(w[1:])
    assert listed_matrix(node)[0] == real, real


CASES = [
    ("list: the link matrix, as nvidia-smi topo -m writes it", "dgx1-v100",
     case_list_matrix),
    ("DGX-1 V100: every answer optimal; size 4 a fully NVLinked quad",
     "dgx1-v100", case_dgx1_quad),
    ("4x A100 PCIe: every answer optimal; NVLink bridge beats PCIe switch",
     "a100-pcie-4x", case_a100_bridged_pairs),
    ("2-socket PCIe: every answer optimal; PIX > PXB > PHB > NODE > SYS",
     "pcie-2s-8gpu", case_pcie_levels),
    ("DGX H100 (NVSwitch): every answer optimal; one NUMA node",
     "dgx-h100", case_nvswitch_one_socket),
    ("ND96asr_v4 (NVSwitch): every answer optimal", "azure-nd96asr-v4",
     optimal_case("azure-nd96asr-v4")),
    ("16-GPU synthetic graph: every answer optimal", "synthetic-16",
     optimal_case("synthetic-16")),
    ("a driver without the link queries: NUMA-only answers, said once",
     "dgx1-v100", case_old_driver),
    ("a lost GPU is never a candidate; the call never fails",
     "dgx1-v100", case_lost_gpu_not_candidate),
]


def main():
    only = os.environ.get("GDP_CASE", "")
    return PT.run_cases([(name, lambda p=profile: PT.Node(p), fn)
                         for name, profile, fn in CASES if only in name])


if __name__ == "__main__":
    sys.exit(main())
