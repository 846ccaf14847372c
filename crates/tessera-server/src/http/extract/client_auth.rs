//! OAuth 2.0 client authentication for `/oauth2/*` (RFC 6749 §2.3.1) with a form body.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::RwLock;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use super::Client;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::config::ClientCredential;
use crate::http::ApiError;
use crate::limits::Credential;

/// A form-encoded (`application/x-www-form-urlencoded`) request from an authenticated
/// client: one of `TESSERA_INTROSPECTION_CLIENTS`, by `client_secret_basic` (HTTP Basic, id and
/// secret form-urlencoded inside it) or `client_secret_post` (`client_id` and `client_secret`
/// form fields). Rejections: 401 `invalid_client` (with `WWW-Authenticate: Basic`) for a
/// missing, unknown or wrong credential, and for every call when no client is configured;
/// 400 `invalid_request` for two authentication methods at once, a repeated parameter or an
/// undecodable body; 415 for a non-empty body that is not a form; 413 over the body limit.
#[derive(Debug)]
pub struct ClientForm {
    /// The authenticated client's id.
    pub client_id: String,
    /// The other form parameters (client credentials removed), each name at most once.
    pub params: FormParams,
}

/// Decoded form parameters.
#[derive(Debug, Default)]
pub struct FormParams(Vec<(String, String)>);

/// Parameters a form of `/oauth2/introspect` or `/oauth2/revoke` may carry: those RFC 7662
/// and RFC 7009 define are five, and extensions add a few.
const MAX_FORM_PARAMS: usize = 32;

impl FormParams {
    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Parses a form body. Parameters must not repeat (RFC 6749 §3.1), and there are at most
    /// [`MAX_FORM_PARAMS`]: the repeat check is linear per parameter, and this runs before
    /// the client is authenticated or any budget taken.
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let text = std::str::from_utf8(body).map_err(|_| bad_form())?;
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            if params.len() == MAX_FORM_PARAMS {
                return Err(ApiError::request(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("the form has more than {MAX_FORM_PARAMS} parameters"),
                ));
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (
                form_decode(k).ok_or_else(bad_form)?,
                form_decode(v).ok_or_else(bad_form)?,
            );
            if params.iter().any(|(seen, _)| *seen == k) {
                return Err(ApiError::request(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("the parameter {k:?} is repeated"),
                ));
            }
            params.push((k, v));
        }
        Ok(FormParams(params))
    }

    /// Removes and returns `name`.
    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.remove(i).1)
    }
}

impl FromRequest<AppState> for ClientForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let ip = Client::from_request_parts(&mut parts, state)
            .await
            .unwrap_or_default()
            .ip;
        let req = Request::from_parts(parts, body);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::request(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is too large",
                )
            } else {
                bad_form()
            }
        })?;
        let mut params = if body.is_empty() {
            FormParams::default()
        } else if is_form(&headers) {
            FormParams::parse(&body)?
        } else {
            return Err(ApiError::request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected Content-Type: application/x-www-form-urlencoded",
            ));
        };
        let posted_id = params.take("client_id");
        let posted_secret = params.take("client_secret");
        let (id, secret) = match (basic(&headers)?, posted_id, posted_secret) {
            (Some(_), _, Some(_)) => {
                return Err(ApiError::request(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "use one client authentication method, not two",
                ));
            }
            // A `client_id` field next to Basic must name the same client.
            (Some((id, _)), Some(posted), None) if posted != id => {
                return Err(AuthError::InvalidClient.into());
            }
            (Some(credentials), _, None) => credentials,
            (None, Some(id), Some(secret)) => (id, secret),
            (None, _, _) => return Err(AuthError::InvalidClient.into()),
        };
        // A client whose exact credentials were already proven in this process *from this
        // address* is not guessing: it skips the budget, so its own concurrent requests
        // never limit it. Anything else reserves a failure from the address's budget before
        // the compare and gets it back only when the credentials match: no more guesses
        // than the budget are ever compared, however many arrive at once, and a guesser
        // whose budget is spent gets 429 for a right guess as for a wrong one (were the
        // skip per client alone, a right guess would answer 200 where a wrong one answers
        // 429: an unlimited oracle).
        let matched = state.clients.check(&id, &secret);
        if !matched.is_some_and(|i| state.clients.proven(i, ip)) {
            let limits = &state.limits;
            let now = Timestamp::now();
            let reservation = limits
                .reserve_credential(Credential::Client, ip, now)
                .await
                .map_err(AuthError::from)?;
            let Some(i) = matched else {
                tracing::warn!(client = ?ip, "wrong introspection client credentials");
                return Err(AuthError::InvalidClient.into());
            };
            limits
                .refund(reservation, now)
                .await
                .map_err(AuthError::from)?;
            state.clients.mark_proven(i, ip);
        }
        Ok(ClientForm {
            client_id: id,
            params,
        })
    }
}

/// The configured introspection clients, and from which addresses each already proved its
/// credentials to this process (requests from there skip the failure budget from then on).
#[derive(Debug, Default)]
pub struct Clients {
    list: Vec<ClientCredential>,
    proven: RwLock<HashSet<(usize, Option<IpAddr>)>>,
}

/// The most (client, address) pairs remembered as proven: only holders of a client's secret
/// add any, so this is never reached in practice; beyond it, requests take the budget and
/// get it back.
const MAX_PROVEN: usize = 4096;

impl Clients {
    /// Over the configured `list`.
    pub fn new(list: Vec<ClientCredential>) -> Self {
        Self {
            list,
            proven: RwLock::default(),
        }
    }

    /// The index of the client `id` and `secret` belong to, if any. Every client is
    /// compared (no early exit), and ids and secrets are compared as SHA-256 digests in
    /// constant time, so timing tells neither which ids exist nor how much of a secret
    /// matched.
    pub fn check(&self, id: &str, secret: &str) -> Option<usize> {
        use secrecy::ExposeSecret;
        let id_hash = TokenHash::of(id.as_bytes());
        let secret_hash = TokenHash::of(secret.as_bytes());
        let mut found = None;
        for (i, c) in self.list.iter().enumerate() {
            let id_ok = TokenHash::of(c.id.as_bytes()).ct_eq(&id_hash);
            let secret_ok = TokenHash::of(c.secret.expose_secret().as_bytes()).ct_eq(&secret_hash);
            if id_ok & secret_ok {
                found = Some(i);
            }
        }
        found
    }

    /// Whether client `i` proved its credentials before, from `ip`.
    pub fn proven(&self, i: usize, ip: Option<IpAddr>) -> bool {
        self.proven
            .read()
            .is_ok_and(|proven| proven.contains(&(i, ip)))
    }

    /// Records that client `i` proved its credentials from `ip`.
    pub fn mark_proven(&self, i: usize, ip: Option<IpAddr>) {
        if let Ok(mut proven) = self.proven.write()
            && proven.len() < MAX_PROVEN
        {
            proven.insert((i, ip));
        }
    }
}

/// `client_secret_basic` credentials: `None` without an `Authorization` header; a header
/// that is not usable Basic is a failed authentication.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || ApiError::from(AuthError::InvalidClient);
    let value = value.to_str().map_err(|_| invalid())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid());
    }
    let raw = STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let (id, secret) = text.split_once(':').ok_or_else(invalid)?;
    // RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
    let id = form_decode(id).ok_or_else(invalid)?;
    let secret = form_decode(secret).ok_or_else(invalid)?;
    Ok(Some((id, secret)))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space,
/// `%XX` a byte; the result must be UTF-8. `None` for a bad escape or bad UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn bad_form() -> ApiError {
    ApiError::request(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "the request body is not a valid form",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%20c%3A%2b").as_deref(), Some("a b c:+"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%ff"), None);
        assert_eq!(form_decode("é").as_deref(), Some("é"));
    }

    #[test]
    fn params_refuse_repeats_and_treat_empty_as_absent() {
        let p = FormParams::parse(b"token=a%2Bb&token_type_hint=&x").unwrap();
        assert_eq!(p.get("token"), Some("a+b"));
        assert_eq!(p.get("token_type_hint"), None);
        assert_eq!(p.get("x"), None);
        assert!(FormParams::parse(b"token=a&token=b").is_err());
    }

    #[test]
    fn a_form_of_many_parameters_is_refused_before_it_is_compared() {
        let form = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(FormParams::parse(form(MAX_FORM_PARAMS).as_bytes()).is_ok());
        let refused = FormParams::parse(form(MAX_FORM_PARAMS + 1).as_bytes()).unwrap_err();
        assert!(matches!(
            refused,
            ApiError::Request {
                code: "invalid_request",
                ..
            }
        ));
        // What a body limit of 64 KiB holds: refused at once, not compared pairwise.
        assert!(FormParams::parse(form(16_000).as_bytes()).is_err());
    }

    #[test]
    fn client_comparison_and_proof() {
        let clients = Clients::new(vec![
            ClientCredential {
                id: "rs0".into(),
                secret: "other".to_owned().into(),
            },
            ClientCredential {
                id: "rs1".into(),
                secret: "s3cret".to_owned().into(),
            },
        ]);
        assert_eq!(clients.check("rs1", "s3cret"), Some(1));
        assert_eq!(clients.check("rs1", "s3cre"), None);
        assert_eq!(clients.check("rs2", "s3cret"), None);
        assert_eq!(
            clients.check("rs0", "s3cret"),
            None,
            "secret of another client"
        );
        assert_eq!(Clients::default().check("rs1", "s3cret"), None);
        let (here, there) = (
            Some(IpAddr::from([10, 0, 0, 1])),
            Some(IpAddr::from([10, 0, 0, 2])),
        );
        assert!(!clients.proven(1, here));
        clients.mark_proven(1, here);
        assert!(clients.proven(1, here) && !clients.proven(0, here) && !clients.proven(7, here));
        // Proven from one address only: another address still takes the budget.
        assert!(!clients.proven(1, there) && !clients.proven(1, None));
        clients.mark_proven(7, here);
    }
}
