//! The steady-state JIT step reuses its arena: the arena is allocated once, with the
//! compiled program, and every call allocates the same small amount, less than the arena.
//! Besides the returned arrays that is a few pointer tables and, measured with this test's
//! `--nocapture` output, about 450 KB per digits step at batch 32 that the GEMM calls
//! allocate (runtime/src/exec; the library's packing buffers). Counted with a global
//! allocator, so this binary holds one test; one thread, so the count is deterministic.

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
    };
    let mut compiled = nnc::jit::compile(&p.graph, &wanted, options).unwrap();
    let output_bytes: usize = wanted
        .iter()
        .map(|w| p.graph.shape(*w).iter().product::<usize>() * 4)
        .sum();
    let arena_line = compiled.listing.lines().next().unwrap().to_string();
    // Warm up: thread pools and GEMM packing buffers are created on first use.
    for step in 0..3 {
        compiled.run(&slices, &[&params], 1, step).unwrap();
    }
    let mut per_run = Vec::new();
    for step in 3..8 {
        let (a0, b0) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        let out = compiled.run(&slices, &[&params], 1, step).unwrap();
        let (a1, b1) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        drop(out);
        per_run.push((a1 - a0, b1 - b0));
    }
    eprintln!(
        "{per_run:?} outputs {output_bytes} bytes in {} arrays; {arena_line}",
        wanted.len()
    );
    assert!(
        per_run.iter().all(|r| *r == per_run[0]),
        "allocations differ between steady-state steps: {per_run:?}"
    );
    let (count, bytes) = per_run[0];
    let arena_bytes = compiled.arena_len() * 4;
    assert!(arena_bytes > 0);
    assert!(
        bytes - output_bytes < arena_bytes,
        "a step allocated {count} blocks, {bytes} bytes for {output_bytes} bytes of outputs \
         ({arena_line})"
    );
}
