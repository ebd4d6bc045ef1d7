//! Codegen: one [`LoopKernel`] -> one Cranelift function
//! `fn(bufs: *const *mut f32, begin: i64, end: i64, seed: i64, step: i64)` that runs the
//! outermost loop over `[begin, end)`.
//!
//! Loops are nested in the kernel's dimension order; each load's element offset is built up
//! one level at a time. The innermost loop runs 4 lanes at a time (`f32x4`, the widest
//! vectors Cranelift's x64 backend has; docs/performance.md) when every load there has
//! stride 0 or 1 and the kernel draws no random numbers, with a scalar loop for the rest
//! (below the AVX2 level every loop is scalar: see `vectorizable`).
//! `exp` is a vector polynomial (`vexp.rs`, within 3e-7 relative of `f32::exp`); `ln` and
//! the counter-based generator are calls into Rust (`f32::ln`, `nnc_runtime::rng::uniform`), so the JIT
//! and the interpreter compute them with the same code. `max`
//! propagates NaN like the interpreter, so divergence is never hidden.
//!
//! This is the only module that imports Cranelift (with `jit/mod.rs`, which owns the
//! module).

use super::kernel::{BinOp, Inst, LoopKernel, ReduceOp, Source, UnOp};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Endianness, InstBuilder, MemFlagsData, Type, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use nnc_runtime::exec::level::{level, Level};

/// Turns off the instructions above the capped CPU level (`NNC_CPU_LEVEL`,
/// `nnc_runtime::exec::level`), so one machine can test the code generated for lower ones:
/// below AVX2 the kernels use SSE only (an FMA becomes a call to `fmaf`, as exact).
fn cap_isa(isa: &mut cranelift_codegen::isa::Builder) -> Result<(), String> {
    const AVX512: [&str; 6] = [
        "has_avx512bitalg",
        "has_avx512dq",
        "has_avx512vl",
        "has_avx512vbmi",
        "has_avx512f",
        "has_avx512vnni",
    ];
    const AVX: [&str; 4] = ["has_avx", "has_avx2", "has_fma", "has_avx_vnni"];
    if !cfg!(target_arch = "x86_64") {
        return Ok(());
    }
    let off: Vec<&str> = match level() {
        Level::Avx512 => vec![],
        Level::Avx2 => AVX512.to_vec(),
        Level::Portable => AVX512.iter().chain(&AVX).copied().collect(),
    };
    for flag in off {
        isa.set(flag, "false").map_err(err)?;
    }
    Ok(())
}

extern "C" fn nnc_logf(x: f32) -> f32 {
    x.ln()
}

extern "C" fn nnc_rand(seed: i64, step: i64, stream: i64, index: i64) -> f32 {
    nnc_runtime::rng::uniform(seed as u64, step as u64, stream as u32, index as u64) as f32
}

/// A JIT module with the helper functions kernels call.
pub struct Codegen {
    pub module: JITModule,
    ctx: cranelift_codegen::Context,
    fctx: FunctionBuilderContext,
    logf: FuncId,
    rand: FuncId,
    count: usize,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Codegen {
    pub fn new() -> Result<Codegen, String> {
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").map_err(err)?;
        flags.set("is_pic", "false").map_err(err)?;
        flags.set("use_colocated_libcalls", "false").map_err(err)?;
        // The verifier runs in debug builds and tests; release builds skip its cost.
        flags
            .set(
                "enable_verifier",
                if cfg!(debug_assertions) {
                    "true"
                } else {
                    "false"
                },
            )
            .map_err(err)?;
        // Native detection sets every CPU flag (the x86-64-v3/v4 presets miss `has_avx`,
        // which turns FMAs into calls: docs/performance.md).
        let mut isa = cranelift_native::builder().map_err(err)?;
        cap_isa(&mut isa)?;
        let isa = isa.finish(settings::Flags::new(flags)).map_err(err)?;
        let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
        jb.symbol("nnc_logf", nnc_logf as *const u8);
        jb.symbol("nnc_rand", nnc_rand as *const u8);
        let mut module = JITModule::new(jb);
        let mut unary = module.make_signature();
        unary.params.push(AbiParam::new(types::F32));
        unary.returns.push(AbiParam::new(types::F32));
        let logf = module
            .declare_function("nnc_logf", Linkage::Import, &unary)
            .map_err(err)?;
        let mut rand_sig = module.make_signature();
        for _ in 0..4 {
            rand_sig.params.push(AbiParam::new(types::I64));
        }
        rand_sig.returns.push(AbiParam::new(types::F32));
        let rand = module
            .declare_function("nnc_rand", Linkage::Import, &rand_sig)
            .map_err(err)?;
        let ctx = module.make_context();
        Ok(Codegen {
            module,
            ctx,
            fctx: FunctionBuilderContext::new(),
            logf,
            rand,
            count: 0,
        })
    }

    /// Compiles a kernel. `bufs` maps the kernel's buffer ids to their slot in the
    /// function's pointer table. Returns the function and, if asked, its CLIF text.
    pub fn compile(
        &mut self,
        kernel: &LoopKernel,
        bufs: &[usize],
        want_text: bool,
    ) -> Result<(FuncId, Option<String>), String> {
        let ptr = self.module.target_config().pointer_type();
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        for _ in 0..4 {
            sig.params.push(AbiParam::new(types::I64));
        }
        let name = format!("kernel{}", self.count);
        self.count += 1;
        let id = self
            .module
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(err)?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let logf = self.module.declare_func_in_func(self.logf, b.func);
            let rand = self.module.declare_func_in_func(self.rand, b.func);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let mut e = Emitter {
                k: kernel,
                b: &mut b,
                logf,
                rand,
                seed: params[3],
                step: params[4],
                bases: Vec::new(),
                acc: None,
            };
            e.emit(params[0], bufs, params[1], params[2]);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(self.module.target_config());
        }
        let text = want_text.then(|| self.ctx.func.display().to_string());
        self.module
            .define_function(id, &mut self.ctx)
            .map_err(|e| format!("{e:?}"))?;
        self.module.clear_context(&mut self.ctx);
        Ok((id, text))
    }
}

const LANES: i64 = 4;

fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Emits one kernel's loops and body.
struct Emitter<'a, 'b> {
    k: &'a LoopKernel,
    b: &'a mut FunctionBuilder<'b>,
    logf: cranelift_codegen::ir::FuncRef,
    rand: cranelift_codegen::ir::FuncRef,
    seed: Value,
    step: Value,
    /// Base address of each load's buffer (None for random numbers), then the output's.
    bases: Vec<Option<Value>>,
    /// The reduction's accumulators: (scalar, vector).
    acc: Option<(Variable, Variable)>,
}

impl Emitter<'_, '_> {
    fn dims(&self) -> Vec<usize> {
        let mut d = if self.k.outer.is_empty() {
            vec![1]
        } else {
            self.k.outer.clone()
        };
        d.extend_from_slice(&self.k.inner);
        d
    }

    fn n_outer(&self) -> usize {
        self.k.outer.len().max(1)
    }

    /// Strides of load `j` (or of the output, `j == loads.len()`) per loop dimension.
    fn strides(&self, j: usize) -> Vec<isize> {
        let pad = self.k.outer.is_empty();
        let mut s: Vec<isize> = match self.k.loads.get(j) {
            Some(Source::Buffer(v)) => v.strides.clone(),
            Some(Source::Rand { strides, .. }) => strides.clone(),
            None => {
                let mut s = self.k.out.strides.clone();
                s.extend(std::iter::repeat_n(0, self.k.inner.len()));
                s
            }
        };
        if pad {
            s.insert(0, 0);
        }
        s
    }

    fn offset0(&self, j: usize) -> isize {
        match self.k.loads.get(j) {
            Some(Source::Buffer(v)) => v.offset,
            Some(Source::Rand { offset, .. }) => *offset,
            None => self.k.out.offset,
        }
    }

    fn vectorizable(&self) -> bool {
        // Without AVX, Cranelift 0.135's x64 backend can fold an unaligned vector load into
        // an SSE `cmpps`, which faults on rows whose length is not a multiple of 4 (a
        // `[4, 6]` input crashed; upstream bytecodealliance/wasmtime#10408 is the same
        // class of bug). Below AVX2 the kernels therefore run scalar loops, whose memory
        // operands have no alignment rule.
        if cfg!(target_arch = "x86_64") && level() < Level::Avx2 {
            return false;
        }
        let dims = self.dims();
        let last = dims.len() - 1;
        if dims[last] < LANES as usize {
            return false;
        }
        let reduce = self.k.reduce.is_some();
        (0..=self.k.loads.len()).all(|j| {
            if j < self.k.loads.len() && matches!(self.k.loads[j], Source::Rand { .. }) {
                return false;
            }
            let s = self.strides(j)[last];
            // The output of a reduction is stored after its inner loops.
            (j == self.k.loads.len() && reduce) || s == 0 || s == 1
        })
    }

    fn emit(&mut self, table: Value, bufs: &[usize], begin: Value, end: Value) {
        let n = self.k.loads.len();
        for j in 0..=n {
            let buf = match self.k.loads.get(j) {
                Some(Source::Buffer(v)) => Some(v.buf),
                Some(Source::Rand { .. }) => None,
                None => Some(self.k.out.buf),
            };
            self.bases.push(buf.map(|buf| {
                #[allow(clippy::expect_used, reason = "compile_optimized builds the table from this kernel's loads and output")]
                let slot = bufs
                    .iter()
                    .position(|&b| b == buf)
                    .expect("every buffer has a slot");
                self.b
                    .ins()
                    .load(types::I64, flags(), table, (slot * 8) as i32)
            }));
        }
        if self.k.reduce.is_some() {
            let s = self.b.declare_var(types::F32);
            let v = self.b.declare_var(types::F32X4);
            self.acc = Some((s, v));
        }
        let starts: Vec<i64> = (0..=n).map(|j| self.offset0(j) as i64).collect();
        let offsets: Vec<Value> = starts
            .into_iter()
            .map(|o| self.b.ins().iconst(types::I64, o))
            .collect();
        let vector = self.vectorizable();
        self.level(0, begin, end, offsets, vector);
    }

    /// A counted loop `for i in lo..hi step step`, calling `body` with `i`.
    fn counted(&mut self, lo: Value, hi: Value, step: i64, body: &mut dyn FnMut(&mut Self, Value)) {
        let header = self.b.create_block();
        let inner = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        self.b.ins().jump(header, &[lo.into()]);
        self.b.switch_to_block(header);
        let i = self.b.block_params(header)[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, hi);
        self.b.ins().brif(more, inner, &[], exit, &[]);
        self.b.switch_to_block(inner);
        body(self, i);
        let next = self.b.ins().iadd_imm_s(i, step);
        self.b.ins().jump(header, &[next.into()]);
        self.b.switch_to_block(exit);
    }

    fn advance(&mut self, offsets: &[Value], level: usize, i: Value) -> Vec<Value> {
        (0..offsets.len())
            .map(|j| {
                let s = self.strides(j)[level] as i64;
                if s == 0 {
                    offsets[j]
                } else {
                    let d = self.b.ins().imul_imm_s(i, s);
                    self.b.ins().iadd(offsets[j], d)
                }
            })
            .collect()
    }

    fn level(&mut self, level: usize, lo: Value, hi: Value, offsets: Vec<Value>, vector: bool) {
        let dims = self.dims();
        let last = dims.len() - 1;
        if level == self.n_outer() && self.k.reduce.is_some() {
            self.init_acc();
        }
        if level == last {
            self.innermost(lo, hi, offsets.clone(), vector);
        } else {
            self.counted(lo, hi, 1, &mut |e: &mut Self, i| {
                let inner = e.advance(&offsets, level, i);
                let zero = e.b.ins().iconst(types::I64, 0);
                let extent = e.b.ins().iconst(types::I64, dims[level + 1] as i64);
                e.level(level + 1, zero, extent, inner, vector);
            });
        }
        if level == self.n_outer() && self.k.reduce.is_some() {
            // After the inner loops: combine the accumulators and store once.
            let result = self.finish_acc(vector);
            let out = self.k.loads.len();
            self.store(result, &offsets[out], out);
        }
    }

    fn innermost(&mut self, lo: Value, hi: Value, offsets: Vec<Value>, vector: bool) {
        let last = self.dims().len() - 1;
        let reduce_here = self.k.reduce.is_some() && last >= self.n_outer();
        let scalar_lo = if vector {
            // Full vectors up to the last multiple of the lane count, then scalars.
            let len = self.b.ins().isub(hi, lo);
            let rem = self.b.ins().srem_imm_s(len, LANES);
            let vec_hi = self.b.ins().isub(hi, rem);
            self.counted(lo, vec_hi, LANES, &mut |e: &mut Self, i| {
                let at = e.advance(&offsets, last, i);
                let v = e.body(&at, true, i);
                e.consume(v, &at, true, reduce_here);
            });
            vec_hi
        } else {
            lo
        };
        self.counted(scalar_lo, hi, 1, &mut |e: &mut Self, i| {
            let at = e.advance(&offsets, last, i);
            let v = e.body(&at, false, i);
            e.consume(v, &at, false, reduce_here);
        });
    }

    /// Stores an elementwise result, or folds it into the accumulator.
    fn consume(&mut self, v: Value, at: &[Value], vector: bool, reduce_here: bool) {
        let out = self.k.loads.len();
        if !reduce_here {
            self.store(v, &at[out], out);
            return;
        }
        let (s, vv) = self.acc();
        let var = if vector { vv } else { s };
        let acc = self.b.use_var(var);
        let next = self.reduce(acc, v);
        self.b.def_var(var, next);
    }

    fn reduce(&mut self, a: Value, b: Value) -> Value {
        match self.k.reduce {
            Some(ReduceOp::Max) => self.b.ins().fmax(a, b),
            Some(ReduceOp::Sum) | None => self.b.ins().fadd(a, b),
        }
    }

    /// The accumulator variables of a reducing kernel.
    #[allow(
        clippy::expect_used,
        reason = "emit() declares them before the loop whenever the kernel reduces, and only \
                  reducing kernels call this (every reduction in tests/jit_random.rs)"
    )]
    fn acc(&self) -> (Variable, Variable) {
        self.acc.expect("reduction has accumulators")
    }

    fn init_acc(&mut self) {
        let init = match self.k.reduce {
            Some(ReduceOp::Max) => f32::NEG_INFINITY,
            Some(ReduceOp::Sum) | None => 0.0,
        };
        let (s, v) = self.acc();
        let c = self.b.ins().f32const(init);
        let splat = self.b.ins().splat(types::F32X4, c);
        self.b.def_var(s, c);
        self.b.def_var(v, splat);
    }

    fn finish_acc(&mut self, vector: bool) -> Value {
        let (s, v) = self.acc();
        let mut acc = self.b.use_var(s);
        if vector {
            let lanes = self.b.use_var(v);
            for lane in 0..LANES as u8 {
                let x = self.b.ins().extractlane(lanes, lane);
                acc = self.reduce(acc, x);
            }
        }
        acc
    }

    #[allow(
        clippy::expect_used,
        reason = "bases[j] is None only for Rand sources, which body() hashes, never addresses"
    )]
    fn address(&mut self, j: usize, offset: &Value) -> Value {
        let base = self.bases[j].expect("a buffer source");
        let bytes = self.b.ins().imul_imm_s(*offset, 4);
        self.b.ins().iadd(base, bytes)
    }

    fn store(&mut self, v: Value, offset: &Value, out: usize) {
        let addr = self.address(out, offset);
        self.b.ins().store(flags(), v, addr, 0);
    }

    fn splat_const(&mut self, x: f32, vector: bool) -> Value {
        let c = self.b.ins().f32const(x);
        if vector {
            self.b.ins().splat(types::F32X4, c)
        } else {
            c
        }
    }

    /// `then` where `mask` is set, else `other` (masks as from `fcmp`).
    fn select(&mut self, mask: Value, then: Value, other: Value, vector: bool) -> Value {
        if vector {
            let m = self.b.ins().bitcast(
                types::F32X4,
                MemFlagsData::new().with_endianness(Endianness::Little),
                mask,
            );
            self.b.ins().bitselect(m, then, other)
        } else {
            self.b.ins().select(mask, then, other)
        }
    }

    /// The polynomial of `vexp.rs`, also for scalars (in lane 0), so that an element's
    /// value does not depend on whether the vector or the scalar loop computed it.
    fn exp(&mut self, x: Value, vector: bool) -> Value {
        if vector {
            return super::vexp::exp_f32x4(self.b, x);
        }
        let v = self.b.ins().splat(types::F32X4, x);
        let y = super::vexp::exp_f32x4(self.b, v);
        self.b.ins().extractlane(y, 0)
    }

    fn call_lanes(&mut self, f: cranelift_codegen::ir::FuncRef, x: Value, vector: bool) -> Value {
        if !vector {
            let call = self.b.ins().call(f, &[x]);
            return self.b.inst_results(call)[0];
        }
        let mut out = x;
        for lane in 0..LANES as u8 {
            let xi = self.b.ins().extractlane(x, lane);
            let call = self.b.ins().call(f, &[xi]);
            let r = self.b.inst_results(call)[0];
            out = self.b.ins().insertlane(out, r, lane);
        }
        out
    }

    /// The body at the element offsets `at`; `i` is the innermost index (for random numbers).
    #[allow(
        clippy::expect_used,
        reason = "a kernel is built from a non-empty group of nodes: its body has at least the \
                  output's value"
    )]
    fn body(&mut self, at: &[Value], vector: bool, _i: Value) -> Value {
        let ty: Type = if vector { types::F32X4 } else { types::F32 };
        let mut vals: Vec<Value> = Vec::with_capacity(self.k.body.len());
        for inst in &self.k.body {
            let v = match *inst {
                Inst::Load(j) => match &self.k.loads[j] {
                    Source::Buffer(_) => {
                        let addr = self.address(j, &at[j]);
                        let last = self.dims().len() - 1;
                        if vector && self.strides(j)[last] == 0 {
                            let x = self.b.ins().load(types::F32, flags(), addr, 0);
                            self.b.ins().splat(types::F32X4, x)
                        } else {
                            self.b.ins().load(ty, flags(), addr, 0)
                        }
                    }
                    Source::Rand { stream, .. } => {
                        let stream = self.b.ins().iconst(types::I64, *stream as i64);
                        let call = self
                            .b
                            .ins()
                            .call(self.rand, &[self.seed, self.step, stream, at[j]]);
                        self.b.inst_results(call)[0]
                    }
                },
                Inst::Const(c) => self.splat_const(c, vector),
                Inst::Unary(op, a) => {
                    let a = vals[a];
                    match op {
                        UnOp::Exp => self.exp(a, vector),
                        UnOp::Log => self.call_lanes(self.logf, a, vector),
                        UnOp::Sqrt => self.b.ins().sqrt(a),
                        UnOp::Recip => {
                            let one = self.splat_const(1.0, vector);
                            self.b.ins().fdiv(one, a)
                        }
                        UnOp::Sign => {
                            let zero = self.splat_const(0.0, vector);
                            let one = self.splat_const(1.0, vector);
                            let minus = self.splat_const(-1.0, vector);
                            let gt = self.b.ins().fcmp(FloatCC::GreaterThan, a, zero);
                            let lt = self.b.ins().fcmp(FloatCC::LessThan, a, zero);
                            let neg = self.select(lt, minus, a, vector);
                            self.select(gt, one, neg, vector)
                        }
                    }
                }
                Inst::Binary(op, a, b) => {
                    let (a, b) = (vals[a], vals[b]);
                    match op {
                        BinOp::Add => self.b.ins().fadd(a, b),
                        BinOp::Mul => self.b.ins().fmul(a, b),
                        BinOp::Max => self.b.ins().fmax(a, b),
                        BinOp::CmpGt => {
                            let gt = self.b.ins().fcmp(FloatCC::GreaterThan, a, b);
                            let one = self.splat_const(1.0, vector);
                            let zero = self.splat_const(0.0, vector);
                            self.select(gt, one, zero, vector)
                        }
                    }
                }
            };
            vals.push(v);
        }
        *vals.last().expect("a kernel body is not empty")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_runs_in_debug_builds_and_tests() {
        let cg = Codegen::new().unwrap();
        assert_eq!(
            cg.module.isa().flags().enable_verifier(),
            cfg!(debug_assertions)
        );
    }
}
