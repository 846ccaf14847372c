//! [`EphemeralStore`] on Redis (see [`crate::ephemeral`]): one script or one command on one
//! slot each. Writes are scripts (`put_if_absent`, `take`, `count_attempt`, `throttle`,
//! `refund`); reads and plain deletes are single commands (`GET`, `DEL`) whose expiry check
//! happens here against the caller's `now`.

use std::time::Duration;

use async_trait::async_trait;
use redis::Value;
use tessera_core::time::Timestamp;

use super::RedisStore;
use crate::ephemeral::{
    Attempts, EphemeralKey, Gcra, Rate, Throttle, decode_record, dur_ms, encode_record, ms,
};
use crate::error::StoreError;
use crate::redis::error::protocol;
use crate::redis::keys::ephemeral_key;
use crate::redis::reply;
use crate::redis::scripts;
use crate::store::EphemeralStore;

/// `put_if_absent.lua` reply: the record was written (else `0`).
const WRITTEN: i64 = 1;
/// First element of a `throttle.lua` reply: the request is allowed (else `0`).
const ALLOWED: i64 = 1;
/// `refund.lua` reply: the bucket held something to give back (else `0`).
const REFUNDED: i64 = 1;

impl RedisStore {
    /// The Redis key of a validated ephemeral key.
    fn eph_key(&self, key: &EphemeralKey) -> Result<String, StoreError> {
        key.validate()?;
        Ok(ephemeral_key(&self.prefix, key))
    }
}

#[async_trait]
impl EphemeralStore for RedisStore {
    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let k = self.eph_key(key)?;
        let exp = ms(now).saturating_add(dur_ms(ttl));
        let mut inv = scripts::PUT_IF_ABSENT.prepare_invoke();
        inv.key(k)
            .arg(ms(now))
            .arg(exp)
            .arg(encode_record(exp, value));
        Ok(reply::int(&self.run(&inv).await?)? == WRITTEN)
    }

    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.eph_key(key)?;
        let mut cmd = redis::cmd("GET");
        cmd.arg(k);
        live_payload(self.query(cmd).await?, now)
    }

    async fn take(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.eph_key(key)?;
        let mut inv = scripts::TAKE.prepare_invoke();
        inv.key(k).arg(ms(now));
        reply::opt(self.run(&inv).await?)
            .map(reply::bytes)
            .transpose()
    }

    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError> {
        let k = self.eph_key(key)?;
        let mut cmd = redis::cmd("DEL");
        cmd.arg(k);
        Ok(reply::uint(&self.query(cmd).await?)? > 0)
    }

    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError> {
        let k = self.eph_key(key)?;
        let exp = ms(now).saturating_add(dur_ms(ttl));
        let mut inv = scripts::COUNT_ATTEMPT.prepare_invoke();
        inv.key(k)
            .arg(ms(now))
            .arg(exp)
            .arg(exp.to_be_bytes().as_slice());
        let used = reply::uint(&self.run(&inv).await?)?;
        Ok(Attempts {
            used: u32::try_from(used).unwrap_or(u32::MAX),
            max,
        })
    }

    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError> {
        let k = self.eph_key(key)?;
        let gcra = Gcra::new(rate)?;
        let mut inv = scripts::THROTTLE.prepare_invoke();
        inv.key(k)
            .arg(ms(now))
            .arg(gcra.interval)
            .arg(gcra.capacity)
            .arg(cost);
        let items = reply::array(self.run(&inv).await?)?;
        let [allowed, retry, remaining] = items.as_slice() else {
            return Err(protocol("throttle reply"));
        };
        Ok(Throttle {
            allowed: reply::int(allowed)? == ALLOWED,
            retry_after: Duration::from_millis(reply::uint(retry)?),
            remaining: u32::try_from(reply::uint(remaining)?).unwrap_or(u32::MAX),
        })
    }

    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let k = self.eph_key(key)?;
        let gcra = Gcra::new(rate)?;
        let mut inv = scripts::REFUND.prepare_invoke();
        inv.key(k).arg(ms(now)).arg(gcra.interval).arg(cost);
        Ok(reply::int(&self.run(&inv).await?)? == REFUNDED)
    }
}

/// The payload of a stored record (a `GET`/`HGET` reply) when it is live at `now`.
pub(super) fn live_payload(v: Value, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(v) = reply::opt(v) else {
        return Ok(None);
    };
    let raw = reply::bytes(v)?;
    let (exp, payload) = decode_record(&raw)?;
    Ok((exp > ms(now)).then(|| payload.to_vec()))
}
