#!/usr/bin/python3
"""The validation Job's image, built without a daemon and run as a node
would run it.

deploy/validation/build.sh makes the OCI layout and the docker-archive
tarball from the build tree's gpu-validate and MNIST. The test reads the
tarball back as a node pulls it (skopeo to an OCI layout, umoci unpack),
checks the image's metadata and that the tree holds only the program,
its libraries, the loader and the four idx files (no shell), then runs
the image's entry point with the Job's kind of arguments (--max_steps
30) inside that tree: chroot, in new mount and PID namespaces with /proc
mounted (the sanitizers read it), the image's environment and nothing
else of this machine's.

  (a) no libcuda.so.1 (a container without a GPU): "no CUDA driver",
      training on the CPU, accuracy at steps 0, 10, 20, exit 0;
  (b) the fake libcuda.so.1 where the NVIDIA container toolkit mounts
      the driver's (/usr/lib/x86_64-linux-gnu), NVIDIA_VISIBLE_DEVICES
      naming its GPU as the plugin's Allocate would: the device lines,
      the allocation checked, training on the GPU path;
  (c) the same with NVIDIA_VISIBLE_DEVICES naming another GPU: the
      allocation error and a non-zero exit, no training.

The Containerfile cannot be built here (no daemon): its ENV, LABEL keys,
USER and ENTRYPOINT are compared with the daemonless image's.

Exits 77 (meson's "skipped") without umoci, skopeo, unshare or chroot,
or when not run as root. Under GDP_SANITIZED=1 the size is printed, not
held to the target, and the sanitizers' options go into the chroot.

Usage: validate-image-test.py BUILD_SH GPU_VALIDATE MNIST_DIR FAKECUDA_LIB
    WORKDIR CONTAINERFILE
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "image"))
from ocitest import (FAILED, SANITIZED, check,  # noqa: E402
                     check_containerfile, check_size, preflight, unpack)

(BUILD_SH, GPU_VALIDATE, MNIST, FAKECUDA, WORKDIR, CONTAINERFILE) = [
    os.path.abspath(a) for a in sys.argv[1:7]]
DATA = "/data/mnist"
ENTRY = ["/usr/bin/gpu-validate", "--data_dir", DATA]
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
UUID = "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
OTHER = "GPU-99999999-8888-7777-6666-555555555555"
# The size target, compressed bytes: MNIST is 11.6 MB of it gzipped and
# OpenBLAS 10.7 MB; 26.1 MB measured on Debian 12.
LIMIT = 30 * 1000 * 1000








def build():
    out = os.path.join(WORKDIR, "image")
    r = subprocess.run([BUILD_SH, "--validate", GPU_VALIDATE, "--mnist",
                        MNIST, "--out", out, "--version", "0.0.0-test",
                        "--revision", "abc123",
                        "--source", "https://example.org/gdp"],
                       capture_output=True, text=True)
    print(r.stdout, end="")
    if not check("build.sh builds the image", r.returncode == 0,
                 r.stderr.strip()):
        sys.exit(1)
    return out


def check_archive(out):
    """The tarball is what docker load reads: the tag and the config."""
    tar = os.path.join(out, "gpu-validate.tar")
    with tarfile.open(tar) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        config = json.load(t.extractfile(manifest[0]["Config"]))
    check("docker-archive names the image gpu-validate:0.0.0-test",
          manifest[0].get("RepoTags") in (
              ["gpu-validate:0.0.0-test"],
              ["docker.io/library/gpu-validate:0.0.0-test"]),
          repr(manifest))
    cfg = config["config"]
    env = cfg.get("Env", [])
    check("image env: NVIDIA_DRIVER_CAPABILITIES=compute,utility",
          "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in env, repr(env))
    check("image env leaves NVIDIA_VISIBLE_DEVICES to the plugin",
          not any(e.startswith("NVIDIA_VISIBLE_DEVICES=") for e in env),
          repr(env))
    labels = cfg.get("Labels", {})
    for key, want in (("title", "gpu-validate"), ("version", "0.0.0-test"),
                      ("revision", "abc123"),
                      ("source", "https://example.org/gdp"),
                      ("licenses", "Apache-2.0")):
        got = labels.get("org.opencontainers.image." + key)
        check("label " + key, got == want, repr(got))
    check("entry point is gpu-validate --data_dir " + DATA + ", no Cmd",
          cfg.get("Entrypoint") == ENTRY and not cfg.get("Cmd"), repr(cfg))
    check_containerfile(CONTAINERFILE, cfg)
    return tar










def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_tree(root):
    """The program, the loader, libraries in the loader's default
    folders, the idx files as installed; no shell, no links."""
    want = {"usr/bin/gpu-validate", "lib64/ld-linux-x86-64.so.2"}
    want |= {DATA.lstrip("/") + "/" + f for f in FILES}
    got, links, libs = set(), [], []
    for d, dirs, names in os.walk(root):
        for n in names + dirs:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                links.append(rel)
            elif not os.path.isfile(p):
                continue
            elif rel.startswith("lib/x86_64-linux-gnu/") and ".so" in n:
                libs.append(n)
            else:
                got.add(rel)
    check("only gpu-validate, the loader, MNIST and libraries",
          got == want, "extra %s, missing %s" %
          (sorted(got - want), sorted(want - got)))
    check("no links, no shell", not links and
          not os.path.exists(os.path.join(root, "bin/sh")), repr(links))
    check("OpenBLAS under its soname in a default folder",
          "libopenblas.so.0" in libs, repr(libs))
    same = all(digest(os.path.join(root, DATA.lstrip("/"), f)) ==
               digest(os.path.join(MNIST, f)) for f in FILES)
    check("the idx files are MNIST's", same)


def run_image(root, process, extra, label):
    """The entry point plus --max_steps 30, chrooted, with the image's
    environment and |extra|; returns (exit code, output)."""
    env = dict(e.split("=", 1) for e in process["env"])
    env.update(extra)
    passed = ["OPENBLAS_NUM_THREADS"]
    if SANITIZED:
        passed += ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"]
    for k in passed:
        if k in os.environ:
            env[k] = os.environ[k]
    r = subprocess.run(
        [shutil.which("unshare"), "--mount", "--pid", "--fork",
         "--kill-child", "--mount-proc=" + os.path.join(root, "proc"),
         shutil.which("chroot"), root] + process["args"] +
        ["--max_steps", "30"], env=env, cwd="/", capture_output=True,
        text=True, timeout=240)
    out = r.stdout + r.stderr
    with open(os.path.join(WORKDIR, label + ".log"), "w") as f:
        f.write(out)
    return r.returncode, out


def trained(out):
    return all("Accuracy at step %d: " % s in out for s in (0, 10, 20))


def tail(out):
    return " | ".join(out.splitlines()[-6:])


def cases(root, process):
    check("unpacked entry point is the image's",
          process["args"] == ENTRY, repr(process["args"]))
    rc, out = run_image(root, process, {}, "nodriver")
    check("no libcuda: says so, trains on the CPU, exits 0",
          rc == 0 and "no CUDA driver" in out and
          "training on the CPU" in out and trained(out),
          "rc %d: %s" % (rc, tail(out)))
    lib = os.path.join(root, "usr/lib/x86_64-linux-gnu/libcuda.so.1")
    shutil.copy(FAKECUDA, lib)
    fake = {"FAKECUDA_UUIDS": UUID, "FAKECUDA_NAME": "NVIDIA H200"}
    rc, out = run_image(root, process,
                        dict(fake, NVIDIA_VISIBLE_DEVICES=UUID), "fake")
    check("toolkit's libcuda: device lines, allocation checked, trains on "
          "the GPU path", rc == 0 and "Found device 0 with properties:" in
          out and "name: NVIDIA H200 major: 9 minor: 0" in out and
          "uuid: " + UUID in out and
          "allocation checked: 1 device (1 by UUID)" in out and
          "Device: gpu 0 (NVIDIA H200)" in out and trained(out),
          "rc %d: %s" % (rc, tail(out)))
    rc, out = run_image(root, process,
                        dict(fake, NVIDIA_VISIBLE_DEVICES=OTHER), "mismatch")
    check("another GPU in NVIDIA_VISIBLE_DEVICES: allocation error, "
          "non-zero exit", rc != 0 and "allocation mismatch" in out and
          OTHER in out and "Accuracy" not in out,
          "rc %d: %s" % (rc, tail(out)))


def main():
    preflight()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    os.makedirs(WORKDIR)
    out = build()
    tar = check_archive(out)
    check_size(out, LIMIT, "%d bytes" % LIMIT)
    root, process = unpack(tar, WORKDIR)
    check_tree(root)
    cases(root, process)
    print("%d failed" % len(FAILED))
    if not FAILED:
        shutil.rmtree(WORKDIR, ignore_errors=True)
    sys.exit(1 if FAILED else 0)


main()
