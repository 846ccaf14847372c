//! [`EventLog`] on Redis: `push_event.lua` writes and trims; reading is one plain
//! `ZRANGE … BYSCORE REV LIMIT … WITHSCORES`.

use async_trait::async_trait;
use redis::Value;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::RedisStore;
use crate::error::StoreError;
use crate::model::{EVENT_MAX_PER_USER, EVENT_RETENTION, SecurityEventRecord, event_member};
use crate::redis::error::protocol;
use crate::redis::reply::{self, dur_arg, ts_arg};
use crate::redis::scripts;
use crate::store::EventLog;

#[async_trait]
impl EventLog for RedisStore {
    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut inv = scripts::PUSH_EVENT.prepare_invoke();
        inv.key(self.keys(user).events())
            .arg(ts_arg(now))
            .arg(ts_arg(event.at))
            .arg(event_member(&event))
            .arg(dur_arg(EVENT_RETENTION))
            .arg(EVENT_MAX_PER_USER);
        reply::int(&self.run(&inv).await?)?;
        Ok(())
    }

    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let max = before.map_or_else(|| "+inf".to_owned(), |b| format!("({}", ts_arg(b)));
        let min = format!("({}", ts_arg(now.minus(EVENT_RETENTION)));
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.keys(user).events())
            .arg(max)
            .arg(min)
            .arg("BYSCORE")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(
                u64::try_from(limit)
                    .unwrap_or(u64::MAX)
                    .min(i64::MAX as u64),
            )
            .arg("WITHSCORES");
        let mut conn = self.conn.clone();
        let items = reply::array(self.bounded(cmd.query_async::<Value>(&mut conn)).await?)?;
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let Some(member) = items.next() {
            let score = items
                .next()
                .ok_or_else(|| protocol("event without score"))?;
            out.push(decode_event(reply::bytes(member)?, reply::score(score)?)?);
        }
        Ok(out)
    }
}

/// An event from its zset member (`len(id)` `:` id payload) and score (`at`, ms).
fn decode_event(member: Vec<u8>, at: i64) -> Result<SecurityEventRecord, StoreError> {
    let bad = || protocol("malformed event member");
    let colon = member.iter().position(|b| *b == b':').ok_or_else(bad)?;
    let len: usize = std::str::from_utf8(&member[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let rest = member.get(colon + 1..).ok_or_else(bad)?;
    let id = rest.get(..len).ok_or_else(bad)?;
    let payload = rest.get(len..).ok_or_else(bad)?;
    Ok(SecurityEventRecord {
        id: String::from_utf8(id.to_vec()).map_err(|_| bad())?,
        at: Timestamp::from_millis(at),
        payload: String::from_utf8(payload.to_vec()).map_err(|_| bad())?,
    })
}
