//! Activations that are more than one derived primitive: leaky ReLU, CReLU, GELU, SiLU,
//! ELU and softplus.
//! (`relu`, `tanh`, `sigmoid` and `softmax` are single helpers of `prim::build`.)

use crate::hir::GeluApprox;
use crate::prim::{Graph, NodeId};

/// `max(x, slope·x)` (a min for slopes above 1).
pub fn leaky_relu(g: &mut Graph, x: NodeId, slope: f64) -> NodeId {
    let leak = g.scale(x, slope);
    if slope <= 1.0 {
        g.max(x, leak)
    } else {
        g.min(x, leak)
    }
}

/// `[relu(x), relu(-x)]` along the channel axis 1 (Shang et al. 2016).
pub fn crelu(g: &mut Graph, x: NodeId) -> NodeId {
    let pos = g.relu(x);
    let negated = g.neg(x);
    let neg = g.relu(negated);
    g.concat(&[pos, neg], 1)
}

/// GELU (Hendrycks & Gimpel 2016), `x·Φ(x)` with PyTorch's two forms of the normal CDF Φ:
/// exact ([`normal_cdf`], within 7.5e-8) or its tanh approximation.
pub fn gelu(g: &mut Graph, x: NodeId, approximate: GeluApprox) -> NodeId {
    let cdf = match approximate {
        GeluApprox::None => normal_cdf(g, x),
        GeluApprox::Tanh => {
            // PyTorch's (1 + tanh(u)) / 2 with u = sqrt(2/π)·(x + 0.044715·x³), computed as
            // the identical sigmoid(2u): fewer nodes, and no cancellation in 1 + tanh(u)
            // for u << 0.
            let square = g.square(x);
            let cube = g.mul(square, x);
            let cubic = g.scale(cube, 0.044715);
            let inner = g.add(x, cubic);
            let two_u = g.scale(inner, 2.0 * (2.0 / std::f64::consts::PI).sqrt());
            g.sigmoid(two_u)
        }
    };
    g.mul(x, cdf)
}

/// Abramowitz & Stegun 7.1.26: `erf(z) = 1 - t·P(t)·exp(-z²)` for `z >= 0`, `t = 1 / (1 +
/// p·z)`, with absolute error at most 1.5e-7.
const ERF_P: f64 = 0.327_591_1;
const ERF_A: [f64; 5] = [
    0.254_829_592,
    -0.284_496_736,
    1.421_413_741,
    -1.453_152_027,
    1.061_405_429,
];

/// The standard normal CDF `Φ(x) = (1 + erf(x / sqrt 2)) / 2`, from primitives (they have
/// no erf) by A&S 7.1.26, so within 7.5e-8 of the exact value. With `q = t·P(t)·exp(-x²/2)`
/// (`z = |x| / sqrt 2`): `Φ = 1 - q/2` for `x >= 0` and `q/2` below, which keeps the
/// relative accuracy of the lower tail that `1 + erf` would cancel away.
pub fn normal_cdf(g: &mut Graph, x: NodeId) -> NodeId {
    let abs = g.abs(x);
    let pz = g.scale(abs, ERF_P * std::f64::consts::FRAC_1_SQRT_2);
    let denom = g.add_scalar(pz, 1.0);
    let t = g.recip(denom);
    // Horner: t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5)))).
    let mut poly = g.scale(t, ERF_A[4]);
    for a in ERF_A[..4].iter().rev() {
        let shifted = g.add_scalar(poly, *a);
        poly = g.mul(t, shifted);
    }
    let square = g.square(x);
    let exponent = g.scale(square, -0.5);
    let gauss = g.exp(exponent);
    let q = g.mul(poly, gauss);
    let lower_tail = g.scale(q, 0.5);
    let upper = g.neg(lower_tail);
    let upper = g.add_scalar(upper, 1.0);
    let zero = g.constant_like(0.0, x);
    let nonneg = g.cmp_ge(x, zero);
    g.select(nonneg, upper, lower_tail)
}

/// SiLU (swish): `x·sigmoid(x)`.
pub fn silu(g: &mut Graph, x: NodeId) -> NodeId {
    let s = g.sigmoid(x);
    g.mul(x, s)
}

/// ELU: `max(x, 0) + alpha·(exp(min(x, 0)) - 1)`, which is `x` above 0 and
/// `alpha·(exp(x) - 1)` below, and never evaluates exp of a large positive x (whose inf
/// would turn into NaN in a select).
pub fn elu(g: &mut Graph, x: NodeId, alpha: f64) -> NodeId {
    let zero = g.constant_like(0.0, x);
    let pos = g.max(x, zero);
    let neg = g.min(x, zero);
    let e = g.exp(neg);
    let em1 = g.add_scalar(e, -1.0);
    let tail = g.scale(em1, alpha);
    g.add(pos, tail)
}

/// PyTorch's softplus: `log(1 + exp(beta·x)) / beta`, and `x` where `beta·x > threshold`.
/// Computed as `(max(z, 0) + log(1 + exp(-|z|))) / beta` with `z = beta·x`, which never
/// overflows.
pub fn softplus(g: &mut Graph, x: NodeId, beta: f64, threshold: f64) -> NodeId {
    let z = g.scale(x, beta);
    let pos = g.relu(z);
    let abs = g.abs(z);
    let neg_abs = g.neg(abs);
    let e = g.exp(neg_abs);
    let one_plus = g.add_scalar(e, 1.0);
    let log = g.log(one_plus);
    let sum = g.add(pos, log);
    let smooth = g.scale(sum, 1.0 / beta);
    let limit = g.constant_like(threshold, z);
    let linear = g.cmp_gt(z, limit);
    g.select(linear, x, smooth)
}
