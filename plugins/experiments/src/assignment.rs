//! Deterministic, sticky assignment.
//!
//! `h = splitmix64(fnv1a64(seed ‖ 0x00 ‖ unit_id))` (FNV-1a 64-bit over the
//! UTF-8 bytes; splitmix64's finaliser for avalanche).
//! - Coverage: the unit is in when `splitmix64(h ^ 0x636f_7665_7261_6765) mod
//!   10 000 < coverage_bp`. Raising coverage only adds buckets, so a unit
//!   already in stays in.
//! - Variant, scheme 2 (every experiment defined since): the weights are
//!   normalised to shares; `u = (h >> 11) / 2⁵³` falls in `[0, 1)` and the
//!   unit takes the first variant whose cumulative share `Σw₀..ᵢ / Σw`
//!   exceeds `u`. Equal proportions written differently (`[1, 1]`,
//!   `[50, 50]`) give the same shares to the last bit (IEEE division is
//!   correctly rounded), so the same units.
//! - Variant, scheme 1 (experiments defined before scheme 2, which keep it so
//!   that no running experiment reshuffles): `h mod Σweights` walked along the
//!   cumulative weights in variant order.
//!
//! The same seed and unit id always give the same answer, on every host.

const COVERAGE_SALT: u64 = 0x636f_7665_7261_6765; // "coverage"

/// The scheme new experiments are defined with.
pub const CURRENT_SCHEME: u32 = 2;

fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The unit's hash under `seed`.
pub fn hash(seed: &str, unit: &str) -> u64 {
    let bytes = seed.bytes().chain([0]).chain(unit.bytes());
    splitmix64(fnv1a(bytes))
}

/// The unit's coverage bucket, 0 to 9 999.
pub fn bucket(seed: &str, unit: &str) -> u32 {
    (splitmix64(hash(seed, unit) ^ COVERAGE_SALT) % 10_000) as u32
}

/// The index of the unit's variant under `scheme`; `None` when the weights
/// sum to 0 or the scheme is unknown.
pub fn variant_index(scheme: u32, seed: &str, unit: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let h = hash(seed, unit);
    match scheme {
        1 => {
            let mut point = h % total;
            for (i, w) in weights.iter().enumerate() {
                if point < u64::from(*w) {
                    return Some(i);
                }
                point -= u64::from(*w);
            }
            None
        }
        2 => {
            let u = (h >> 11) as f64 / (1u64 << 53) as f64;
            let mut cumulative = 0u64;
            for (i, w) in weights.iter().enumerate() {
                cumulative += u64::from(*w);
                if u < cumulative as f64 / total as f64 {
                    return Some(i);
                }
            }
            // Unreachable: the last share is exactly 1 and u < 1.
            weights.len().checked_sub(1)
        }
        _ => None,
    }
}
