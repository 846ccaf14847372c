//! The access-token verifier.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode};
use serde_json::{Map, Value};

use super::ACCESS_TOKEN_TYP;
use super::claims::AccessClaims;
use super::error::VerifyError;
use crate::keys::VerificationKeys;
use crate::time::Timestamp;

/// Default maximum token length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 4096;
/// Largest clock-skew leeway a verifier accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);
const MAX_HEADER_LEN: usize = 1024;

/// Verifies Tessera access tokens. Rules, in order:
/// 1. at most `max_len` bytes, three base64url parts;
/// 2. header: no `alg: none`, no `jku`/`x5u`/`jwk`/`x5c` (keys never come from the token),
///    no `crit` (no extension is understood), `typ` is `at+jwt`, `kid` present;
/// 3. the key is found by `kid` and the algorithm is pinned to that key: a header `alg` other
///    than the key's is refused (no RS/HS confusion);
/// 4. signature, then `iss` and `aud`, then the typed claims (all required, numbers as numbers);
/// 5. `exp` / `iat` / `nbf` against the `now` passed in, within a leeway of at most 60 s.
#[derive(Clone, Debug)]
pub struct Verifier {
    issuer: String,
    audience: String,
    leeway: Duration,
    max_len: usize,
}

impl Verifier {
    /// A verifier for tokens from `issuer` meant for `audience`, with 30 s leeway and a 4 KiB
    /// size limit.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Sets the clock-skew leeway, capped at [`MAX_LEEWAY`].
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(MAX_LEEWAY);
        self
    }

    /// Sets the size limit.
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// Verifies `token` at `now` with keys from `keys`.
    pub fn verify<K: VerificationKeys + ?Sized>(
        &self,
        keys: &K,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, VerifyError> {
        if token.len() > self.max_len {
            return Err(VerifyError::Oversize);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header = parse_header(header_b64)?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(VerifyError::Malformed)?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        for forbidden in ["jku", "x5u", "jwk", "x5c"] {
            if header.contains_key(forbidden) {
                return Err(VerifyError::ForbiddenHeader(forbidden));
            }
        }
        if header.contains_key("crit") {
            return Err(VerifyError::UnknownCritical);
        }
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) {
            return Err(VerifyError::WrongType);
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(VerifyError::UnknownKey)?;
        let (key, key_alg) = keys.find(kid).ok_or(VerifyError::UnknownKey)?;
        if alg != key_alg.as_str() {
            return Err(VerifyError::AlgorithmNotAllowed);
        }

        let mut validation = Validation::new(key_alg.jwt());
        validation.leeway = 0;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = decode::<AccessClaims>(token, key, &validation)
            .map_err(|e| map_error(e.kind()))?
            .claims;

        let now_s = now.as_secs();
        let leeway = self.leeway.as_secs() as i64;
        if now_s >= claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if claims.iat > now_s.saturating_add(leeway) {
            return Err(VerifyError::NotYetValid);
        }
        if let Some(nbf) = claims.nbf
            && nbf > now_s.saturating_add(leeway)
        {
            return Err(VerifyError::NotYetValid);
        }
        Ok(claims)
    }
}

fn parse_header(b64: &str) -> Result<Map<String, Value>, VerifyError> {
    if b64.len() > MAX_HEADER_LEN {
        return Err(VerifyError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| VerifyError::Malformed)?;
    serde_json::from_slice(&raw).map_err(|_| VerifyError::Malformed)
}

fn map_error(kind: &ErrorKind) -> VerifyError {
    match kind {
        ErrorKind::InvalidSignature => VerifyError::BadSignature,
        ErrorKind::InvalidIssuer => VerifyError::WrongIssuer,
        ErrorKind::InvalidAudience => VerifyError::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            VerifyError::AlgorithmNotAllowed
        }
        ErrorKind::ExpiredSignature => VerifyError::Expired,
        ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
        ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::Json(_)
        | ErrorKind::InvalidClaimFormat(_) => VerifyError::InvalidClaims,
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            VerifyError::Malformed
        }
        _ => VerifyError::BadSignature,
    }
}
