//! The named numeric parameters of builtin data sets: what each accepts (with defaults), and
//! the values of one call, resolved and checked.

use super::dataset::Dataset;
use super::error::DataError;

/// A builtin data set and the parameters it accepts.
#[derive(Debug)]
pub struct BuiltinInfo {
    /// The name used in `builtin("...")`.
    pub name: &'static str,
    /// One line on what the data is.
    pub summary: &'static str,
    /// Accepted parameters, with defaults.
    pub params: &'static [ParamInfo],
    /// Makes the data set from a seed and the resolved parameters.
    pub(crate) build: fn(u64, &Params) -> Result<Dataset, DataError>,
}

/// One named numeric parameter of a builtin generator.
#[derive(Debug)]
pub struct ParamInfo {
    /// Parameter name.
    pub name: &'static str,
    /// Value used when the parameter is not given.
    pub default: f64,
    /// What it controls.
    pub doc: &'static str,
}

pub(crate) const fn param(name: &'static str, default: f64, doc: &'static str) -> ParamInfo {
    ParamInfo { name, default, doc }
}

/// Parameter values for one generator, defaults filled in and names checked.
pub(crate) struct Params {
    builtin: &'static str,
    values: Vec<(&'static str, f64)>,
}

impl Params {
    pub(crate) fn resolve(
        info: &'static BuiltinInfo,
        given: &[(&str, f64)],
    ) -> Result<Self, DataError> {
        let mut values: Vec<(&'static str, f64)> =
            info.params.iter().map(|p| (p.name, p.default)).collect();
        let mut seen = Vec::new();
        for &(name, value) in given {
            let hint = if info.params.is_empty() {
                format!("`{}` takes no parameters.", info.name)
            } else {
                let list: Vec<String> = info
                    .params
                    .iter()
                    .map(|p| format!("{} (default {}): {}", p.name, p.default, p.doc))
                    .collect();
                format!("Parameters of `{}`: {}.", info.name, list.join("; "))
            };
            let error = |reason: &str| DataError::BadParameter {
                context: format!("builtin \"{}\"", info.name),
                param: name.to_string(),
                reason: reason.to_string(),
                hint: hint.clone(),
            };
            let Some(slot) = values.iter_mut().find(|(known, _)| *known == name) else {
                return Err(error("no such parameter"));
            };
            if seen.contains(&name) {
                return Err(error("given twice"));
            }
            if !value.is_finite() {
                return Err(error("value is not finite"));
            }
            seen.push(name);
            slot.1 = value;
        }
        Ok(Self {
            builtin: info.name,
            values,
        })
    }

    pub(crate) fn error(&self, name: &str, reason: String) -> DataError {
        DataError::BadParameter {
            context: format!("builtin \"{}\"", self.builtin),
            param: name.to_string(),
            reason,
            hint: format!(
                "See the parameter list of `{}` in runtime/data/README.md.",
                self.builtin
            ),
        }
    }

    /// The value of a parameter declared in the generator's [`BuiltinInfo`] (asking for an
    /// undeclared one is a bug in the generator: `every_builtin_loads_with_defaults` runs
    /// each generator with its declared parameters).
    #[allow(
        clippy::expect_used,
        reason = "generators ask only for parameters their BuiltinInfo declares (every_builtin_loads_with_defaults)"
    )]
    pub(crate) fn get(&self, name: &str) -> f64 {
        self.values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, v)| v)
            .expect("declared parameter")
    }

    /// A positive integer (sample and feature counts); capped so a typo cannot exhaust memory.
    pub(crate) fn count(&self, name: &str) -> Result<usize, DataError> {
        self.count_in(name, 1, 10_000_000)
    }

    /// An integer in `lo..=hi`.
    pub(crate) fn count_in(&self, name: &str, lo: usize, hi: usize) -> Result<usize, DataError> {
        let value = self.get(name);
        if value.fract() != 0.0 || value < lo as f64 || value > hi as f64 {
            return Err(self.error(name, format!("{value} is not an integer in {lo}..={hi}")));
        }
        Ok(value as usize)
    }

    /// A value `>= 0`.
    pub(crate) fn non_negative(&self, name: &str) -> Result<f64, DataError> {
        let value = self.get(name);
        if value < 0.0 {
            return Err(self.error(name, format!("{value} is negative")));
        }
        Ok(value)
    }

    /// A value `> 0`.
    pub(crate) fn positive(&self, name: &str) -> Result<f64, DataError> {
        let value = self.get(name);
        if value <= 0.0 {
            return Err(self.error(name, format!("{value} is not positive")));
        }
        Ok(value)
    }

    /// A value in `[0, 1]`.
    pub(crate) fn fraction(&self, name: &str) -> Result<f64, DataError> {
        let value = self.get(name);
        if !(0.0..=1.0).contains(&value) {
            return Err(self.error(name, format!("{value} is not in [0, 1]")));
        }
        Ok(value)
    }

    /// `lo < hi` check for a pair of parameters.
    pub(crate) fn ordered(&self, lo: &str, hi: &str) -> Result<(f64, f64), DataError> {
        let (lo_value, hi_value) = (self.get(lo), self.get(hi));
        if lo_value >= hi_value {
            return Err(self.error(
                hi,
                format!("{hi} = {hi_value} is not above {lo} = {lo_value}"),
            ));
        }
        Ok((lo_value, hi_value))
    }
}
