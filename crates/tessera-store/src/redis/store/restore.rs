//! [`SessionRestore`] on Redis: `restore_session.lua`, on the user's one slot (the session,
//! its index, the version and its denylist entries all carry the user's hash tag).

use async_trait::async_trait;
use tessera_core::time::Timestamp;

use super::RedisStore;
use super::counters::Delta;
use crate::error::StoreError;
use crate::model::{RestoreOutcome, RestoredSession};
use crate::redis::error::protocol;
use crate::redis::keys::UserKeys;
use crate::redis::reply::{self, dur_arg, ts_arg};
use crate::redis::scripts;
use crate::store::SessionRestore;

/// The first element of a `restore_session.lua` reply (see the script's header).
mod status {
    /// The store holds a record of the session: nothing changed.
    pub(super) const PRESENT: i64 = 0;
    /// Written back.
    pub(super) const RESTORED: i64 = 1;
    /// Dead at `now`: not written.
    pub(super) const DEAD: i64 = 2;
}

#[async_trait]
impl SessionRestore for RedisStore {
    async fn restore_session(
        &self,
        r: RestoredSession,
        now: Timestamp,
    ) -> Result<RestoreOutcome, StoreError> {
        let k = self.keys(r.user);
        let mut inv = scripts::RESTORE_SESSION.prepare_invoke();
        inv.key(k.session(r.session))
            .key(k.index())
            .key(k.version())
            .key(k.gone(r.session));
        for d in &r.denied {
            inv.key(k.denied(d.jti));
        }
        inv.arg(ts_arg(now))
            .arg(UserKeys::member(r.session))
            .arg(ts_arg(r.created_at))
            .arg(ts_arg(r.last_seen))
            .arg(dur_arg(r.idle_timeout))
            .arg(ts_arg(r.absolute_expiry))
            .arg(r.opened_under)
            .arg(r.token_version)
            .arg(r.current.as_bytes().as_slice())
            .arg(
                r.previous
                    .map(|p| p.as_bytes().to_vec())
                    .unwrap_or_default(),
            )
            .arg(r.seed.map(|s| s.0.to_vec()).unwrap_or_default())
            .arg(
                r.refresh_generation
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            )
            .arg(r.binding.map(|b| b.as_bytes().to_vec()).unwrap_or_default())
            .arg(r.attributes.as_bytes());
        for d in &r.denied {
            inv.arg(ts_arg(d.expires_at));
        }
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let code = reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let delta = Delta::read(&mut items, Delta::S)?;
        self.count(delta).await;
        match code {
            status::PRESENT => Ok(RestoreOutcome::Present),
            status::RESTORED => Ok(RestoreOutcome::Restored),
            status::DEAD => Ok(RestoreOutcome::Dead),
            other => Err(protocol(format!("unknown restore status {other}"))),
        }
    }
}
