//! Constant folding and algebraic identities.
//!
//! Folding evaluates in f32, the precision the JIT runs in, with the interpreter's rules
//! (`Max` propagates NaN, `Sign` keeps 0, -0 and NaN), so a folded constant equals what the
//! f32 interpreter computes. Identities:
//! - `x * 1`, `x + 0` -> `x` (`x + 0` turns a -0 into +0, so the rewrite can flip the sign
//!   of a zero, as C compilers do under "no signed zeros"; the value compares equal);
//! - `x * 0` -> `0` only where `x` is known finite (a comparison, a sign, a uniform draw, a
//!   finite constant or a view of one), since `inf * 0` is NaN;
//! - `(x * a) * b` -> `x * (a*b)` (or `x` when `a*b = 1`, double negation) when `a` or `b`
//!   is a power of two, where the reassociation is exact;
//! - `Gather` and `ScatterAdd` of +0 rows (a table or values), whatever the ids -> 0;
//! - `max(x, x)` -> `x`; `stop_grad(stop_grad(x))` -> `stop_grad(x)`;
//! - reshape of reshape, broadcast of broadcast and permute of permute collapse into one
//!   view, and a view, `Sum` or `MaxReduce` that leaves the shape unchanged is `x` itself.
//!   Views of constants are constants of the new shape.
//!
//! `Sum` of a constant is not folded: the interpreter's summation order would round
//! differently from `n * c`.

use super::{copy_node, rebuild, report, Pass};
use crate::prim::{Graph, Node, NodeId, Op};
use std::collections::BTreeMap;

pub fn run(g: &Graph, wanted: &[NodeId]) -> Pass {
    let mut rules: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (graph, wanted) = rebuild(g, wanted, |out, _, node, inputs| {
        let (id, rule) = fold_node(out, node, &inputs);
        if let Some(rule) = rule {
            *rules.entry(rule).or_default() += 1;
        }
        Some(id)
    });
    Pass {
        report: report("fold", g, &graph, rules),
        graph,
        wanted,
    }
}

fn constant(g: &Graph, id: NodeId) -> Option<f32> {
    match g.node(id).op {
        Op::Const { value } => Some(value as f32),
        _ => None,
    }
}

fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

fn max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a > b {
        a
    } else {
        b
    }
}

/// The op applied to constant operands, for the ops that map constants to a constant.
fn evaluate(op: &Op, args: &[f32]) -> Option<f32> {
    Some(match (op, args) {
        (Op::Exp, [a]) => a.exp(),
        (Op::Log, [a]) => a.ln(),
        (Op::Sqrt, [a]) => a.sqrt(),
        (Op::Recip, [a]) => a.recip(),
        (Op::Sign, [a]) => sign(*a),
        (Op::Add, [a, b]) => a + b,
        (Op::Mul, [a, b]) => a * b,
        (Op::Max, [a, b]) => max(*a, *b),
        (Op::CmpGt, [a, b]) => f32::from(u8::from(a > b)),
        // Views and maxima of a splat are the same splat.
        (
            Op::Reshape
            | Op::Permute { .. }
            | Op::Broadcast
            | Op::Slice { .. }
            | Op::MaxReduce { .. },
            [a],
        ) => *a,
        (Op::Pad { .. }, [a]) if *a == 0.0 && a.is_sign_positive() => 0.0,
        (Op::Concat { .. }, [first, rest @ ..])
            if rest.iter().all(|r| r.to_bits() == first.to_bits()) =>
        {
            *first
        }
        _ => return None,
    })
}

/// Whether every element of `id` is finite.
fn finite(g: &Graph, id: NodeId) -> bool {
    let node = g.node(id);
    match &node.op {
        Op::Const { value } => value.is_finite(),
        Op::CmpGt | Op::RandUniform { .. } => true,
        Op::Sign
        | Op::StopGrad
        | Op::Reshape
        | Op::Permute { .. }
        | Op::Broadcast
        | Op::Slice { .. }
        | Op::Pad { .. } => finite(g, node.inputs[0]),
        _ => false,
    }
}

fn is_power_of_two(c: f32) -> bool {
    let a = c.abs();
    a.is_normal() && a.to_bits() & 0x007f_ffff == 0
}

/// The replacement of `node` (inputs already renumbered into `out`) and the rule used.
fn fold_node(out: &mut Graph, node: &Node, ins: &[NodeId]) -> (NodeId, Option<&'static str>) {
    let op = &node.op;
    if !ins.is_empty() && !matches!(op, Op::Sum { .. }) {
        let args: Option<Vec<f32>> = ins.iter().map(|&i| constant(out, i)).collect();
        if let Some(value) = args.and_then(|a| evaluate(op, &a)) {
            return (
                out.constant(f64::from(value), &node.shape),
                Some("constant"),
            );
        }
    }
    let same_shape = |out: &Graph, i: NodeId| out.shape(i) == node.shape.as_slice();
    match (op, ins) {
        (Op::Mul, &[a, b]) => {
            for (x, c) in [(a, b), (b, a)] {
                match constant(out, c) {
                    Some(1.0) => return (x, Some("x*1")),
                    Some(v) if v == 0.0 && finite(out, x) => {
                        return (out.constant(0.0, &node.shape), Some("x*0"));
                    }
                    Some(v) => {
                        if let Some(folded) = reassociate(out, x, v, &node.shape) {
                            return folded;
                        }
                    }
                    None => {}
                }
            }
        }
        (Op::Add, &[a, b]) => {
            for (x, c) in [(a, b), (b, a)] {
                if constant(out, c) == Some(0.0) {
                    return (x, Some("x+0"));
                }
            }
        }
        // Rows of +0, gathered or added up by any ids, are +0.
        (Op::Gather | Op::ScatterAdd, &[rows, _])
            if constant(out, rows).is_some_and(|v| v == 0.0 && v.is_sign_positive()) =>
        {
            return (out.constant(0.0, &node.shape), Some("lookup of zeros"));
        }
        (Op::Max, &[a, b]) if a == b => return (a, Some("max(x,x)")),
        (Op::StopGrad, &[a]) if matches!(out.node(a).op, Op::StopGrad) => {
            return (a, Some("stop_grad(stop_grad)"))
        }
        (
            Op::Reshape
            | Op::Broadcast
            | Op::Permute { .. }
            | Op::Sum { .. }
            | Op::MaxReduce { .. },
            &[a],
        ) if same_shape(out, a) && !matches!(op, Op::Permute { .. }) => {
            return (a, Some("no-op view or reduction"))
        }
        (Op::Reshape, &[a]) if out.node(a).op == Op::Reshape => {
            let src = out.node(a).inputs[0];
            let id = out.reshape(src, &node.shape);
            return (id, Some("reshape(reshape)"));
        }
        (Op::Broadcast, &[a]) if out.node(a).op == Op::Broadcast => {
            let src = out.node(a).inputs[0];
            let id = out.broadcast(src, &node.shape);
            return (id, Some("broadcast(broadcast)"));
        }
        (Op::Permute { perm: outer }, &[a]) => {
            if let Op::Permute { perm: inner } = &out.node(a).op {
                let composed: Vec<usize> = outer.iter().map(|&p| inner[p]).collect();
                let src = out.node(a).inputs[0];
                let id = out.permute(src, &composed);
                return (id, Some("permute(permute)"));
            }
        }
        _ => {}
    }
    (copy_node(out, node, ins), None)
}

/// `(y * a) * b` for `x = y * a`, when exact.
fn reassociate(
    out: &mut Graph,
    x: NodeId,
    b: f32,
    shape: &[usize],
) -> Option<(NodeId, Option<&'static str>)> {
    let inner = out.node(x);
    if inner.op != Op::Mul {
        return None;
    }
    let (y, a) = match (inner.inputs[0], inner.inputs[1]) {
        (y, c) if constant(out, c).is_some() => (y, constant(out, c)?),
        (c, y) if constant(out, c).is_some() => (y, constant(out, c)?),
        _ => return None,
    };
    if !(is_power_of_two(a) || is_power_of_two(b)) {
        return None;
    }
    let ab = a * b;
    if ab == 1.0 {
        return Some((y, Some("double negation")));
    }
    let c = out.constant(f64::from(ab), shape);
    Some((out.mul(y, c), Some("(x*a)*b")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::interp::{evaluate as interp, Bindings};
    use ndarray::ArrayD;

    fn fold(g: &Graph, wanted: &[NodeId]) -> Pass {
        run(g, wanted)
    }

    #[test]
    fn constants_fold_in_f32() {
        let mut g = Graph::new();
        let a = g.constant(2.0, &[3]);
        let b = g.constant(0.1, &[3]);
        let e = g.exp(b);
        let s = g.add(a, e);
        let p = fold(&g, &[s]);
        let expected = 2.0f32 + 0.1f32.exp();
        assert_eq!(
            p.graph.node(p.wanted[0]).op,
            Op::Const {
                value: f64::from(expected)
            }
        );
        assert_eq!(p.report.rules["constant"], 2);
    }

    #[test]
    fn identities_return_the_operand() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let one = g.constant(1.0, &[2, 3]);
        let zero = g.constant(0.0, &[2, 3]);
        let m = g.mul(one, x);
        let a = g.add(m, zero);
        let mx = g.max(a, a);
        let p = fold(&g, &[mx]);
        let x_new = p
            .graph
            .ids()
            .find(|&i| matches!(p.graph.node(i).op, Op::Input { .. }));
        assert_eq!(Some(p.wanted[0]), x_new);
        for rule in ["x*1", "x+0", "max(x,x)"] {
            assert_eq!(p.report.rules[rule], 1, "{rule}");
        }
    }

    #[test]
    fn times_zero_only_when_finite() {
        let mut g = Graph::new();
        let x = g.input("x", &[4]);
        let zero = g.constant(0.0, &[4]);
        let unsafe_mul = g.mul(x, zero);
        let mask = g.cmp_gt(x, zero);
        let safe_mul = g.mul(mask, zero);
        let p = fold(&g, &[unsafe_mul, safe_mul]);
        assert_eq!(p.graph.node(p.wanted[0]).op, Op::Mul, "inf * 0 is NaN");
        assert_eq!(p.graph.node(p.wanted[1]).op, Op::Const { value: 0.0 });
    }

    #[test]
    fn lookups_of_zeros_are_zeros() {
        let mut g = Graph::new();
        let ids = g.input("ids", &[2, 3]);
        let table = g.constant(0.0, &[5, 4]);
        let rows = g.gather(table, ids);
        let back = g.scatter_add(rows, ids, 5);
        let real = g.param("table", &[5, 4]);
        let kept = g.gather(real, ids);
        let p = fold(&g, &[rows, back, kept]);
        assert_eq!(p.graph.node(p.wanted[0]).op, Op::Const { value: 0.0 });
        assert_eq!(p.graph.shape(p.wanted[0]), &[2, 3, 4]);
        assert_eq!(p.graph.node(p.wanted[1]).op, Op::Const { value: 0.0 });
        assert_eq!(p.graph.shape(p.wanted[1]), &[5, 4]);
        assert_eq!(p.graph.node(p.wanted[2]).op, Op::Gather);
        // -0 rows are left alone: a missing id would read +0 instead.
        let mut g = Graph::new();
        let ids = g.input("ids", &[2]);
        let table = g.constant(-0.0, &[3, 1]);
        let rows = g.gather(table, ids);
        let p = fold(&g, &[rows]);
        assert_eq!(p.graph.node(p.wanted[0]).op, Op::Gather);
    }

    #[test]
    fn double_negation_and_exact_reassociation() {
        let mut g = Graph::new();
        let x = g.input("x", &[4]);
        let n1 = g.neg(x);
        let n2 = g.neg(n1);
        let s = g.scale(x, 3.0);
        let s2 = g.scale(s, 0.5);
        let t = g.scale(x, 3.0);
        let t2 = g.scale(t, 0.3);
        let p = fold(&g, &[n2, s2, t2]);
        assert!(matches!(p.graph.node(p.wanted[0]).op, Op::Input { .. }));
        let s2_node = p.graph.node(p.wanted[1]);
        assert_eq!(s2_node.op, Op::Mul);
        assert_eq!(p.graph.node(s2_node.inputs[1]).op, Op::Const { value: 1.5 });
        // 3 * 0.3 is not exact: left alone.
        let t2_node = p.graph.node(p.wanted[2]);
        assert_eq!(p.graph.node(t2_node.inputs[1]).op, Op::Const { value: 0.3 });
    }

    #[test]
    fn views_collapse() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3, 4]);
        let r1 = g.reshape(x, &[6, 4]);
        let r2 = g.reshape(r1, &[24]);
        let p1 = g.permute(x, &[2, 0, 1]);
        let p2 = g.permute(p1, &[2, 0, 1]);
        let p3 = g.permute(p2, &[2, 0, 1]);
        let y = g.input("y", &[1, 3, 1]);
        let b1 = g.broadcast(y, &[1, 3, 4]);
        let b2 = g.broadcast(b1, &[2, 3, 4]);
        let c = g.constant(2.0, &[3, 1]);
        let cb = g.broadcast(c, &[3, 5]);
        let p = fold(&g, &[r2, p2, p3, b2, cb]);
        let src = |i: usize| p.graph.node(p.graph.node(p.wanted[i]).inputs[0]).op.clone();
        assert!(matches!(src(0), Op::Input { .. }));
        assert_eq!(
            p.graph.node(p.wanted[1]).op,
            Op::Permute {
                perm: vec![1, 2, 0]
            }
        );
        assert!(matches!(src(1), Op::Input { .. }));
        assert!(
            matches!(p.graph.node(p.wanted[2]).op, Op::Input { .. }),
            "identity permute"
        );
        assert!(matches!(src(3), Op::Input { .. }));
        assert_eq!(p.graph.node(p.wanted[4]).op, Op::Const { value: 2.0 });
        assert_eq!(p.graph.shape(p.wanted[4]), &[3, 5]);

        // Same values as before.
        let data = ArrayD::from_shape_fn(ndarray::IxDyn(&[2, 3, 4]), |i| {
            (i[0] * 12 + i[1] * 4 + i[2]) as f32
        });
        let ydata = ArrayD::from_shape_fn(ndarray::IxDyn(&[1, 3, 1]), |i| i[1] as f32);
        let b = Bindings::new().input("x", data).input("y", ydata);
        let before = interp::<f32>(&g, &b, &[r2, p2, p3, b2, cb]).unwrap();
        let after = interp::<f32>(&p.graph, &b, &p.wanted).unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn sum_of_constant_is_kept() {
        let mut g = Graph::new();
        let c = g.constant(0.1, &[1000]);
        let s = g.sum(c, &[0]);
        let p = fold(&g, &[s]);
        assert!(matches!(p.graph.node(p.wanted[0]).op, Op::Sum { .. }));
    }
}
