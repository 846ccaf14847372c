//! Generic short-lived records for account security (TOTP codes used once, MFA challenges,
//! password-reset tokens, rate limits, lockouts, trusted devices): the values that cross the
//! methods of [`EphemeralStore`](crate::EphemeralStore), and the rules both backends share
//! (name limits, record encoding, the GCRA arithmetic).
//!
//! # Names
//! A [`Scope::Tag`], an [`EphemeralKey::name`], a map name and a map field are each at most
//! [`MAX_NAME_LEN`] bytes; a tag, a name and a map name must not contain `{` or `}` (they
//! become part of a Redis key and must not move its hash tag). A call with a name that breaks
//! these rules fails with [`StoreError::Protocol`] (a caller bug, never user input: hash
//! user-chosen strings before using them as names) and changes nothing — on every backend.
//!
//! # Time
//! Every record carries its own expiry; every decision compares it against the `now` passed
//! in, never against the backend's clock (Redis TTLs only reclaim memory). A record whose
//! expiry is at or before `now` behaves exactly like a missing one.

use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use crate::error::{ProtocolError, StoreError};

/// Longest tag, name, map name or map field, in bytes.
pub const MAX_NAME_LEN: usize = 200;

/// Where an ephemeral record lives: in a user's hash slot, or under a tag of its own
/// (a challenge id, an IP address, an email hash). The tag is put inside {} in Redis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// With the user's other keys (`{u:<user-id>}` on Redis).
    User(UserId),
    /// Under a tag of its own (`{t:<tag>}` on Redis): at most [`MAX_NAME_LEN`] bytes, no
    /// `{` or `}`.
    Tag(String),
}

/// A short-lived record: scope + name (e.g. Scope::User(u), "totp:57121123").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EphemeralKey {
    /// Where it lives.
    pub scope: Scope,
    /// Its name within the scope: at most [`MAX_NAME_LEN`] bytes, no `{` or `}`.
    pub name: String,
}

impl EphemeralKey {
    /// A record of `u`'s named `name`.
    pub fn user(u: UserId, name: impl Into<String>) -> Self {
        Self {
            scope: Scope::User(u),
            name: name.into(),
        }
    }

    /// A record under `tag` named `name`.
    pub fn tag(tag: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            scope: Scope::Tag(tag.into()),
            name: name.into(),
        }
    }

    /// Checks the length and character rules (see the [module docs](self)).
    pub fn validate(&self) -> Result<(), StoreError> {
        if let Scope::Tag(tag) = &self.scope {
            check_part("tag", tag)?;
        }
        check_part("name", &self.name)
    }
}

/// Result of a GCRA throttle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    /// The request may proceed (and, with a cost, was counted).
    pub allowed: bool,
    /// When refused: how long until a request of this cost would be allowed (for a cost
    /// above the burst: never; the value is then only a lower bound). Zero when allowed.
    pub retry_after: Duration,
    /// How many more cost-1 requests would be allowed right now, after this one.
    pub remaining: u32,
}

/// A GCRA rate: `burst` requests at once, refilling one every `period / burst` (whole
/// milliseconds, at least 1), so at most `burst` per `period` on average. `burst` must be at
/// least 1, else [`throttle`](crate::EphemeralStore::throttle) fails with
/// [`StoreError::Protocol`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed at once from a full bucket.
    pub burst: u32,
    /// The time a full refill takes.
    pub period: Duration,
}

impl Rate {
    /// `burst` per `period`, e.g. `Rate::new(10, Duration::from_secs(15 * 60))`.
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }
}

/// Count of an attempt counter after an increment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts counted in the current window, this one included.
    pub used: u32,
    /// The maximum the caller passed.
    pub max: u32,
}

impl Attempts {
    /// More attempts than allowed: this one must be refused.
    pub fn exhausted(&self) -> bool {
        self.used > self.max
    }

    /// Attempts still allowed after this one.
    pub fn left(&self) -> u32 {
        self.max.saturating_sub(self.used)
    }
}

fn check_part(what: &str, s: &str) -> Result<(), StoreError> {
    if s.len() > MAX_NAME_LEN {
        return Err(StoreError::Protocol(ProtocolError::Refused(format!(
            "ephemeral {what} longer than {MAX_NAME_LEN} bytes"
        ))));
    }
    if s.contains(['{', '}']) {
        return Err(StoreError::Protocol(ProtocolError::Refused(format!(
            "ephemeral {what} contains '{{' or '}}'"
        ))));
    }
    Ok(())
}

/// Checks a map name (and a field when given).
pub(crate) fn check_map(map: &str, field: Option<&str>) -> Result<(), StoreError> {
    check_part("map name", map)?;
    match field {
        Some(f) if f.len() > MAX_NAME_LEN => Err(StoreError::Protocol(ProtocolError::Refused(
            format!("map field longer than {MAX_NAME_LEN} bytes"),
        ))),
        _ => Ok(()),
    }
}

/// Largest millisecond value stored (see `redis::reply`): keeps Lua's doubles exact.
const MAX_MS: i64 = 1_000_000_000_000_000;

/// Milliseconds of a timestamp, clamped to `0..=MAX_MS`.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millis().clamp(0, MAX_MS)
}

/// Milliseconds of a duration, clamped to `0..=MAX_MS`.
pub(crate) fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(MAX_MS).min(MAX_MS)
}

/// The stored form of a record: its expiry (ms, 8 bytes big-endian) followed by the payload.
pub(crate) fn encode_record(exp: i64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&exp.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a stored record into expiry (ms) and payload.
pub(crate) fn decode_record(raw: &[u8]) -> Result<(i64, &[u8]), StoreError> {
    let (head, payload) = raw
        .split_at_checked(8)
        .ok_or_else(|| StoreError::Protocol("ephemeral record shorter than 8 bytes".into()))?;
    let mut exp = [0u8; 8];
    exp.copy_from_slice(head);
    Ok((i64::from_be_bytes(exp), payload))
}

/// The GCRA parameters of a [`Rate`] in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Emission interval `T = period / burst` (at least 1).
    pub(crate) interval: i64,
    /// Bucket capacity `T * burst`.
    pub(crate) capacity: i64,
}

impl Gcra {
    pub(crate) fn new(rate: Rate) -> Result<Self, StoreError> {
        if rate.burst == 0 {
            return Err(StoreError::Protocol(ProtocolError::Refused(
                "rate burst must be at least 1".into(),
            )));
        }
        let interval = (dur_ms(rate.period) / i64::from(rate.burst)).max(1);
        Ok(Self {
            interval,
            capacity: interval.saturating_mul(i64::from(rate.burst)),
        })
    }

    /// One throttle step at `now` with the bucket's theoretical arrival time `tat` (`None`
    /// or `≤ now`: a full bucket). Returns the verdict and, when something must be stored,
    /// the new TAT (the record's expiry). Cost 0 reports what a cost-1 request would see and
    /// stores nothing. Mirrored rule for rule by `redis/scripts/throttle.lua`.
    pub(crate) fn step(self, tat: Option<i64>, cost: u32, now: i64) -> (Throttle, Option<i64>) {
        let tat = tat.unwrap_or(now).max(now);
        let remaining = |tat: i64| {
            let free = self.capacity.saturating_sub(tat - now).max(0) / self.interval;
            u32::try_from(free).unwrap_or(u32::MAX)
        };
        let probe = i64::from(cost.max(1));
        let new_tat = tat.saturating_add(probe.saturating_mul(self.interval));
        let allow_at = new_tat.saturating_sub(self.capacity);
        if allow_at > now {
            let retry = Duration::from_millis(u64::try_from(allow_at - now).unwrap_or(0));
            let verdict = Throttle {
                allowed: false,
                retry_after: retry,
                remaining: remaining(tat),
            };
            return (verdict, None);
        }
        if cost == 0 {
            let verdict = Throttle {
                allowed: true,
                retry_after: Duration::ZERO,
                remaining: remaining(tat),
            };
            return (verdict, None);
        }
        let verdict = Throttle {
            allowed: true,
            retry_after: Duration::ZERO,
            remaining: remaining(new_tat),
        };
        (verdict, Some(new_tat))
    }

    /// Gives back `cost` that an allowed [`step`](Self::step) took, at `now`, from a bucket
    /// whose TAT is `tat`. Returns `None` when there is nothing to give back (no live
    /// record), else the new TAT: `Some(None)` when the bucket is full again (delete the
    /// record), `Some(Some(tat))` otherwise. Never refills beyond full. Mirrored by
    /// `redis/scripts/refund.lua`.
    pub(crate) fn refund(self, tat: Option<i64>, cost: u32, now: i64) -> Option<Option<i64>> {
        let tat = tat.filter(|t| *t > now)?;
        let back = tat.saturating_sub(i64::from(cost).saturating_mul(self.interval));
        Some((back > now).then_some(back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_brace_free() {
        let u = UserId::new();
        assert!(EphemeralKey::user(u, "totp:1").validate().is_ok());
        assert!(EphemeralKey::tag("203.0.113.9", "login").validate().is_ok());
        assert!(EphemeralKey::user(u, "a".repeat(200)).validate().is_ok());
        assert!(EphemeralKey::user(u, "a".repeat(201)).validate().is_err());
        assert!(EphemeralKey::user(u, "x{y").validate().is_err());
        assert!(EphemeralKey::tag("x}", "n").validate().is_err());
        assert!(EphemeralKey::tag("t".repeat(201), "n").validate().is_err());
        assert!(check_map("trusted", Some(&"f{}".repeat(60))).is_ok());
        assert!(check_map("trusted", Some(&"f".repeat(201))).is_err());
        assert!(check_map("{m}", None).is_err());
    }

    #[test]
    fn records_round_trip() {
        let raw = encode_record(1_700_000_000_123, b"\x00\xffvalue");
        assert_eq!(
            decode_record(&raw).unwrap(),
            (1_700_000_000_123, &b"\x00\xffvalue"[..])
        );
        assert!(decode_record(b"short").is_err());
    }

    #[test]
    fn attempts_left_and_exhausted() {
        let a = Attempts { used: 5, max: 5 };
        assert!(!a.exhausted());
        assert_eq!(a.left(), 0);
        assert!(Attempts { used: 6, max: 5 }.exhausted());
        assert_eq!(Attempts { used: 2, max: 5 }.left(), 3);
    }

    #[test]
    fn gcra_burst_then_refuse_then_refill() {
        let g = Gcra::new(Rate::new(3, Duration::from_secs(3))).unwrap();
        assert_eq!(g.interval, 1000);
        let mut tat = None;
        for left in [2, 1, 0] {
            let (t, new) = g.step(tat, 1, 0);
            assert!(t.allowed);
            assert_eq!(t.remaining, left);
            tat = new;
        }
        let (t, new) = g.step(tat, 1, 0);
        assert_eq!(
            (t.allowed, t.retry_after, t.remaining, new),
            (false, Duration::from_secs(1), 0, None)
        );
        let (peek, none) = g.step(tat, 0, 1000);
        assert_eq!((peek.allowed, peek.remaining, none), (true, 1, None));
        assert!(Gcra::new(Rate::new(0, Duration::from_secs(1))).is_err());
    }

    #[test]
    fn gcra_refund_gives_back_what_a_step_took_and_never_more() {
        let g = Gcra::new(Rate::new(3, Duration::from_secs(3))).unwrap();
        let (_, tat) = g.step(None, 1, 0);
        let (_, tat) = g.step(tat, 1, 0);
        assert_eq!(tat, Some(2000));
        // One back: as if only one step had been taken.
        assert_eq!(g.refund(tat, 1, 0), Some(Some(1000)));
        // More than was taken: full, not beyond.
        assert_eq!(g.refund(tat, 5, 0), Some(None));
        // Nothing to give back from a full bucket or a dead record.
        assert_eq!(g.refund(None, 1, 0), None);
        assert_eq!(g.refund(Some(500), 1, 500), None);
        // Time passed: the refund moves the TAT back by one interval, to full at most.
        assert_eq!(g.refund(Some(2000), 1, 1500), Some(None));
        assert_eq!(g.refund(Some(3000), 1, 1500), Some(Some(2000)));
    }
}
