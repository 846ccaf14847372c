//! Section "clients": the operator's admin token and the RFC 7662 / RFC 7009 clients.

use std::fmt;

use secrecy::SecretString;

use super::file::RawConfig;
use super::value::{InvalidSetting, invalid};

/// Shortest accepted `client_secret` of an introspection client, in characters: a secret a
/// person can remember is one an attacker can guess, so it must be a generated one
/// (e.g. `openssl rand -base64 32`).
pub const MIN_CLIENT_SECRET: usize = 32;

/// Shortest accepted `admin_token`, in characters.
pub const MIN_ADMIN_TOKEN: usize = 16;

/// A client allowed to call `/oauth2/introspect` and `/oauth2/revoke`.
#[derive(Clone)]
pub struct ClientCredential {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: SecretString,
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredential")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `admin_token` (unset or empty: admin API off), `introspection_clients` (default none).
pub(super) struct Clients {
    pub(super) admin_token: Option<SecretString>,
    pub(super) introspection_clients: Vec<ClientCredential>,
}

impl Clients {
    /// Errors never repeat a secret.
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        let admin_token = raw.admin_token.clone().filter(|s| !s.is_empty());
        if admin_token
            .as_ref()
            .is_some_and(|t| t.chars().count() < MIN_ADMIN_TOKEN)
        {
            return Err(invalid("admin_token", "must be at least 16 characters"));
        }
        Ok(Clients {
            admin_token: admin_token.map(SecretString::from),
            introspection_clients: introspection_clients(
                raw.introspection_clients.as_deref().unwrap_or(""),
            )?,
        })
    }
}

/// Comma-separated `id:secret` pairs; blank entries skipped.
fn introspection_clients(list: &str) -> Result<Vec<ClientCredential>, InvalidSetting> {
    let mut clients = Vec::new();
    for pair in list.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        match pair.split_once(':') {
            Some((id, secret)) if !id.is_empty() && secret.chars().count() >= MIN_CLIENT_SECRET => {
                clients.push(ClientCredential {
                    id: id.to_owned(),
                    secret: SecretString::from(secret.to_owned()),
                })
            }
            _ => {
                return Err(invalid(
                    "introspection_clients",
                    "expected comma-separated id:secret pairs, secrets of at least 32 characters",
                ));
            }
        }
    }
    Ok(clients)
}
