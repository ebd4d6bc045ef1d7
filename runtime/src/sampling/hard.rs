//! The loss of each example at its last visit, for hard example mining.

/// One loss per training example; NaN until the example is first trained on.
#[derive(Clone, Debug)]
pub struct LossMemory {
    last: Vec<f32>,
}

impl LossMemory {
    pub fn new(n: usize) -> LossMemory {
        LossMemory {
            last: vec![f32::NAN; n],
        }
    }

    /// The recorded losses, one per example (NaN: not seen yet).
    pub fn losses(&self) -> &[f32] {
        &self.last
    }

    /// Replaces the recorded losses (from a checkpoint); `None` if the length is not the
    /// number of examples.
    pub fn restore(&mut self, losses: Vec<f32>) -> Option<()> {
        (losses.len() == self.last.len()).then(|| self.last = losses)
    }

    pub fn record(&mut self, rows: &[usize], losses: &[f32]) {
        for (&r, &l) in rows.iter().zip(losses) {
            self.last[r] = l;
        }
    }

    /// Up to `k` examples with the highest recorded loss, leaving out `exclude` (already in
    /// the batch) and examples never seen; ties go to the lower index, so the choice is
    /// deterministic.
    pub fn hardest(&self, k: usize, exclude: &[usize]) -> Vec<usize> {
        let mut candidates: Vec<usize> = (0..self.last.len())
            .filter(|&i| !self.last[i].is_nan() && !exclude.contains(&i))
            .collect();
        let by_loss = |a: &usize, b: &usize| self.last[*b].total_cmp(&self.last[*a]).then(a.cmp(b));
        if candidates.len() > k && k > 0 {
            candidates.select_nth_unstable_by(k - 1, by_loss);
            candidates.truncate(k);
        }
        candidates.sort_by(by_loss);
        candidates.truncate(k);
        candidates
    }
}
