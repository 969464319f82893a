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
  validate-test.py gpu GPU_VALIDATE MNIST_DIR FAKECUDA_DIR
      the GPU training path against the fake libcuda.so.1, which runs a C
      reference of each kernel: the same log as the CPU path, accuracy
      tracking the CPU path's for the same seed, and driver calls made to
      fail (FAKECUDA_FAIL) stopping it with the call and CUresult named.
      This checks the host side (buffers, copies, launch shapes, kernel
      arguments); the PTX itself only runs on a real GPU.
  validate-test.py real-gpu GPU_VALIDATE MNIST_DIR
      on a machine with an NVIDIA GPU and driver (skipped, exit 77,
      elsewhere): 500 steps with --device gpu and with --device cpu, same
      seed; the GPU's device lines, the same step-0 accuracy, >= 0.94 at
      step 490 and within 0.02 of the CPU's; prints both times.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

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


def accuracies(out):
    return {int(m.group(1)): float(m.group(2)) for m in
            re.finditer(r"^Accuracy at step (\d+): ([0-9.]+)$", out, re.M)}


def log_lines(out):
    """The training log: the lines TF's script prints"""
    return [ln for ln in out.splitlines()
            if ln.startswith("Accuracy at step ") or
            ln.startswith("Adding run metadata for ")]


def test_gpu(prog, mnist, fake):
    env = {"LD_LIBRARY_PATH": fake, "FAKECUDA_UUIDS": UUID_A,
           "FAKECUDA_NAME": "NVIDIA H200", "NVIDIA_VISIBLE_DEVICES": UUID_A}
    args = ["--max_steps", "200", "--seed", "3", "--data-dir", mnist]
    rc, gout, gerr = run(prog, args + ["--device", "gpu"], env)
    check(rc == 0, "200 GPU steps on the fake driver exit 0", gout + gerr)
    check("Device: gpu 0 (NVIDIA H200)" in gout, "says it trains on GPU 0",
          gout)
    rc, cout, cerr = run(prog, args + ["--device", "cpu"], env)
    check(rc == 0, "200 CPU steps exit 0", cerr)
    g, c = accuracies(gout), accuracies(cout)
    check(sorted(g) == list(range(0, 200, 10)),
          "GPU: accuracy logged at steps 0, 10, ..., 190", gout)
    check([re.sub(r"[0-9.]+$", "", ln) for ln in log_lines(gout)] ==
          [re.sub(r"[0-9.]+$", "", ln) for ln in log_lines(cout)],
          "GPU and CPU logs have the same lines", gout + cout)
    check(abs(g.get(0, -1) - c.get(0, 1)) <= 0.002,
          "same weights at step 0: %s vs CPU %s" % (g.get(0), c.get(0)))
    check(g.get(190, 0) >= 0.85 and abs(g.get(190, 0) - c.get(190, 1)) <=
          0.02, "GPU accuracy at step 190 %s within 0.02 of the CPU's %s" %
          (g.get(190), c.get(190)))
    check(g.get(10, 1) < g.get(190, 0), "GPU accuracy climbs", str(g))
    rc, out, err = run(prog, ["--max_steps", "11", "--data-dir", mnist], env)
    check(rc == 0 and "Device: gpu 0" in out and
          "Accuracy at step 10:" in out, "--device auto trains on the GPU",
          out + err)
    fails = [
        ("cuMemAlloc", "cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY", 0),
        ("cuMemcpyHtoD:5", "cuMemcpyHtoD", "CUDA_ERROR_INVALID_VALUE", 0),
        ("cuLaunchKernel:40", "cuLaunchKernel(gv_", "CUDA_ERROR_LAUNCH_FAILED",
         1),
        ("cuMemcpyDtoH:2", "cuMemcpyDtoH", "CUDA_ERROR_INVALID_VALUE", 1),
        ("cuCtxSynchronize", "cuCtxSynchronize", "CUDA_ERROR_INVALID_VALUE",
         1),
    ]
    for spec, call, name, acc_lines in fails:
        rc, out, err = run(prog, ["--max_steps", "30", "--device", "gpu",
                                  "--data-dir", mnist],
                           dict(env, FAKECUDA_FAIL=spec))
        check(rc == 1 and call in err and name in err and
              len(accuracies(out)) == acc_lines,
              "FAKECUDA_FAIL=%s stops it: %r" % (spec, err.strip()), out + err)


def test_real_gpu(prog, mnist):
    args = ["--max_steps", "500", "--data-dir", mnist]
    t0 = time.monotonic()
    rc, gout, gerr = run(prog, args + ["--device", "gpu"])
    gtime = time.monotonic() - t0
    if rc != 0 and ("no CUDA driver" in gerr or "no CUDA device" in gerr):
        print("SKIP: %s" % gerr.strip())
        return 77
    print(gout + gerr)
    t0 = time.monotonic()
    rc2, cout, cerr = run(prog, args + ["--device", "cpu"])
    ctime = time.monotonic() - t0
    check(rc == 0 and rc2 == 0, "500 steps on the GPU and the CPU exit 0",
          gerr + cerr)
    check(re.search(r"^name: .+ major: \d+ minor: \d+ "
                    r"memoryClockRate\(GHz\): [0-9.]+$", gout, re.M) and
          "GPU kernels: 8 loaded from the embedded PTX" in gout and
          "Device: gpu 0 (" in gout, "device lines, kernels, GPU 0 chosen",
          gout)
    g, c = accuracies(gout), accuracies(cout)
    check(sorted(g) == list(range(0, 500, 10)), "accuracy every 10 steps",
          gout)
    check(abs(g.get(0, -1) - c.get(0, 1)) <= 0.002,
          "step 0 (same weights): GPU %s, CPU %s" % (g.get(0), c.get(0)))
    check(g.get(490, 0) >= 0.94 and abs(g.get(490, 0) - c.get(490, 1)) <=
          0.02, "step 490: GPU %s, CPU %s" % (g.get(490), c.get(490)))
    print("time for 500 steps (whole process): GPU %.2f s, CPU %.2f s" %
          (gtime, ctime))
    return 0


def main():
    mode, prog, mnist = sys.argv[1], sys.argv[2], sys.argv[3]
    if not os.path.exists(os.path.join(mnist, FILES[0])):
        print("MNIST not found in %s: run scripts/install-deps.sh" % mnist)
        return 1
    if mode == "train":
        test_train(prog, mnist)
    elif mode == "gpu":
        test_gpu(prog, mnist, sys.argv[4])
    elif mode == "real-gpu":
        if test_real_gpu(prog, mnist) == 77:
            return 77
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
