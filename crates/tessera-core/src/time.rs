//! Time as a value. Domain functions take `now` as a parameter instead of reading the clock,
//! so tests control it; only the binary's edges call [`Timestamp::now`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The wall clock. Call it at the edge (request handlers, CLI) and pass the value down.
    #[allow(clippy::disallowed_methods)]
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self(ms)
    }

    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// From whole seconds since the epoch (JWT `NumericDate`).
    pub const fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down (JWT `NumericDate`).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(millis(d)))
    }

    /// `self - d`, saturating.
    pub fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(millis(d)))
    }

    /// Time from `self` until `later`; zero when `later` is not after `self`.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0).max(0) as u64)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down_and_arithmetic_saturates() {
        let t = Timestamp::from_millis(1_999);
        assert_eq!(t.as_secs(), 1);
        assert_eq!(t.plus(Duration::from_secs(1)).as_millis(), 2_999);
        assert_eq!(
            Timestamp::from_millis(i64::MAX)
                .plus(Duration::from_secs(5))
                .as_millis(),
            i64::MAX
        );
        assert_eq!(t.until(Timestamp::from_millis(1_000)), Duration::ZERO);
        assert_eq!(
            Timestamp::from_millis(1_000).until(t),
            Duration::from_millis(999)
        );
    }
}
