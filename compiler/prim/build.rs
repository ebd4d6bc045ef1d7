//! Derived builder helpers: compositions of primitives, not new ops.
//!
//! In: node ids of a [`Graph`]. Out: the id of the composed result. Every helper here
//! appends only primitive nodes, so autodiff, the interpreter and codegen never need to
//! know about them.

use super::{Graph, NodeId};

/// Inputs of `exp` in [`Graph::sigmoid`] and [`Graph::tanh`] are clamped to +-this
/// bound. `exp(80)` is finite in f32, so neither the forward pass nor the backward pass
/// (which multiplies by `exp`) can produce inf * 0 = NaN; sigmoid(-80) is 1.8e-35, so
/// the clamp changes values by less than f32 can see next to 1 and by at most 1.8e-35
/// next to 0.
const EXP_CLAMP: f64 = 80.0;

impl Graph {
    /// A constant with the shape of `like`.
    pub fn constant_like(&mut self, value: f64, like: NodeId) -> NodeId {
        let shape = self.shape(like).to_vec();
        self.constant(value, &shape)
    }

    /// `-a`.
    pub fn neg(&mut self, a: NodeId) -> NodeId {
        self.scale(a, -1.0)
    }

    /// `a * c` for a number `c`.
    pub fn scale(&mut self, a: NodeId, c: f64) -> NodeId {
        let c = self.constant_like(c, a);
        self.mul(a, c)
    }

    /// `a + c` for a number `c`.
    pub fn add_scalar(&mut self, a: NodeId, c: f64) -> NodeId {
        let c = self.constant_like(c, a);
        self.add(a, c)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let neg_b = self.neg(b);
        self.add(a, neg_b)
    }

    /// `a / b`.
    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let recip_b = self.recip(b);
        self.mul(a, recip_b)
    }

    pub fn square(&mut self, a: NodeId) -> NodeId {
        self.mul(a, a)
    }

    /// `1 / sqrt(a)`.
    pub fn rsqrt(&mut self, a: NodeId) -> NodeId {
        let root = self.sqrt(a);
        self.recip(root)
    }

    /// `a^p` for positive `a`, as `exp(p * log a)`.
    pub fn powf(&mut self, a: NodeId, p: f64) -> NodeId {
        let log = self.log(a);
        let scaled = self.scale(log, p);
        self.exp(scaled)
    }

    /// `min(a, b) = -max(-a, -b)`.
    pub fn min(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let neg_a = self.neg(a);
        let neg_b = self.neg(b);
        let max = self.max(neg_a, neg_b);
        self.neg(max)
    }

    /// `|a| = a * sign(a)`: the gradient is `sign(a)`, 0 at 0.
    pub fn abs(&mut self, a: NodeId) -> NodeId {
        let sign = self.sign(a);
        self.mul(a, sign)
    }

    /// 1 where `a < b`, else 0.
    pub fn cmp_lt(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.cmp_gt(b, a)
    }

    /// 1 where `a >= b`, else 0. Computed as `1 - (b > a)`, so a NaN on either side gives 1.
    pub fn cmp_ge(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let lt = self.cmp_gt(b, a);
        let one = self.constant_like(1.0, lt);
        self.sub(one, lt)
    }

    /// `cond * a + (1 - cond) * b` for a 0/1 mask `cond`. Unlike a true select, a NaN or
    /// inf in the branch not taken still poisons the result.
    pub fn select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> NodeId {
        let one = self.constant_like(1.0, cond);
        let not_cond = self.sub(one, cond);
        let take_a = self.mul(cond, a);
        let take_b = self.mul(not_cond, b);
        self.add(take_a, take_b)
    }

    /// `max(a, 0)`. At exactly 0 the gradient is 1/2 (ties split evenly, see `Max`).
    pub fn relu(&mut self, a: NodeId) -> NodeId {
        let zero = self.constant_like(0.0, a);
        self.max(a, zero)
    }

    /// `min(max(a, lo), hi)`.
    pub fn clamp(&mut self, a: NodeId, lo: f64, hi: f64) -> NodeId {
        let lo = self.constant_like(lo, a);
        let hi = self.constant_like(hi, a);
        let floor = self.max(a, lo);
        self.min(floor, hi)
    }

    /// `clamp(a, -1, 1)`.
    pub fn hardtanh(&mut self, a: NodeId) -> NodeId {
        self.clamp(a, -1.0, 1.0)
    }

    /// `1 / (1 + exp(-x))` with `x` clamped to +-80 (see `EXP_CLAMP`).
    pub fn sigmoid(&mut self, a: NodeId) -> NodeId {
        let clamped = self.clamp(a, -EXP_CLAMP, EXP_CLAMP);
        let neg = self.neg(clamped);
        let e = self.exp(neg);
        let denom = self.add_scalar(e, 1.0);
        self.recip(denom)
    }

    /// `(1 - e) / (1 + e)` with `e = exp(-2x)`, `x` clamped to +-40 (see `EXP_CLAMP`).
    pub fn tanh(&mut self, a: NodeId) -> NodeId {
        let clamped = self.clamp(a, -EXP_CLAMP / 2.0, EXP_CLAMP / 2.0);
        let minus_2x = self.scale(clamped, -2.0);
        let e = self.exp(minus_2x);
        let one = self.constant_like(1.0, e);
        let num = self.sub(one, e);
        let den = self.add(one, e);
        self.div(num, den)
    }

    /// Numpy-style broadcast: left-pads the rank with size-1 axes (a `Reshape`), then
    /// expands size-1 axes (a `Broadcast`). Panics if the shapes are incompatible.
    pub fn broadcast_to(&mut self, a: NodeId, shape: &[usize]) -> NodeId {
        let from = self.shape(a).to_vec();
        assert!(
            from.len() <= shape.len(),
            "prim graph builder: cannot broadcast {from:?} to lower rank {shape:?}"
        );
        let mut padded = vec![1; shape.len() - from.len()];
        padded.extend(&from);
        let reshaped = self.reshape(a, &padded);
        self.broadcast(reshaped, shape)
    }

    /// Broadcasts `a` to the shape of `like`.
    pub fn broadcast_like(&mut self, a: NodeId, like: NodeId) -> NodeId {
        let shape = self.shape(like).to_vec();
        self.broadcast_to(a, &shape)
    }

    /// Swaps two axes.
    pub fn transpose(&mut self, a: NodeId, axis_a: usize, axis_b: usize) -> NodeId {
        let mut perm: Vec<usize> = (0..self.shape(a).len()).collect();
        perm.swap(axis_a, axis_b);
        self.permute(a, &perm)
    }

    /// Sum of every element, as a rank-0 value.
    pub fn sum_all(&mut self, a: NodeId) -> NodeId {
        let axes: Vec<usize> = (0..self.shape(a).len()).collect();
        let total = self.sum(a, &axes);
        self.reshape(total, &[])
    }

    /// Mean of every element, as a rank-0 value.
    pub fn mean_all(&mut self, a: NodeId) -> NodeId {
        let n = self.shape(a).iter().product::<usize>();
        let total = self.sum_all(a);
        self.scale(total, 1.0 / n as f64)
    }

    /// Mean over `axes`, kept with size 1.
    pub fn mean(&mut self, a: NodeId, axes: &[usize]) -> NodeId {
        let n: usize = axes.iter().map(|&axis| self.shape(a)[axis]).product();
        let total = self.sum(a, axes);
        self.scale(total, 1.0 / n as f64)
    }

    /// Population (biased) variance over `axes`, kept with size 1.
    pub fn var(&mut self, a: NodeId, axes: &[usize]) -> NodeId {
        let centered = self.center(a, axes);
        let squared = self.square(centered);
        self.mean(squared, axes)
    }

    /// `a - mean(a, axes)`, broadcast back.
    pub fn center(&mut self, a: NodeId, axes: &[usize]) -> NodeId {
        let mean = self.mean(a, axes);
        let mean = self.broadcast_like(mean, a);
        self.sub(a, mean)
    }

    /// `x - max(x)` along `axis` with the max behind `StopGrad`: softmax is invariant to
    /// the shift, so its gradient through the max is exactly zero and need not be built.
    fn shift_by_max(&mut self, a: NodeId, axis: usize) -> NodeId {
        let max = self.max_reduce(a, &[axis]);
        let max = self.stop_grad(max);
        let max = self.broadcast_like(max, a);
        self.sub(a, max)
    }

    /// `exp(x) / sum(exp(x))` along `axis`, shifted by the max so large logits are exact.
    pub fn softmax(&mut self, a: NodeId, axis: usize) -> NodeId {
        let shifted = self.shift_by_max(a, axis);
        let e = self.exp(shifted);
        let total = self.sum(e, &[axis]);
        let inv = self.recip(total);
        let inv = self.broadcast_like(inv, e);
        self.mul(e, inv)
    }

    /// `x - log(sum(exp(x)))` along `axis`, shifted by the max.
    pub fn log_softmax(&mut self, a: NodeId, axis: usize) -> NodeId {
        let shifted = self.shift_by_max(a, axis);
        let e = self.exp(shifted);
        let total = self.sum(e, &[axis]);
        let log_total = self.log(total);
        let log_total = self.broadcast_like(log_total, shifted);
        self.sub(shifted, log_total)
    }
}

#[cfg(test)]
mod tests {
    use crate::prim::interp::{evaluate, Bindings};
    use crate::prim::Graph;
    use ndarray::{arr1, ArrayD};

    fn eval_unary(
        build: impl Fn(&mut Graph, crate::prim::NodeId) -> crate::prim::NodeId,
        x: &[f64],
    ) -> Vec<f64> {
        let mut g = Graph::new();
        let input = g.input("x", &[x.len()]);
        let out = build(&mut g, input);
        let bindings = Bindings::new().input("x", arr1(x).into_dyn());
        let values = evaluate::<f64>(&g, &bindings, &[out]).unwrap();
        values[0].iter().copied().collect()
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn activations_match_closed_forms() {
        let x = [-100.0, -2.0, -0.5, 0.0, 0.5, 2.0, 100.0];
        let sig: Vec<f64> = x.iter().map(|v: &f64| 1.0 / (1.0 + (-v).exp())).collect();
        assert_close(&eval_unary(|g, a| g.sigmoid(a), &x), &sig, 1e-15);
        let tanh: Vec<f64> = x.iter().map(|v| v.tanh()).collect();
        assert_close(&eval_unary(|g, a| g.tanh(a), &x), &tanh, 1e-15);
        let relu: Vec<f64> = x.iter().map(|v| v.max(0.0)).collect();
        assert_close(&eval_unary(|g, a| g.relu(a), &x), &relu, 0.0);
        let abs: Vec<f64> = x.iter().map(|v| v.abs()).collect();
        assert_close(&eval_unary(|g, a| g.abs(a), &x), &abs, 0.0);
        let clamp: Vec<f64> = x.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        assert_close(&eval_unary(|g, a| g.hardtanh(a), &x), &clamp, 0.0);
    }

    #[test]
    fn softmax_is_stable_on_large_logits() {
        let x = [1000.0, 1001.0, 1002.0];
        let soft = eval_unary(|g, a| g.softmax(a, 0), &x);
        let want = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219];
        assert_close(&soft, &want, 1e-15);
        let log_soft = eval_unary(|g, a| g.log_softmax(a, 0), &x);
        let want_log: Vec<f64> = want.iter().map(|v| v.ln()).collect();
        assert_close(&log_soft, &want_log, 1e-14);
        // In f32 too: the shift keeps exp in range.
        let mut g = Graph::new();
        let input = g.input("x", &[3]);
        let out = g.log_softmax(input, 0);
        let bindings = Bindings::new().input("x", arr1(&[1000.0f32, -1000.0, 0.0]).into_dyn());
        let values: Vec<ArrayD<f32>> = evaluate(&g, &bindings, &[out]).unwrap();
        assert_eq!(values[0][0], 0.0);
        assert_eq!(values[0][1], -2000.0);
        assert_eq!(values[0][2], -1000.0);
    }

    #[test]
    fn mean_and_var_over_axes() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let mean = g.mean(x, &[1]);
        let var = g.var(x, &[0, 1]);
        let data = ndarray::arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]]).into_dyn();
        let values = evaluate::<f64>(&g, &Bindings::new().input("x", data), &[mean, var]).unwrap();
        assert_eq!(values[0].shape(), &[2, 1]);
        assert_close(values[0].as_slice().unwrap(), &[2.0, 6.0], 1e-15);
        assert_eq!(values[1].shape(), &[1, 1]);
        // mean 4, squares 9+4+1+0+1+25 = 40, /6.
        assert_close(values[1].as_slice().unwrap(), &[40.0 / 6.0], 1e-14);
    }

    #[test]
    fn broadcast_to_promotes_rank() {
        let mut g = Graph::new();
        let b = g.input("b", &[3]);
        let wide = g.broadcast_to(b, &[2, 3]);
        assert_eq!(g.shape(wide), &[2, 3]);
        let data = arr1(&[1.0, 2.0, 3.0]).into_dyn();
        let values = evaluate::<f64>(&g, &Bindings::new().input("b", data), &[wide]).unwrap();
        assert_eq!(
            values[0],
            ndarray::arr2(&[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]).into_dyn()
        );
    }
}
