//! Trusted devices (`/v1/devices/trusted*`): a device that completed a second step with
//! `trust_device` skips the factor until its record expires.

use serde::Serialize;
use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use super::SecondFactorService;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::mfa::trusted::{self, TrustCookie, TrustedDevice};

/// A trusted device as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TrustedDeviceView {
    /// Id (use it to revoke).
    pub id: String,
    /// Label.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl SecondFactorService {
    /// The caller's trusted devices.
    pub async fn trusted_devices(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<TrustedDeviceView>, AuthError> {
        let entries = self.core.store.map_list(user, trusted::MAP, now).await?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, value, expires)| {
                let d: TrustedDevice = serde_json::from_slice(&value).ok()?;
                Some(TrustedDeviceView {
                    id,
                    name: d.n,
                    created_at: crate::rfc3339::format(Timestamp::from_secs(d.c)),
                    expires_at: crate::rfc3339::format(expires),
                })
            })
            .collect())
    }

    /// Revokes one trusted device; 404 when the caller has none with that id.
    pub async fn remove_trusted_device(
        &self,
        caller: &AccessClaims,
        id: &str,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if !trusted::is_device_id(id)
            || !self
                .core
                .store
                .map_remove(caller.sub, trusted::MAP, id)
                .await?
        {
            return Err(AuthError::DeviceNotFound);
        }
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::TrustedDeviceRemoved, caller.sub, now)
                    .session(caller.sid)
                    .details(json!({"device_id": id})),
            )
            .await;
        Ok(())
    }

    /// The device id of a valid trust cookie for `user`, if the request has one (a sign-in
    /// with it skips the second factor).
    pub(crate) async fn trusted_device(
        &self,
        user: UserId,
        cookie: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<String>, AuthError> {
        let Some(cookie) = cookie.and_then(TrustCookie::parse) else {
            return Ok(None);
        };
        if cookie.user != user {
            return Ok(None);
        }
        let stored = self
            .core
            .store
            .map_get(user, trusted::MAP, &cookie.device, now)
            .await?;
        let stored: Option<TrustedDevice> = stored.and_then(|v| serde_json::from_slice(&v).ok());
        Ok(stored.filter(|d| cookie.matches(d)).map(|_| cookie.device))
    }
}
