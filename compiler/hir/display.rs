//! The stable text form of the resolved program (`nnc ir FILE --stage ir`), used by the
//! snapshot tests. One layer per line: id, name, op with every option (defaults included),
//! inputs, output shape, and the source line.

use super::shapes::show;
use super::value::fmt_f64;
use super::{ConvKind, GeluApprox, Init, LayerOp, Mask, Network, Program, Weights, Window};
use crate::source::SourceMap;
use std::fmt::Write;

pub fn print_program(program: &Program, sources: &SourceMap) -> String {
    let mut out = String::new();
    for net in &program.networks {
        out.push_str(&print_network(net, sources));
        out.push('\n');
    }
    for d in &program.data {
        let _ = writeln!(out, "data {}", d.name);
        let _ = writeln!(out, "  source: {}", d.source);
        if let Some(t) = &d.test {
            let _ = writeln!(out, "  test: {t}");
        }
        let _ = writeln!(out, "  split: {}", fmt_f64(d.split));
        if d.validation > 0.0 {
            let _ = writeln!(out, "  validation: {}", fmt_f64(d.validation));
        }
        let _ = writeln!(out, "  scale: {}", d.scale);
        if let Some(s) = &d.shape {
            let _ = writeln!(out, "  shape: {}", show(s));
        }
        if let Some(c) = &d.classes {
            let _ = writeln!(out, "  classes: {c:?}");
        }
        if let Some(f) = &d.features {
            let _ = writeln!(out, "  features: {f:?}");
        }
        if let Some(i) = &d.inputs {
            let columns =
                |c: &std::ops::Range<usize>| format!("columns(from: {}, to: {})", c.start, c.end);
            let _ = writeln!(out, "  inputs: {}", i.show(columns));
        }
        if let Some(t) = &d.targets {
            let _ = writeln!(out, "  targets: {}", t.show(u64::to_string));
        }
        out.push('\n');
    }
    for r in &program.rules {
        let _ = writeln!(out, "rules {}", r.name);
        let _ = writeln!(out, "  strength: {}", fmt_f64(r.strength));
        if let Some(e) = &r.imitation {
            let _ = writeln!(out, "  imitation: {}", sources.snippet(e.span));
        }
        for rule in &r.rules {
            let _ = writeln!(
                out,
                "  rule {} (weight: {}): {}",
                rule.name,
                fmt_f64(rule.weight),
                sources.snippet(rule.formula.span)
            );
        }
        out.push('\n');
    }
    for t in &program.trains {
        let _ = writeln!(
            out,
            "train{}",
            t.name.as_ref().map_or(String::new(), |n| format!(" {n}"))
        );
        let _ = writeln!(out, "  network: {}", t.network);
        let _ = writeln!(out, "  data: {}", t.data);
        match &t.losses {
            Some(losses) => {
                let _ = writeln!(out, "  loss: {}", losses.show(ToString::to_string));
            }
            None => {
                let _ = writeln!(out, "  loss: {}", t.loss);
            }
        }
        if let Some(w) = &t.loss_weights {
            let _ = writeln!(out, "  loss_weights: {}", w.show(|x| fmt_f64(*x)));
        }
        let _ = writeln!(out, "  optimizer: {}", t.optimizer);
        let _ = writeln!(out, "  schedule: {}", t.schedule);
        let _ = writeln!(out, "  warmup: {}", t.warmup);
        let _ = writeln!(out, "  batch: {}", t.batch);
        let _ = writeln!(out, "  epochs: {}", t.epochs);
        let _ = writeln!(out, "  seed: {}", t.seed);
        if let Some(i) = &t.init {
            let _ = writeln!(out, "  init: {}", init_text(i));
        }
        let _ = writeln!(out, "  sampler: {}", t.sampler);
        let _ = writeln!(out, "  metrics: [{}]", t.metrics.join(", "));
        if let Some(r) = &t.rules {
            let _ = writeln!(out, "  rules: {r}");
        }
        if let Some(teacher) = &t.teacher {
            let _ = writeln!(
                out,
                "  teacher: {} from {:?}",
                teacher.network, teacher.checkpoint
            );
            let _ = writeln!(
                out,
                "  distill: (temperature: {}, weight: {})",
                fmt_f64(teacher.distill.temperature),
                fmt_f64(teacher.distill.weight)
            );
        }
        if let Some(e) = &t.early_stopping {
            let _ = writeln!(out, "  early_stopping: {e}");
        }
        if let Some(c) = t.clip_norm {
            let _ = writeln!(out, "  clip_norm: {}", fmt_f64(c));
        }
        if let Some(c) = t.clip_value {
            let _ = writeln!(out, "  clip_value: {}", fmt_f64(c));
        }
        out.push('\n');
    }
    out
}

pub fn print_network(net: &Network, sources: &SourceMap) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "network {}", net.name);
    let width = net.layers.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for (i, layer) in net.layers.iter().enumerate() {
        let inputs: Vec<String> = layer.inputs.iter().map(|id| format!("%{}", id.0)).collect();
        let args = if inputs.is_empty() {
            String::new()
        } else {
            format!(" {}", inputs.join(", "))
        };
        let mut mults = String::new();
        if layer.lr_mult != 1.0 {
            let _ = write!(mults, " lr_mult={}", fmt_f64(layer.lr_mult));
        }
        if layer.decay_mult != 1.0 {
            let _ = write!(mults, " decay_mult={}", fmt_f64(layer.decay_mult));
        }
        let (line, _) = sources.line_col(layer.span.file, layer.span.start);
        let _ = writeln!(
            out,
            "  %{i:<3} {:<width$} = {}{args}{mults} : {}  // line {line}",
            layer.name,
            op_text(&layer.op),
            show(&layer.shape),
        );
    }
    for o in &net.outputs {
        let _ = writeln!(out, "  output {} = %{}", o.name, o.layer.0);
    }
    out
}

pub fn init_text(init: &Init) -> String {
    match init {
        Init::Zeros => "zeros".into(),
        Init::Constant { value } => format!("constant(value: {})", fmt_f64(*value)),
        Init::Gaussian { mean, std } => {
            format!("gaussian(std: {}, mean: {})", fmt_f64(*std), fmt_f64(*mean))
        }
        Init::Uniform { low, high } => {
            format!("uniform(low: {}, high: {})", fmt_f64(*low), fmt_f64(*high))
        }
        Init::Xavier { normal, gain } => format!(
            "xavier(distribution: {}, gain: {})",
            if *normal { "normal" } else { "uniform" },
            fmt_f64(*gain)
        ),
        Init::He { normal, fan_out } => format!(
            "he(distribution: {}, mode: {})",
            if *normal { "normal" } else { "uniform" },
            if *fan_out { "fan_out" } else { "fan_in" }
        ),
        Init::Orthogonal { gain } => format!("orthogonal(gain: {})", fmt_f64(*gain)),
        Init::Lsuv { tol, max_iter } => {
            format!("lsuv(tol: {}, max_iter: {max_iter})", fmt_f64(*tol))
        }
        Init::LooksLinear => "looks_linear".into(),
    }
}

fn weights_text(w: &Weights) -> String {
    let init = w.init.as_ref().map_or("default".to_string(), init_text);
    let mut s = format!("init={init}");
    if w.bias {
        let _ = write!(s, " bias_init={}", init_text(&w.bias_init));
    } else {
        s.push_str(" bias=false");
    }
    s
}

fn window_text(w: &Window) -> String {
    let pair = |a: [u64; 2]| {
        if a[0] == a[1] {
            a[0].to_string()
        } else {
            format!("{}x{}", a[0], a[1])
        }
    };
    let pad = if w.pad.iter().all(|p| *p == w.pad[0]) {
        w.pad[0].to_string()
    } else {
        format!("[{}, {}, {}, {}]", w.pad[0], w.pad[1], w.pad[2], w.pad[3])
    };
    let mut s = format!(
        "kernel={} stride={} pad={pad}",
        pair(w.kernel),
        pair(w.stride)
    );
    if w.dilation != [1, 1] {
        let _ = write!(s, " dilation={}", pair(w.dilation));
    }
    s
}

pub fn op_text(op: &LayerOp) -> String {
    let name = op.name();
    match op {
        LayerOp::Dense {
            units,
            binary,
            flatten,
            weights,
        } => {
            let bin = match binary {
                Some(true) => " inputs=binary",
                Some(false) => " inputs=real",
                None => "",
            };
            let per_position = if *flatten { "" } else { " flatten=false" };
            format!(
                "{name}(units={units}{bin}{per_position} {})",
                weights_text(weights)
            )
        }
        LayerOp::Embedding { vocab, dim, init } => {
            let init = init.as_ref().map_or("default".to_string(), init_text);
            format!("{name}(vocab={vocab} dim={dim} init={init})")
        }
        LayerOp::Conv1d {
            filters,
            window,
            groups,
            weights,
        } => {
            let mut s = format!(
                "{name}(filters={filters} kernel={} stride={} pad={}",
                window.kernel[1], window.stride[1], window.pad[1]
            );
            if window.dilation[1] != 1 {
                let _ = write!(s, " dilation={}", window.dilation[1]);
            }
            if *groups != 1 {
                let _ = write!(s, " groups={groups}");
            }
            format!("{s} {})", weights_text(weights))
        }
        LayerOp::ConvTranspose {
            filters,
            window,
            output_pad,
            weights,
        } => format!(
            "{name}(filters={filters} {} output_pad={}x{} {})",
            window_text(window),
            output_pad[0],
            output_pad[1],
            weights_text(weights)
        ),
        LayerOp::Attention {
            heads,
            causal,
            weights,
        } => format!(
            "{name}(heads={heads} causal={causal} {})",
            weights_text(weights)
        ),
        LayerOp::Lstm {
            units,
            sequences,
            forget_bias,
            reverse,
            weights,
        } => format!(
            "{name}(units={units} sequences={sequences} forget_bias={} reverse={reverse} {})",
            fmt_f64(*forget_bias),
            weights_text(weights)
        ),
        LayerOp::Gru {
            units,
            sequences,
            reverse,
            weights,
        } => format!(
            "{name}(units={units} sequences={sequences} reverse={reverse} {})",
            weights_text(weights)
        ),
        LayerOp::Scan {
            axis,
            init,
            sequences,
            reverse,
            body,
            result,
        } => format!(
            "{name}(over={axis} init={} sequences={sequences} reverse={reverse} cell=%{}..%{} state=%{})",
            fmt_f64(*init),
            body.0,
            result.0,
            result.0
        ),
        LayerOp::LayerScale { init, axis } => {
            format!("{name}(init={} axis={axis})", fmt_f64(*init))
        }
        LayerOp::Elu { alpha } => format!("{name}(alpha={})", fmt_f64(*alpha)),
        LayerOp::Softplus { beta, threshold } => format!(
            "{name}(beta={} threshold={})",
            fmt_f64(*beta),
            fmt_f64(*threshold)
        ),
        LayerOp::Conv {
            filters,
            window,
            groups,
            kind,
            weights,
        } => {
            let extra = match kind {
                ConvKind::Plain => String::new(),
                ConvKind::Masked(Mask::A) => " mask=A".into(),
                ConvKind::Masked(Mask::B) => " mask=B".into(),
                ConvKind::Binary { binary_inputs } => {
                    format!(" inputs={}", if *binary_inputs { "binary" } else { "real" })
                }
            };
            let groups = if *groups != 1 {
                format!(" groups={groups}")
            } else {
                String::new()
            };
            format!(
                "{name}(filters={filters} {}{groups}{extra} {})",
                window_text(window),
                weights_text(weights)
            )
        }
        LayerOp::Pool { window, ceil, .. } => {
            format!(
                "{name}({}{})",
                window_text(window),
                if *ceil { " ceil" } else { "" }
            )
        }
        LayerOp::Concat { axis } => format!("{name}(axis={axis})"),
        LayerOp::Unpool { size } => format!("{name}(size={}x{})", size[0], size[1]),
        LayerOp::Dropout { rate } => format!("{name}(rate={})", fmt_f64(*rate)),
        LayerOp::LeakyRelu { slope } => format!("{name}(slope={})", fmt_f64(*slope)),
        LayerOp::Softmax { axis } => format!("{name}(axis={axis})"),
        LayerOp::BatchNorm {
            momentum,
            eps,
            affine,
        } => {
            format!(
                "{name}(momentum={} eps={} affine={affine})",
                fmt_f64(*momentum),
                fmt_f64(*eps)
            )
        }
        LayerOp::LayerNorm {
            eps,
            affine,
            last: true,
        } => format!("{name}(eps={} affine={affine} axes=last)", fmt_f64(*eps)),
        LayerOp::LayerNorm {
            eps,
            affine,
            last: false,
        }
        | LayerOp::InstanceNorm { eps, affine } => {
            format!("{name}(eps={} affine={affine})", fmt_f64(*eps))
        }
        LayerOp::GroupNorm {
            groups,
            eps,
            affine,
        } => {
            format!(
                "{name}(groups={groups} eps={} affine={affine})",
                fmt_f64(*eps)
            )
        }
        LayerOp::L2Norm { scale, eps } => {
            format!("{name}(scale={} eps={})", fmt_f64(*scale), fmt_f64(*eps))
        }
        LayerOp::Scale { factor } => format!("{name}(factor={})", fmt_f64(*factor)),
        LayerOp::Shift { offset } => format!("{name}(offset={})", fmt_f64(*offset)),
        LayerOp::Gelu { approximate } => {
            let form = match approximate {
                GeluApprox::None => "none",
                GeluApprox::Tanh => "tanh",
            };
            format!("{name}(approximate={form})")
        }
        LayerOp::StepInput => format!("{name}(input)"),
        LayerOp::StepState => format!("{name}(state)"),
        LayerOp::Input
        | LayerOp::GlobalAvgPool
        | LayerOp::Flatten
        | LayerOp::Reshape
        | LayerOp::Relu
        | LayerOp::Tanh
        | LayerOp::Sigmoid
        | LayerOp::Silu
        | LayerOp::Crelu
        | LayerOp::Arith(_) => name.to_string(),
    }
}
