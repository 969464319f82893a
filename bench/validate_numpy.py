#!/usr/bin/env python3
"""validate_numpy.py: the reference for bench/validate-bench.sh: the same
network and loop as gpu-validate's CPU path (TF's mnist_with_summaries:
784-500 ReLU-10, dropout keep 0.9, softmax cross-entropy, Adam 0.001,
batch 100, test accuracy on all 10,000 images every 10th step, which does
not train), written plainly in NumPy (float32, the same BLAS underneath).
Usage: validate_numpy.py DATA_DIR MAX_STEPS"""
import sys

import numpy as np


def idx(path, dims):
    raw = np.fromfile(path, dtype=np.uint8)
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i].tobytes(), "big")
             for i in range(dims)]
    return raw[4 + 4 * dims:].reshape(shape)


def main():
    d, steps = sys.argv[1], int(sys.argv[2])
    xtr = idx(d + "/train-images-idx3-ubyte", 3)[5000:].reshape(-1, 784)
    ytr = idx(d + "/train-labels-idx1-ubyte", 1)[5000:]
    xte = idx(d + "/t10k-images-idx3-ubyte", 3).reshape(-1, 784)
    yte = idx(d + "/t10k-labels-idx1-ubyte", 1)
    xtr = xtr.astype(np.float32) / 255
    xte = xte.astype(np.float32) / 255
    rng = np.random.default_rng(1)

    def tnormal(shape):
        w = rng.standard_normal(shape, dtype=np.float32)
        while True:
            bad = np.abs(w) > 2
            if not bad.any():
                return w * np.float32(0.1)
            w[bad] = rng.standard_normal(bad.sum(), dtype=np.float32)

    p = [tnormal((784, 500)), np.full(500, 0.1, np.float32),
         tnormal((500, 10)), np.full(10, 0.1, np.float32)]
    m = [np.zeros_like(a) for a in p]
    v = [np.zeros_like(a) for a in p]
    order, cursor, t = rng.permutation(len(xtr)), 0, 0
    for step in range(steps):
        if step % 10 == 0:
            h = np.maximum(xte @ p[0] + p[1], 0)
            acc = np.mean(np.argmax(h @ p[2] + p[3], 1) == yte)
            print("Accuracy at step %d: %.4g" % (step, acc), flush=True)
            continue
        if cursor + 100 > len(order):
            order, cursor = rng.permutation(len(xtr)), 0
        b = order[cursor:cursor + 100]
        cursor += 100
        x, y = xtr[b], ytr[b]
        h = np.maximum(x @ p[0] + p[1], 0)
        mask = (rng.random(h.shape, dtype=np.float32) < 0.9) / np.float32(0.9)
        h *= mask
        z = h @ p[2] + p[3]
        z = np.exp(z - z.max(1, keepdims=True))
        z /= z.sum(1, keepdims=True)
        z[np.arange(100), y] -= 1
        z /= 100
        dh = (z @ p[2].T) * mask * (h > 0)
        g = [x.T @ dh, dh.sum(0), h.T @ z, z.sum(0)]
        t += 1
        lr = 0.001 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for i in range(4):
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
            p[i] -= np.float32(lr) * m[i] / (np.sqrt(v[i]) + 1e-8)
        if step % 100 == 99:
            print("Adding run metadata for %d" % step)


if __name__ == "__main__":
    main()
