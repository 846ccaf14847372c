//! [`UserMaps`] on Redis: one hash per map, `P{u:UID}:m:MAP`, field → exp (8 bytes) + value.
//! Writes that must prune or count are scripts (`map_put.lua`, `map_clear.lua`); reads and
//! single removals are plain `HGET`, `HGETALL`, `HDEL`, whose expiry check happens here
//! against the caller's `now`.

use async_trait::async_trait;
use redis::Value;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::RedisStore;
use super::ephemeral::live_payload;
use crate::ephemeral::{check_map, decode_record, encode_record, ms};
use crate::error::StoreError;
use crate::redis::error::protocol;
use crate::redis::reply;
use crate::redis::scripts;
use crate::store::UserMaps;

impl RedisStore {
    /// The Redis key of a validated map (and field).
    fn map_key(&self, user: UserId, map: &str, field: Option<&str>) -> Result<String, StoreError> {
        check_map(map, field)?;
        Ok(self.keys(user).map(map))
    }
}

#[async_trait]
impl UserMaps for RedisStore {
    async fn map_put(
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

    async fn map_get(
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

    async fn map_list(
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

    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError> {
        let k = self.map_key(user, map, Some(field))?;
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(k).arg(field);
        Ok(reply::uint(&self.query(cmd).await?)? > 0)
    }

    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError> {
        let k = self.map_key(user, map, None)?;
        let mut inv = scripts::MAP_CLEAR.prepare_invoke();
        inv.key(k);
        reply::uint(&self.run(&inv).await?)
    }
}
