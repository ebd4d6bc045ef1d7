#!/usr/bin/env python3
"""Writes the peer benchmarks' data and initial weights for nnc (specs/bench/data/).

The peers (bench/peers, a copy of ../shared/bench/peers: PyTorch, JAX, ONNX Runtime) train
W1, W2, W4 and W7 from identical weights on one fixed batch. This script rebuilds that batch and
those weights with the harness's own functions (bench/peers/common.py) and stores them where
specs/bench/*.nn read them:
  - <w>_x.npy, <w>_y.npy: the batch (float32 features, int64 labels);
  - <w>_init.safetensors: the weights under nnc's names and layouts (dense weights
    [out, in], conv weights [filters, channels, kh, kw], as PyTorch stores them).
Then `nnc run specs/bench/w1_mlp.nn --init-from specs/bench/data/w1_init.safetensors`
reproduces the peers' losses (README of the peers: W1 2.29488 at step 1, 2.23501 at step 10).

Needs numpy and safetensors (pip install numpy safetensors). The outputs are committed, so
running nnc and its tests does not need Python.
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
# The workloads, the initial weights and the batch are the peer harness's own definitions.
sys.path.insert(0, os.path.join(HERE, "..", "bench", "peers"))
from common import (  # noqa: E402
    CONV_IN, DEEP_SIZES, MLP_SIZES, RESNET_IN, batch, conv_init, mlp_init, resnet_init,
)

OUT = os.path.join(HERE, "..", "specs", "bench", "data")


def save_mlp(name, sizes, batch_size):
    x, y = batch(batch_size, sizes[0])
    np.save(os.path.join(OUT, f"{name}_x.npy"), x)
    np.save(os.path.join(OUT, f"{name}_y.npy"), y)
    params = mlp_init(sizes)
    tensors = {}
    for i in range(len(params) // 2):
        tensors[f"fc{i + 1}.weight"] = np.ascontiguousarray(params[2 * i].T)
        tensors[f"fc{i + 1}.bias"] = params[2 * i + 1]
    save_file(tensors, os.path.join(OUT, f"{name}_init.safetensors"))


def save_conv(name, batch_size):
    x, y = batch(batch_size, CONV_IN)
    np.save(os.path.join(OUT, f"{name}_x.npy"), x)
    np.save(os.path.join(OUT, f"{name}_y.npy"), y)
    w1, b1, w2, b2, w3, b3 = conv_init()
    save_file(
        {
            "conv1.weight": w1, "conv1.bias": b1,
            "conv2.weight": w2, "conv2.bias": b2,
            "fc.weight": np.ascontiguousarray(w3.T), "fc.bias": b3,
        },
        os.path.join(OUT, f"{name}_init.safetensors"),
    )


def save_resnet(name, batch_size):
    x, y = batch(batch_size, RESNET_IN)
    np.save(os.path.join(OUT, f"{name}_x.npy"), x)
    np.save(os.path.join(OUT, f"{name}_y.npy"), y)
    tensors = resnet_init()
    tensors["fc.weight"] = np.ascontiguousarray(tensors["fc.weight"].T)
    save_file(tensors, os.path.join(OUT, f"{name}_init.safetensors"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    save_mlp("w1", MLP_SIZES, 64)
    save_mlp("w4", DEEP_SIZES, 32)
    save_conv("w2", 64)
    save_resnet("w7", 64)
    print("wrote", sorted(os.listdir(OUT)))
