#!/usr/bin/python3
"""`gpu-device-plugin list` shows each GPU's MIG devices: golden output.

The real binary runs `list` on the fake NVML for each MIG profile, with a
sysfs tree from make-sysfs.sh and a mig-minors file from make-proc.sh
(found by --proc-root, and by GDP_PROC_ROOT for one profile); its MIG
table (from the "MIG devices" line to the blank line after it) must equal
tests/plugin/golden/list-mig/<profile>.txt. A profile without MIG mode
prints no MIG table. GDP_REGEN_GOLDEN=1 rewrites the golden files instead
of comparing (read the diff before committing it).

Usage: mig-list-test.py PLUGIN FAKE_LIB_DIR PROFILES MAKE_SYSFS MAKE_PROC
"""

import os
import subprocess
import sys
import tempfile

PLUGIN, LIBDIR, PROFILES, MAKE_SYSFS, MAKE_PROC = sys.argv[1:6]
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "golden", "list-mig")
MIG_PROFILES = ["a100-sxm4-40gb-mig", "a100-sxm4-40gb-mig-relayout",
                "h100-80gb-mig", "h200-141gb-mig",
                "a100-sxm4-40gb-mig-single", "h100-80gb-mig-single",
                "h200-141gb-mig-single", "mig-no-devices",
                "mig-and-full-gpus", "mig-two-types", "mig-c-lt-g",
                "rtx-pro-6000-mig"]


def listed(profile, tmp, by_env=False):
    path = os.path.join(PROFILES, profile + ".yaml")
    sysfs, proc = os.path.join(tmp, "sys"), os.path.join(tmp, "proc")
    subprocess.run([MAKE_SYSFS, path, sysfs], check=True)
    subprocess.run([MAKE_PROC, path, proc], check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=LIBDIR, FAKE_NVML_PROFILE=path)
    args = [PLUGIN, "list", "--sysfs-root", sysfs]
    if by_env:
        env["GDP_PROC_ROOT"] = proc
    else:
        args += ["--proc-root", proc]
    out = subprocess.run(args, env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, (profile, out.stderr)
    return out.stdout


def mig_table(text):
    lines = text.splitlines()
    start = [k for k, l in enumerate(lines) if l.startswith("MIG devices")]
    if not start:
        return ""
    end = start[0]
    while end < len(lines) and lines[end] != "":
        end += 1
    return "\n".join(lines[start[0]:end]) + "\n"


def main():
    failures = 0
    regen = os.environ.get("GDP_REGEN_GOLDEN") == "1"
    with tempfile.TemporaryDirectory() as tmp:
        for i, profile in enumerate(MIG_PROFILES):
            table = mig_table(listed(profile, tmp, by_env=(i == 1)))
            golden = os.path.join(GOLDEN, profile + ".txt")
            if regen:
                with open(golden, "w") as f:
                    f.write(table)
                continue
            with open(golden) as f:
                want = f.read()
            if table != want:
                failures += 1
                print("not ok: %s: list shows\n%s\nnot\n%s" %
                      (profile, table, want))
            else:
                print("ok: %s" % profile)
        plain = mig_table(listed("dgx-h100", tmp))
        if plain != "":
            failures += 1
            print("not ok: dgx-h100 (MIG off) shows a MIG table:\n" + plain)
        # A missing mig-minors leaves the minors unknown, said once.
        os.remove(os.path.join(tmp, "proc", "driver", "nvidia-caps",
                               "mig-minors"))
        env = dict(os.environ, LD_LIBRARY_PATH=LIBDIR,
                   FAKE_NVML_PROFILE=os.path.join(
                       PROFILES, "a100-sxm4-40gb-mig.yaml"))
        out = subprocess.run([PLUGIN, "list", "--proc-root",
                              os.path.join(tmp, "proc")], env=env,
                             capture_output=True, text=True, timeout=30)
        row = [l for l in out.stdout.splitlines() if l.startswith("0:0 ")]
        if (out.returncode != 0 or len(row) != 1 or
                row[0].split()[-2:] != ["?", "?"] or
                out.stdout.count("warning: mig-minors") != 1):
            failures += 1
            print("not ok: no mig-minors:\n" + out.stdout + out.stderr)
    if failures:
        print("%d failure(s)" % failures)
        return 1
    print("all MIG list cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
