#!/usr/bin/python3
"""Tests of the config file, flags and environment, through the real binary.

Each case runs gpu-device-plugin, mostly as `--check-config` (no NVML, no
kubelet), in a clean environment and a fresh temporary directory, and
checks what an operator sees: the exit code, the effective configuration
printed on stdout (NVIDIA's JSON shape), and the exact error and warning
lines on stderr. The start-up cases run the daemon itself against the
fake NVML's init-fails profile, so that it exits right after logging its
configuration. Each case prints "ok - NAME" or "not ok - NAME: why"; the
last line is "N passed, M failed".

Usage: run-config-tests.py PLUGIN EXAMPLES_DIR FAKE_LIB_DIR PROFILES_DIR
"""

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback

PLUGIN, EXAMPLES, FAKE_LIB_DIR, PROFILES = map(os.path.abspath,
                                                sys.argv[1:5])
TMP = tempfile.mkdtemp(prefix="gdp-config-")
P = "gpu-device-plugin: "

# What --check-config prints with no flags, no environment and no file:
# NVIDIA's defaults, in NVIDIA's shape.
DEFAULTS = {
    "version": "v1",
    "flags": {
        "migStrategy": "none",
        "failOnInitError": True,
        "mpsRoot": "",
        "nvidiaDriverRoot": "/",
        "nvidiaDevRoot": "/",
        "gdrcopyEnabled": False,
        "gdsEnabled": False,
        "mofedEnabled": False,
        "deviceDiscoveryStrategy": "auto",
        "plugin": {
            "passDeviceSpecs": False,
            "deviceListStrategy": ["envvar"],
            "deviceIDStrategy": "uuid",
            "cdiAnnotationPrefix": "cdi.k8s.io/",
            "nvidiaCTKPath": "/usr/bin/nvidia-ctk",
            "containerDriverRoot": "/driver-root",
            "sharedDevicesAllocationPolicy": "distributed",
        },
    },
    "resources": {"gpus": [{"pattern": "*", "name": "nvidia.com/gpu"}]},
    "sharing": {"timeSlicing": {}},
    "imex": {},
}

def clean_env(extra=None):
    """No setting of the plugin's from the caller's environment; the
    sanitizers' options pass through."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k, v in os.environ.items():
        if k.split("_")[0] in ("ASAN", "UBSAN", "LSAN") or \
                k == "GDP_SANITIZED":
            env[k] = v
    env.update(extra or {})
    return env


def run(args, env=None, timeout=60):
    p = subprocess.run([PLUGIN] + args, env=clean_env(env), cwd=TMP,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write(name, text, mode="w"):
    path = os.path.join(TMP, name)
    with open(path, mode, encoding="latin-1") as f:
        f.write(text)
    return path


def check(args, env=None):
    """--check-config: (exit code, effective config or None, stderr
    lines other than the final verdict)."""
    rc, out, err = run(["--check-config"] + args, env)
    lines = err.splitlines()
    if rc == 0:
        assert lines and lines[-1] == P + "configuration OK", err
        lines = lines[:-1]
        return rc, json.loads(out), lines
    assert out == "", "output on failure: " + out
    return rc, None, lines


def check_file(text, args=None, env=None, name="config.yaml"):
    """--check-config of |text| written to |name| (a path relative to
    the working directory, as messages then show it)."""
    write(name, text)
    return check(["--config-file", name] + (args or []), env)


def expect_ok(text, want, args=None, env=None, warnings=()):
    rc, got, lines = check_file(text, args, env)
    assert rc == 0, "exit %d: %s" % (rc, lines)
    assert lines == [P + "warning: " + w for w in warnings], lines
    assert got == want, "got\n%s\nwant\n%s" % (
        json.dumps(got, indent=1), json.dumps(want, indent=1))


def expect_error(text, errors, warnings=(), args=None, env=None,
                 name="config.yaml"):
    rc, _, lines = check_file(text, args, env, name)
    assert rc == 1, "exit %d, want 1: %s" % (rc, lines)
    want = [P + "warning: " + w for w in warnings] + \
        [P + "error: " + e for e in errors]
    assert lines == want, "got\n%s\nwant\n%s" % (
        "\n".join(lines), "\n".join(want))


def defaults_with(**changes):
    """DEFAULTS with "a.b.c": value changes (dots as double underscores
    in the keyword)."""
    d = copy.deepcopy(DEFAULTS)
    for k, v in changes.items():
        keys = k.split("__")
        node = d
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = v
    return d


def example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return f.read()


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# --- defaults and empty files

@case
def defaults_without_a_file():
    rc, got, lines = check([])
    assert rc == 0 and lines == [] and got == DEFAULTS, (rc, lines, got)


@case
def empty_files_are_the_defaults():
    # The config manager's fallback is a link to /dev/null.
    for text in ["", "\n\n", "# only a comment\n", "---\n", "~\n",
                 "null\n", "{}\n"]:
        expect_ok(text, DEFAULTS)
    rc, got, lines = check(["--config-file", "/dev/null"])
    assert rc == 0 and got == DEFAULTS and lines == [], (rc, got, lines)


@case
def missing_file_is_an_error():
    path = os.path.join(TMP, "absent.yaml")
    rc, _, lines = check(["--config-file", path])
    assert rc == 1 and lines == [
        P + "error: %s: cannot open the config file: No such file or "
        "directory" % path], lines


@case
def config_file_from_the_environment():
    path = write("env.yaml", "flags:\n  migStrategy: single\n")
    rc, got, lines = check([], env={"CONFIG_FILE": path})
    assert rc == 0 and got["flags"]["migStrategy"] == "single", (rc, got)


# --- NVIDIA's documented examples

@case
def example_time_slicing():
    want = defaults_with(sharing__timeSlicing={"resources": [
        {"name": "nvidia.com/gpu", "devices": "all", "replicas": 10}]})
    expect_ok(example("time-slicing.yaml"), want)


@case
def example_time_slicing_renamed():
    want = defaults_with(sharing__timeSlicing={
        "renameByDefault": True, "failRequestsGreaterThanOne": True,
        "resources": [{"name": "nvidia.com/gpu",
                       "rename": "nvidia.com/gpu.shared",
                       "devices": "all", "replicas": 10}]})
    expect_ok(example("time-slicing-renamed.yaml"), want)


@case
def example_mps():
    want = defaults_with(flags__mpsRoot="/run/nvidia/mps")
    want["sharing"]["mps"] = {
        "failRequestsGreaterThanOne": True,
        "resources": [{"name": "nvidia.com/gpu", "devices": "all",
                       "replicas": 10}]}
    expect_ok(example("mps.yaml"), want,
              env={"MPS_ROOT": "/run/nvidia/mps"})


@case
def allocation_policy_strict_from_the_file():
    path = write("strict.yaml", "flags:\n  plugin:\n"
                 "    sharedDevicesAllocationPolicy: distributed-strict\n")
    rc, got, lines = check(["--config-file", path])
    assert rc == 0 and lines == [], (rc, lines)
    assert got["flags"]["plugin"]["sharedDevicesAllocationPolicy"] == \
        "distributed-strict", got


@case
def example_mps_needs_mps_root():
    expect_error(example("mps.yaml"), [
        "config.yaml:5:3: sharing.mps: using MPS requires --mps-root to "
        "be specified (or MPS_ROOT, or flags.mpsRoot)"])


@case
def example_mig_mixed_time_slicing():
    res = [("nvidia.com/gpu", 2), ("nvidia.com/mig-1g.5gb", 2),
           ("nvidia.com/mig-2g.10gb", 2), ("nvidia.com/mig-3g.20gb", 3),
           ("nvidia.com/mig-7g.40gb", 7)]
    want = defaults_with(flags__migStrategy="mixed", sharing__timeSlicing={
        "resources": [{"name": n, "devices": "all", "replicas": r}
                      for n, r in res]})
    expect_ok(example("mig-mixed-time-slicing.yaml"), want)


@case
def example_every_flag_key():
    want = defaults_with(
        flags__migStrategy="single", flags__failOnInitError=False,
        flags__mpsRoot="/run/nvidia/mps",
        flags__nvidiaDriverRoot="/run/nvidia/driver",
        flags__nvidiaDevRoot="/", flags__gdrcopyEnabled=True,
        flags__gdsEnabled=True, flags__mofedEnabled=False,
        flags__deviceDiscoveryStrategy="nvml",
        flags__plugin={
            "passDeviceSpecs": True, "deviceListStrategy": ["envvar"],
            "deviceIDStrategy": "index",
            "cdiAnnotationPrefix": "cdi.example.com/",
            "nvidiaCTKPath": "/usr/local/bin/nvidia-ctk",
            "containerDriverRoot": "/host-driver",
            "sharedDevicesAllocationPolicy": "packed"},
        resources={"gpus": [{"pattern": "*", "name": "nvidia.com/gpu"}],
                   "mig": [{"pattern": "*", "name": "nvidia.com/gpu"}]},
        imex={"channelIDs": [0], "required": True})
    # GPU feature discovery's keys pass in silence: no warnings at all.
    expect_ok(example("full.yaml"), want)


@case
def example_json():
    want = defaults_with(sharing__timeSlicing={"resources": [
        {"name": "nvidia.com/gpu", "replicas": 4, "devices": [
            "0", "1", "0:1", "GPU-b1028956-cfa2-0990-bf4a-5da9abb51763",
            "MIG-b1028956-cfa2-0990-bf4a-5da9abb51763",
            "MIG-GPU-b1028956-cfa2-0990-bf4a-5da9abb51763/3/0"]},
        {"name": "nvidia.com/gpu-big", "rename": "nvidia.com/gpu-big-shared",
         "replicas": 2, "devices": 2}]})
    rc, got, lines = check_file(example("full.json"), name="config.json")
    assert rc == 0 and got == want, (rc, lines, json.dumps(got, indent=1))
    assert lines == [], lines


@case
def named_configs_switched_like_the_config_manager():
    # The ConfigMap's keys as the kubelet mounts them (one file each), and
    # /config/config.yaml a link the config manager points at one of them,
    # or at /dev/null when no config is chosen.
    avail = os.path.join(EXAMPLES, "configmap")
    link = os.path.join(TMP, "link.yaml")
    seen = {}
    for target in ["config0", "config1", "default", "/dev/null"]:
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.join(avail, target), link)
        rc, got, _ = check([], env={"CONFIG_FILE": link})
        assert rc == 0, (target, rc)
        seen[target] = got
    assert seen["config0"] == DEFAULTS, seen["config0"]
    assert seen["config1"] == defaults_with(flags__migStrategy="mixed")
    assert seen["default"]["sharing"]["timeSlicing"]["resources"][0][
        "rename"] == "nvidia.com/gpu.shared"
    assert seen["/dev/null"] == DEFAULTS


# --- precedence: flag > environment > file > default

PRECEDENCE_FILE = """\
flags:
  nvidiaDriverRoot: /from-file
  failOnInitError: false
  plugin:
    deviceIDStrategy: index
    passDeviceSpecs: true
"""


def effective(args=(), env=None, file=True):
    extra = []
    if file:
        extra = ["--config-file", write("prec.yaml", PRECEDENCE_FILE)]
    rc, got, lines = check(extra + list(args), env)
    assert rc == 0 and lines == [], (rc, lines)
    return got["flags"]


@case
def precedence_string():
    env = {"NVIDIA_DRIVER_ROOT": "/from-env"}
    assert effective(file=False)["nvidiaDriverRoot"] == "/"
    assert effective()["nvidiaDriverRoot"] == "/from-file"
    assert effective(env=env)["nvidiaDriverRoot"] == "/from-env"
    assert effective(["--driver-root=/from-flag"], env)[
        "nvidiaDriverRoot"] == "/from-flag"
    assert effective(["--nvidia-driver-root", "/from-alias"], env)[
        "nvidiaDriverRoot"] == "/from-alias"
    # The dev root follows the driver root wherever that came from.
    assert effective()["nvidiaDevRoot"] == "/from-file"


@case
def precedence_bool():
    assert effective(file=False)["failOnInitError"] is True
    assert effective()["failOnInitError"] is False
    assert effective(env={"FAIL_ON_INIT_ERROR": "true"})[
        "failOnInitError"] is True
    assert effective(["--fail-on-init-error=false"],
                     {"FAIL_ON_INIT_ERROR": "true"})[
        "failOnInitError"] is False
    assert effective()["plugin"]["passDeviceSpecs"] is True
    assert effective(env={"PASS_DEVICE_SPECS": "false"})["plugin"][
        "passDeviceSpecs"] is False


@case
def precedence_device_id_strategy():
    assert effective()["plugin"]["deviceIDStrategy"] == "index"
    assert effective(env={"DEVICE_ID_STRATEGY": "uuid"})["plugin"][
        "deviceIDStrategy"] == "uuid"
    assert effective(["--device-id-strategy=uuid"])["plugin"][
        "deviceIDStrategy"] == "uuid"


@case
def overridden_bad_file_value_is_not_an_error():
    # As NVIDIA: a value the flag or variable overrides is never used.
    path = write("over.yaml", "flags:\n  migStrategy: bogus\n")
    rc, got, _ = check(["--config-file", path, "--mig-strategy=none"])
    assert rc == 0 and got["flags"]["migStrategy"] == "none", rc
    rc, got, _ = check(["--config-file", path],
                       env={"MIG_STRATEGY": "single"})
    assert rc == 0 and got["flags"]["migStrategy"] == "single", rc


# --- the error catalogue

CATALOGUE = [
    # (name, file, errors, warnings)
    ("syntax", "flags:\n  migStrategy: [none\n",
     ["config.yaml:3:1: not valid YAML or JSON: did not find expected ',' "
      "or ']' (while parsing a flow sequence at line 2)"], []),
    ("tab indentation", "flags:\n\tmigStrategy: none\n",
     ["config.yaml:2:1: not valid YAML or JSON: found character that "
      "cannot start any token (while scanning for the next token at line "
      "2)"], []),
    ("bad UTF-8", "version: v1\nflags: \xff\n",
     ["config.yaml: not valid YAML or JSON: invalid leading UTF-8 octet "
      "(at byte 19)"], []),
    ("two documents", "version: v1\n---\nversion: v1\n",
     ["config.yaml:2:1: a second YAML document (one config per file)"], []),
    ("too deep", "a: " + "[" * 70 + "]" * 70 + "\n",
     ["config.yaml:1:67: nested deeper than 64 levels"], []),
    ("top level a list", "- version: v1\n",
     ["config.yaml:1:1: expected a mapping of version, flags, resources, "
      "sharing and imex, got a list"], []),
    ("top level a string", "hello\n",
     ["config.yaml:1:1: expected a mapping of version, flags, resources, "
      "sharing and imex, got the string \"hello\""], []),
    ("unknown version", "version: v2\n",
     ["config.yaml:1:10: version: unknown version: v2 (v1 is the only "
      "one)"], []),
    ("version a list", "version: [v1]\n",
     ["config.yaml:1:10: version: expected a version (v1), got a list"], []),
    ("repeated key", "version: v1\nflags: {}\nversion: v1\n",
     ["config.yaml:3:1: version: repeated key (first at line 1)"], []),
    ("key a mapping", "{a: 1}: 2\n",
     ["config.yaml:1:1: expected a key name, got a mapping"], []),
    ("flags a string", "flags: none\n",
     ["config.yaml:1:8: flags: expected a mapping, got the string "
      "\"none\""], []),
    ("plugin a list", "flags:\n  plugin: [a]\n",
     ["config.yaml:2:11: flags.plugin: expected a mapping, got a list"], []),
    ("bool a list", "flags:\n  failOnInitError: [true]\n",
     ["config.yaml:2:20: flags.failOnInitError: expected a boolean (true "
      "or false), got a list"], []),
    ("bool not a bool", "flags:\n  failOnInitError: maybe\n",
     ["config.yaml:2:20: flags.failOnInitError: \"maybe\" is not a "
      "boolean (true or false, t or f, 1 or 0)"], []),
    ("string a mapping", "flags:\n  nvidiaDriverRoot: {a: b}\n",
     ["config.yaml:2:21: flags.nvidiaDriverRoot: expected a string, got a "
      "mapping"], []),
    ("list item a mapping",
     "flags:\n  plugin:\n    deviceListStrategy: [envvar, {a: b}]\n",
     ["config.yaml:3:34: flags.plugin.deviceListStrategy[1]: expected a "
      "string, got a mapping"], []),
    ("list item null",
     "flags:\n  plugin:\n    deviceListStrategy: [envvar, ~]\n",
     ["config.yaml:3:34: flags.plugin.deviceListStrategy[1]: expected a "
      "string, got nothing (null)"], []),
    ("resources not a mapping", "resources: [gpus]\n",
     ["config.yaml:1:12: resources: expected a mapping, got a list"], []),
    ("resource without pattern", "resources:\n  gpus:\n  - name: gpu\n",
     ["config.yaml:3:5: resources.gpus[0]: resources must have a 'pattern' "
      "field set"], []),
    ("resource without name", "resources:\n  mig:\n  - pattern: '*'\n",
     ["config.yaml:3:5: resources.mig[0]: resources must have a 'name' "
      "field set"], []),
    ("resource name bad", "resources:\n  gpus:\n  - pattern: '*'\n"
     "    name: Big_GPU\n",
     ["config.yaml:4:11: resources.gpus[0].name: incorrect format for "
      "resource name 'nvidia.com/Big_GPU': a lowercase RFC 1123 subdomain "
      "must consist of lower case alphanumeric characters, '-' or '.', and "
      "must start and end with an alphanumeric character"], []),
    ("resource name too long", "resources:\n  gpus:\n  - pattern: '*'\n"
     "    name: " + "g" * 60 + "\n",
     ["config.yaml:4:11: resources.gpus[0].name: fully-qualified resource "
      "name must be 63 characters or less: nvidia.com/" + "g" * 60], []),
    ("sharing a list", "sharing: []\n",
     ["config.yaml:1:10: sharing: expected a mapping, got a list"], []),
    ("time-slicing without resources",
     "sharing:\n  timeSlicing:\n    renameByDefault: true\n",
     ["config.yaml:2:3: sharing.timeSlicing: no resources specified"], []),
    ("time-slicing with no resources",
     "sharing:\n  timeSlicing:\n    resources: []\n",
     ["config.yaml:2:3: sharing.timeSlicing: no resources specified"], []),
    ("time-slicing a string", "sharing:\n  timeSlicing: on\n",
     ["config.yaml:2:16: sharing.timeSlicing: expected a mapping of "
      "renameByDefault, failRequestsGreaterThanOne and resources, got the "
      "boolean on"], []),
    ("resources a mapping",
     "sharing:\n  mps:\n    resources: {name: gpu}\n",
     ["config.yaml:3:16: sharing.mps.resources: expected a list of "
      "resources to share, got a mapping",
      "config.yaml:2:3: sharing.mps: no resources specified"], []),
    ("resource not a mapping",
     "sharing:\n  timeSlicing:\n    resources: [gpu]\n",
     ["config.yaml:3:17: sharing.timeSlicing.resources[0]: expected a "
      "mapping of name, replicas, rename and devices, got the string "
      "\"gpu\""], []),
    ("no name", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - replicas: 2\n",
     ["config.yaml:4:7: sharing.timeSlicing.resources[0]: no resource name "
      "specified"], []),
    ("no replicas", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n",
     ["config.yaml:4:7: sharing.timeSlicing.resources[0]: no replicas "
      "specified"], []),
    ("one replica", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 1\n",
     ["config.yaml:5:17: sharing.timeSlicing.resources[0].replicas: number "
      "of replicas must be >= 2, found 1"], []),
    ("negative replicas", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: -3\n",
     ["config.yaml:5:17: sharing.timeSlicing.resources[0].replicas: number "
      "of replicas must be >= 2, found -3"], []),
    ("replicas a string", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: \"4\"\n",
     ["config.yaml:5:17: sharing.timeSlicing.resources[0].replicas: "
      "expected a number of replicas (2 or more), got the string \"4\""],
     []),
    ("replicas too many", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 99999999999\n",
     ["config.yaml:5:17: sharing.timeSlicing.resources[0].replicas: "
      "expected a number of replicas (2 or more), got the number "
      "99999999999"], []),
    ("rename bad", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 2\n      rename: a/b\n",
     ["config.yaml:6:15: sharing.timeSlicing.resources[0].rename: incorrect "
      "format for resource name 'nvidia.com/a/b': a lowercase RFC 1123 "
      "subdomain must consist of lower case alphanumeric characters, '-' or "
      "'.', and must start and end with an alphanumeric character"], []),
    ("devices a word", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 2\n      devices: some\n",
     ["config.yaml:6:16: sharing.timeSlicing.resources[0].devices: devices "
      "set as 'some' but the only valid string input is 'all'"], []),
    ("devices zero", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 2\n      devices: 0\n",
     ["config.yaml:6:16: sharing.timeSlicing.resources[0].devices: devices "
      "set as '0' but a count of devices must be > 0"], []),
    ("devices a mapping", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 2\n      devices: {a: 1}\n",
     ["config.yaml:6:16: sharing.timeSlicing.resources[0].devices: expected "
      "\"all\", a count or a list of devices, got a mapping"], []),
    ("device unknown", "sharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 2\n"
     "      devices: [0, GPU-123, 1:x]\n",
     ["config.yaml:6:20: sharing.timeSlicing.resources[0].devices[1]: "
      "unsupported device in devices list: 'GPU-123' (expected a GPU index, "
      "a MIG index like 0:1, or a GPU or MIG UUID)",
      "config.yaml:6:29: sharing.timeSlicing.resources[0].devices[2]: "
      "unsupported device in devices list: '1:x' (expected a GPU index, a "
      "MIG index like 0:1, or a GPU or MIG UUID)"], []),
    ("renameByDefault not a bool", "sharing:\n  timeSlicing:\n"
     "    renameByDefault: \"yes please\"\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 2\n",
     ["config.yaml:3:22: sharing.timeSlicing.renameByDefault: expected a "
      "boolean (true or false), got the string \"yes please\""], []),
    ("MPS with mixed MIG", "flags:\n  migStrategy: mixed\n  mpsRoot: /m\n"
     "sharing:\n  mps:\n    resources:\n    - name: nvidia.com/gpu\n"
     "      replicas: 2\n",
     ["config.yaml:5:3: sharing.mps: using --mig-strategy=mixed is not "
      "supported with MPS"], []),
    ("IMEX channel 1", "imex:\n  channelIDs: [1]\n",
     ["config.yaml:2:15: imex.channelIDs: invalid IMEX config: channelIDs "
      "must be [] or [0]"], []),
    ("IMEX channel a word", "imex:\n  channelIDs: [zero]\n",
     ["config.yaml:2:16: imex.channelIDs[0]: expected a channel id (a whole "
      "number), got the string \"zero\""], []),
    ("IMEX required a word", "imex:\n  required: sure\n",
     ["config.yaml:2:13: imex.required: \"sure\" is not a boolean (true "
      "or false, t or f, 1 or 0)"], []),
    ("many errors at once", "flags:\n  failOnInitError: maybe\n"
     "  mystery: 1\nsharing:\n  timeSlicing:\n    resources:\n"
     "    - name: nvidia.com/gpu\n      replicas: 1\n",
     ["config.yaml:8:17: sharing.timeSlicing.resources[0].replicas: number "
      "of replicas must be >= 2, found 1",
      "config.yaml:2:20: flags.failOnInitError: \"maybe\" is not a "
      "boolean (true or false, t or f, 1 or 0)"],
     ["config.yaml:3:12: flags.mystery: unknown key, ignored"]),
]


def catalogue_case(name, text, errors, warnings):
    def fn():
        expect_error(text, errors, warnings)
    fn.__name__ = "error: " + name
    return fn


for _entry in CATALOGUE:
    CASES.append(catalogue_case(*_entry))


# Errors owned by the flags' rules: NVIDIA's words, then the file's place
# and what is accepted.
@case
def error_mig_strategy_from_file():
    rc, _, lines = check_file("flags:\n  migStrategy: bogus\n")
    assert rc == 1 and len(lines) == 1, (rc, lines)
    assert lines[0] == P + "error: unknown MIG strategy: bogus (from " \
        "config.yaml:2:16: flags.migStrategy; accepted: none, single, " \
        "mixed)", lines


@case
def error_device_id_strategy_from_file():
    rc, _, lines = check_file("flags:\n  plugin:\n"
                              "    deviceIDStrategy: serial\n")
    assert rc == 1 and len(lines) == 1, (rc, lines)
    assert lines[0] == P + "error: invalid --device-id-strategy option: " \
        "serial (from config.yaml:3:23: flags.plugin.deviceIDStrategy; " \
        "accepted: uuid, index)", lines


@case
def error_file_is_a_directory():
    rc, _, lines = check(["--config-file", TMP])
    assert rc == 1 and lines == [
        P + "error: %s: cannot read the config file: Is a directory" % TMP], \
        lines


@case
def error_file_too_large():
    path = write("big.yaml", "#" * (1 << 20) + "\n")
    rc, _, lines = check(["--config-file", path])
    assert rc == 1 and lines == [
        P + "error: %s: the config file is larger than 1048576 bytes (a "
        "ConfigMap holds at most 1 MiB)" % path], lines


@case
def error_bad_flag_with_check_config():
    rc, out, err = run(["--check-config", "--no-such-flag"])
    assert rc == 1 and out == "" and err == \
        P + "error: unknown flag --no-such-flag (see --help)\n", (rc, err)


@case
def error_bad_values_from_flags_and_environment():
    for args, env, src in [(["--mig-strategy=bogus"], None, "--mig-strategy"),
                           ([], {"MIG_STRATEGY": "bogus"},
                            "MIG_STRATEGY (for --mig-strategy)")]:
        want = P + "error: unknown MIG strategy: bogus (from %s; " \
            "accepted: none, single, mixed)\n" % src
        rc, out, err = run(["--check-config"] + args, env)
        assert rc == 1 and out == "" and err == want, (args, rc, err)
    # Without --check-config an unusable command line still exits 2.
    rc, _, err = run(["--mig-strategy=bogus"])
    assert rc == 2 and "unknown MIG strategy: bogus" in err, (rc, err)


@case
def warnings_unknown_keys_and_resources():
    text = ("version: v1\nbogus: 1\nflags:\n  plugin:\n    extra: x\n"
            "  gfd:\n    unheardOf: 2\nresources:\n  gpus:\n"
            "  - pattern: 'Tesla*'\n    name: tesla\nimex:\n  other: 1\n"
            "sharing:\n  weird: {}\n")
    expect_ok(text, DEFAULTS, warnings=[
        "config.yaml:2:8: bogus: unknown key, ignored",
        "config.yaml:5:12: flags.plugin.extra: unknown key, ignored",
        "config.yaml:7:16: flags.gfd.unheardOf: unknown key, ignored",
        "config.yaml:9:3: resources: customizing the resources is not "
        "supported yet (nor by NVIDIA's plugin): ignored, the default names "
        "are used",
        "config.yaml:13:10: imex.other: unknown key, ignored",
        "config.yaml:15:10: sharing.weird: unknown key, ignored"])


@case
def yaml_booleans_and_nulls():
    text = ("flags:\n  failOnInitError: off\n  gdsEnabled: Yes\n"
            "  mofedEnabled: \"true\"\n  migStrategy: ~\n  plugin:\n")
    want = defaults_with(flags__failOnInitError=False,
                         flags__gdsEnabled=True, flags__mofedEnabled=True)
    expect_ok(text, want)


@case
def aliases_are_followed():
    text = ("sharing:\n  timeSlicing:\n    resources:\n"
            "    - &r {name: nvidia.com/gpu, replicas: 3}\n    - *r\n")
    rc, got, _ = check_file(text)
    assert rc == 0 and len(got["sharing"]["timeSlicing"]["resources"]) == 2


# --- the daemon at start

def start(args, env=None):
    """The daemon against the fake NVML whose init fails: it logs its
    configuration and exits 1 (fail-on-init-error)."""
    e = {"LD_LIBRARY_PATH": FAKE_LIB_DIR,
         "FAKE_NVML_PROFILE": os.path.join(PROFILES, "init-fails.yaml")}
    e.update(env or {})
    return run(["--kubelet-socket=" + os.path.join(TMP, "kubelet.sock"),
                "--seccomp=off"] + args, e)


@case
def start_logs_running_with_config():
    path = write("start.yaml", example("time-slicing.yaml"))
    rc, _, err = start(["--config-file", path])
    assert rc == 1, (rc, err)
    lines = [ln for ln in err.splitlines() if "] Running with config: " in ln]
    assert len(lines) == 1, err
    logged = json.loads(lines[0].split("] Running with config: ", 1)[1])
    _, printed, _ = check(["--config-file", path])
    assert logged == printed, (logged, printed)
    # Sharing is applied: nothing about it to warn of.
    assert "sharing" not in "".join(ln for ln in err.splitlines()
                                    if ln.startswith("W")), err


@case
def start_logs_a_long_config_in_parts():
    text = "sharing:\n  timeSlicing:\n    resources:\n" + "".join(
        "    - name: nvidia.com/mig-%dg.%dgb\n      replicas: %d\n" %
        (i, 10 * i, i + 2) for i in range(1, 40))
    path = write("long.yaml", text)
    rc, _, err = start(["--config-file", path])
    parts = [ln.split("): ", 1)[1] for ln in err.splitlines()
             if "] Running with config (part " in ln]
    assert rc == 1 and len(parts) >= 2, (rc, err)
    _, printed, _ = check(["--config-file", path])
    assert json.loads("".join(parts)) == printed


@case
def control_bytes_never_reach_the_terminal():
    rc, _, err = run(["--check-config", "--config-file",
                      write("esc.yaml", 'flags:\n  migStrategy: "\\e[31m"\n')])
    assert rc == 1 and "\x1b" not in err and "?[31m" in err, (rc, err)


@case
def imex_channels_from_the_environment():
    rc, got, _ = check([], env={"IMEX_CHANNEL_IDS": "0",
                                "IMEX_REQUIRED": "true"})
    assert rc == 0 and got["imex"] == {"channelIDs": [0], "required": True}


@case
def start_applies_the_file():
    # failOnInitError: false from the file: NVML failing is no reason to
    # exit; the daemon idles until SIGTERM, then exits 0.
    path = write("idle.yaml", "flags:\n  failOnInitError: false\n")
    env = clean_env({"LD_LIBRARY_PATH": FAKE_LIB_DIR, "FAKE_NVML_PROFILE":
                     os.path.join(PROFILES, "init-fails.yaml")})
    p = subprocess.Popen([PLUGIN, "--config-file", path, "--seccomp=off",
                          "--kubelet-socket=" + os.path.join(TMP, "k.sock")],
                         env=env, cwd=TMP, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in p.stderr:
            seen.append(line)
            if "continuing without GPUs" in line:
                break
        assert p.poll() is None, "exited %s: %s" % (p.returncode, seen)
        p.send_signal(signal.SIGTERM)
        rest = p.communicate(timeout=30)[1]
        assert p.returncode == 0, (p.returncode, rest)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@case
def start_with_a_bad_file_exits_1():
    path = write("bad.yaml", "sharing:\n  mps:\n    resources: []\n")
    rc, _, err = start(["--config-file", path])
    assert rc == 1, rc
    assert "%s:2:3: sharing.mps: no resources specified" % path in err, err
    assert "Running with config" not in err and "NVML" not in err, err


@case
def start_with_a_missing_file_exits_1():
    rc, _, err = start(["--config-file", os.path.join(TMP, "nope.yaml")])
    assert rc == 1 and "cannot open the config file" in err, (rc, err)


@case
def every_allocation_failed_in_turn():
    """With fault injection compiled in (the ASan stage): the check of a
    file using every section, allocation N failed for each N the dry run
    counted, ends either well or with exit 1 naming memory, and never
    with a crash or a sanitizer report."""
    path = write("faults.yaml", example("full.yaml") + example(
        "mig-mixed-time-slicing.yaml").replace("version: v1\n", "")
        .replace("flags:\n  migStrategy: mixed\n", ""))
    args = ["--check-config", "--config-file", path]
    rc, _, err = run(args, {"GDP_FAULT_ALLOC": "0"})
    count = [ln for ln in err.splitlines() if "fault injection: " in ln]
    if rc != 0 or not count:
        assert "fault injection" not in err, err
        return  # built without fault injection
    total = int(count[0].split("fault injection: ")[1].split()[0])
    assert total > 20, total
    for n in range(1, total + 1):
        rc, out, err = run(args, {"GDP_FAULT_ALLOC": str(n)})
        assert "Sanitizer" not in err and "runtime error" not in err, \
            (n, err)
        assert rc == 0 or (rc == 1 and "out of memory" in err), (n, rc, err)


def main():
    passed = failed = 0
    for fn in CASES:
        name = fn.__name__.replace("_", " ")
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (report every failure)
            failed += 1
            detail = str(e) or traceback.format_exc()
            print("not ok - %s: %s" % (name, detail))
            continue
        passed += 1
        print("ok - " + name)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
