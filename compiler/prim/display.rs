//! The stable text form of the primitive IR, used by `nnc dump --stage=prim|grad` and by
//! snapshot tests.
//!
//! In: a [`Graph`]. Out: one line per node, then one line per output:
//!
//! ```text
//! %0 = Input{name="x"} : [64, 784]
//! %1 = Param{name="dense1.w"} : [784, 10]  // dense1
//! %2 = MatMul %0, %1 : [64, 10]  // dense1
//! %7 = Sum{axes=[1]} %6 : [64, 1]  // dense1 (grad)
//! output "loss" = %12
//! ```
//!
//! Attributes print in declaration order; numbers use Rust's shortest round-trip form
//! (`0.5`, `1e-5`, `-inf`), so the text never depends on the platform.

use super::{Graph, Node, NodeId, Op};
use std::fmt;

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Op::Input { name } | Op::Param { name } => write!(f, "{{name={name:?}}}"),
            Op::Const { value } => write!(f, "{{value={value:?}}}"),
            Op::RandUniform { stream } => write!(f, "{{stream={stream}}}"),
            Op::Sum { axes } | Op::MaxReduce { axes } => write!(f, "{{axes={axes:?}}}"),
            Op::Permute { perm } => write!(f, "{{perm={perm:?}}}"),
            Op::Slice { axis, start, end } => {
                write!(f, "{{axis={axis}, start={start}, end={end}}}")
            }
            Op::Pad {
                axis,
                before,
                after,
            } => write!(f, "{{axis={axis}, before={before}, after={after}}}"),
            Op::Concat { axis } => write!(f, "{{axis={axis}}}"),
            Op::Im2Col(geom) | Op::Col2Im(geom) => write!(
                f,
                "{{kernel={:?}, stride={:?}, pad={:?}, dilation={:?}, pad_value={:?}}}",
                geom.kernel, geom.stride, geom.pad, geom.dilation, geom.pad_value
            ),
            Op::Exp
            | Op::Log
            | Op::Sqrt
            | Op::Recip
            | Op::Sign
            | Op::StopGrad
            | Op::Add
            | Op::Mul
            | Op::Max
            | Op::CmpGt
            | Op::Reshape
            | Op::Broadcast
            | Op::MatMul
            | Op::Gather
            | Op::ScatterAdd => Ok(()),
        }
    }
}

/// Writes one node line (without a newline).
pub fn write_node(f: &mut impl fmt::Write, id: NodeId, node: &Node) -> fmt::Result {
    write!(f, "{id} = {}", node.op)?;
    for (pos, input) in node.inputs.iter().enumerate() {
        let sep = if pos == 0 { " " } else { ", " };
        write!(f, "{sep}{input}")?;
    }
    write!(f, " : {:?}", node.shape)?;
    if let Some(origin) = &node.origin {
        write!(f, "  // {}", origin.layer)?;
        if origin.backward {
            f.write_str(" (grad)")?;
        }
    }
    Ok(())
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, node) in self.ids().zip(&self.nodes) {
            write_node(f, id, node)?;
            writeln!(f)?;
        }
        for (name, id) in &self.outputs {
            writeln!(f, "output {name:?} = {id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::prim::{autodiff::differentiate, ConvGeom, Graph};

    #[test]
    fn text_form_of_a_small_graph() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let w = g.param("dense1.w", &[3, 4]);
        let y = g.with_origin("dense1", |g| {
            let y = g.matmul(x, w);
            g.sum(y, &[1])
        });
        let loss = g.sum_all(y);
        g.output("loss", loss);
        let image = g.input("img", &[1, 1, 4, 4]);
        let mut geom = ConvGeom::square(3, 2, 1);
        geom.pad_value = f64::NEG_INFINITY;
        let cols = g.im2col(image, geom);
        g.permute(cols, &[2, 1, 0]);
        g.slice(cols, 2, 1, 3);
        g.pad(x, 0, 1, 0);
        g.constant(1e-5, &[]);
        g.rand_uniform(7, &[2]);
        differentiate(&mut g, loss, &[w]);
        let expected = r#"%0 = Input{name="x"} : [2, 3]
%1 = Param{name="dense1.w"} : [3, 4]
%2 = MatMul %0, %1 : [2, 4]  // dense1
%3 = Sum{axes=[1]} %2 : [2, 1]  // dense1
%4 = Sum{axes=[0, 1]} %3 : [1, 1]
%5 = Reshape %4 : []
%6 = Input{name="img"} : [1, 1, 4, 4]
%7 = Im2Col{kernel=[3, 3], stride=[2, 2], pad=[1, 1, 1, 1], dilation=[1, 1], pad_value=-inf} %6 : [1, 9, 4]
%8 = Permute{perm=[2, 1, 0]} %7 : [4, 9, 1]
%9 = Slice{axis=2, start=1, end=3} %7 : [1, 9, 2]
%10 = Pad{axis=0, before=1, after=0} %0 : [3, 3]
%11 = Const{value=1e-5} : []
%12 = RandUniform{stream=7} : [2]
%13 = Const{value=1.0} : []
%14 = Reshape %13 : [1, 1]
%15 = Broadcast %14 : [2, 1]
%16 = Broadcast %15 : [2, 4]  // dense1 (grad)
%17 = Permute{perm=[1, 0]} %0 : [3, 2]  // dense1 (grad)
%18 = MatMul %17, %16 : [3, 4]  // dense1 (grad)
output "loss" = %5
"#;
        assert_eq!(g.to_string(), expected);
    }
}
