//! Trusted devices: after a completed second factor with `trust_device: true`, a hardened
//! cookie lets that browser skip the second factor for that user only, for a configurable
//! time (30 days by default).
//!
//! Cookie value: `td_<base64url(user id ‖ device id ‖ secret)>`; the state store keeps, in the
//! user's map `trusted`, the device id → SHA-256 of the secret, name and creation time, with
//! the entry's own expiry. A cookie for another user, an unknown or revoked device, or a
//! wrong secret is simply not trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tessera_core::ids::UserId;
use tessera_core::refresh::TokenHash;

/// Cookie name.
pub const COOKIE: &str = "__Host-tessera_td";
/// Name of the per-user map in the state store.
pub const MAP: &str = "trusted";

/// Whether `id` has the shape of a device id (a hyphenated UUID). Anything else cannot
/// name a device and is answered without asking the store (whose field names are limited).
pub fn is_device_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// A parsed trust cookie.
pub struct TrustCookie {
    /// Whose.
    pub user: UserId,
    /// Device id (the map field).
    pub device: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for TrustCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustCookie")
            .field("user", &self.user)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// What the map holds per device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrustedDevice {
    /// Hex SHA-256 of the secret.
    pub h: String,
    /// Label (`Firefox 128 on Linux`).
    pub n: String,
    /// Created, Unix seconds.
    pub c: i64,
}

impl TrustCookie {
    /// A new device for `user`.
    pub fn generate(user: UserId) -> Self {
        let mut id = [0u8; 16];
        let mut secret = [0u8; 32];
        rand::fill(&mut id);
        rand::fill(&mut secret);
        Self {
            user,
            device: uuid::Uuid::from_bytes(id).to_string(),
            secret,
        }
    }

    /// Parses a cookie value; `None` for anything malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(value.strip_prefix("td_")?).ok()?;
        if raw.len() != 64 {
            return None;
        }
        let user = UserId::from_bytes(raw[..16].try_into().ok()?);
        let device = uuid::Uuid::from_bytes(raw[16..32].try_into().ok()?).to_string();
        let secret: [u8; 32] = raw[32..].try_into().ok()?;
        Some(Self {
            user,
            device,
            secret,
        })
    }

    /// The cookie value.
    pub fn value(&self) -> String {
        let mut raw = Vec::with_capacity(64);
        raw.extend_from_slice(self.user.as_bytes());
        if let Ok(id) = uuid::Uuid::parse_str(&self.device) {
            raw.extend_from_slice(id.as_bytes());
        }
        raw.extend_from_slice(&self.secret);
        format!("td_{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Hex SHA-256 of the secret, as stored.
    pub fn secret_hash(&self) -> String {
        TokenHash::of(&self.secret)
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether a stored record belongs to this cookie (constant time).
    pub fn matches(&self, stored: &TrustedDevice) -> bool {
        self.secret_hash()
            .as_bytes()
            .ct_eq(stored.h.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_round_trips_and_only_its_secret_matches() {
        let u = UserId::new();
        let c = TrustCookie::generate(u);
        let back = TrustCookie::parse(&c.value()).unwrap();
        assert_eq!((back.user, back.device.clone()), (u, c.device.clone()));
        let stored = TrustedDevice {
            h: c.secret_hash(),
            n: String::new(),
            c: 0,
        };
        assert!(back.matches(&stored));
        assert!(!TrustCookie::generate(u).matches(&stored));
        for bad in ["", "td_", "td_abc", "xx_AAAA", &c.value()[..40]] {
            assert!(TrustCookie::parse(bad).is_none(), "{bad}");
        }
    }
}
