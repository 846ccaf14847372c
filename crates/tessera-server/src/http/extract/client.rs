//! Client facts from the request.

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::device::ClientInfo;
use crate::http::forwarded::ClientAddr;

/// The caller's `User-Agent` and address (absent when the server was not started with
/// connect info, as in router tests).
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// `User-Agent` header, if valid text.
    pub user_agent: Option<String>,
    /// Client address: the TCP peer, or behind a trusted proxy the address its forwarding
    /// headers name (resolved once per request by [`crate::http::forwarded::resolve`]).
    pub ip: Option<IpAddr>,
}

impl Client {
    /// What the audit trail and a new session record of this client (no device name).
    pub fn info(&self) -> ClientInfo {
        ClientInfo::new(self.user_agent.as_deref(), self.ip, None)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client {
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ip: ClientAddr::of(&parts.extensions),
        })
    }
}
