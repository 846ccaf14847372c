//! [`UserMaps`]: per-user maps whose entries expire individually (trusted devices).

use async_trait::async_trait;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use crate::error::StoreError;

/// Named maps of one user, field → value, each entry with its own expiry.
///
/// Map names: at most 200 bytes, no `{`/`}`; fields: at most 200 bytes, any characters; a bad
/// one is a [`StoreError::Protocol`] and nothing is written. Every method is one atomic step
/// on the user's slot (a script or a single command, named on each). None publishes a
/// notice.
#[async_trait]
pub trait UserMaps: Send + Sync {
    /// Sets `field` of `user`'s map `map` to `value` until `expires_at`, replacing any entry.
    /// An `expires_at` at or before `now` removes the field instead.
    ///
    /// Atomic (`map_put.lua`), and writes more than the one field: drops the map's expired
    /// entries on the way.
    async fn map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The live value of `field` in `user`'s map `map`. Read only (one `HGET`).
    async fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// The live entries of `user`'s map `map` with their expiry, sorted by field (byte
    /// order). Read only (one `HGETALL`: the entries of one instant).
    async fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError>;

    /// Removes `field` (one `HDEL`). `true` when it was stored (live, or dead but not yet
    /// pruned).
    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError>;

    /// Removes the whole map (`map_clear.lua`: count and delete together); returns how many
    /// entries were stored (live, or dead but not yet pruned).
    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError>;
}
