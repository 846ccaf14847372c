//! The ephemeral-record methods of [`RedisStore`] (see [`crate::ephemeral`]): one script or
//! one command on one slot each. Writes are scripts (`put_if_absent`, `take`,
//! `count_attempt`, `throttle`, `map_put`, `map_clear`); reads and plain deletes are single
//! commands (`GET`, `DEL`, `HGET`, `HGETALL`, `HDEL`) whose expiry check happens here against
//! the caller's `now`.

use std::time::Duration;

use redis::Value;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::RedisStore;
use crate::ephemeral::{
    Attempts, EphemeralKey, Gcra, Rate, Throttle, check_map, decode_record, dur_ms, encode_record,
    ms,
};
use crate::error::StoreError;
use crate::redis::error::protocol;
use crate::redis::keys::ephemeral_key;
use crate::redis::reply;
use crate::redis::scripts;

impl RedisStore {
    /// The Redis key of a validated ephemeral key.
    fn eph_key(&self, key: &EphemeralKey) -> Result<String, StoreError> {
        key.validate()?;
        Ok(ephemeral_key(&self.prefix, key))
    }

    /// The Redis key of a validated map (and field).
    fn map_key(&self, user: UserId, map: &str, field: Option<&str>) -> Result<String, StoreError> {
        check_map(map, field)?;
        Ok(self.keys(user).map(map))
    }

    /// One plain command.
    async fn query(&self, cmd: redis::Cmd) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(cmd.query_async::<Value>(&mut conn)).await
    }

    pub(super) async fn eph_put_if_absent(
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
        Ok(reply::int(&self.run(&inv).await?)? == 1)
    }

    pub(super) async fn eph_get(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.eph_key(key)?;
        let mut cmd = redis::cmd("GET");
        cmd.arg(k);
        live_payload(self.query(cmd).await?, now)
    }

    pub(super) async fn eph_take(
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

    pub(super) async fn eph_delete(&self, key: &EphemeralKey) -> Result<bool, StoreError> {
        let k = self.eph_key(key)?;
        let mut cmd = redis::cmd("DEL");
        cmd.arg(k);
        Ok(reply::uint(&self.query(cmd).await?)? > 0)
    }

    pub(super) async fn eph_count_attempt(
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

    pub(super) async fn eph_throttle(
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
            allowed: reply::int(allowed)? == 1,
            retry_after: Duration::from_millis(reply::uint(retry)?),
            remaining: u32::try_from(reply::uint(remaining)?).unwrap_or(u32::MAX),
        })
    }

    pub(super) async fn eph_refund(
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
        Ok(reply::int(&self.run(&inv).await?)? == 1)
    }

    pub(super) async fn eph_map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let k = self.map_key(user, map, Some(field))?;
        let exp = ms(expires_at);
        let mut inv = scripts::MAP_PUT.prepare_invoke();
        inv.key(k)
            .arg(ms(now))
            .arg(field)
            .arg(encode_record(exp, value))
            .arg(exp);
        reply::int(&self.run_idempotent(&inv).await?)?;
        Ok(())
    }

    pub(super) async fn eph_map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.map_key(user, map, Some(field))?;
        let mut cmd = redis::cmd("HGET");
        cmd.arg(k).arg(field);
        live_payload(self.query(cmd).await?, now)
    }

    pub(super) async fn eph_map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError> {
        let k = self.map_key(user, map, None)?;
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(k);
        let pairs: Vec<(Value, Value)> = match self.query(cmd).await? {
            Value::Map(pairs) => pairs,
            other => {
                let mut flat = reply::array(other)?.into_iter();
                let mut pairs = Vec::new();
                while let Some(f) = flat.next() {
                    let v = flat.next().ok_or_else(|| protocol("HGETALL reply"))?;
                    pairs.push((f, v));
                }
                pairs
            }
        };
        let now = ms(now);
        let mut out = Vec::with_capacity(pairs.len());
        for (f, v) in pairs {
            let raw = reply::bytes(v)?;
            let (exp, payload) = decode_record(&raw)?;
            if exp > now {
                out.push((
                    reply::string(f)?,
                    payload.to_vec(),
                    Timestamp::from_millis(exp),
                ));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    pub(super) async fn eph_map_remove(
        &self,
        user: UserId,
        map: &str,
        field: &str,
    ) -> Result<bool, StoreError> {
        let k = self.map_key(user, map, Some(field))?;
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(k).arg(field);
        Ok(reply::uint(&self.query(cmd).await?)? > 0)
    }

    pub(super) async fn eph_map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError> {
        let k = self.map_key(user, map, None)?;
        let mut inv = scripts::MAP_CLEAR.prepare_invoke();
        inv.key(k);
        reply::uint(&self.run(&inv).await?)
    }
}

/// The payload of a stored record (a `GET`/`HGET` reply) when it is live at `now`.
fn live_payload(v: Value, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(v) = reply::opt(v) else {
        return Ok(None);
    };
    let raw = reply::bytes(v)?;
    let (exp, payload) = decode_record(&raw)?;
    Ok((exp > ms(now)).then(|| payload.to_vec()))
}
