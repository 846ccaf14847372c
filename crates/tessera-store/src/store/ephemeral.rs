//! [`EphemeralStore`]: short-lived records for account security (see [`crate::ephemeral`]).

use std::time::Duration;

use async_trait::async_trait;
use tessera_core::time::Timestamp;

use crate::ephemeral::{Attempts, EphemeralKey, Rate, Throttle};
use crate::error::StoreError;

/// Values taken once, attempt counters and GCRA throttles under an [`EphemeralKey`].
///
/// Common rules: keys are validated first (at most 200 bytes, no `{`/`}` in tags and names):
/// a bad one is a [`StoreError::Protocol`] and nothing is written. Every record expires by
/// itself; a record whose expiry is at or before `now` behaves as missing. Values are
/// binary-safe. The record kinds share one namespace per key: a counter or throttle record
/// read with `get`/`take` shows its internal payload (decimal count / nothing);
/// `count_attempt` on a live record that is not a counter fails with
/// [`StoreError::Protocol`]. Every method is one atomic step on the key's one slot (a script
/// or a single command, named on each). None publishes a notice.
#[async_trait]
pub trait EphemeralStore: Send + Sync {
    /// Writes `value` under `key` until `now + ttl` unless a live record is there. `true` =
    /// written (the caller claimed the key; of concurrent callers exactly one wins). A zero
    /// `ttl` writes nothing and returns `false`. A dead record is overwritten.
    ///
    /// Atomic (`put_if_absent.lua`): check and write together.
    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The live value under `key`. Read only (one `GET`; the expiry is checked against `now`
    /// by the caller's side, so a dead record not yet reclaimed reads as `None`).
    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomic get + delete (`take.lua`): the live value under `key`, which is gone
    /// afterwards. Of N concurrent takers exactly one gets `Some`. A dead record is deleted
    /// too (`None`).
    async fn take(&self, key: &EphemeralKey, now: Timestamp)
    -> Result<Option<Vec<u8>>, StoreError>;

    /// Deletes `key` (one `DEL`). `true` when a record was stored — without `now` the store
    /// cannot tell whether it was still live, so a dead record not yet reclaimed counts too.
    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError>;

    /// Counts one attempt under `key` and returns the count. The first attempt (no live
    /// counter) opens a window of `ttl` from `now`; later attempts add to it without
    /// extending it (the window does not slide); once the window has passed the count
    /// restarts at 1. `used > max` means exhausted ([`Attempts::exhausted`]); counting goes
    /// on past `max`. A zero `ttl` stores nothing (every call answers `used: 1`).
    ///
    /// Atomic (`count_attempt.lua`): concurrent increments each get a distinct count.
    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError>;

    /// GCRA rate limiting on `key` at `now`: a request of weight `cost` is allowed when the
    /// bucket holds `cost` (see [`Rate`]), and is then counted; a refused request changes
    /// nothing. Cost 0 peeks: it reports what a cost-1 request would see (allowed,
    /// retry_after, remaining) and stores nothing. The record lives until the bucket is full
    /// again. Shared by every process on the same store: that is the point. A `rate` with a
    /// zero burst is a [`StoreError::Protocol`].
    ///
    /// Atomic (`throttle.lua`): N concurrent requests never get more than the burst.
    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError>;

    /// Gives back `cost` that an allowed [`throttle`](Self::throttle) of `key` took: the
    /// bucket's TAT moves back by `cost` intervals of `rate`, never beyond a full bucket.
    /// `true` when the bucket held something to give back. A refund whose charge has already
    /// refilled by itself gives back nothing more than the bucket lacks.
    ///
    /// Atomic like `throttle` (`refund.lua`), so a budget can be *reserved* before a slow
    /// check (charge first, refund on success) and N concurrent checks never get more than
    /// the burst between them.
    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}
