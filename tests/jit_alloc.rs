//! The steady-state JIT step allocates nothing of its own: the arena, the output arrays and
//! the pointer tables are allocated once, with the compiled program, and reused by every
//! run. What remains is inside the `gemm` crate (0.19 has no workspace parameter): each
//! product allocates its index of packed row blocks and, when it packs, its packing
//! buffers, at most two blocks a call; measured with this test's `--nocapture` output, 14
//! blocks and 442,921 bytes per digits step at batch 32 (docs/performance.md). The bounds
//! below are those, so any allocation nnc adds to the step fails the test. Counted with a
//! global allocator, so this binary holds one test; one thread, so the count is
//! deterministic.

use nnc::prim::{NodeId, Op};
use nnc::train::step;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the `gemm` crate's packing allocates in one digits step at batch 32 (measured
/// 442,921 bytes), with 1% slack.
const GEMM_BYTES: usize = 447_000;

#[test]
fn steady_state_step_reuses_its_arena() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked = nnc::check_path(&root.join("specs/digits.nn"), &|p| std::fs::read(p));
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    let p = step::training_step(net, decl, 32);
    let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
    let mut inputs: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut params: BTreeMap<String, ndarray::ArrayD<f32>> = BTreeMap::new();
    for node in &p.graph.nodes {
        let n: usize = node.shape.iter().product();
        match &node.op {
            Op::Input { name } => {
                let v = if name == "lr" { 0.01 } else { 0.5 };
                inputs.insert(name.clone(), vec![v; n]);
            }
            Op::Param { name } => {
                let value = ndarray::ArrayD::from_elem(ndarray::IxDyn(&node.shape), 0.1f32);
                params.insert(name.clone(), value);
            }
            _ => {}
        }
    }
    let slices: BTreeMap<&str, &[f32]> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let options = nnc::jit::Options {
        threads: 1,
        clif: false,
        inference: false,
    };
    let mut compiled = nnc::jit::compile(&p.graph, &wanted, options).unwrap();
    let arena_line = compiled.listing.lines().next().unwrap().to_string();
    // Warm up: thread pools and GEMM packing buffers are created on first use.
    for step in 0..3 {
        compiled.run(&slices, &[&params], 1, step).unwrap();
    }
    let mut per_run = Vec::new();
    for step in 3..8 {
        let (a0, b0) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        compiled.run(&slices, &[&params], 1, step).unwrap();
        let (a1, b1) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        per_run.push((a1 - a0, b1 - b0));
    }
    eprintln!(
        "{per_run:?} (blocks, bytes) per step, {} outputs; {arena_line}",
        wanted.len()
    );
    assert!(
        per_run.iter().all(|r| *r == per_run[0]),
        "allocations differ between steady-state steps: {per_run:?}"
    );
    let (count, bytes) = per_run[0];
    // One `gemm::gemm` call per product and batch entry.
    let gemm_calls: usize = compiled
        .listing
        .lines()
        .filter_map(|l| l.split(": gemm ").nth(1))
        .map(|rest| {
            let batch = rest
                .split("batch [")
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap();
            batch
                .split(", ")
                .filter(|d| !d.is_empty())
                .map(|d| d.parse::<usize>().unwrap())
                .product::<usize>()
        })
        .sum();
    assert!(gemm_calls > 0);
    assert!(
        count <= 2 * gemm_calls && bytes <= GEMM_BYTES,
        "a step allocated {count} blocks, {bytes} bytes; the {gemm_calls} gemm calls account \
         for at most {} blocks and {GEMM_BYTES} bytes ({arena_line})",
        2 * gemm_calls
    );
}
