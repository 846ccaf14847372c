//! The ephemeral-record and per-user-map rules of [`State`].

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::State;
use crate::ephemeral::{Attempts, EphemeralKey, Gcra, Rate, Throttle};
use crate::error::StoreError;

/// Ephemeral records and per-user maps (mirroring `put_if_absent.lua`, `take.lua`,
/// `count_attempt.lua`, `throttle.lua`, `map_put.lua`, `map_clear.lua` and the plain
/// commands of the Redis backend). Keys and names are validated by the caller.
/// How much later than its own time a request may be judged: the latest arrival a bucket
/// has seen, when run out of order (as `REORDER_MS` in `throttle.lua`).
const REORDER_MS: i64 = 1000;

impl State {
    /// The live record under `key` at `now` (ms).
    fn live_record(&self, key: &EphemeralKey, now: i64) -> Option<&(i64, Vec<u8>)> {
        self.ephemeral.get(key).filter(|(exp, _)| *exp > now)
    }

    pub(in crate::memory) fn put_if_absent(
        &mut self,
        key: &EphemeralKey,
        value: &[u8],
        exp: i64,
        now: i64,
    ) -> bool {
        if exp <= now || self.live_record(key, now).is_some() {
            return false;
        }
        self.ephemeral.insert(key.clone(), (exp, value.to_vec()));
        true
    }

    pub(in crate::memory) fn get(&self, key: &EphemeralKey, now: i64) -> Option<Vec<u8>> {
        self.live_record(key, now).map(|(_, v)| v.clone())
    }

    pub(in crate::memory) fn take(&mut self, key: &EphemeralKey, now: i64) -> Option<Vec<u8>> {
        self.ephemeral
            .remove(key)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v)
    }

    pub(in crate::memory) fn delete(&mut self, key: &EphemeralKey) -> bool {
        self.ephemeral.remove(key).is_some()
    }

    pub(in crate::memory) fn count_attempt(
        &mut self,
        key: &EphemeralKey,
        max: u32,
        exp: i64,
        now: i64,
    ) -> Result<Attempts, StoreError> {
        let (used, exp) = match self.live_record(key, now) {
            Some((live_exp, payload)) => {
                let n: u64 = std::str::from_utf8(payload)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| StoreError::Protocol("not an attempt counter".into()))?;
                (n.saturating_add(1), *live_exp)
            }
            None => (1, exp),
        };
        if exp > now {
            self.ephemeral
                .insert(key.clone(), (exp, used.to_string().into_bytes()));
        } else {
            self.ephemeral.remove(key);
        }
        Ok(Attempts {
            used: u32::try_from(used).unwrap_or(u32::MAX),
            max,
        })
    }

    pub(in crate::memory) fn throttle(
        &mut self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: i64,
    ) -> Result<Throttle, StoreError> {
        let gcra = Gcra::new(rate)?;
        let record = self.live_record(key, now);
        let tat = record.map(|(exp, _)| *exp);
        // Judged at the latest arrival seen when later than this one (see throttle.lua).
        let seen = record
            .and_then(|(_, p)| <[u8; 8]>::try_from(p.as_slice()).ok())
            .map(i64::from_be_bytes);
        let now = seen
            .filter(|s| *s > now && *s - now <= REORDER_MS)
            .unwrap_or(now);
        let (verdict, store) = gcra.step(tat, cost, now);
        if let Some(tat) = store {
            self.ephemeral
                .insert(key.clone(), (tat, now.to_be_bytes().to_vec()));
        }
        Ok(verdict)
    }

    pub(in crate::memory) fn refund(
        &mut self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let gcra = Gcra::new(rate)?;
        let record = self.live_record(key, now);
        let tat = record.map(|(exp, _)| *exp);
        let seen = record.map(|(_, p)| p.clone()).unwrap_or_default();
        match gcra.refund(tat, cost, now) {
            None => Ok(false),
            Some(Some(tat)) => {
                self.ephemeral.insert(key.clone(), (tat, seen));
                Ok(true)
            }
            Some(None) => {
                self.ephemeral.remove(key);
                Ok(true)
            }
        }
    }

    pub(in crate::memory) fn map_put(
        &mut self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        exp: i64,
        now: i64,
    ) {
        let id = (user, map.to_owned());
        let entries = self.maps.entry(id.clone()).or_default();
        entries.retain(|_, (e, _)| *e > now);
        if exp > now {
            entries.insert(field.to_owned(), (exp, value.to_vec()));
        } else {
            entries.remove(field);
        }
        if entries.is_empty() {
            self.maps.remove(&id);
        }
    }

    pub(in crate::memory) fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: i64,
    ) -> Option<Vec<u8>> {
        self.maps
            .get(&(user, map.to_owned()))?
            .get(field)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v.clone())
    }

    pub(in crate::memory) fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: i64,
    ) -> Vec<(String, Vec<u8>, Timestamp)> {
        let Some(entries) = self.maps.get(&(user, map.to_owned())) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|(_, (exp, _))| *exp > now)
            .map(|(f, (exp, v))| (f.clone(), v.clone(), Timestamp::from_millis(*exp)))
            .collect()
    }

    pub(in crate::memory) fn map_remove(&mut self, user: UserId, map: &str, field: &str) -> bool {
        let id = (user, map.to_owned());
        let Some(entries) = self.maps.get_mut(&id) else {
            return false;
        };
        let removed = entries.remove(field).is_some();
        if entries.is_empty() {
            self.maps.remove(&id);
        }
        removed
    }

    pub(in crate::memory) fn map_clear(&mut self, user: UserId, map: &str) -> u64 {
        self.maps
            .remove(&(user, map.to_owned()))
            .map_or(0, |e| e.len() as u64)
    }
}
