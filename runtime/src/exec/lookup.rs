//! Table lookups by id (embedding layers): rows of a `[vocab, dim]` table gathered for a
//! list of ids stored as f32, and the adjoint, which scatter-adds rows back into a table.
//!
//! An id names row `i` only when it equals the integer `i` in `[0, vocab)`; anything else
//! (a fraction, a negative number, NaN, an id past the table) names no row: gathering it
//! reads zeros and scattering it adds nothing. The compiler's interpreter uses [`row`] too,
//! so both backends agree; the trainer refuses such ids before they reach a step.

use super::BufId;

/// Which way a [`Lookup`] moves rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupKind {
    /// `out[i, :] = data[ids[i], :]`: `data` is the table, `out` has a row per id.
    Gather,
    /// `out[r, :] = sum of data[i, :] over the ids[i] = r`, in the order of the ids:
    /// `data` has a row per id, `out` is the table.
    ScatterAdd,
}

/// A lookup step; every buffer is contiguous.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub kind: LookupKind,
    pub data: BufId,
    pub ids: BufId,
    pub out: BufId,
    /// Number of ids.
    pub count: usize,
    pub dim: usize,
    pub vocab: usize,
}

/// The table row an id names, if any.
pub fn row(id: f64, vocab: usize) -> Option<usize> {
    (id >= 0.0 && id < vocab as f64 && id.fract() == 0.0).then_some(id as usize)
}

impl Lookup {
    /// # Safety
    /// `data`, `ids` and `out` must point to buffers of the sizes the kind implies
    /// (`count` ids; `count` or `vocab` rows of `dim`), and `out` must not overlap them.
    pub unsafe fn run(&self, data: *const f32, ids: *const f32, out: *mut f32) {
        let (n, d, v) = (self.count, self.dim, self.vocab);
        let ids = std::slice::from_raw_parts(ids, n);
        match self.kind {
            LookupKind::Gather => {
                let table = std::slice::from_raw_parts(data, v * d);
                let out = std::slice::from_raw_parts_mut(out, n * d);
                for (i, id) in ids.iter().enumerate() {
                    let dst = &mut out[i * d..(i + 1) * d];
                    match row(f64::from(*id), v) {
                        Some(r) => dst.copy_from_slice(&table[r * d..(r + 1) * d]),
                        None => dst.fill(0.0),
                    }
                }
            }
            LookupKind::ScatterAdd => {
                let values = std::slice::from_raw_parts(data, n * d);
                let out = std::slice::from_raw_parts_mut(out, v * d);
                out.fill(0.0);
                for (i, id) in ids.iter().enumerate() {
                    if let Some(r) = row(f64::from(*id), v) {
                        let src = &values[i * d..(i + 1) * d];
                        for (o, s) in out[r * d..(r + 1) * d].iter_mut().zip(src) {
                            *o += *s;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_integers_in_range_name_rows() {
        assert_eq!(row(0.0, 3), Some(0));
        assert_eq!(row(2.0, 3), Some(2));
        for bad in [3.0, -1.0, 0.5, f64::NAN, f64::INFINITY, -0.5] {
            assert_eq!(row(bad, 3), None, "{bad}");
        }
    }

    #[test]
    fn gather_and_scatter_add_are_adjoint() {
        let table = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let ids = [2.0f32, 0.0, 7.0, 2.0];
        let mut rows = [9.0f32; 8];
        let gather = Lookup {
            kind: LookupKind::Gather,
            data: 0,
            ids: 1,
            out: 2,
            count: 4,
            dim: 2,
            vocab: 3,
        };
        unsafe { gather.run(table.as_ptr(), ids.as_ptr(), rows.as_mut_ptr()) };
        assert_eq!(rows, [5.0, 6.0, 1.0, 2.0, 0.0, 0.0, 5.0, 6.0]);
        let mut back = [9.0f32; 6];
        let scatter = Lookup {
            kind: LookupKind::ScatterAdd,
            ..gather
        };
        unsafe { scatter.run(rows.as_ptr(), ids.as_ptr(), back.as_mut_ptr()) };
        assert_eq!(back, [1.0, 2.0, 0.0, 0.0, 10.0, 12.0]);
    }
}
