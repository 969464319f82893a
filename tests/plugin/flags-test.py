#!/usr/bin/python3
"""NVIDIA's flags and environment variables, tried as a new user would.

The real plugin runs against the fake NVML and the kubelet stand-in (the
plugin tests' Node, run-plugin-tests.py) with settings that are valid for
NVIDIA's plugin (reference nvidia-device-plugin.md §1): each must start,
register and serve, or, where this plugin does not do what the setting
asks, still start and say so by name; bad values exit naming the flag in
NVIDIA's words. Found in the field: MIG_STRATEGY=single or mixed,
DEVICE_LIST_STRATEGY=volume-mounts or cdi-annotations, --gds-enabled,
--mofed-enabled, --cdi-annotation-prefix, --nvidia-ctk-path, -v and the
boolean "t" all exited 2.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: flags-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES MAKE_SYSFS
"""

import importlib.util
import os
import re
import subprocess
import sys
import time

_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
PLUGIN, RESOURCE = PT.PLUGIN, PT.RESOURCE

# Every flag of NVIDIA's plugin (v0.20.0), with its variables.
NVIDIA_FLAGS = {
    "mig-strategy": ["MIG_STRATEGY"],
    "fail-on-init-error": ["FAIL_ON_INIT_ERROR"],
    "driver-root": ["NVIDIA_DRIVER_ROOT"],
    "nvidia-driver-root": [],
    "dev-root": ["NVIDIA_DEV_ROOT"],
    "nvidia-dev-root": [],
    "pass-device-specs": ["PASS_DEVICE_SPECS"],
    "device-list-strategy": ["DEVICE_LIST_STRATEGY"],
    "device-id-strategy": ["DEVICE_ID_STRATEGY"],
    "gdrcopy-enabled": ["GDRCOPY_ENABLED"],
    "gds-enabled": ["GDS_ENABLED"],
    "mofed-enabled": ["MOFED_ENABLED"],
    "kubelet-socket": ["KUBELET_SOCKET"],
    "config-file": ["CONFIG_FILE"],
    "cdi-annotation-prefix": ["CDI_ANNOTATION_PREFIX"],
    "nvidia-cdi-hook-path": ["NVIDIA_CDI_HOOK_PATH", "NVIDIA_CTK_PATH"],
    "nvidia-ctk-path": [],
    "driver-root-ctr-path": ["DRIVER_ROOT_CTR_PATH",
                             "CONTAINER_DRIVER_ROOT"],
    "container-driver-root": [],
    "mps-root": ["MPS_ROOT"],
    "shared-devices-allocation-policy": ["SHARED_DEVICES_ALLOCATION_POLICY"],
    "device-discovery-strategy": ["DEVICE_DISCOVERY_STRATEGY"],
    "imex-channel-ids": ["IMEX_CHANNEL_IDS"],
    "imex-required": ["IMEX_REQUIRED"],
    "cdi-feature-flags": ["CDI_FEATURE_FLAGS"],
    "cdi-disable-hooks": ["CDI_DISABLE_HOOKS"],
}


def run(args, env, timeout=30):
    return subprocess.run([PLUGIN] + args, env=env, capture_output=True,
                          text=True, timeout=timeout)


def log_of(node):
    with open(node.plugin_log) as f:
        return f.read()


def serves(node, args=(), env=None, unset=()):
    """Restarts the plugin with these settings; it must register again
    and allocate its first GPU. Returns the log since this start."""
    start = os.path.getsize(node.plugin_log) if \
        os.path.exists(node.plugin_log) else 0
    PT.restart_plugin(node, args, env, unset)
    u = PT.profile_uuids(node.profile)
    r = node.allocate([u[0]])
    assert r["ok"], (args, env, r)
    with open(node.plugin_log) as f:
        f.seek(start)
        return f.read()


# ---- the cases ----------------------------------------------------------

def case_mig_strategies_without_mig(node):
    # A node without MIG: NVIDIA's single and mixed serve the full GPUs.
    node.start_kubelet()
    for args, env in (([], {"MIG_STRATEGY": "single"}),
                      ([], {"MIG_STRATEGY": "mixed"}),
                      (["-mig-strategy=mixed"], {}),
                      (["--mig-strategy", "single"], {})):
        log = serves(node, args, env, unset=["MIG_STRATEGY"])
        assert node.resource()["allocatable"] == 4, (args, env)
        assert "MIG strategy: %s" % (env.get("MIG_STRATEGY") or
                                     args[-1].split("=")[-1]) in log, log


def mig_profile(node, enabled):
    """dgx-h100 with MIG on for the GPUs at |enabled|; FAKE_NVML_PROFILE
    points at it."""
    path = os.path.join(node.tmp, "mig.yaml")
    out, i = [], -1
    with open(os.path.join(PT.PROFILES, "dgx-h100.yaml")) as f:
        for line in f:
            if line.startswith("  - name:"):
                i += 1
            if "mig_mode: disabled" in line and i in enabled:
                line = line.replace("disabled", "enabled")
            out.append(line)
    with open(path, "w") as f:
        f.writelines(out)
    node.env["FAKE_NVML_PROFILE"] = path


def case_mig_enabled_gpu(node):
    u = PT.profile_uuids("dgx-h100")
    mig_profile(node, {0})
    node.start_kubelet()
    # none: MIG on or not, every GPU whole (NVIDIA's none).
    node.start_plugin()
    node.wait(allocatable=8)
    # mixed: the GPU with MIG on (and no MIG device here) gives nothing,
    # saying why (NVIDIA's warning).
    node.stop_plugin()
    node.start_plugin(["--mig-strategy=mixed"])
    node.wait(allocatable=7)
    ids = [d["id"] for d in node.resource()["devices"]]
    assert u[0] not in ids and sorted(ids) == sorted(u[1:]), ids
    log = log_of(node)
    assert re.search(r"device 0 has no MIG devices configured \(%s has "
                     r"MIG on\): nothing of it is advertised" % u[0],
                     log), log
    node.stop_plugin()
    # single: NVIDIA refuses a GPU with MIG on and no MIG device first
    # (before the node's mixing MIG on and off); so do we.
    p = node.start_plugin(["--mig-strategy=single"])
    assert p.wait(timeout=20) == 1
    node.plugin = None
    assert "invalid MIG configuration: at least one device with " \
        "migEnabled=true was not configured correctly: device 0 has no " \
        "MIG devices configured" in log_of(node), log_of(node)


def case_device_list_strategies(node):
    # Every strategy and their combination start and serve (their answers:
    # strategies-test.py), with nothing said to be left unapplied.
    node.start_kubelet()
    for value in ("volume-mounts", "cdi-annotations", "cdi-cri",
                  "envvar,volume-mounts,cdi-annotations,cdi-cri"):
        log = serves(node, ["--cdi-spec-dir", os.path.join(node.tmp, "cdi")],
                     {"DEVICE_LIST_STRATEGY": value})
        assert "not applied yet" not in log, log
    # Both spellings, one list: volume-mounts' mounts and envvar's env.
    serves(node, ["--device-list-strategy", "volume-mounts",
                  "-device-list-strategy=envvar"],
           unset=["DEVICE_LIST_STRATEGY"])
    u = PT.profile_uuids(node.profile)
    r = node.allocate([u[0]])
    assert r["ok"] and r["response"].get("mounts"), r
    assert "NVIDIA_VISIBLE_DEVICES" in PT.envs_of(r), r
    log = serves(node, ["--device-list-strategy=envvar"])
    assert "not applied yet" not in log, log
    bad = run(["--device-list-strategy=envvar,bogus"], node.env)
    assert bad.returncode == 2, bad
    assert "invalid --device-list-strategy option: invalid strategy: " \
        "bogus" in bad.stderr, bad.stderr


def case_nvidia_flags_accepted(node):
    # A DaemonSet using every NVIDIA flag: it starts and serves, and each
    # setting whose effect is not here yet is named.
    flags = ["--gds-enabled", "--mofed-enabled", "--gdrcopy-enabled",
             "--cdi-annotation-prefix=nvidia.cdi.k8s.io/",
             "--nvidia-ctk-path=/usr/local/nvidia/toolkit/nvidia-ctk",
             "--mps-root=/run/nvidia/mps",
             "--shared-devices-allocation-policy=packed",
             "--device-discovery-strategy=nvml", "--imex-channel-ids=0",
             "--imex-required=false",
             "--cdi-feature-flags=disable-nvsandboxutils",
             "--cdi-disable-hooks=all", "--device-list-strategy=envvar",
             "--device-id-strategy=uuid", "--fail-on-init-error=true"]
    node.start_kubelet()
    log = serves(node, flags)
    for name in ("cdi-feature-flags",):
        assert re.search(r"--%s=\S+ \(--%s.*\): accepted, but not applied "
                         r"yet" % (name, name), log), (name, log)
    for name in ("gds-enabled", "mofed-enabled", "gdrcopy-enabled",
                 "imex-channel-ids", "mps-root"):
        assert "--%s=" % name not in log or "(--%s): accepted" % name \
            not in log, (name, log)
    assert "Using device discovery strategy: nvml" in log, log
    # The same through the environment, and --nvidia-cdi-hook-path.
    env = {"GDS_ENABLED": "true", "MOFED_ENABLED": "true",
           "GDRCOPY_ENABLED": "true",
           "CDI_ANNOTATION_PREFIX": "nvidia.cdi.k8s.io/",
           "NVIDIA_CTK_PATH": "/usr/local/nvidia/toolkit/nvidia-ctk",
           "MPS_ROOT": "/run/nvidia/mps",
           "SHARED_DEVICES_ALLOCATION_POLICY": "distributed",
           "DEVICE_DISCOVERY_STRATEGY": "auto", "IMEX_CHANNEL_IDS": "0",
           "IMEX_REQUIRED": "false",
           "CDI_FEATURE_FLAGS": "a,b", "CDI_DISABLE_HOOKS": "update-ldcache"}
    log = serves(node, ["--nvidia-cdi-hook-path", "/usr/bin/nvidia-cdi-hook"],
                 env)
    for var in ("CDI_FEATURE_FLAGS",):
        assert "(%s): accepted, but not applied yet" % var in log, (var, log)
    for var in ("GDS_ENABLED", "MOFED_ENABLED", "GDRCOPY_ENABLED",
                "IMEX_CHANNEL_IDS", "MPS_ROOT"):
        assert "(%s): accepted, but not applied yet" % var not in log, \
            (var, log)
    # Set to their defaults, they are not worth a word.
    log = serves(node, [], {"MPS_ROOT": "", "CDI_FEATURE_FLAGS": ""})
    assert "not applied yet" not in log, log


def case_version(node):
    for arg in ("-v", "--version", "-version", "--v"):
        out = run([arg], node.env)
        assert out.returncode == 0, (arg, out)
        assert out.stdout.startswith("gpu-device-plugin "), (arg, out)


def case_go_booleans(node):
    u = PT.profile_uuids("azure-nc6")
    node.start_kubelet()
    for args, env, want in (
            (["--pass-device-specs=t"], {}, True),
            (["-pass-device-specs=T"], {}, True),
            (["--pass-device-specs=TRUE"], {}, True),
            (["--pass-device-specs=True"], {}, True),
            (["--pass-device-specs=1"], {}, True),
            ([], {"PASS_DEVICE_SPECS": "t"}, True),
            (["--pass-device-specs=F"], {"PASS_DEVICE_SPECS": "t"}, False),
            ([], {"PASS_DEVICE_SPECS": "f"}, False),
            ([], {"PASS_DEVICE_SPECS": "False"}, False),
            ([], {"PASS_DEVICE_SPECS": ""}, False)):   # set, empty: false
        serves(node, args, env, unset=["PASS_DEVICE_SPECS"])
        got = PT.gpu_specs(node.allocate([u[0]]))
        assert bool(got) == want, (args, env, got)


def case_single_dash_and_spaced_values(node):
    # Go's flag syntax: -name, and the value as the next argument.
    u = PT.profile_uuids("azure-nc24")
    node.start_kubelet()
    node.plugin = subprocess.Popen(
        [PLUGIN, "-kubelet-socket", os.path.join(node.dir, "kubelet.sock"),
         "-sysfs-root", node.sysfs, "-device-id-strategy", "index",
         "-pass-device-specs", "-fail-on-init-error=T"],
        env=node.env, stdout=subprocess.DEVNULL,
        stderr=open(node.plugin_log, "a"))
    node.wait(allocatable=4)
    r = node.allocate([u[2], u[0]])
    assert PT.envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == "2,0", r
    assert [t[0] for t in PT.gpu_specs(r)] == ["/dev/nvidia2",
                                               "/dev/nvidia0"], r


def case_bad_values(node):
    steps = [  # (flags, environment, exit code, words wanted)
        ([], {"MIG_STRATEGY": "both"}, 2,
         ["unknown MIG strategy: both", "MIG_STRATEGY"]),
        (["--device-id-strategy=serial"], {}, 2,
         ["invalid --device-id-strategy option: serial"]),
        (["--device-discovery-strategy=wsl"], {}, 2,
         ["invalid --device-discovery-strategy option wsl"]),
        (["--device-discovery-strategy=tegra"], {}, 1,
         ["tegra", "not supported"]),
        ([], {"DEVICE_DISCOVERY_STRATEGY": "tegra"}, 1,
         ["DEVICE_DISCOVERY_STRATEGY", "not supported"]),
        (["--shared-devices-allocation-policy=tight"], {}, 2,
         ["invalid --shared-devices-allocation-policy option: tight"]),
        ([], {"IMEX_CHANNEL_IDS": "0,1"}, 2,
         ["invalid IMEX channel IDs", "must be [] or [0]; found [0 1]"]),
        (["--gds-enabled=maybe"], {}, 2, ["--gds-enabled", "maybe"]),
        (["--no-such-flag"], {}, 2, ["unknown flag --no-such-flag"]),
        (["-no-such-flag=1"], {}, 2, ["unknown flag -no-such-flag"]),
        (["--pass-device-specs", "false"], {}, 2,
         ["--pass-device-specs=false"]),
    ]
    for args, env, code, words in steps:
        out = run(args, dict(node.env, **env))
        assert out.returncode == code, (args, env, out)
        for w in words:
            assert w in out.stderr, (args, env, w, out.stderr)


def case_help_lists_every_flag(node):
    out = run(["--help"], node.env)
    assert out.returncode == 0, out
    for flag, envs in NVIDIA_FLAGS.items():
        assert "--" + flag in out.stdout, flag
        for e in envs:
            assert e in out.stdout, e
    assert "-v, --version" in out.stdout and "-h, --help" in out.stdout


def case_landmark_lines(node):
    # The lines operators grep NVIDIA's log for.
    node.start_kubelet()
    node.start_plugin()
    node.wait(allocatable=1, registrations_at_least=1)
    sock = os.path.join(node.dir, "nvidia-gpu.sock")
    registered = "Registered device plugin for '%s' with Kubelet" % RESOURCE
    # The stand-in sees Register before the plugin sees its answer.
    for _ in range(100):
        log = log_of(node)
        if registered in log:
            break
        time.sleep(0.05)
    assert "Starting to serve '%s' on %s" % (RESOURCE, sock) in log, log
    assert registered in log, log


CASES = [
    ("MIG_STRATEGY single or mixed on a node without MIG: full GPUs",
     "azure-nc24", case_mig_strategies_without_mig),
    ("a GPU with MIG on and no MIG devices: none serves it whole, mixed "
     "leaves it out saying so, single refuses it", "dgx-h100", case_mig_enabled_gpu),
    ("DEVICE_LIST_STRATEGY: every strategy and combination starts; bad "
     "ones exit 2", "azure-nc6", case_device_list_strategies),
    ("every NVIDIA flag and variable is accepted; the ones not applied "
     "yet are named", "azure-nc6", case_nvidia_flags_accepted),
    ("-v, --version print the version", "azure-nc6", case_version),
    ("booleans as Go spells them: t, T, TRUE, True, 1, F, f, False, empty",
     "azure-nc6", case_go_booleans),
    ("single-dash flags, values as the next argument", "azure-nc24",
     case_single_dash_and_spaced_values),
    ("bad values: NVIDIA's words and the exit code", "azure-nc6",
     case_bad_values),
    ("--help lists every NVIDIA flag and variable", "azure-nc6",
     case_help_lists_every_flag),
    ("the start-up log's landmark lines", "azure-nc6",
     case_landmark_lines),
]


def main():
    return PT.run_cases([(name, lambda p=profile: PT.Node(p), fn)
                         for name, profile, fn in CASES])


if __name__ == "__main__":
    sys.exit(main())
