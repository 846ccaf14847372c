//! Ephemeral records as JSON: the sign-in ceremonies (federated sign-in, passkeys) keep
//! their state in the state store between steps, each under a fresh random key.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_core::time::Timestamp;
use tessera_store::EphemeralKey;

use super::AuthCore;
use crate::auth::error::AuthError;

impl AuthCore {
    /// Stores `value` under `key` for `ttl`. Keys are fresh random ids, so "already
    /// present" does not happen.
    pub(crate) async fn put_record<T: Serialize>(
        &self,
        key: &EphemeralKey,
        value: &T,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let bytes = serde_json::to_vec(value).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store.put_if_absent(key, &bytes, ttl, now).await?;
        Ok(())
    }

    /// The record under `key`, left in place; `None` when missing, expired or not a `T`.
    pub(crate) async fn read_record<T: DeserializeOwned>(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<T>, AuthError> {
        let raw = self.store.get(key, now).await?;
        Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
    }

    /// The record under `key`, taken (read and deleted in one step: of concurrent takers,
    /// one gets it); `None` when missing, expired or not a `T`.
    pub(crate) async fn take_record<T: DeserializeOwned>(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<T>, AuthError> {
        let raw = self.store.take(key, now).await?;
        Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
    }
}
