//! Distillation from a teacher checkpoint (`teacher: NET from "PATH"`, `distill: (...)`):
//! the teacher network (`nnc check` compares its shape with the student's) and its weights read from the
//! checkpoint, which must hold exactly the teacher's parameters and running statistics.
//!
//! The checkpoint path is relative to the current directory, like the `runs/` folder that
//! `nnc run` writes it to, so `nnc run specs/distill_teacher.nn` then
//! `nnc run specs/distill_student.nn` work from the same folder.

use super::step::{Distill, TEACHER_PREFIX};
use super::{RunError, State};
use crate::hir::{Program as Hir, TrainDecl};
use crate::lower::{lower_network, LowerOptions, Mode};
use crate::prim::Op;
use ndarray::{ArrayD, IxDyn};
use nnc_runtime::checkpoint::Checkpoint;
use std::path::Path;

/// The teacher of `train` and its weights (named `teacher.<name>`), or None without one.
/// `nnc check` checked the teacher's shape against the student.
pub fn load(program: &Hir, train: &TrainDecl) -> Result<Option<(Distill, State)>, RunError> {
    let Some(spec) = &train.teacher else {
        return Ok(None);
    };
    let (name, path) = (&spec.network, &spec.checkpoint);
    let teacher = program
        .network(name)
        .ok_or_else(|| {
            RunError::config(
                format!("network `{name}` did not resolve"),
                "Fix the errors `nnc check` reports.",
            )
        })?
        .clone();
    let ck = Checkpoint::load(Path::new(path)).map_err(|e| {
        RunError::config(
            format!("cannot read the teacher checkpoint \"{path}\": {e}"),
            "Train the teacher first (`nnc run` writes runs/<spec name>/checkpoint.safetensors); the path is relative to the current directory.",
        )
    })?;
    // The names and shapes the teacher's forward reads.
    let eval = lower_network(
        &teacher,
        &LowerOptions {
            mode: Mode::Eval,
            batch: 1,
            default_init: None,
        },
    );
    let wanted: Vec<(String, Vec<usize>)> = eval
        .graph
        .nodes
        .iter()
        .filter_map(|n| {
            let Op::Param { name } = &n.op else {
                return None;
            };
            Some((name.clone(), n.shape.clone()))
        })
        .collect();
    // Every parameter and running statistic of the teacher, as its own run saved them.
    let full = lower_network(
        &teacher,
        &LowerOptions {
            mode: Mode::Train,
            batch: 1,
            default_init: None,
        },
    );
    let all: Vec<(String, Vec<usize>)> = full
        .params
        .iter()
        .map(|p| (p.name.clone(), p.shape.clone()))
        .chain(full.state.iter().map(|s| (s.name.clone(), s.shape.clone())))
        .collect();
    let mut trimmed = ck.clone();
    trimmed.tensors.retain(|n, _| !n.starts_with("opt."));
    let refs: Vec<(&str, &[usize])> = all
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    let mismatch = |e: &dyn std::fmt::Display| {
        RunError::config(
            format!("the teacher checkpoint \"{path}\" does not match network `{name}`: {e}"),
            format!("Give the checkpoint written by training `{name}` itself."),
        )
    };
    trimmed.check_against(&refs).map_err(|e| mismatch(&e))?;
    let mut weights = State::new();
    for (n, s) in &wanted {
        let values = ck.values::<f32>(n).map_err(|e| mismatch(&e))?;
        let array = ArrayD::from_shape_vec(IxDyn(s), values).map_err(|e| mismatch(&e))?;
        weights.insert(format!("{TEACHER_PREFIX}{n}"), array);
    }
    Ok(Some((
        Distill {
            teacher,
            temperature: spec.distill.temperature,
            weight: spec.distill.weight,
        },
        weights,
    )))
}
