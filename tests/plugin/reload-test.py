#!/usr/bin/python3
"""Reload without churn: SIGHUP, or the config file changing.

The real plugin runs against the fake NVML and the kubelet stand-in (the
plugin tests' Node, run-plugin-tests.py), which counts registrations,
ListAndWatch messages and stream ends. A reload reads flags, environment
and config file again and discovers again; what it may do to the kubelet
depends on what changed:

- nothing: no Register, no message, the stream stays open;
- the devices of a served resource: the new list on the open stream, no
  Register;
- a resource with devices now, or none any more: that resource alone is
  served and registered, or stopped and its socket removed;
- a configuration that cannot be used: the error is logged, the one in
  force stays, the process lives (NVIDIA's plugin exits 1).

Health survives a reload: a GPU an XID made unhealthy stays so.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: reload-test.py PLUGIN STANDIN FAKE_LIB_DIR PROFILES
MAKE_SYSFS
"""

import importlib.util
import os
import signal
import sys
import time

_SPEC = importlib.util.spec_from_file_location(
    "plugintests", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "run-plugin-tests.py"))
PT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(PT)
RESOURCE = PT.RESOURCE
DONE = ("Reload done", "Reload refused")
NO_HEALTH = {"DP_DISABLE_HEALTHCHECKS": "all"}


def log_of(node):
    with open(node.plugin_log) as f:
        return f.read()


def reloads(node):
    log = log_of(node)
    return sum(log.count(d) for d in DONE)


def reload_and_wait(node, sig=True):
    """Sends SIGHUP (unless |sig| is false: something else triggers it)
    and waits for the reload to be done; returns the log of that reload."""
    before = reloads(node)
    start = len(log_of(node))
    if sig:
        node.plugin.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while reloads(node) <= before:
        assert node.plugin.poll() is None, "plugin exited: %s" % \
            node.log_tail()
        assert time.monotonic() < deadline, "no %s: %s" % (
            " or ".join(DONE), node.log_tail())
        time.sleep(0.01)
    return log_of(node)[start:]


def stream_ends(node):
    """How many ListAndWatch streams ended (the stand-in's events)."""
    ev = node.call("GET", "/events")["events"]
    return sum(1 for e in ev if e["kind"] == "disconnected")


def steady(node):
    """What a reload with nothing to do must leave alone."""
    res = node.resource()
    return (node.call("GET", "/node")["registrations"],
            res["lists_received"], stream_ends(node), res["connected"])


def fifo_node(node, env=None, args=()):
    node.fifo = os.path.join(node.tmp, "nvml-control")
    node.env["FAKE_NVML_CONTROL"] = node.fifo
    node.env.update(env or {})
    node.start_kubelet()
    node.start_plugin(list(args))
    n = len(PT.profile_uuids(node.profile))
    node.wait(allocatable=n, registrations_at_least=1)
    return PT.profile_uuids(node.profile)


# ---- the cases ----------------------------------------------------------

def case_unchanged(node):
    u = fifo_node(node, args=PT.HEALTH_ARGS)
    PT.wait_for_log(node, "Health events registered")
    before = steady(node)
    for _ in range(3):
        got = reload_and_wait(node)
        assert "nothing changed" in got, got
    assert steady(node) == before, (steady(node), before)
    assert node.allocate([u[1]])["ok"]
    # The health thread was kept too: one registration of events.
    assert log_of(node).count("Health events registered") == 1, \
        node.log_tail()


def case_health_survives(node):
    u = fifo_node(node, args=PT.HEALTH_ARGS)
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "xid %s 48" % u[2])
    node.wait(allocatable=3)
    before = steady(node)
    reload_and_wait(node)
    assert steady(node) == before, (steady(node), before)
    assert PT.health_of(node)[u[2]] == "Unhealthy", PT.health_of(node)
    bad = node.allocate([u[2]])
    assert not bad["ok"] and "XID 48" in bad["message"], bad


def case_health_survives_device_change(node):
    # GPU 0 falls off the bus (the probe marks it, then the reload drops
    # it from the list); GPU 2's XID 48 must survive the new health
    # monitor that the changed GPU set needs.
    u = fifo_node(node, args=PT.HEALTH_ARGS)
    PT.wait_for_log(node, "Health events registered")
    PT.inject(node, "xid %s 48" % u[2])
    node.wait(allocatable=3)
    PT.inject(node, "lost %s" % u[0])
    node.wait(allocatable=2)
    regs = node.call("GET", "/node")["registrations"]
    got = reload_and_wait(node)
    assert "new device list" in got, got
    res = node.wait(capacity=3, allocatable=2)["resources"][RESOURCE]
    ids = {d["id"]: d["health"] for d in res["devices"]}
    assert u[0] not in ids and ids[u[2]] == "Unhealthy", ids
    assert node.call("GET", "/node")["registrations"] == regs
    bad = node.allocate([u[2]])
    assert not bad["ok"] and "XID 48" in bad["message"], bad


def case_device_set_changes(node):
    # Health checks off: only the reload changes the list.
    u = fifo_node(node, NO_HEALTH)
    regs, lists, ends, _ = steady(node)
    PT.inject(node, "lost %s" % u[1])
    time.sleep(0.05)
    got = reload_and_wait(node)
    assert "new device list" in got, got
    res = node.wait(capacity=3, allocatable=3, lists_at_least=lists + 1)
    res = res["resources"][RESOURCE]
    assert sorted(d["id"] for d in res["devices"]) == \
        sorted([u[0], u[2], u[3]]), res
    PT.inject(node, "reset %s" % u[1])
    time.sleep(0.05)
    reload_and_wait(node)
    node.wait(capacity=4, allocatable=4, lists_at_least=lists + 2)
    assert node.call("GET", "/node")["registrations"] == regs
    assert stream_ends(node) == ends
    assert node.allocate([u[1]])["ok"]


def case_resource_goes_and_comes(node):
    # The only GPU goes: no devices, so no resource: its server stops and
    # its socket goes. It comes back: served and registered again.
    u = fifo_node(node, NO_HEALTH)
    sock = os.path.join(node.dir, "nvidia-gpu.sock")
    regs = node.call("GET", "/node")["registrations"]
    PT.inject(node, "lost %s" % u[0])
    time.sleep(0.05)
    got = reload_and_wait(node)
    assert "Stopped serving '%s'" % RESOURCE in got, got
    node.wait(connected=False)
    assert not os.path.exists(sock), "socket left behind"
    PT.inject(node, "reset %s" % u[0])
    time.sleep(0.05)
    got = reload_and_wait(node)
    assert "Starting to serve '%s'" % RESOURCE in got, got
    node.wait(allocatable=1, connected=True, registrations_at_least=regs + 1)
    assert node.allocate([u[0]])["ok"]


CONFIG_V1 = "version: v1\nflags:\n  migStrategy: none\n"


def file_layer_applied(node):
    """Whether this build applies the config file's values (the parser
    may not be in yet: then the file is only watched and read)."""
    return "config files are not supported yet" not in log_of(node)


def case_bad_config_kept(node):
    cfgdir = os.path.join(node.tmp, "config")
    os.makedirs(cfgdir)
    path = os.path.join(cfgdir, "config.yaml")
    with open(path, "w") as f:
        f.write(CONFIG_V1)
    u = fifo_node(node, NO_HEALTH, ["--config-file", path])
    before = steady(node)
    os.rename(path, path + ".away")      # a missing file is an error
    got = reload_and_wait(node, sig=False)   # seen by the watch
    assert path in got and "keeping the configuration in force" in got, got
    assert any(ln.startswith("E") for ln in got.splitlines()), got
    # A SIGHUP with the file still missing: the same.
    got = reload_and_wait(node)
    assert "keeping the configuration in force" in got, got
    assert node.plugin.poll() is None
    assert steady(node) == before, (steady(node), before)
    assert node.allocate([u[0]])["ok"]
    if file_layer_applied(node):
        # A file the parser refuses, too.
        with open(path, "w") as f:
            f.write("version: v1\nflags:\n  migStrategy: [\n")
        got = reload_and_wait(node, sig=False)
        assert "keeping the configuration in force" in got, got
        os.unlink(path)
    os.rename(path + ".away", path)
    got = reload_and_wait(node, sig=False)
    assert "nothing changed" in got, got
    assert steady(node) == before, (steady(node), before)


def configmap_dir(root, name, text):
    """A ConfigMap volume as the kubelet writes it: the data in a
    timestamped directory, ..data a symlink to it, the file a symlink
    through ..data."""
    os.makedirs(os.path.join(root, name))
    with open(os.path.join(root, name, "config.yaml"), "w") as f:
        f.write(text)


def configmap_swap(root, name, text):
    """The kubelet's atomic update: new directory, new ..data symlink
    renamed over the old one."""
    configmap_dir(root, name, text)
    tmp = os.path.join(root, "..data_tmp")
    os.symlink(name, tmp)
    os.rename(tmp, os.path.join(root, "..data"))


def case_config_file_change_seen(node):
    root = os.path.join(node.tmp, "configmap")
    os.makedirs(root)
    configmap_dir(root, "..2026_12_02_07_00_00.1", CONFIG_V1)
    os.symlink("..2026_12_02_07_00_00.1", os.path.join(root, "..data"))
    path = os.path.join(root, "config.yaml")
    os.symlink("..data/config.yaml", path)
    u = fifo_node(node, NO_HEALTH, ["--config-file", path])
    regs, _, ends, _ = steady(node)
    # The kubelet swaps ..data: no SIGHUP, the watch sees it.
    configmap_swap(root, "..2026_12_02_07_01_00.2", CONFIG_V1 +
                   "  plugin:\n    deviceIDStrategy: index\n")
    got = reload_and_wait(node, sig=False)
    assert "%s changed" % path in got, got
    if file_layer_applied(node):
        # Allocate answers change; the advertised set does not.
        assert "nothing changed" not in got, got
        r = node.allocate([u[1]])
        assert PT.envs_of(r)["NVIDIA_VISIBLE_DEVICES"] == "1", r
    assert node.call("GET", "/node")["registrations"] == regs
    assert stream_ends(node) == ends
    # The same bytes again (another key of the ConfigMap changed): no
    # reload at all.
    n = reloads(node)
    configmap_swap(root, "..2026_12_02_07_02_00.3", CONFIG_V1 +
                   "  plugin:\n    deviceIDStrategy: index\n")
    time.sleep(0.5)
    assert reloads(node) == n, node.log_tail()
    assert node.allocate([u[0]])["ok"]
    assert node.plugin.poll() is None


def case_plain_file_rewritten(node):
    # Not a ConfigMap: a file written in place, then replaced by rename,
    # as editors and config tools do.
    cfgdir = os.path.join(node.tmp, "etc")
    os.makedirs(cfgdir)
    path = os.path.join(cfgdir, "config.yaml")
    with open(path, "w") as f:
        f.write(CONFIG_V1)
    fifo_node(node, NO_HEALTH, ["--config-file", path])
    regs = node.call("GET", "/node")["registrations"]
    with open(path, "a") as f:
        f.write("# edited\n")
    got = reload_and_wait(node, sig=False)
    assert "%s changed" % path in got, got
    with open(path + ".new", "w") as f:
        f.write(CONFIG_V1 + "# replaced\n")
    os.rename(path + ".new", path)
    got = reload_and_wait(node, sig=False)
    assert "%s changed" % path in got, got
    assert node.call("GET", "/node")["registrations"] == regs


CASES = [
    ("SIGHUP with nothing changed: no Register, no message, stream kept",
     "azure-nc24", case_unchanged),
    ("an XID 48 GPU stays unhealthy across SIGHUP", "azure-nc24",
     case_health_survives),
    ("health survives a reload that changes the GPU set", "azure-nc24",
     case_health_survives_device_change),
    ("a GPU gone, then back, across SIGHUP: new list on the open stream, "
     "no Register", "azure-nc24", case_device_set_changes),
    ("the only GPU gone: resource stopped, socket removed; back: served "
     "and registered", "azure-nc6", case_resource_goes_and_comes),
    ("a config that cannot be used on reload: logged, old one kept, "
     "alive", "azure-nc6", case_bad_config_kept),
    ("a ConfigMap ..data swap is seen without SIGHUP; the same bytes "
     "again are not", "azure-nc24", case_config_file_change_seen),
    ("a config file rewritten in place or renamed over is seen",
     "azure-nc6", case_plain_file_rewritten),
]


def then_clean_exit(fn):
    """|fn|, then a clean exit after the reloads (under ASan: no leak)."""
    def case(node):
        fn(node)
        rc = node.stop_plugin(signal.SIGTERM, timeout=30)
        assert rc == 0, "exit %s after SIGTERM: %s" % (rc, node.log_tail())
    return case


def main():
    only = os.environ.get("RELOAD_TEST_ONLY")
    return PT.run_cases([
        (name, lambda p=profile: PT.Node(p), then_clean_exit(fn))
        for name, profile, fn in CASES
        if not only or only in fn.__name__])


if __name__ == "__main__":
    sys.exit(main())
