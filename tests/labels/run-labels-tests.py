#!/usr/bin/python3
"""GPU Feature Discovery's node labels, from the real plugin binary.

Each case runs gpu-device-plugin against the fake NVML (a machine profile)
and a sysfs fixture (make-sysfs.sh, plus a DMI product name), without a
kubelet (--kubelet-socket ""), with --output-file in a temporary
features.d, and reads the NFD feature file it writes:

- golden: per profile, the file equals tests/labels/golden/PROFILE.labels
  exactly (--no-timestamp); the rules behind each value are in
  docs/observability.md. GDP_LABELS_UPDATE=1 rewrites the golden files
  (then review every changed value against those rules);
- the timestamp line when not disabled; a long product name stays a
  valid label value of at most 63 characters, -SHARED and MIG parts kept;
- the file is not rewritten (same inode, same mtime) when a reload finds
  nothing changed, and is replaced atomically (new inode, no temporary
  left) when a GPU is lost or the config's sharing changes (SIGHUP);
- off unless asked: no --output-file, no file; GFD's GFD_OUTPUT_FILE and
  the config file's flags.gfd.outputFile turn it on.

Prints "ok - NAME" or "not ok - NAME: why" per case, then "N passed, M
failed". Usage: run-labels-tests.py PLUGIN FAKE_LIB_DIR PROFILES
MAKE_SYSFS GOLDEN_DIR
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PLUGIN, FAKE_LIB_DIR, PROFILES, MAKE_SYSFS, GOLDEN = sys.argv[1:6]
UPDATE = os.environ.get("GDP_LABELS_UPDATE") == "1"
MACHINE = "Standard NC6 (Promo) v3"
# The DMI product name each machine's firmware gives (Azure's VMs all say
# "Virtual Machine"); one with parentheses, which GFD passes through and
# NFD then refuses.
MACHINES = {"azure-nc6": "Virtual Machine", "azure-nc24": "Virtual Machine",
            "azure-nd96asr-v4": "Virtual Machine", "dgx-h100": "DGX H100",
            "dgx1-v100": "DGX-1 with V100-16", "a100-pcie-4x":
            "PowerEdge R750xa", "pcie-2s-8gpu": "ProLiant DL380 Gen10 Plus",
            "synthetic-16": MACHINE, "no-gpus": "Virtual Machine"}
PROFILE_NAMES = ["azure-nc6", "azure-nc24", "azure-nd96asr-v4", "dgx-h100",
                 "dgx1-v100", "a100-pcie-4x", "pcie-2s-8gpu", "synthetic-16",
                 "no-gpus"]
# The MIG profiles: golden sets under each MIG strategy, with a /proc
# fixture (make-proc.sh, beside make-sysfs.sh) for the MIG minors.
MIG_PROFILES = [p[:-5] for p in sorted(os.listdir(PROFILES))
                if "mig" in p and p.endswith(".yaml")]
MAKE_PROC = os.path.join(os.path.dirname(MAKE_SYSFS), "make-proc.sh")
VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class Plugin:
    def __init__(self, profile_path, args=(), env=None, machine=MACHINE,
                 output=True, pci_class="0x030200"):
        self.tmp = tempfile.mkdtemp(prefix="gdp-labels-")
        self.sysfs = os.path.join(self.tmp, "sys")
        subprocess.run([MAKE_SYSFS, profile_path, self.sysfs], check=True)
        # Each GPU's PCI class, as sysfs has it: a 3D controller (a data
        # centre GPU in compute mode) unless told otherwise.
        devices = os.path.join(self.sysfs, "bus", "pci", "devices")
        for i, bdf in enumerate(sorted(os.listdir(devices))
                                if os.path.isdir(devices) else []):
            c = pci_class(i) if callable(pci_class) else pci_class
            with open(os.path.join(devices, bdf, "class"), "w") as f:
                f.write(c + "\n")
        self.proc_root = os.path.join(self.tmp, "proc")
        subprocess.run([MAKE_PROC, profile_path, self.proc_root], check=True)
        if machine is not None:
            dmi = os.path.join(self.sysfs, "class", "dmi", "id")
            os.makedirs(dmi)
            with open(os.path.join(dmi, "product_name"), "w") as f:
                f.write(machine + "\n")
        self.dir = os.path.join(self.tmp, "features.d")
        os.makedirs(self.dir)
        self.out = os.path.join(self.dir, "gfd")
        self.log = os.path.join(self.tmp, "plugin.log")
        self.env = dict(os.environ, LD_LIBRARY_PATH=FAKE_LIB_DIR,
                        FAKE_NVML_PROFILE=profile_path,
                        DP_DISABLE_HEALTHCHECKS="all")
        self.env.update(env or {})
        # A kubelet socket that nobody serves: the plugin serves its
        # own socket there and waits for a kubelet that never comes.
        self.args = [PLUGIN, "--kubelet-socket",
                     os.path.join(self.tmp, "kubelet.sock"), "--sysfs-root",
                     self.sysfs, "--proc-root", self.proc_root,
                     "--cdi-spec-dir",
                     os.path.join(self.tmp, "cdi")] + list(args)
        if output:
            self.args += ["--output-file", self.out]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, env=self.env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"))

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def tail(self, n=8):
        return " | ".join(self.log_text().splitlines()[-n:])

    def wait_log(self, text, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        while self.log_text().count(text) < count:
            assert self.proc.poll() is None, "plugin exited: " + self.tail()
            assert time.monotonic() < deadline, "no %r: %s" % (
                text, self.tail())
            time.sleep(0.02)

    def wait_file(self):
        deadline = time.monotonic() + 20
        while not os.path.exists(self.out):
            assert self.proc.poll() is None, "plugin exited: " + self.tail()
            assert time.monotonic() < deadline, "no labels: " + self.tail()
            time.sleep(0.02)
        return read(self.out)

    def reload(self):
        n = self.log_text().count("Reload done")
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log("Reload done", n + 1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def read(path):
    with open(path) as f:
        return f.read()


def profile(name):
    return os.path.join(PROFILES, name + ".yaml")


def labels_of(text):
    return dict(line.split("=", 1) for line in text.splitlines())


def check_valid(text):
    for line in text.splitlines():
        key, value = line.split("=", 1)
        assert VALID_KEY.match(key) and len(key.split("/")[1]) <= 63, \
            "%s: not a label key" % line
        assert len(value) <= 63, "%s: %d characters" % (line, len(value))
        assert VALUE.match(value), "%s: not a label value" % line


# The plugin refuses these at start, as NVIDIA's does (docs/mig.md:
# single with MIG on and off on one node, with more than one MIG device
# type, or with a MIG GPU that has no device; a C<G profile under single
# or mixed): it exits 1 and writes no labels. (GFD would publish a
# "-MIG-INVALID" product for the single ones; a plugin that does not
# start has nothing to label.)
REFUSED = {(p, "--mig-strategy=single") for p in (
    "mig-and-full-gpus", "a100-sxm4-40gb-mig", "a100-sxm4-40gb-mig-relayout",
    "h100-80gb-mig", "h200-141gb-mig", "rtx-pro-6000-mig", "mig-c-lt-g",
    "mig-no-devices", "mig-two-types")} | {
    ("mig-c-lt-g", "--mig-strategy=mixed")}


VALID_KEY = re.compile(r"^nvidia\.com/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def golden_case(name, args=(), suffix=""):
    def case():
        p = Plugin(profile(name), ["--no-timestamp"] + list(args),
                   machine=MACHINES.get(name, MACHINE))
        try:
            p.start()
            if (name, tuple(args)[0] if args else None) in REFUSED:
                assert p.proc.wait(20) == 1, p.tail()
                assert os.listdir(p.dir) == [], os.listdir(p.dir)
                return
            got = p.wait_file()
            check_valid(got)
            path = os.path.join(GOLDEN, name + suffix + ".labels")
            if UPDATE:
                with open(path, "w") as f:
                    f.write(got)
            want = read(path)
            assert got == want, "differs from %s:\n%s" % (path, diff(
                want, got))
        finally:
            p.stop()
    return case


def diff(want, got):
    w, g = set(want.splitlines()), set(got.splitlines())
    return "\n".join(["- " + x for x in sorted(w - g)] +
                     ["+ " + x for x in sorted(g - w)])


def case_timestamp():
    p = Plugin(profile("azure-nc24"))
    try:
        before = int(time.time())
        p.start()
        got = p.wait_file()
        last = got.splitlines()[-1]
        m = re.match(r"^nvidia\.com/gfd\.timestamp=(\d+)$", last)
        assert m, last
        assert before <= int(m.group(1)) <= time.time() + 1, last
        assert got.count("gfd.timestamp") == 1, got
    finally:
        p.stop()


LONG = ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition "
        "(Server/Extra) Long")


def long_profile(tmp):
    """azure-nc24 with every GPU named |LONG|."""
    text = read(profile("azure-nc24"))
    text = re.sub(r"(?m)^(\s*- name:).*$", r"\1 " + LONG, text)
    path = os.path.join(tmp, "long.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


SHARED_CONFIG = """version: v1
sharing:
  timeSlicing:
    resources:
    - name: nvidia.com/gpu
      replicas: %d
"""


def case_long_product():
    tmp = tempfile.mkdtemp(prefix="gdp-labels-long-")
    try:
        cfg = os.path.join(tmp, "config.yaml")
        with open(cfg, "w") as f:
            f.write(SHARED_CONFIG % 4)
        machine = "x" * 40 + " (" + "Super Long Machine Name " * 4 + ")"
        p = Plugin(long_profile(tmp), ["--no-timestamp", "--config-file",
                                       cfg], machine=machine)
        try:
            p.start()
            got = p.wait_file()
            check_valid(got)
            lab = labels_of(got)
            prod = lab["nvidia.com/gpu.product"]
            assert prod.endswith("-SHARED"), prod
            assert prod.startswith("NVIDIA-RTX-PRO-6000-Blackwell"), prod
            assert len(prod) <= 63, prod
            assert lab["nvidia.com/gpu.replicas"] == "4", lab
            assert lab["nvidia.com/gpu.sharing-strategy"] == \
                "time-slicing", lab
            assert len(lab["nvidia.com/gpu.machine"]) <= 63, lab
        finally:
            p.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def stat_of(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def no_temporaries(p):
    left = [n for n in os.listdir(p.dir) if n != "gfd"]
    assert not left, left


def case_unchanged_not_rewritten():
    # With the timestamp on: a new timestamp alone is no change.
    p = Plugin(profile("azure-nc24"))
    try:
        p.start()
        first = p.wait_file()
        before = stat_of(p.out)
        time.sleep(1.1)
        for _ in range(2):
            p.reload()
        assert stat_of(p.out) == before, (stat_of(p.out), before)
        assert read(p.out) == first
        assert p.log_text().count("Node labels written") == 1, p.tail()
        no_temporaries(p)
    finally:
        p.stop()


def case_lost_gpu_rewritten():
    p = Plugin(profile("azure-nc24"), ["--no-timestamp"])
    fifo = os.path.join(p.tmp, "nvml-control")
    p.env["FAKE_NVML_CONTROL"] = fifo
    try:
        p.start()
        first = labels_of(p.wait_file())
        assert first["nvidia.com/gpu.count"] == "4", first
        ino = os.stat(p.out).st_ino
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"lost GPU-c5d0a7f3-92b8-4e1d-8f64-a13b7e05d923\n")
        os.close(fd)
        time.sleep(0.3)
        p.reload()
        now = labels_of(read(p.out))
        assert now["nvidia.com/gpu.count"] == "3", now
        assert os.stat(p.out).st_ino != ino, "rewritten in place"
        assert p.log_text().count("Node labels written") == 2, p.tail()
        no_temporaries(p)
    finally:
        p.stop()


def case_config_change_rewritten():
    p = Plugin(profile("azure-nc24"), ["--no-timestamp"])
    cfg = os.path.join(p.tmp, "config.yaml")
    with open(cfg, "w") as f:
        f.write("version: v1\n")
    p.args += ["--config-file", cfg]
    try:
        p.start()
        first = labels_of(p.wait_file())
        assert first["nvidia.com/gpu.replicas"] == "1", first
        assert first["nvidia.com/gpu.sharing-strategy"] == "none", first
        ino = os.stat(p.out).st_ino
        with open(cfg + ".new", "w") as f:
            f.write(SHARED_CONFIG % 3)
        os.rename(cfg + ".new", cfg)
        p.reload()
        now = labels_of(read(p.out))
        assert now["nvidia.com/gpu.replicas"] == "3", now
        assert now["nvidia.com/gpu.sharing-strategy"] == "time-slicing", now
        assert now["nvidia.com/gpu.product"] == "Tesla-K80-SHARED", now
        assert os.stat(p.out).st_ino != ino
        no_temporaries(p)
    finally:
        p.stop()


def case_turned_off_removed():
    # outputFile taken out of the config file: the file goes, so that NFD
    # publishes no stale labels; put back, it comes back.
    p = Plugin(profile("azure-nc6"), output=False)
    cfg = os.path.join(p.tmp, "config.yaml")
    on = "version: v1\nflags:\n  gfd:\n    outputFile: %s\n" % p.out

    def put(text):
        with open(cfg + ".new", "w") as f:
            f.write(text)
        os.rename(cfg + ".new", cfg)
    put(on)
    p.args += ["--config-file", cfg]
    try:
        p.start()
        p.wait_file()
        put("version: v1\n")
        p.reload()
        assert os.listdir(p.dir) == [], os.listdir(p.dir)
        assert "Node labels removed from " + p.out in p.log_text(), p.tail()
        put(on)
        p.reload()
        assert os.path.exists(p.out), p.tail()
    finally:
        p.stop()


def case_gpu_mode():
    for cls, want in (("0x030000", "graphics"), ("0x030200", "compute"),
                      (lambda i: "0x030000" if i else "0x030200",
                       "unknown")):
        p = Plugin(profile("azure-nc24"), ["--no-timestamp"],
                   pci_class=cls)
        try:
            p.start()
            lab = labels_of(p.wait_file())
            assert lab["nvidia.com/gpu.mode"] == want, (want, lab)
        finally:
            p.stop()


def case_off_by_default():
    p = Plugin(profile("azure-nc6"), output=False)
    try:
        p.start()
        p.wait_log("Starting gpu-device-plugin")
        time.sleep(1)
        assert p.proc.poll() is None, p.tail()
        assert os.listdir(p.dir) == [], os.listdir(p.dir)
        assert "Node labels" not in p.log_text(), p.tail()
    finally:
        p.stop()


def case_gfd_env_and_file():
    p = Plugin(profile("azure-nc6"), env={"GFD_NO_TIMESTAMP": "true"},
               output=False)
    p.env["GFD_OUTPUT_FILE"] = p.out
    try:
        p.start()
        got = p.wait_file()
        assert "timestamp" not in got, got
    finally:
        p.stop()
    p = Plugin(profile("azure-nc6"), output=False)
    cfg = os.path.join(p.tmp, "config.yaml")
    with open(cfg, "w") as f:
        f.write("version: v1\nflags:\n  gfd:\n    outputFile: %s\n"
                "    noTimestamp: true\n    machineTypeFile: %s\n" % (
                    p.out, os.path.join(p.tmp, "machine")))
    with open(os.path.join(p.tmp, "machine-real"), "w") as f:
        f.write("  DGX A100 \n")
    os.symlink("machine-real", os.path.join(p.tmp, "machine"))
    p.args += ["--config-file", cfg]
    try:
        p.start()
        lab = labels_of(p.wait_file())
        assert lab["nvidia.com/gpu.machine"] == "DGX-A100", lab
        assert "nvidia.com/gfd.timestamp" not in lab, lab
    finally:
        p.stop()


def main():
    cases = [("golden " + n, golden_case(n)) for n in PROFILE_NAMES]
    for n in MIG_PROFILES:
        for s in ("none", "single", "mixed"):
            cases.append(("golden %s mig-strategy=%s" % (n, s),
                          golden_case(n, ["--mig-strategy=" + s],
                                      "." + s)))
    cases += [
        ("timestamp line", case_timestamp),
        ("long product name stays a valid 63-character value",
         case_long_product),
        ("unchanged labels are not rewritten", case_unchanged_not_rewritten),
        ("a lost GPU rewrites the file atomically", case_lost_gpu_rewritten),
        ("a config change rewrites the file atomically",
         case_config_change_rewritten),
        ("labels turned off by a reload: the file is removed",
         case_turned_off_removed),
        ("gpu.mode from the PCI class", case_gpu_mode),
        ("off by default", case_off_by_default),
        ("GFD's env and config file keys", case_gfd_env_and_file),
    ]
    only = os.environ.get("GDP_CASE")
    passed = failed = 0
    for name, fn in cases:
        if only and only != name:
            continue
        try:
            fn()
            print("ok - " + name)
            passed += 1
        except Exception as e:  # one case's failure must not stop the rest
            print("not ok - %s: %s" % (name, e))
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
