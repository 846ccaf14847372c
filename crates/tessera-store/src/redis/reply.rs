//! Decoding of script replies and encoding of script arguments. A reply that does not have
//! the documented shape is a [`StoreError::Protocol`], never a panic.

use std::time::Duration;

use redis::Value;
use tessera_core::time::Timestamp;

use super::error::protocol;
use crate::error::StoreError;

/// Largest millisecond value handed to a script (year ≈ 33 658): far beyond any real
/// deadline, small enough that Lua's doubles stay exact and sums cannot overflow.
const MAX_MS: i64 = 1_000_000_000_000_000;

/// A timestamp as script argument (ms, clamped to `0..=MAX_MS`).
pub(crate) fn ts_arg(t: Timestamp) -> i64 {
    t.as_millis().clamp(0, MAX_MS)
}

/// A duration as script argument (ms, clamped to `0..=MAX_MS`).
pub(crate) fn dur_arg(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(MAX_MS).min(MAX_MS)
}

/// The elements of an array reply.
pub(crate) fn array(v: Value) -> Result<Vec<Value>, StoreError> {
    match v {
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(protocol(format!("expected an array reply, got {other:?}"))),
    }
}

/// An integer reply (or a bulk string holding a decimal integer).
pub(crate) fn int(v: &Value) -> Result<i64, StoreError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| protocol("expected a decimal integer")),
        other => Err(protocol(format!(
            "expected an integer reply, got {other:?}"
        ))),
    }
}

/// A zset score (`WITHSCORES`: a double, as a bulk string on RESP2) as whole milliseconds.
pub(crate) fn score(v: Value) -> Result<i64, StoreError> {
    let f = match v {
        Value::Double(f) => f,
        other => string(other)?
            .parse::<f64>()
            .map_err(|_| protocol("expected a score"))?,
    };
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_MS as f64 {
        #[allow(clippy::cast_possible_truncation)]
        Ok(f as i64)
    } else {
        Err(protocol("expected a whole-millisecond score"))
    }
}

/// A non-negative integer reply.
pub(crate) fn uint(v: &Value) -> Result<u64, StoreError> {
    u64::try_from(int(v)?).map_err(|_| protocol("expected a non-negative integer"))
}

/// A bulk string reply.
pub(crate) fn bytes(v: Value) -> Result<Vec<u8>, StoreError> {
    match v {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        other => Err(protocol(format!("expected a string reply, got {other:?}"))),
    }
}

/// A UTF-8 string reply.
pub(crate) fn string(v: Value) -> Result<String, StoreError> {
    String::from_utf8(bytes(v)?).map_err(|_| protocol("expected UTF-8"))
}

/// A bulk string of exactly `N` bytes.
pub(crate) fn fixed<const N: usize>(v: Value) -> Result<[u8; N], StoreError> {
    <[u8; N]>::try_from(bytes(v)?).map_err(|_| protocol(format!("expected {N} bytes")))
}

/// An optional (nil) value: `None` for `Nil`.
pub(crate) fn opt(v: Value) -> Option<Value> {
    match v {
        Value::Nil => None,
        other => Some(other),
    }
}
