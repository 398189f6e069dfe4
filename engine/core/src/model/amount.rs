//! Costs and durations as fixed-point numbers (four decimals), so sums in statistics are exact
//! and a recomputation in the integrity check gives the very same totals.

use serde::{Deserialize, Serialize};

/// A non-float quantity: cost in the company's currency, or duration in minutes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Amount(pub i64);

impl Amount {
    /// Units per 1.0.
    pub const SCALE: i64 = 10_000;
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// From a float, rounded to four decimals; `None` if it is not finite or too large.
    pub fn from_f64(value: f64) -> Option<Amount> {
        let scaled = (value * Self::SCALE as f64).round();
        (scaled.is_finite() && scaled.abs() < 9.0e15).then_some(Amount(scaled as i64))
    }

    /// From whole units.
    pub fn from_units(units: i64) -> Amount {
        Amount(units * Self::SCALE)
    }

    /// As a float.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / Self::SCALE as f64
    }

    /// Whether it is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, rhs: Amount) {
        self.0 += rhs.0;
    }
}

impl std::ops::SubAssign for Amount {
    fn sub_assign(&mut self, rhs: Amount) {
        self.0 -= rhs.0;
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / Self::SCALE as u64;
        let frac = abs % Self::SCALE as u64;
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Amount;

    #[test]
    fn amounts_round_to_four_decimals_and_print_without_trailing_zeros() {
        assert_eq!(Amount::from_f64(8.0).unwrap().to_string(), "8");
        assert_eq!(Amount::from_f64(0.125).unwrap().to_string(), "0.125");
        assert_eq!(Amount::from_f64(-1.5).unwrap().to_string(), "-1.5");
        assert_eq!(Amount::from_f64(1.000_04).unwrap(), Amount(10_000));
        assert!(Amount::from_f64(f64::NAN).is_none());
    }
}
