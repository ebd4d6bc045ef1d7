//! The Cranelift f32x4 GEMM micro-kernel candidate of the `gemm` benchmarks (a 4x8
//! register tile, no packing), written out in CLIF.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

pub type GemmFn = unsafe extern "C" fn(*const f32, *const f32, *mut f32, i64, i64, i64);

/// `c = a · b`, all row-major and contiguous, `m % 4 == 0`, `n % 8 == 0`: a 4x8 tile of
/// eight f32x4 accumulators, one FMA per accumulator per step of k.
pub fn cranelift_gemm() -> (JITModule, GemmFn) {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").unwrap();
    flags.set("is_pic", "false").unwrap();
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(flags))
        .unwrap();
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for t in [ptr, ptr, ptr, types::I64, types::I64, types::I64] {
        sig.params.push(AbiParam::new(t));
    }
    let id = module
        .declare_function("gemm4x8", Linkage::Local, &sig)
        .unwrap();
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let fl = MemFlagsData::new().with_notrap();
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (pa, pb, pc, m, n, k) = (p[0], p[1], p[2], p[3], p[4], p[5]);
        let (i_head, j_head, p_head, p_body, store, next_i, done) = (
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
        );
        for blk in [i_head, j_head, p_head] {
            b.append_block_param(blk, types::I64);
        }
        b.append_block_param(j_head, types::I64); // i
        b.append_block_param(p_head, types::I64); // i
        b.append_block_param(p_head, types::I64); // j
        b.append_block_param(next_i, types::I64); // i
        let accs: Vec<_> = (0..8).map(|_| b.declare_var(types::F32X4)).collect();
        let zero = b.ins().iconst(types::I64, 0);
        b.ins().jump(i_head, &[zero.into()]);

        b.switch_to_block(i_head);
        let i = b.block_params(i_head)[0];
        let more = b.ins().icmp(IntCC::SignedLessThan, i, m);
        let z = b.ins().iconst(types::I64, 0);
        b.ins().brif(more, j_head, &[z.into(), i.into()], done, &[]);

        b.switch_to_block(j_head);
        let (j, i) = (b.block_params(j_head)[0], b.block_params(j_head)[1]);
        let more = b.ins().icmp(IntCC::SignedLessThan, j, n);
        let zf = b.ins().f32const(0.0);
        let zv = b.ins().splat(types::F32X4, zf);
        for &acc in &accs {
            b.def_var(acc, zv);
        }
        let z = b.ins().iconst(types::I64, 0);
        b.ins().brif(
            more,
            p_head,
            &[z.into(), i.into(), j.into()],
            next_i,
            &[i.into()],
        );

        b.switch_to_block(p_head);
        let ph = b.block_params(p_head).to_vec();
        let (pp, i, j) = (ph[0], ph[1], ph[2]);
        let more = b.ins().icmp(IntCC::SignedLessThan, pp, k);
        b.ins().brif(more, p_body, &[], store, &[]);

        b.switch_to_block(p_body);
        // b row p, columns j..j+8
        let row = b.ins().imul(pp, n);
        let e = b.ins().iadd(row, j);
        let off = b.ins().ishl_imm_u(e, 2);
        let addr = b.ins().iadd(pb, off);
        let b0 = b.ins().load(types::F32X4, fl, addr, 0);
        let b1 = b.ins().load(types::F32X4, fl, addr, 16);
        let ik = b.ins().imul(i, k);
        let e = b.ins().iadd(ik, pp);
        let off = b.ins().ishl_imm_u(e, 2);
        let a_addr = b.ins().iadd(pa, off);
        let k4 = b.ins().ishl_imm_u(k, 2);
        let mut ar = a_addr;
        for r in 0..4 {
            if r > 0 {
                ar = b.ins().iadd(ar, k4);
            }
            let s = b.ins().load(types::F32, fl, ar, 0);
            let av = b.ins().splat(types::F32X4, s);
            for (h, bv) in [b0, b1].into_iter().enumerate() {
                let acc = accs[2 * r + h];
                let old = b.use_var(acc);
                let new = b.ins().fma(av, bv, old);
                b.def_var(acc, new);
            }
        }
        let next = b.ins().iadd_imm_s(pp, 1);
        b.ins().jump(p_head, &[next.into(), i.into(), j.into()]);

        b.switch_to_block(store);
        let n4 = b.ins().ishl_imm_u(n, 2);
        let row = b.ins().imul(i, n);
        let e = b.ins().iadd(row, j);
        let off = b.ins().ishl_imm_u(e, 2);
        let mut cr = b.ins().iadd(pc, off);
        for r in 0..4 {
            if r > 0 {
                cr = b.ins().iadd(cr, n4);
            }
            for h in 0..2 {
                let v = b.use_var(accs[2 * r + h]);
                b.ins().store(fl, v, cr, 16 * h as i32);
            }
        }
        let nj = b.ins().iadd_imm_s(j, 8);
        b.ins().jump(j_head, &[nj.into(), i.into()]);

        b.switch_to_block(next_i);
        let i = b.block_params(next_i)[0];
        let ni = b.ins().iadd_imm_s(i, 4);
        b.ins().jump(i_head, &[ni.into()]);

        b.switch_to_block(done);
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    module.define_function(id, &mut ctx).unwrap();
    module.finalize_definitions().unwrap();
    let code = module.get_finalized_function(id);
    // SAFETY: compiled with exactly this signature.
    (module, unsafe {
        std::mem::transmute::<*const u8, GemmFn>(code)
    })
}
