//! Memory is checked before it is allocated.
//!
//! A spec that checks can still ask for more memory than the machine has: a
//! `dense(200000000)` layer, or `--batch 100000000000`. Allocating it would abort the
//! process ("memory allocation of N bytes failed", exit 134). So the sizes a run derives
//! from the spec are checked first, where they are known: the parameters and state when
//! the trainer is built, the largest value of a step before it runs (either backend), and
//! the JIT's arena once it is planned. The budget is the machine's physical memory
//! (`MemTotal` of /proc/meminfo), or `NNC_MEMORY_LIMIT` bytes when that is set; where
//! neither is known there is no check. Going over it is an error that names the size, the
//! layer and the fix. Under it an allocation can still fail when other programs hold the
//! memory; that is the operating system's call, as for any program.

use crate::hir::Network;
use crate::lower::{ParamDecl, StateDecl};
use crate::prim::Graph;
use crate::train::RunError;

/// Bytes per element: every run-time tensor is f32.
const FLOAT: u128 = 4;

/// The environment variable that sets the budget.
const VAR: &str = "NNC_MEMORY_LIMIT";

/// `NNC_MEMORY_LIMIT` if set: its bytes, or its text when that is not a number.
fn setting() -> Option<Result<u128, String>> {
    let v = std::env::var_os(VAR)?;
    let text = v.to_string_lossy();
    Some(text.trim().parse().map_err(|_| text.into_owned()))
}

/// The budget in bytes, if one is known: `NNC_MEMORY_LIMIT`, else the machine's memory.
pub fn limit() -> Option<u128> {
    if let Some(Ok(bytes)) = setting() {
        return Some(bytes);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    mem_total(&meminfo)
}

/// A sentence for the user when `NNC_MEMORY_LIMIT` is set to something that is not a
/// number of bytes (it is then ignored).
pub fn setting_problem() -> Option<String> {
    let text = setting()?.err()?;
    Some(format!(
        "{VAR}={text:?} is not a number of bytes; the budget is the machine's memory"
    ))
}

/// `MemTotal` of a /proc/meminfo text, in bytes.
fn mem_total(meminfo: &str) -> Option<u128> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `bytes` for people: "51.2 GB".
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

fn elements(shape: &[usize]) -> u128 {
    shape.iter().map(|&d| d as u128).product()
}

/// The budget as the error states it, if `bytes` is over it.
fn over(bytes: u128, limit: Option<u128>) -> Option<String> {
    let limit = limit.filter(|&l| bytes > l)?;
    Some(match setting() {
        Some(Ok(_)) => format!("{VAR} ({})", human(limit)),
        Some(Err(_)) | None => format!("the {} of memory this machine has", human(limit)),
    })
}

/// The parameters and state (running statistics, optimizer slots) of a network, before
/// they are initialised. Blames the layer with the largest parameter.
pub fn check_state(
    net: &Network,
    params: &[ParamDecl],
    state: &[StateDecl],
    limit: Option<u128>,
) -> Result<(), RunError> {
    let shapes = params
        .iter()
        .map(|p| &p.shape)
        .chain(state.iter().map(|s| &s.shape));
    let bytes: u128 = shapes.map(|s| elements(s)).sum::<u128>() * FLOAT;
    let Some(limit) = over(bytes, limit) else {
        return Ok(());
    };
    let largest = params.iter().max_by_key(|p| elements(&p.shape));
    let message = format!(
        "the parameters and state of network `{}` need {}, more than {}",
        net.name,
        human(bytes),
        limit
    );
    let help = match largest {
        Some(p) => format!(
            "`{}` holds {} values ({}); make the layer smaller.",
            p.name,
            elements(&p.shape),
            human(elements(&p.shape) * FLOAT)
        ),
        None => "Make the network smaller.".to_string(),
    };
    let at = largest.and_then(|p| net.layers.iter().find(|l| l.name == p.layer));
    Err(match at {
        Some(layer) => RunError::config_at(layer.span, message, help),
        None => RunError::config(message, help),
    })
}

/// The largest value of a step at batch `batch`: no backend can run the step without it.
pub fn check_graph(
    net: &Network,
    graph: &Graph,
    batch: usize,
    limit: Option<u128>,
) -> Result<(), RunError> {
    let Some(node) = graph.nodes.iter().max_by_key(|n| elements(&n.shape)) else {
        return Ok(());
    };
    let bytes = elements(&node.shape) * FLOAT;
    let Some(limit) = over(bytes, limit) else {
        return Ok(());
    };
    let layer = node.origin.as_ref().map(|o| o.layer.as_str());
    let message = format!(
        "one value of the step at batch {batch}{} needs {}, more than {}",
        layer.map_or(String::new(), |l| format!(" (in layer `{l}`)")),
        human(bytes),
        limit
    );
    let help = "Use a smaller batch (`--set train.batch=N`) or a smaller layer.";
    let at = layer.and_then(|l| net.layers.iter().find(|x| x.name == l));
    Err(match at {
        Some(layer) => RunError::config_at(layer.span, message, help),
        None => RunError::config(message, help),
    })
}

/// The buffers a compiled program allocates (its arena and output slots), in floats.
pub fn check_arena(floats: u128, limit: Option<u128>) -> Result<(), String> {
    let bytes = floats * FLOAT;
    match over(bytes, limit) {
        None => Ok(()),
        Some(limit) => Err(format!(
            "the compiled step needs {} of buffers, more than {}; \
             use a smaller batch (`--set train.batch=N`) or smaller layers",
            human(bytes),
            limit
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_kib() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\n";
        assert_eq!(mem_total(text), Some(24_576_000 * 1024));
        assert_eq!(mem_total("nothing"), None);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(51_200_000_000), "51.2 GB");
    }

    #[test]
    fn the_arena_check_refuses_only_over_the_limit() {
        assert!(check_arena(1000, Some(4000)).is_ok());
        assert!(check_arena(1001, Some(4000)).is_err());
        assert!(check_arena(u128::from(u64::MAX), None).is_ok());
    }
}
