//! Adjusted p-values for the many comparisons of an experiment with more
//! than two arms. The family is the p-values that are defined; an undefined
//! one stays `None` and does not count.

fn ranked(p: &[Option<f64>]) -> Vec<(usize, f64)> {
    let mut defined: Vec<(usize, f64)> = p
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    defined.sort_by(|a, b| a.1.total_cmp(&b.1));
    defined
}

/// Holm's step-down adjustment (controls the family-wise error rate).
pub fn holm(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let defined = ranked(p);
    let m = defined.len() as f64;
    let mut out = vec![None; p.len()];
    let mut running: f64 = 0.0;
    for (rank, (i, p)) in defined.into_iter().enumerate() {
        running = running.max(((m - rank as f64) * p).min(1.0));
        out[i] = Some(running);
    }
    out
}

/// Benjamini–Hochberg's step-up adjustment (controls the false discovery rate).
pub fn benjamini_hochberg(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let defined = ranked(p);
    let m = defined.len() as f64;
    let mut out = vec![None; p.len()];
    let mut running: f64 = 1.0;
    for (rank, (i, p)) in defined.into_iter().enumerate().rev() {
        running = running.min((m / (rank as f64 + 1.0) * p).min(1.0));
        out[i] = Some(running);
    }
    out
}
