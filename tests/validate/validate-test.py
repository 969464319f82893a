#!/usr/bin/env python3
"""validate-test.py: tests of gpu-validate, the validation Job's program,
run as the real binary against real files and a fake libcuda.so.1.

  validate-test.py train  GPU_VALIDATE MNIST_DIR
      trains 500 steps on the CPU path on real MNIST: the article's log
      shape, accuracy >= 0.94 at step 490, and the same log twice for the
      same seed.
  validate-test.py inputs GPU_VALIDATE MNIST_DIR FAKECUDA_DIR
      bad idx files are refused with a message naming the file; the
      device lines and the allocation check against NVIDIA_VISIBLE_DEVICES
      with the fake driver; no driver at all.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
UUID_A = "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
UUID_B = "GPU-11111111-2222-3333-4444-555555555555"
UUID_C = "GPU-99999999-8888-7777-6666-555555555555"

failures = []


def check(cond, what, detail=""):
    if not cond:
        failures.append(what)
        print("FAIL: %s\n%s" % (what, detail))
    else:
        print("ok: %s" % what)


def run(prog, args, env_extra=None, drop=()):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    for k in drop:
        env.pop(k, None)
    env.update(env_extra or {})
    p = subprocess.run([prog] + args, env=env, capture_output=True,
                       text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def test_train(prog, mnist):
    rc, out, err = run(prog, ["--max_steps", "500", "--device", "cpu",
                              "--data-dir", mnist])
    check(rc == 0, "500 CPU steps exit 0", err)
    acc = {int(m.group(1)): float(m.group(2)) for m in
           re.finditer(r"^Accuracy at step (\d+): ([0-9.]+)$", out, re.M)}
    check(sorted(acc) == list(range(0, 500, 10)),
          "accuracy logged at steps 0, 10, ..., 490", out)
    check(acc.get(0, 1.0) < 0.3, "step 0 is before training (chance level)",
          str(acc.get(0)))
    check(acc.get(490, 0.0) >= 0.94, "accuracy >= 0.94 at step 490",
          str(acc.get(490)))
    meta = re.findall(r"^Adding run metadata for (\d+)$", out, re.M)
    check(meta == ["99", "199", "299", "399", "499"],
          "run metadata at 99, 199, ..., 499", str(meta))
    a = run(prog, ["--max_steps", "40", "--device", "cpu", "--seed", "7",
                   "--data_dir", mnist])
    b = run(prog, ["--max_steps", "40", "--device", "cpu", "--seed", "7",
                   "--data_dir", mnist])
    check(a[0] == 0 and a[1] == b[1], "same seed, same log", a[1] + b[1])


def data_dir_with(tmp, mnist, name, content):
    """A data dir of links to the real files, with name replaced"""
    d = tempfile.mkdtemp(dir=tmp)
    for f in FILES:
        if f != name:
            os.symlink(os.path.join(mnist, f), os.path.join(d, f))
    if content is not None:
        with open(os.path.join(d, name), "wb") as fp:
            fp.write(content)
    return d


def test_idx(prog, mnist, tmp):
    with open(os.path.join(mnist, "t10k-images-idx3-ubyte"), "rb") as f:
        images = f.read()
    with open(os.path.join(mnist, "t10k-labels-idx1-ubyte"), "rb") as f:
        labels = f.read()
    bad_label = bytearray(labels)
    bad_label[8 + 17] = 12
    cases = [
        ("t10k-images-idx3-ubyte", images[:-784], "truncated"),
        ("t10k-images-idx3-ubyte", images + b"\0", "trailing bytes"),
        ("t10k-images-idx3-ubyte", images[:10], "truncated"),
        ("t10k-images-idx3-ubyte", b"\0\0\x08\x01" + images[4:],
         "bad magic"),
        ("t10k-labels-idx1-ubyte", b"\x1f\x8b\x08\x08" + labels[4:],
         "bad magic"),
        ("t10k-labels-idx1-ubyte", labels[:4] + (9999).to_bytes(4, "big") +
         labels[8:-1], "9999 labels for 10000 images"),
        ("t10k-labels-idx1-ubyte", bytes(bad_label), "label 17 is 12"),
        ("train-labels-idx1-ubyte", None, "No such file"),
    ]
    for name, content, want in cases:
        d = data_dir_with(tmp, mnist, name, content)
        rc, out, err = run(prog, ["--device", "cpu", "--max_steps", "1",
                                  "--data-dir", d])
        path = os.path.join(d, name)
        check(rc == 1 and path in err and want in err and
              "Accuracy" not in out,
              "%s (%s) refused: %r" % (name, want, err.strip()), out + err)


def test_cuda(prog, mnist, fake, tmp):
    lib = {"LD_LIBRARY_PATH": fake}
    two = dict(lib, FAKECUDA_UUIDS=UUID_A + "," + UUID_B,
               FAKECUDA_NAME="NVIDIA H200", FAKECUDA_CC="9.0")
    steps = ["--max_steps", "11", "--data-dir", mnist]
    rc, out, err = run(prog, steps, dict(two, NVIDIA_VISIBLE_DEVICES=UUID_B +
                                         "," + UUID_A))
    check(rc == 0 and "allocation checked: 2 devices (2 by UUID)" in out,
          "UUID list matching the visible devices passes", out + err)
    ptx_out = os.path.join(tmp, "loaded.ptx")
    rc, out, err = run(prog, steps, dict(two, NVIDIA_VISIBLE_DEVICES="all",
                                         FAKECUDA_PTX_OUT=ptx_out))
    check(rc == 0 and "GPU kernels: 8 loaded from the embedded PTX" in out,
          "embedded PTX loads and has the 8 kernels", out + err)
    with open(ptx_out) as f:
        ptx = f.read()
    check(re.search(r"^\.target sm_50$", ptx, re.M) and
          ptx.count(".visible .entry gv_") == 8,
          "the module image is clang's sm_50 PTX", ptx[:300])
    check(re.search(r"^name: NVIDIA H200 major: 9 minor: 0 "
                    r"memoryClockRate\(GHz\): 2\.619$", out, re.M) and
          "pciBusID: 0000:19:00.0" in out and
          re.search(r"^totalMemory: 79\.65GiB freeMemory: 78\.\d\dGiB$",
                    out, re.M) and "uuid: " + UUID_A in out,
          "device lines as the article prints them", out)
    bad = [
        (UUID_A, "names 1 device, CUDA sees 2"),
        (UUID_A + "," + UUID_C, "names " + UUID_C + ", which CUDA"),
        ("0", "names 1 device, CUDA sees 2"),
        ("none", "NVIDIA_VISIBLE_DEVICES=none but CUDA sees 2"),
        ("0,banana", "\"banana\" is neither"),
    ]
    for nvd, want in bad:
        rc, out, err = run(prog, steps, dict(two, NVIDIA_VISIBLE_DEVICES=nvd))
        check(rc == 1 and want in err and "Accuracy" not in out,
              "NVIDIA_VISIBLE_DEVICES=%s refused: %r" % (nvd, err.strip()),
              out + err)
    for nvd in ["0,1", "all"]:
        rc, out, err = run(prog, steps, dict(two, NVIDIA_VISIBLE_DEVICES=nvd))
        check(rc == 0 and "allocation checked" in out,
              "NVIDIA_VISIBLE_DEVICES=%s passes with two GPUs" % nvd,
              out + err)
    vol = tempfile.mkdtemp()
    for u in (UUID_A, UUID_C):
        open(os.path.join(vol, u), "w").close()
    rc, out, err = run(prog, steps, dict(two, NVIDIA_VISIBLE_DEVICES=vol))
    check(rc == 1 and UUID_C in err,
          "volume-mounts list naming a GPU CUDA lacks is refused", out + err)
    os.unlink(os.path.join(vol, UUID_C))
    open(os.path.join(vol, UUID_B), "w").close()
    rc, out, err = run(prog, steps, dict(two, NVIDIA_VISIBLE_DEVICES=vol))
    check(rc == 0 and "2 by UUID" in out, "volume-mounts list passes",
          out + err)
    shutil.rmtree(vol)
    rc, out, err = run(prog, steps, dict(two), drop=["NVIDIA_VISIBLE_DEVICES"])
    check(rc == 0 and "allocation not checked" in out,
          "unset NVIDIA_VISIBLE_DEVICES is reported, not checked", out + err)
    rc, out, err = run(prog, steps, dict(lib, NVIDIA_VISIBLE_DEVICES="all"),
                       drop=["FAKECUDA_UUIDS"])
    check(rc == 0 and "no CUDA device visible: training on the CPU" in out,
          "driver without devices: CPU path under auto", out + err)
    nolib = {"LD_LIBRARY_PATH": tempfile.gettempdir() + "/gdp-no-such-dir"}
    rc, out, err = run(prog, steps, nolib)
    check(rc == 0 and "no CUDA driver" in out and
          "Accuracy at step 10:" in out,
          "no libcuda: 'no CUDA driver', CPU path under --device auto",
          out + err)
    rc, out, err = run(prog, steps + ["--device", "gpu"], nolib)
    check(rc == 1 and "no CUDA driver" in err and "Accuracy" not in out,
          "no libcuda: --device gpu is an error", out + err)


def main():
    mode, prog, mnist = sys.argv[1], sys.argv[2], sys.argv[3]
    if not os.path.exists(os.path.join(mnist, FILES[0])):
        print("MNIST not found in %s: run scripts/install-deps.sh" % mnist)
        return 1
    if mode == "train":
        test_train(prog, mnist)
    else:
        tmp = tempfile.mkdtemp()
        try:
            test_idx(prog, mnist, tmp)
            test_cuda(prog, mnist, sys.argv[4], tmp)
        finally:
            shutil.rmtree(tmp)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
