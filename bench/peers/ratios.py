"""Prints nnc's figures next to the peers' and the ratio for each target of issues 4 and 13.

    python ratios.py RESULTS_DIR CRITERION_DIR

RESULTS_DIR holds the rounds of scripts/peers.sh: `nnc.r<i>.jsonl` (one `nnc bench --json`
object per line: specs/bench/*.nn, specs/digits.nn) and `peers.r<i>.jsonl` (the rows the
bench_*.py scripts recorded right after that nnc round), nnc and the peers alternating
(ABAB); `peers.jsonl` the rows measured once (GEMM, FMA peak); `nnc_1t.jsonl` the JIT on one
thread (`nnc bench --threads 1`). CRITERION_DIR is target/criterion after
`cargo bench --bench kernels` (missing benches print as n/a). Each target's ratio is computed
per round; the table shows the median over the rounds and its spread (min..max), and the
medians of the two figures.
"""
import glob
import json
import os
import statistics
import sys


def load_nnc(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line)
            name = os.path.basename(d["spec"]).removesuffix(".nn")
            out[name] = {r["backend"]: r for r in d["results"]}
    return out


def load_peers(*paths):
    rows = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        for line in open(path):
            r = json.loads(line)
            if r.get("metric") != "FAILED":
                rows[(r["workload"], r["framework"], r["metric"])] = r["value"]
    return rows


def criterion_ns(root, group, function, param):
    """Mean time (ns) of one criterion benchmark, or None."""
    p = os.path.join(root, group, function, param, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["mean"]["point_estimate"]


def targets(nnc, peers, crit):
    """(target, nnc figure, peer figure, goal, higher is better) for one round."""

    def jit(spec, key, sub=None):
        try:
            v = nnc[spec]["jit"][key]
            return v[sub] if sub else v
        except KeyError:
            return None

    def peer(workload, framework, metric):
        return peers.get((workload, framework, metric))

    def ratio(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    rows = []  # (target, nnc figure, peer figure, ratio, goal, higher_is_better)
    w1 = jit("w1_mlp", "train_samples_per_s")
    rows.append(("W1 train b64 vs jax.jit (samples/s)", w1,
                 peer("W1 MLP train b64", "jax.jit", "samples/s"), 1.5, True))
    rows.append(("W1 train b64 vs torch eager (samples/s)", w1,
                 peer("W1 MLP train b64", "torch eager", "samples/s"), 3.0, True))
    rows.append(("W4 train b32 vs jax.jit (samples/s)", jit("w4_deep_mlp", "train_samples_per_s"),
                 peer("W4 deep MLP train b32", "jax.jit", "samples/s"), 2.0, True))
    w2 = jit("w2_convnet", "train_samples_per_s")
    rows.append(("W2 train b64 vs torch eager (samples/s)", w2,
                 peer("W2 convnet train b64", "torch eager", "samples/s"), 1.5, True))
    rows.append(("W2 train b64 vs jax.jit (samples/s, no target)", w2,
                 peer("W2 convnet train b64", "jax.jit", "samples/s"), None, True))
    # W7 (specs/bench/w7_resnet.nn): the peers' entries are still to be written (bench/peers
    # has the weights, `common.resnet_init`); until then these rows show n/a for the peer.
    w7 = jit("w7_resnet", "train_samples_per_s")
    rows.append(("W7 ResNet-8 train b64 vs torch eager (samples/s)", w7,
                 peer("W7 ResNet-8 train b64", "torch eager", "samples/s"), 1.5, True))
    rows.append(("W7 ResNet-8 infer b1 vs ONNX Runtime (us)",
                 jit("w7_resnet", "infer_latency_us", "batch1"),
                 peer("W7 ResNet-8 infer b1", "onnxruntime", "latency"), 1.0, False))
    rows.append(("W3 MLP infer b1 vs ONNX Runtime (us)", jit("w1_mlp", "infer_latency_us", "batch1"),
                 peer("W3 MLP infer b1", "onnxruntime", "latency"), 0.5, False))
    rows.append(("W3 convnet infer b1 vs ONNX Runtime (us)",
                 jit("w2_convnet", "infer_latency_us", "batch1"),
                 peer("W3 convnet infer b1", "onnxruntime", "latency"), 1.0, False))
    jax_compile = peer("W6 compile time", "jax.jit", "W1 MLP train b64")
    rows.append(("W1 step compile vs jax.jit first call (ms)", jit("w1_mlp", "compile_ms"),
                 jax_compile * 1e3 if jax_compile is not None else None, 0.1, False))
    n = 64 << 20
    ew = criterion_ns(crit, "elementwise", "jit_fused_in_place", str(n))
    rows.append(("relu(a*x+b)*c 64M in place vs jax.jit donated (GB/s)",
                 8 * n / ew if ew else None,
                 peer("W5c relu(a*x+b)*c 64M", "jax.jit (input buffer donated, no alloc)",
                      "effective GB/s"), 0.8, True))
    g = criterion_ns(crit, "gemm", "gemm_2t", "1024x1024x1024")
    rows.append(("GEMM 1024^3 2T vs numpy/OpenBLAS (GFLOP/s)",
                 2 * 1024**3 / g if g else None,
                 peer("W5a GEMM 1024^3 f32", "numpy", "GFLOP/s 2T"), 0.9, True))
    xnor = criterion_ns(crit, "dense_256x256x4096", "xnor", "1T")
    f32 = criterion_ns(crit, "dense_256x256x4096", "f32", "1T")
    rows.append(("XNOR dense vs f32 dense 256x256x4096 (speed-up)",
                 ratio(f32, xnor), 1.0 if f32 and xnor else None, 8.0, True))
    # GEMM efficiency against the machine's measured FMA peak on 2 threads (peak.py: the
    # widest FMA the CPU has, AVX-512 where present, else AVX2).
    peak = (peer("W5d f32 peak (measured)", "fma_peak.c, 2 thread(s)", "AVX-512 FMA")
            or peer("W5d f32 peak (measured)", "fma_peak.c, 2 thread(s)", "AVX2 FMA"))
    rows.append(("GEMM 1024^3 2T vs measured FMA peak, 2 threads (GFLOP/s)",
                 2 * 1024**3 / g if g else None, peak, 0.85, True))
    ref = None
    try:
        ref = nnc["digits"]["reference"]["train_samples_per_s"]
    except KeyError:
        pass
    rows.append(("digits train: JIT vs reference (samples/s)",
                 jit("digits", "train_samples_per_s"), ref, 10.0, True))
    return rows


def main(results, crit):
    once = load_peers(os.path.join(results, "peers.jsonl"))
    rounds = []
    for path in sorted(glob.glob(os.path.join(results, "nnc.r*.jsonl"))):
        peers_path = path.replace("nnc.r", "peers.r")
        rows = load_peers(peers_path)
        rounds.append(targets(load_nnc(path), {**once, **rows}, crit))
    if not rounds:
        sys.exit(f"no rounds (nnc.r*.jsonl) in {results}")
    nnc = load_nnc(sorted(glob.glob(os.path.join(results, "nnc.r*.jsonl")))[-1])

    def fmt(v):
        if v is None:
            return "n/a"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

    def ratio(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    print(f"{len(rounds)} rounds, nnc and the peers alternating; ratio: median (min..max)")
    print()
    print("| target | nnc | peer | ratio | spread | goal | met |")
    print("|---|---:|---:|---:|---|---:|---|")
    for i, (name, _, _, goal, higher) in enumerate(rounds[0]):
        a = median(r[i][1] for r in rounds)
        b = median(r[i][2] for r in rounds)
        ratios = [x for x in (ratio(r[i][1], r[i][2]) for r in rounds) if x is not None]
        r = median(ratios)
        spread = f"{fmt(min(ratios))}..{fmt(max(ratios))}" if ratios else ""
        if goal is None:
            print(f"| {name} | {fmt(a)} | {fmt(b)} | {fmt(r)} | {spread} | | |")
            continue
        met = "n/a" if r is None else ("yes" if (r >= goal if higher else r <= goal) else "NO")
        sign = ">=" if higher else "<="
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {fmt(r)} | {spread} | {sign} {goal} | {met} |")
    kernel_tables(crit)
    one_thread = os.path.join(results, "nnc_1t.jsonl")
    if os.path.exists(one_thread):
        threads_table(nnc, load_nnc(one_thread))
    print()
    print("nnc per spec (jit / reference):")
    for spec, by in nnc.items():
        for backend, r in by.items():
            print(f"  {spec:<12} {backend:<9} train {r['train_samples_per_s']:>12,.0f} samples/s"
                  f"  step {r['train_step_us']:>10,.1f} us"
                  f"  infer b1 {r['infer_latency_us']['batch1']:>9,.1f} us"
                  f"  infer b {r['infer_latency_us']['batch']:>10,.1f} us"
                  f"  compile {r['compile_ms']:>7,.1f} ms  rss {r['peak_rss_mb'] or 0:,.0f} MB")


def threads_table(two, one):
    """The JIT on two threads against one, per spec."""
    print()
    print("| spec | train samples/s 1T | 2T | 2T/1T | infer b1 us 1T | 2T | infer batch us 1T | 2T |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for spec, by in one.items():
        a, b = by.get("jit"), two.get(spec, {}).get("jit")
        if not (a and b):
            continue
        t1, t2 = a["train_samples_per_s"], b["train_samples_per_s"]
        print(f"| {spec} | {t1:,.0f} | {t2:,.0f} | {t2 / t1:.2f} "
              f"| {a['infer_latency_us']['batch1']:.1f} | {b['infer_latency_us']['batch1']:.1f} "
              f"| {a['infer_latency_us']['batch']:.1f} | {b['infer_latency_us']['batch']:.1f} |")


def kernel_tables(crit):
    """The criterion kernel benches as markdown (means)."""
    print()
    print("| elementwise, 2 threads | floats | GB/s (read + write) |")
    print("|---|---:|---:|")
    for name in ("jit_fused", "jit_fused_in_place", "memcpy"):
        for n in (64 << 10, 64 << 20):
            ns = criterion_ns(crit, "elementwise", name, str(n))
            print(f"| {name} | {n:,} | {8 * n / ns:.1f} |" if ns else f"| {name} | {n:,} | n/a |")
    print()
    cands = ("gemm_1t", "gemm_2t", "matrixmultiply_1t", "cranelift_4x8_1t")
    print("| GEMM GFLOP/s (m x n x k) | " + " | ".join(cands) + " |")
    print("|---|" + "---:|" * len(cands))
    for m, n, k in ((64, 64, 256), (64, 256, 256), (512, 256, 256), (1024, 1024, 1024)):
        cells = []
        for c in cands:
            ns = criterion_ns(crit, "gemm", c, f"{m}x{n}x{k}")
            cells.append(f"{2 * m * n * k / ns:.1f}" if ns else "n/a")
        print(f"| {m}x{n}x{k} | " + " | ".join(cells) + " |")
    print()
    print("| convolution kernel GFLOP/s (runtime/src/exec/convolve.rs) | 1T | 2T |")
    print("|---|---:|---:|")
    for shape, flops in (("w2_conv2_b64", 2 * 64 * 32 * 400 * 196),
                         ("w7_u2conv2_b64", 2 * 64 * 32 * 288 * 256)):
        for kind in ("unfold_then_gemm", "forward", "weight_grad", "input_grad"):
            cells = []
            for t in ("1T", "2T"):
                ns = criterion_ns(crit, f"conv_{shape}", kind, t)
                cells.append(f"{flops / ns:.1f}" if ns else "n/a")
            print(f"| {shape} {kind} | " + " | ".join(cells) + " |")
    print()
    print("| dense 256x256x4096, 1 thread | time us |")
    print("|---|---:|")
    for name in ("xnor", "f32"):
        ns = criterion_ns(crit, "dense_256x256x4096", name, "1T")
        print(f"| {name} | {ns / 1e3:.1f} |" if ns else f"| {name} | n/a |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
