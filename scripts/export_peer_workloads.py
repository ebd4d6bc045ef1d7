#!/usr/bin/env python3
"""Writes the peer benchmarks' data and initial weights for nnc (specs/bench/data/).

The peers (../shared/bench/peers, PyTorch, JAX, ONNX Runtime) train W1, W2 and W4 from
identical weights on one fixed batch. This script rebuilds that batch and those weights with
the same numpy generators and stores them where specs/bench/*.nn read them:
  - <w>_x.npy, <w>_y.npy: the batch (float32 features, int64 labels);
  - <w>_init.safetensors: the weights under nnc's names and layouts (dense weights
    [out, in], conv weights [filters, channels, kh, kw], as PyTorch stores them).
Then `nnc run specs/bench/w1_mlp.nn --init-from specs/bench/data/w1_init.safetensors`
reproduces the peers' losses (README of the peers: W1 2.29488 at step 1, 2.23501 at step 10).

Needs numpy and safetensors (pip install numpy safetensors). The outputs are committed, so
running nnc and its tests does not need Python.
"""
import os

import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs", "bench", "data")


def uniform_layers(sizes, seed=0):
    """The peers' MLP init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weights [in, out]."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        params += [w, b]
    return params


def conv_layers(seed=0):
    rng = np.random.default_rng(seed)

    def u(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    return [
        u((16, 1, 5, 5), 25), u((16,), 25),
        u((32, 16, 5, 5), 400), u((32,), 400),
        u((1568, 10), 1568), u((10,), 1568),
    ]


def fixed_batch(batch_size, features, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size,) + tuple(np.atleast_1d(features))).astype(np.float32)
    y = rng.integers(0, 10, size=batch_size).astype(np.int64)
    return x, y


def save_mlp(name, sizes, batch_size):
    x, y = fixed_batch(batch_size, sizes[0])
    np.save(os.path.join(OUT, f"{name}_x.npy"), x)
    np.save(os.path.join(OUT, f"{name}_y.npy"), y)
    params = uniform_layers(sizes)
    tensors = {}
    for i in range(len(params) // 2):
        tensors[f"fc{i + 1}.weight"] = np.ascontiguousarray(params[2 * i].T)
        tensors[f"fc{i + 1}.bias"] = params[2 * i + 1]
    save_file(tensors, os.path.join(OUT, f"{name}_init.safetensors"))


def save_conv(name, batch_size):
    x, y = fixed_batch(batch_size, (1, 28, 28))
    np.save(os.path.join(OUT, f"{name}_x.npy"), x)
    np.save(os.path.join(OUT, f"{name}_y.npy"), y)
    w1, b1, w2, b2, w3, b3 = conv_layers()
    save_file(
        {
            "conv1.weight": w1, "conv1.bias": b1,
            "conv2.weight": w2, "conv2.bias": b2,
            "fc.weight": np.ascontiguousarray(w3.T), "fc.bias": b3,
        },
        os.path.join(OUT, f"{name}_init.safetensors"),
    )


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    save_mlp("w1", [64, 256, 256, 10], 64)
    save_mlp("w4", [64] + [64] * 20 + [10], 32)
    save_conv("w2", 64)
    print("wrote", sorted(os.listdir(OUT)))
