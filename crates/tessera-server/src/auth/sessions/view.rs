//! A user's live sessions as listed (`GET /v1/sessions`, the admin API, `tessera sessions
//! list`).

use serde::Serialize;
use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_store::SessionRecord;

use super::SessionService;
use crate::auth::error::AuthError;
use crate::device::ClientInfo;

/// Device of a session as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// Client-given name.
    pub name: Option<String>,
    /// Browser and major version.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// `desktop`, `mobile`, `bot` or `other`.
    pub kind: String,
}

/// One session as listed by `GET /v1/sessions`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Id.
    #[schema(value_type = uuid::Uuid)]
    pub id: SessionId,
    /// Device.
    pub device: DeviceView,
    /// Address it signed in from.
    pub ip: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Last sign-in or refresh, RFC 3339.
    pub last_seen_at: String,
    /// When it ends unless refreshed, RFC 3339.
    pub expires_at: String,
    /// Whether it is the session of the request's token.
    pub current: bool,
    /// Whether the device is trusted to skip the second factor.
    pub trusted: bool,
}

impl SessionView {
    fn from_record(
        r: SessionRecord,
        current: Option<SessionId>,
        trusted: &std::collections::HashSet<String>,
    ) -> Self {
        let c = ClientInfo::from_attributes(&r.attributes);
        let some = |s: String| (!s.is_empty()).then_some(s);
        Self {
            id: r.session,
            device: DeviceView {
                name: c.device_name,
                browser: some(c.browser),
                os: some(c.os),
                kind: if c.kind.is_empty() {
                    "other".to_owned()
                } else {
                    c.kind
                },
            },
            ip: c.ip.map(|ip| ip.to_string()),
            created_at: crate::rfc3339::format(r.created_at),
            last_seen_at: crate::rfc3339::format(r.last_seen_at),
            expires_at: crate::rfc3339::format(r.expires_at),
            current: Some(r.session) == current,
            trusted: c
                .trusted_device
                .as_ref()
                .is_some_and(|d| trusted.contains(d)),
        }
    }
}

impl SessionService {
    /// The user's live sessions, oldest first; `current` marks the caller's.
    pub async fn list(
        &self,
        user: UserId,
        current: Option<SessionId>,
        now: Timestamp,
    ) -> Result<Vec<SessionView>, AuthError> {
        let records = self.core.store.list_sessions(user, now).await?;
        let trusted = if records.iter().any(|r| r.attributes.contains("\"td\"")) {
            self.core
                .store
                .map_list(user, crate::mfa::trusted::MAP, now)
                .await?
                .into_iter()
                .map(|(id, _, _)| id)
                .collect()
        } else {
            std::collections::HashSet::new()
        };
        Ok(records
            .into_iter()
            .map(|r| SessionView::from_record(r, current, &trusted))
            .collect())
    }
}
