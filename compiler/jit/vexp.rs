//! `exp` on `f32x4` in CLIF: a Cephes-style polynomial instead of four calls into Rust.
//!
//! A call into Rust per lane costs about 1.6–2 ns an element on this machine (the Cranelift
//! notes the JIT was designed from); this sequence of ~30 vector instructions for four
//! lanes is cheaper, and `tanh`, `sigmoid` and softmax all go through `exp`. Method: `n = round(x · log2 e)` by the
//! magic-number trick (adding 1.5·2²³ rounds to an integer and leaves it in the low mantissa
//! bits), Cody–Waite reduction `r = x − n·ln 2` in two FMAs, a degree-6 polynomial for `e^r`
//! on |r| <= ln2/2, and `2 · e^r · 2^(n-1)` with `2^(n-1)` built in the exponent bits (so
//! n = 128 near the top of the range still has a normal scale). Inputs are clamped to
//! [-86.6, 88.72] so that `2^(n-1)` stays a normal number; above ln(f32::MAX) the result is
//! +inf and NaN stays NaN, like `f32::exp`. Below -86.6 the result is about 2.4e-38 where
//! `f32::exp` gives a smaller number, a subnormal or 0. The maximum relative error against `f32::exp` is
//! tested below (`MAX_REL_ERROR`, also in docs/performance.md).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

/// The tested bound of the relative error against `f32::exp` on [-86.5, 88.5].
pub const MAX_REL_ERROR: f32 = 3e-7;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two: `LN2_HI` has few mantissa bits, so `n · LN2_HI` is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
const LO: f32 = -86.6;
const HI: f32 = 88.72;
/// ln(f32::MAX): above it exp overflows to +inf.
const OVERFLOW: f32 = 88.722_84;
/// Cephes `expf` coefficients of e^r = 1 + r + r²·P(r).
const P: [f32; 6] = [
    1.987_569_2e-4,
    1.398_2e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

fn splat(b: &mut FunctionBuilder, x: f32) -> Value {
    let c = b.ins().f32const(x);
    b.ins().splat(types::F32X4, c)
}

fn little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// `then` where the `fcmp` mask is set, else `other`.
fn select(b: &mut FunctionBuilder, mask: Value, then: Value, other: Value) -> Value {
    let m = b.ins().bitcast(types::F32X4, little(), mask);
    b.ins().bitselect(m, then, other)
}

/// Clamps with the x86 `maxps`/`minps` pattern (one instruction each); NaN is handled at
/// the end.
fn clamp(b: &mut FunctionBuilder, x: Value, lo: f32, hi: f32) -> Value {
    let lo = splat(b, lo);
    let hi = splat(b, hi);
    let below = b.ins().fcmp(FloatCC::LessThan, x, lo);
    let x = select(b, below, lo, x);
    let above = b.ins().fcmp(FloatCC::LessThan, hi, x);
    select(b, above, hi, x)
}

/// `exp` of each lane of an `f32x4`.
pub fn exp_f32x4(b: &mut FunctionBuilder, x: Value) -> Value {
    let xc = clamp(b, x, LO, HI);
    let log2e = splat(b, LOG2E);
    let magic = splat(b, MAGIC);
    let t = b.ins().fma(xc, log2e, magic);
    let n = b.ins().fsub(t, magic);
    let minus_hi = splat(b, -LN2_HI);
    let minus_lo = splat(b, -LN2_LO);
    let r = b.ins().fma(n, minus_hi, xc);
    let r = b.ins().fma(n, minus_lo, r);
    let mut p = splat(b, P[0]);
    for &c in &P[1..] {
        let c = splat(b, c);
        p = b.ins().fma(p, r, c);
    }
    let r2 = b.ins().fmul(r, r);
    let one = splat(b, 1.0);
    let r1 = b.ins().fadd(r, one);
    let er = b.ins().fma(p, r2, r1);
    let two = splat(b, 2.0);
    let er2 = b.ins().fmul(er, two);
    // 2^(n-1): the low bits of t hold n; shifted into the exponent field, plus the bias
    // minus one.
    let bits = b.ins().bitcast(types::I32X4, little(), t);
    let shifted = b.ins().ishl_imm_u(bits, 23);
    let bias = b.ins().iconst(types::I32, 126 << 23);
    let bias = b.ins().splat(types::I32X4, bias);
    let exponent = b.ins().iadd(shifted, bias);
    let scale = b.ins().bitcast(types::F32X4, little(), exponent);
    let y = b.ins().fmul(er2, scale);
    let limit = splat(b, OVERFLOW);
    let over = b.ins().fcmp(FloatCC::GreaterThan, x, limit);
    let inf = splat(b, f32::INFINITY);
    let y = select(b, over, inf, y);
    let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
    select(b, nan, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::{AbiParam, UserFuncName};
    use cranelift_codegen::settings::{self, Configurable};
    use cranelift_frontend::FunctionBuilderContext;
    use cranelift_jit::{JITBuilder, JITModule};
    use cranelift_module::{default_libcall_names, Linkage, Module};

    type Exp4 = unsafe extern "C" fn(*const f32, *mut f32);

    /// Compiles `fn(x: *const f32, y: *mut f32)` computing 4 lanes of exp.
    fn compiled() -> (JITModule, Exp4) {
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").unwrap();
        flags.set("enable_verifier", "true").unwrap();
        let isa = cranelift_native::builder()
            .unwrap()
            .finish(settings::Flags::new(flags))
            .unwrap();
        let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        let ptr = module.target_config().pointer_type();
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(ptr));
        let id = module
            .declare_function("exp4", Linkage::Local, &sig)
            .unwrap();
        let mut ctx = module.make_context();
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let mut fctx = FunctionBuilderContext::new();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let (src, dst) = (b.block_params(entry)[0], b.block_params(entry)[1]);
            let x = b.ins().load(types::F32X4, MemFlagsData::new(), src, 0);
            let y = exp_f32x4(&mut b, x);
            b.ins().store(MemFlagsData::new(), y, dst, 0);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        module.define_function(id, &mut ctx).unwrap();
        module.finalize_definitions().unwrap();
        let f = module.get_finalized_function(id);
        // SAFETY: compiled with this signature.
        (module, unsafe { std::mem::transmute::<*const u8, Exp4>(f) })
    }

    fn exp4(f: Exp4, x: [f32; 4]) -> [f32; 4] {
        let mut y = [0.0f32; 4];
        // SAFETY: both arrays hold 4 floats.
        unsafe { f(x.as_ptr(), y.as_mut_ptr()) };
        y
    }

    #[test]
    fn exp_polynomial_is_within_its_documented_error() {
        let (_module, f) = compiled();
        let mut worst = 0.0f32;
        let steps = 400_000;
        for i in (0..steps).step_by(4) {
            let x: [f32; 4] =
                std::array::from_fn(|l| -86.5 + 175.0 * (i + l) as f32 / steps as f32);
            let y = exp4(f, x);
            for l in 0..4 {
                let want = x[l].exp();
                worst = worst.max(((y[l] - want) / want).abs());
            }
        }
        assert!(worst <= MAX_REL_ERROR, "max relative error {worst:e}");
    }

    #[test]
    fn exp_polynomial_edges_match_std() {
        let (_module, f) = compiled();
        let y = exp4(f, [0.0, f32::NAN, 89.0, f32::INFINITY]);
        assert_eq!(y[0], 1.0);
        let top = exp4(f, [88.7, 88.72, 88.0, 50.0]);
        for (x, y) in [88.7f32, 88.72, 88.0, 50.0].into_iter().zip(top) {
            assert!(y.is_finite() && ((y - x.exp()) / x.exp()).abs() <= MAX_REL_ERROR);
        }
        assert!(y[1].is_nan());
        assert_eq!(y[2], f32::INFINITY);
        assert_eq!(y[3], f32::INFINITY);
        let y = exp4(f, [f32::NEG_INFINITY, -100.0, -1.0, 1.0]);
        assert!(y[0] >= 0.0 && y[0] < 3e-38 && y[1] < 3e-38);
        assert!((y[2] - (-1.0f32).exp()).abs() <= 1e-7 && (y[3] - 1.0f32.exp()).abs() <= 1e-6);
    }
}
