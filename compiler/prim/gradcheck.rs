//! Finite-difference gradient checking: autodiff against central differences in f64.
//!
//! In: a forward graph, a loss node, `Input`/`Param` leaves to check, and their values.
//! Out: `Ok(())`, or the first element whose analytic and numeric derivatives of
//! `sum(loss)` disagree beyond the [`Tolerance`].
//!
//! Central differences `(f(x + h) - f(x - h)) / 2h` err by about `h^2 |f'''| / 6`
//! (truncation) plus `eps |f| / h` (rounding, eps = 2^-52). With the default h = 1e-5 both
//! are near 1e-10 for the O(1)-to-O(100) values and derivatives of the test graphs, so
//! the default tolerance `1e-7 + 1e-6 * max(|analytic|, |numeric|)` fails on any real
//! gradient bug but not on noise. Inputs must stay more than h away from kinks (ties of
//! `Max`, zeros of `Sign`, the bounds of a clamp).

use super::autodiff::differentiate;
use super::interp::{evaluate, Bindings, InterpError};
use super::{Graph, NodeId, Op};
use ndarray::{ArrayD, Dimension};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The finite-difference step h.
    pub step: f64,
    pub atol: f64,
    pub rtol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            step: 1e-5,
            atol: 1e-7,
            rtol: 1e-6,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum GradCheckError {
    Interp(InterpError),
    /// Only `Input` and `Param` leaves can be perturbed.
    NotALeaf(NodeId),
    Mismatch {
        wrt: NodeId,
        index: Vec<usize>,
        analytic: f64,
        numeric: f64,
    },
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradCheckError::Interp(err) => write!(f, "{err}"),
            GradCheckError::NotALeaf(id) => write!(f, "{id} is not an Input or Param leaf"),
            GradCheckError::Mismatch {
                wrt,
                index,
                analytic,
                numeric,
            } => write!(
                f,
                "d loss / d {wrt}{index:?}: autodiff {analytic}, finite differences {numeric}"
            ),
        }
    }
}

impl std::error::Error for GradCheckError {}

impl From<InterpError> for GradCheckError {
    fn from(err: InterpError) -> Self {
        GradCheckError::Interp(err)
    }
}

/// Checks autodiff's gradient of `sum(loss)` with respect to each of `wrt`.
pub fn check_gradients(
    graph: &Graph,
    loss: NodeId,
    wrt: &[NodeId],
    bindings: &Bindings<f64>,
    tol: &Tolerance,
) -> Result<(), GradCheckError> {
    let mut with_grads = graph.clone();
    let grads = differentiate(&mut with_grads, loss, wrt);
    let analytic = evaluate(&with_grads, bindings, &grads)?;
    for (&leaf, analytic) in wrt.iter().zip(&analytic) {
        let numeric = numeric_gradient(graph, loss, leaf, bindings, tol.step)?;
        for ((index, &a), &n) in analytic.indexed_iter().zip(numeric.iter()) {
            if (a - n).abs() > tol.atol + tol.rtol * a.abs().max(n.abs()) {
                return Err(GradCheckError::Mismatch {
                    wrt: leaf,
                    index: index.slice().to_vec(),
                    analytic: a,
                    numeric: n,
                });
            }
        }
    }
    Ok(())
}

/// Central-difference gradient of `sum(loss)` with respect to the leaf `wrt`.
#[allow(
    clippy::expect_used,
    reason = "base is a fresh standard-layout array (ArrayD::from/zeros)"
)]
pub fn numeric_gradient(
    graph: &Graph,
    loss: NodeId,
    wrt: NodeId,
    bindings: &Bindings<f64>,
    step: f64,
) -> Result<ArrayD<f64>, GradCheckError> {
    let (is_input, name) = match &graph.node(wrt).op {
        Op::Input { name } => (true, name.clone()),
        Op::Param { name } => (false, name.clone()),
        _ => return Err(GradCheckError::NotALeaf(wrt)),
    };
    let mut probe = bindings.clone();
    let base = match leaf_map(&mut probe, is_input).get(&name) {
        Some(value) => value.as_standard_layout().into_owned(),
        None => {
            let kind = if is_input { "input" } else { "param" };
            return Err(InterpError::Unbound { kind, name }.into());
        }
    };
    let mut grad = ArrayD::zeros(base.raw_dim());
    for flat in 0..base.len() {
        let mut total_at = |delta: f64| -> Result<f64, GradCheckError> {
            let mut moved = base.clone();
            moved.as_slice_mut().expect("standard layout")[flat] += delta;
            leaf_map(&mut probe, is_input).insert(name.clone(), moved);
            Ok(evaluate(graph, &probe, &[loss])?[0].sum())
        };
        let plus = total_at(step)?;
        let minus = total_at(-step)?;
        grad.as_slice_mut().expect("standard layout")[flat] = (plus - minus) / (2.0 * step);
    }
    Ok(grad)
}

fn leaf_map(bindings: &mut Bindings<f64>, is_input: bool) -> &mut HashMap<String, ArrayD<f64>> {
    if is_input {
        &mut bindings.inputs
    } else {
        &mut bindings.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    #[test]
    fn catches_a_wrong_gradient() {
        // Build exp(x) but lie about its forward value by mixing in a StopGrad term:
        // y = x*x - stop_grad(x*x) + stop_grad(exp(x)) has value exp(x) and gradient 2x.
        let mut g = Graph::new();
        let x = g.param("x", &[2]);
        let sq = g.mul(x, x);
        let frozen_sq = g.stop_grad(sq);
        let e = g.exp(x);
        let frozen_e = g.stop_grad(e);
        let diff = g.sub(sq, frozen_sq);
        let y = g.add(diff, frozen_e);
        let loss = g.sum_all(y);
        let bindings = Bindings::new().param("x", arr1(&[0.3, -0.7]).into_dyn());
        let err = check_gradients(&g, loss, &[x], &bindings, &Tolerance::default());
        assert!(
            matches!(err, Err(GradCheckError::Mismatch { .. })),
            "{err:?}"
        );
        // The honest graph passes.
        let honest = g.exp(x);
        let honest_loss = g.sum_all(honest);
        check_gradients(&g, honest_loss, &[x], &bindings, &Tolerance::default()).unwrap();
    }

    #[test]
    fn refuses_non_leaves() {
        let mut g = Graph::new();
        let x = g.param("x", &[1]);
        let y = g.exp(x);
        let bindings = Bindings::new().param("x", arr1(&[0.0]).into_dyn());
        let err = numeric_gradient(&g, y, y, &bindings, 1e-5).unwrap_err();
        assert_eq!(err, GradCheckError::NotALeaf(y));
    }
}
