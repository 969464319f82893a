"""A fake NVIDIA driver root for the CDI tests: the files NVIDIA's
toolkit looks for, laid out as a driver installs them.

make(root, profile_gpus, version, fake_nvml) builds, under |root|:
- usr/lib/x86_64-linux-gnu: the driver's libraries lib*.so.<version>
  with their soname and development links (libcuda.so -> libcuda.so.1 ->
  libcuda.so.<version>), libnvidia-ml.so.<version> being a copy of the
  fake NVML (so the plugin can load it from there); next to them files a
  spec must not take: another version's library, a library not of the
  driver, a link that leads out of the root;
- lib -> usr/lib (a merged /usr), so one folder is seen twice;
- lib/firmware/nvidia/<version>/gsp_*.bin (and a README);
- usr/bin: nvidia-smi, nvidia-debugdump, nvidia-persistenced,
  nvidia-cuda-mps-control, nvidia-cuda-mps-server;
- run/nvidia-persistenced/socket (a real unix socket) and tmp/nvidia-mps;
- dev: character nodes nvidia<minor> for each GPU and the control nodes
  (|control| names which), made with mknod (the tests run as root); for
  every GPU but the last, DRM nodes dri/card<n> and dri/renderD<128+n>
  with udev's by-path links to them.

Returns what a spec built from it must contain, as container paths.
"""

import os
import shutil
import socket

LIBDIR = "/usr/lib/x86_64-linux-gnu"
LIBS = ["libcuda.so", "libnvidia-ml.so", "libnvidia-ptxjitcompiler.so",
        "libnvidia-nvvm.so", "libnvidia-opencl.so"]
BINARIES = ["nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
            "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"]
CONTROL = {"nvidiactl": (195, 255), "nvidia-uvm": (237, 0),
           "nvidia-uvm-tools": (237, 1), "nvidia-modeset": (195, 254)}


def mknod(path, major, minor):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, 0o666 | 0o020000, os.makedev(major, minor))


def make(root, gpus, version, fake_nvml, control=tuple(CONTROL)):
    lib = root + LIBDIR
    os.makedirs(lib)
    want = {"libs": [], "links": [], "firmware": [], "binaries": [],
            "ipc": [], "dev": []}
    for name in LIBS:
        real = "%s.%s" % (name, version)
        if name == "libnvidia-ml.so":
            shutil.copy(fake_nvml, os.path.join(lib, real))
        else:
            with open(os.path.join(lib, real), "w") as f:
                f.write("not really %s\n" % real)
        os.symlink(real, os.path.join(lib, name + ".1"))
        want["libs"].append(LIBDIR + "/" + real)
        want["links"].append("%s::%s/%s.1" % (real, LIBDIR, name))
        if name == "libcuda.so":
            os.symlink(name + ".1", os.path.join(lib, name))
            want["links"].append("%s.1::%s/%s" % (name, LIBDIR, name))
    # What no spec may take.
    with open(os.path.join(lib, "libnvidia-old.so.390.11"), "w") as f:
        f.write("another driver's\n")
    with open(os.path.join(lib, "libz.so.1"), "w") as f:
        f.write("not the driver's\n")
    os.symlink("/etc/hostname", os.path.join(
        lib, "libnvidia-escape.so.%s" % version))
    os.symlink("usr/lib", os.path.join(root, "lib"))
    fw = os.path.join(root, "usr/lib/firmware/nvidia", version)
    os.makedirs(fw)
    for name in ("gsp_ga10x.bin", "gsp_tu10x.bin", "README"):
        with open(os.path.join(fw, name), "w") as f:
            f.write("firmware\n")
        if name.endswith(".bin"):
            want["firmware"].append("/lib/firmware/nvidia/%s/%s" % (
                version, name))
    os.makedirs(os.path.join(root, "usr/bin"))
    for name in BINARIES:
        path = os.path.join(root, "usr/bin", name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(path, 0o755)
        want["binaries"].append("/usr/bin/" + name)
    os.makedirs(os.path.join(root, "run/nvidia-persistenced"))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(root, "run/nvidia-persistenced/socket"))
    s.close()
    os.makedirs(os.path.join(root, "tmp/nvidia-mps"))
    want["ipc"] = ["/run/nvidia-persistenced/socket", "/tmp/nvidia-mps"]
    for name in control:
        mknod(os.path.join(root, "dev", name), *CONTROL[name])
        want["dev"].append("/dev/" + name)
    want["drm"] = {}
    for i, g in enumerate(gpus):
        mknod(os.path.join(root, "dev", "nvidia" + g["minor_number"]),
              195, int(g["minor_number"]))
        if i == len(gpus) - 1 or "pci_bus_id" not in g:
            continue
        bdf = sysfs_bdf(g["pci_bus_id"])
        card, render = "card%d" % (i + 1), "renderD%d" % (128 + i)
        mknod(os.path.join(root, "dev/dri", card), 226, i + 1)
        mknod(os.path.join(root, "dev/dri", render), 226, 128 + i)
        links = os.path.join(root, "dev/dri/by-path")
        os.makedirs(links, exist_ok=True)
        os.symlink("../" + card, os.path.join(links, "pci-%s-card" % bdf))
        os.symlink("../" + render, os.path.join(
            links, "pci-%s-render" % bdf))
        want["drm"][g["uuid"]] = {
            "nodes": [("/dev/dri/" + card, 226, i + 1),
                      ("/dev/dri/" + render, 226, 128 + i)],
            "links": ["../%s::/dev/dri/by-path/pci-%s-card" % (card, bdf),
                      "../%s::/dev/dri/by-path/pci-%s-render" % (
                          render, bdf)]}
    return want


def sysfs_bdf(bus_id):
    """NVML's "00000000:3B:00.0" as sysfs writes it: "0000:3b:00.0"."""
    domain, bus, rest = bus_id.split(":")
    dev, fn = rest.split(".")
    return "%04x:%02x:%02x.%x" % (int(domain, 16), int(bus, 16),
                                  int(dev, 16), int(fn, 16))
