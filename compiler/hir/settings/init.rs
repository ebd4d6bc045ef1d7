//! The typed init scheme ([`Init`]) of a layer's `init:`/`bias_init:` or a train block's
//! `init:`, built from the constructor the binder checked against `schema::INIT`.

use super::{Args, Built};
use crate::hir::value::Ctor;
use crate::hir::Init;

impl Init {
    pub fn from_ctor(c: &Ctor) -> Built<Init> {
        let a = Args(c);
        let normal = |arg: &str| -> Built<bool> { Ok(a.str(arg)? == "normal") };
        Ok(match c.name.as_str() {
            "zeros" => Init::Zeros,
            "constant" => Init::Constant {
                value: a.f64("value")?,
            },
            "gaussian" => Init::Gaussian {
                mean: a.f64("mean")?,
                std: a.f64("std")?,
            },
            "uniform" => Init::Uniform {
                low: a.f64("low")?,
                high: a.f64("high")?,
            },
            "xavier" => Init::Xavier {
                normal: normal("distribution")?,
                gain: a.f64("gain")?,
            },
            "he" => Init::He {
                normal: normal("distribution")?,
                fan_out: a.str("mode")? == "fan_out",
            },
            "orthogonal" => Init::Orthogonal {
                gain: a.f64("gain")?,
            },
            "lsuv" => Init::Lsuv {
                tol: a.f64("tol")?,
                // More than 2^32 rescalings cannot differ from 2^32 - 1: LSUV stops at `tol`.
                max_iter: a.u64("max_iter")?.min(u64::from(u32::MAX)) as u32,
            },
            "looks_linear" => Init::LooksLinear,
            _ => return a.unknown(),
        })
    }
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::hir::display::init_text(self))
    }
}
