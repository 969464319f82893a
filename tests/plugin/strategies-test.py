#!/usr/bin/python3
"""Device-list strategies and CDI specs, through the real binary.

The real plugin runs on the fake NVML against the kubelet stand-in, with
a fake driver root per profile (tests/cdi/fakedriver.py: the driver's
libraries with their links, firmware, binaries, an IPC socket, and /dev
nodes made with mknod) standing in for the host's. Checked:

- golden Allocate answers (tests/plugin/golden/<profile>.json) for every
  device-list strategy, and all four together, with each device-id
  strategy, on two profiles; the cdi-annotations key's random UUID is
  checked to be one, then written as <uuid>;
- the control nodes are looked at again before each Allocate: one that
  appears after start is passed, and the CDI spec follows;
- the CDI spec, as the CDI library containerd and CRI-O use reads it
  (gdp-cdi-validate): no error, every advertised id resolves under the
  id strategy, and the edits applied to an OCI spec give the device
  nodes, mounts and hooks the driver root holds; host paths rewritten
  from the container driver root to the host's; the lowest cdiVersion;
  hooks left out by CDI_DISABLE_HOOKS, run by NVIDIA_CDI_HOOK_PATH;
  rewritten atomically (mode 0644, no temporary file left) at SIGHUP
  under the system-call filter; IMEX channels.

GDP_REGEN_GOLDEN=1 rewrites the golden files instead of comparing (read
the diff against reference §3 before committing it).

Usage: strategies-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
       CDI_VALIDATE
"""

import importlib.util
import json
import os
import re
import signal
import stat
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(HERE, "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
sys.path.insert(0, os.path.join(HERE, "..", "cdi"))
import fakedriver  # noqa: E402

PLUGIN, STANDIN, FAKE_LIB_DIR, PROFILES, MAKE_SYSFS, VALIDATE = \
    sys.argv[1:7]
GOLDEN = os.path.join(HERE, "golden")
REGEN = os.environ.get("GDP_REGEN_GOLDEN") == "1"
VENDOR = "k8s.device-plugin.nvidia.com"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   r"[0-9a-f]{12}$")
LIST_ENV = "DEVICE_LIST_STRATEGY"
STRATEGIES = ["envvar", "volume-mounts", "cdi-annotations", "cdi-cri",
              "envvar,volume-mounts,cdi-annotations,cdi-cri"]
# The request of each golden: out of order, one id twice.
PICK = {"azure-nc24": [2, 0, 2], "dgx-h100": [5, 1, 7, 5]}
# NVIDIA_GDRCOPY/GDS/MOFED on one profile, off on the other.
FEATURES = {"azure-nc24": {},
            "dgx-h100": {"GDRCOPY_ENABLED": "1", "GDS_ENABLED": "true",
                         "MOFED_ENABLED": "t"}}
ENV_KEYS = [LIST_ENV, "GDRCOPY_ENABLED", "GDS_ENABLED", "MOFED_ENABLED",
            "IMEX_CHANNEL_IDS", "IMEX_REQUIRED", "CDI_DISABLE_HOOKS",
            "NVIDIA_CDI_HOOK_PATH", "CDI_ANNOTATION_PREFIX", "CDI_SPEC_DIR"]


class CdiNode(PT.Node):
    """A PT.Node with a fake driver root and a CDI spec folder."""

    def __init__(self, profile, control=tuple(fakedriver.CONTROL)):
        super().__init__(profile)
        for k in ENV_KEYS:
            self.env.pop(k, None)
        self.gpus = PT.profile_gpus(profile)
        self.version = profile_driver(profile)
        self.root = os.path.join(self.tmp, "driver")
        self.want = fakedriver.make(
            self.root, self.gpus, self.version,
            os.path.join(FAKE_LIB_DIR, "libnvidia-ml.so.1"), control)
        self.cdi = os.path.join(self.tmp, "cdi")
        self.env["CDI_SPEC_DIR"] = self.cdi
        # The plugin on the host: the driver root is where it sees it.
        self.plugin_args = ["--driver-root", self.root,
                            "--container-driver-root", self.root]

    def restart(self, env, args=()):
        for k in ENV_KEYS:
            if k != "CDI_SPEC_DIR":
                self.env.pop(k, None)
        self.env.update(env)
        base = ["--driver-root", self.root, "--container-driver-root",
                self.root]
        return PT.restart_plugin(self, base + list(args))

    def spec_path(self, cls="gpu"):
        return os.path.join(self.cdi, "%s-%s.json" % (VENDOR, cls))

    def spec(self, cls="gpu"):
        with open(self.spec_path(cls)) as f:
            return json.load(f)


def profile_driver(name):
    with open(os.path.join(PROFILES, name + ".yaml")) as f:
        for line in f:
            if line.startswith("driver_version:"):
                return line.split(":", 1)[1].strip().strip('"')
    raise AssertionError("no driver_version in " + name)


def validate(node, names, apply=True):
    """gdp-cdi-validate on the node's spec folder: its report."""
    args = [VALIDATE] + ([] if apply else ["-no-apply"]) + [node.cdi] + \
        list(names)
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (args, out.stderr)
    return json.loads(out.stdout)


def masked(answer, node):
    """The stand-in's answer, the annotation UUID checked then masked,
    the node's folder written as <tmp>."""
    assert answer["ok"], answer
    resp = answer["response"]
    notes = {}
    for k, v in resp["annotations"].items():
        prefix, _, uuid = k.rpartition("_")
        assert UUID4.match(uuid), k
        notes[prefix + "_<uuid>"] = v
    resp["annotations"] = notes
    return json.loads(json.dumps(resp).replace(node.tmp, "<tmp>"))


def annotation_uuid(answer):
    keys = list(answer["response"]["annotations"])
    assert len(keys) == 1, answer
    return keys[0].rpartition("_")[2]


# ---- the cases ---------------------------------------------------------

def case_golden(node):
    profile = node.profile
    if True:
        node.start_kubelet()
        uuids = [g["uuid"] for g in node.gpus]
        ids = [uuids[i] for i in PICK[profile]]
        got = {}
        for strategy in STRATEGIES:
            for id_strategy in ("uuid", "index"):
                env = dict(FEATURES[profile], **{LIST_ENV: strategy})
                node.restart(env, ["--pass-device-specs",
                                   "--device-id-strategy=" + id_strategy])
                first = node.allocate(ids)
                if "cdi-annotations" in strategy:
                    again = node.allocate(ids)
                    assert annotation_uuid(first) != \
                        annotation_uuid(again), (first, again)
                got["%s %s" % (strategy, id_strategy)] = masked(first,
                                                                 node)
        path = os.path.join(GOLDEN, profile + ".json")
        if REGEN:
            with open(path, "w") as f:
                json.dump({"request": ids, "answers": got}, f, indent=2,
                          sort_keys=True)
                f.write("\n")
            return
        with open(path) as f:
            want = json.load(f)
        assert want["request"] == ids, (want["request"], ids)
        for key in want["answers"]:
            assert got.get(key) == want["answers"][key], (
                key, "got", got.get(key), "want", want["answers"][key])
        assert sorted(got) == sorted(want["answers"]), sorted(got)


def control_paths(answer):
    return [c for c, _, _ in PT.specs_of(answer)
            if not c[len("/dev/nvidia"):].isdigit()]


def case_control_nodes_rechecked(node):
    node.start_kubelet()
    node.restart({LIST_ENV: "envvar,cdi-cri"}, ["--pass-device-specs"])
    u = node.gpus[0]["uuid"]
    assert control_paths(node.allocate([u])) == ["/dev/nvidiactl"], \
        node.allocate([u])
    edits = node.spec()["containerEdits"]["deviceNodes"]
    assert [d["path"] for d in edits] == ["/dev/nvidiactl"], edits
    # nvidia-uvm appears (its module loaded at a first CUDA call): the
    # next Allocate passes it, and the spec, rewritten under the
    # system-call filter, has it too.
    fakedriver.mknod(os.path.join(node.root, "dev/nvidia-uvm"), 237, 0)
    a = node.allocate([u])
    assert control_paths(a) == ["/dev/nvidiactl", "/dev/nvidia-uvm"], a
    assert [c for c, _, _ in PT.specs_of(a)][-1] == "/dev/nvidia" + \
        node.gpus[0]["minor_number"], a
    r = validate(node, ["%s/gpu=%s" % (VENDOR, u)])
    assert [d["path"] for d in r["oci"]["devices"]] == [
        "/dev/nvidia-uvm", "/dev/nvidiactl",
        "/dev/nvidia" + node.gpus[0]["minor_number"]], r
    # and goes when it goes.
    os.unlink(os.path.join(node.root, "dev/nvidia-uvm"))
    assert control_paths(node.allocate([u])) == ["/dev/nvidiactl"]
    assert node.plugin.poll() is None, "plugin exited"


def mounts_by_path(oci):
    return {m["destination"]: m for m in oci["mounts"]}


def check_applied(node, r, names):
    """The OCI edits of |names|: nodes, mounts, hooks, env."""
    oci = r["oci"]
    by_id = {}
    for i, g in enumerate(node.gpus):
        by_id[g["uuid"]] = by_id[str(i)] = g
    named = [by_id[n.split("=", 1)[1]] for n in names]
    devs = [(d["path"], d["type"], d["major"], d["minor"])
            for d in oci["devices"]]
    want = [("/dev/nvidia-modeset", "c", 195, 254),
            ("/dev/nvidia-uvm-tools", "c", 237, 1),
            ("/dev/nvidia-uvm", "c", 237, 0),
            ("/dev/nvidiactl", "c", 195, 255)]
    drm_links = []
    for g in named:
        m = g["minor_number"]
        want.append(("/dev/nvidia" + m, "c", 195, int(m)))
        drm = node.want["drm"].get(g["uuid"])
        if drm:
            want += [(p, "c", ma, mi) for p, ma, mi in drm["nodes"]]
            drm_links.append(drm["links"])
    assert devs == want, (devs, want)
    # Each GPU with DRM nodes: their by-path links, in a hook of its own.
    drm_hooks = [h for h in oci["hooks"]["createContainer"]
                 if "/dev/dri/by-path" in json.dumps(h["args"])]
    assert [h["args"][2:] for h in drm_hooks] == [
        ["create-symlinks", "--link", a, "--link", b]
        for a, b in drm_links], (drm_hooks, drm_links)
    assert len(drm_links) == len([g for g in named if g["uuid"] in
                                  node.want["drm"]]) > 0, drm_links
    mounts = mounts_by_path(oci)
    paths = node.want["libs"] + node.want["firmware"] + \
        node.want["binaries"] + node.want["ipc"]
    assert sorted(mounts) == sorted(paths), (sorted(mounts), sorted(paths))
    for p, m in mounts.items():
        assert m["source"] == node.root + p, m
        assert os.path.lexists(m["source"]), m
        opts = ["ro", "nosuid", "nodev", "bind"]
        if p in node.want["ipc"]:
            opts.append("noexec")
        assert m["options"] == opts, m
    hooks = [h for h in oci["hooks"]["createContainer"]
             if h not in drm_hooks]
    assert all(h["path"] == "/usr/bin/nvidia-ctk" for h in hooks), hooks
    by_name = {h["args"][2]: h["args"][3:] for h in hooks}
    assert [h["args"][:2] for h in hooks] == [["nvidia-ctk", "hook"]] * \
        len(hooks), hooks
    assert list(by_name) == ["create-symlinks", "enable-cuda-compat",
                             "update-ldcache",
                             "disable-device-node-modification"], hooks
    links = by_name["create-symlinks"]
    assert links[0::2] == ["--link"] * (len(links) // 2), links
    assert sorted(links[1::2]) == sorted(node.want["links"]), links
    assert by_name["update-ldcache"] == [
        "--folder", fakedriver.LIBDIR], hooks
    assert by_name["enable-cuda-compat"] == [
        "--host-driver-version=" + node.version], hooks
    assert oci["env"] == ["NVIDIA_VISIBLE_DEVICES=void",
                          "NVIDIA_CTK_LIBCUDA_DIR=" + fakedriver.LIBDIR], \
        oci["env"]


def cdi_spec_case(node, id_strategy):
    node.start_kubelet()
    node.restart({LIST_ENV: "cdi-annotations"},
                 ["--device-id-strategy=" + id_strategy])
    ids = [g["uuid"] if id_strategy == "uuid" else str(i)
           for i, g in enumerate(node.gpus)]
    names = ["%s/gpu=%s" % (VENDOR, i) for i in ids]
    r = validate(node, names)
    assert sorted(r["devices"]) == sorted(names), r
    assert [(s["vendor"], s["class"], s["version"]) for s in r["specs"]] \
        == [(VENDOR, "gpu", "0.5.0")], r
    check_applied(node, r, names)
    # Each device alone: its node and no other GPU's.
    one = validate(node, names[-1:])
    gpu_nodes = [d["path"] for d in one["oci"]["devices"]
                 if d["path"][len("/dev/nvidia"):].isdigit() or
                 d["path"].startswith("/dev/dri/")]
    assert gpu_nodes == ["/dev/nvidia" + node.gpus[-1]["minor_number"]], \
        one
    check_applied(node, validate(node, names[:1]), names[:1])
    # The names Allocate gives are the ones the spec resolves.
    a = node.allocate([node.gpus[-1]["uuid"]])
    assert list(a["response"]["annotations"].values()) == names[-1:], a
    st = os.stat(node.spec_path())
    assert stat.S_IMODE(st.st_mode) == 0o644, oct(st.st_mode)
    assert os.listdir(node.cdi) == [os.path.basename(node.spec_path())]


def case_cdi_spec_uuid(node):
    cdi_spec_case(node, "uuid")


def case_cdi_spec_index(node):
    cdi_spec_case(node, "index")


def case_cdi_paths_rewritten(node):
    # In a container: the host's driver root (/run/nvidia/driver) is
    # mounted at the container driver root, where the plugin looks.
    node.start_kubelet()
    host = "/run/nvidia/driver"
    node.stop_plugin()
    node.env[LIST_ENV] = "cdi-cri"
    node.plugin_args = ["--driver-root", host,
                        "--container-driver-root", node.root]
    node.start_plugin()
    node.wait(allocatable=len(node.gpus))
    spec = node.spec()
    edits = spec["containerEdits"]
    nodes = edits["deviceNodes"] + [n for d in spec["devices"]
                                    for n in d["containerEdits"][
                                        "deviceNodes"]]
    for n in nodes:
        assert n["hostPath"] == host + n["path"], n
        assert os.path.exists(node.root + n["path"]), n
    assert len(nodes) == 4 + len(node.gpus) + 2 * len(node.want["drm"]), \
        nodes
    for m in edits["mounts"]:
        assert m["hostPath"] == host + m["containerPath"], m
        assert os.path.lexists(node.root + m["containerPath"]), m
    assert node.root not in json.dumps(spec), spec
    names = ["%s/gpu=%s" % (VENDOR, g["uuid"]) for g in node.gpus]
    validate(node, names, apply=False)
    a = node.allocate([node.gpus[0]["uuid"]])
    assert a["response"]["cdi_devices"] == [{"name": names[0]}], a
    assert a["response"]["envs"] == {} and a["response"]["devices"] == [], a


def case_cdi_lowest_version(node):
    # Nothing needs 0.5.0 (uuid names start with a letter; no node has a
    # hostPath other than its path): the spec says 0.3.0.
    node.start_kubelet()
    empty = os.path.join(node.tmp, "empty-root")
    os.makedirs(empty)
    node.stop_plugin()
    node.env[LIST_ENV] = "cdi-cri"
    node.plugin_args = ["--driver-root", "/", "--dev-root", "/",
                        "--container-driver-root", empty]
    node.start_plugin()
    node.wait(allocatable=len(node.gpus))
    assert node.spec()["cdiVersion"] == "0.3.0", node.spec()
    r = validate(node, ["%s/gpu=%s" % (VENDOR, node.gpus[0]["uuid"])],
                 apply=False)
    assert r["specs"][0]["version"] == "0.3.0", r


def case_cdi_hooks_settings(node):
    node.start_kubelet()
    node.restart({LIST_ENV: "cdi-cri",
                  "CDI_DISABLE_HOOKS": "create-symlinks,update-ldcache",
                  "NVIDIA_CDI_HOOK_PATH": "/opt/tk/nvidia-cdi-hook"})
    hooks = node.spec()["containerEdits"]["hooks"]
    assert [h["args"] for h in hooks] == [
        ["nvidia-cdi-hook", "enable-cuda-compat",
         "--host-driver-version=" + node.version],
        ["nvidia-cdi-hook", "disable-device-node-modification"]], hooks
    assert all(h["path"] == "/opt/tk/nvidia-cdi-hook" for h in hooks)
    # DRM by-path links are create-symlinks too.
    assert node.want["drm"], node.want
    assert "hooks" not in json.dumps(node.spec()["devices"]), node.spec()
    # NVIDIA_CTK_PATH is the other name of NVIDIA_CDI_HOOK_PATH.
    node.restart({LIST_ENV: "cdi-cri", "NVIDIA_CTK_PATH": "/opt/nvidia-ctk"})
    hooks = node.spec()["containerEdits"]["hooks"]
    assert all(h["path"] == "/opt/nvidia-ctk" and h["args"][:2] == [
        "nvidia-ctk", "hook"] for h in hooks) and len(hooks) == 4, hooks
    node.restart({LIST_ENV: "cdi-cri", "CDI_DISABLE_HOOKS": "all"})
    assert "hooks" not in node.spec()["containerEdits"] or \
        node.spec()["containerEdits"]["hooks"] == [], node.spec()
    assert "hooks" not in json.dumps(node.spec()["devices"]), node.spec()
    validate(node, ["%s/gpu=%s" % (VENDOR, node.gpus[0]["uuid"])])


def case_annotation_prefix(node):
    node.start_kubelet()
    node.restart({LIST_ENV: "cdi-annotations",
                  "CDI_ANNOTATION_PREFIX": "example.com/cdi-"})
    u = node.gpus[0]["uuid"]
    a = node.allocate([u])
    (key, value), = a["response"]["annotations"].items()
    prefix, _, uuid = key.rpartition("_")
    assert prefix == "example.com/cdi-nvidia-device-plugin", key
    assert UUID4.match(uuid), key
    assert value == "%s/gpu=%s" % (VENDOR, u), value


def case_cdi_rewritten_at_sighup(node):
    node.start_kubelet()
    old = os.umask(0o077)
    try:
        node.restart({LIST_ENV: "cdi-annotations"})
    finally:
        os.umask(old)
    assert "/usr/bin/nvidia-smi" in json.dumps(node.spec())
    os.unlink(os.path.join(node.root, "usr/bin/nvidia-smi"))
    ino = os.stat(node.spec_path()).st_ino
    node.plugin.send_signal(signal.SIGHUP)
    PT.wait_for_line(node, "Wrote the CDI spec", "4 devices"
                     if len(node.gpus) == 4 else "devices")
    deadline = 100
    while os.stat(node.spec_path()).st_ino == ino and deadline:
        PT.time.sleep(0.05)
        deadline -= 1
    assert os.stat(node.spec_path()).st_ino != ino, "not replaced"
    assert "/usr/bin/nvidia-smi" not in json.dumps(node.spec())
    st = os.stat(node.spec_path())
    assert stat.S_IMODE(st.st_mode) == 0o644, oct(st.st_mode)
    assert os.listdir(node.cdi) == [os.path.basename(node.spec_path())]
    assert node.plugin.poll() is None, "plugin exited"
    validate(node, ["%s/gpu=%s" % (VENDOR, g["uuid"]) for g in node.gpus])


def case_imex(node):
    fakedriver.mknod(os.path.join(
        node.root, "dev/nvidia-caps-imex-channels/channel0"), 234, 0)
    node.start_kubelet()
    u = node.gpus[0]["uuid"]
    node.restart({LIST_ENV: "envvar,volume-mounts,cdi-cri",
                  "IMEX_CHANNEL_IDS": "0"}, ["--pass-device-specs"])
    r = node.allocate([u])["response"]
    assert r["envs"] == {
        "NVIDIA_VISIBLE_DEVICES": "/var/run/nvidia-container-devices",
        "NVIDIA_IMEX_CHANNELS": "0"}, r
    assert [m["container_path"] for m in r["mounts"]] == [
        "/var/run/nvidia-container-devices/" + u,
        "/var/run/nvidia-container-devices/imex/0"], r
    assert r["devices"][-1]["container_path"] == \
        "/dev/nvidia-caps-imex-channels/channel0", r
    assert r["cdi_devices"] == [{"name": "%s/gpu=%s" % (VENDOR, u)},
                                {"name": VENDOR + "/imex-channel=0"}], r
    names = [d["name"] for d in r["cdi_devices"]]
    v = validate(node, names)
    assert "/dev/nvidia-caps-imex-channels/channel0" in [
        d["path"] for d in v["oci"]["devices"]], v
    assert sorted((s["class"]) for s in v["specs"]) == \
        ["gpu", "imex-channel"], v


def run_plugin_once(node, env, args=()):
    e = dict(node.env, **env)
    return subprocess.run([PLUGIN, "--kubelet-socket", "",
                           "--sysfs-root", node.sysfs] + list(args),
                          env=e, capture_output=True, text=True,
                          timeout=30)


def case_bad_settings(node):
    for env, text in (
            ({LIST_ENV: "envvar,bogus"}, "invalid --device-list-strategy "
             "option: invalid strategy: bogus"),
            ({LIST_ENV: ""}, None),
            ({"GDS_ENABLED": "maybe"}, 'GDS_ENABLED'),
            ({"IMEX_CHANNEL_IDS": "1"}, "channelIDs must be [] or [0]; "
             "found [1]"),
            ({"IMEX_CHANNEL_IDS": "0", "IMEX_REQUIRED": "true"},
             "IMEX channel 0 is required")):
        if text is None:
            continue
        out = run_plugin_once(node, env)
        assert out.returncode == 2, (env, out.returncode, out.stderr)
        assert text in out.stderr, (env, out.stderr)


def case_cdi_failure_at_start(node):
    # The spec folder cannot be made: a start-up error, as NVIDIA's.
    blocker = os.path.join(node.tmp, "not-a-dir")
    open(blocker, "w").close()
    out = run_plugin_once(node, {LIST_ENV: "cdi-cri",
                                 "CDI_SPEC_DIR": blocker + "/cdi"},
                          ["--driver-root", node.root,
                           "--container-driver-root", node.root])
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert "unable to create cdi spec file" in out.stderr, out.stderr
    assert blocker + "/cdi" in out.stderr, out.stderr


CASES = [
    ("golden Allocate answers: every strategy x id strategy, azure-nc24",
     "azure-nc24", case_golden),
    ("golden Allocate answers: every strategy x id strategy, dgx-h100",
     "dgx-h100", case_golden),
    ("control nodes looked at again before each Allocate",
     "azure-nc6", case_control_nodes_rechecked),
    ("CDI spec read, resolved and applied by the CDI library (uuid)",
     "azure-nc24", case_cdi_spec_uuid),
    ("CDI spec read, resolved and applied by the CDI library (index)",
     "dgx-h100", case_cdi_spec_index),
    ("CDI host paths: the container driver root becomes the host's",
     "azure-nc24", case_cdi_paths_rewritten),
    ("CDI spec: the lowest cdiVersion its contents need",
     "azure-nc6", case_cdi_lowest_version),
    ("CDI hooks: --cdi-disable-hooks and --nvidia-cdi-hook-path",
     "azure-nc24", case_cdi_hooks_settings),
    ("cdi-annotations: the key's prefix is --cdi-annotation-prefix",
     "azure-nc6", case_annotation_prefix),
    ("CDI spec rewritten atomically at SIGHUP, under the filter",
     "azure-nc24", case_cdi_rewritten_at_sighup),
    ("IMEX channel 0 under every strategy, and its CDI spec",
     "azure-nc6", case_imex),
    ("a CDI spec that cannot be written at start: exit 1",
     "azure-nc6", case_cdi_failure_at_start),
    ("bad strategy settings: exit 2 naming what was wrong",
     "azure-nc6", case_bad_settings),
]


def main():
    passed = failed = 0
    for name, profile, fn in CASES:
        if profile == "azure-nc6":
            node = CdiNode(profile, control=("nvidiactl",)) \
                if fn is case_control_nodes_rechecked else CdiNode(profile)
        else:
            node = CdiNode(profile)
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


if __name__ == "__main__":
    sys.exit(main())
