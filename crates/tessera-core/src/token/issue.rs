//! Issuing access tokens.

use std::time::Duration;

use jsonwebtoken::Header;

use super::ACCESS_TOKEN_TYP;
use super::claims::AccessClaims;
use crate::ids::{Jti, SessionId, UserId};
use crate::keys::{KeyError, KeyRing};
use crate::time::Timestamp;

/// Issuer configuration: who we are, for whom, for how long.
#[derive(Clone, Debug)]
pub struct TokenIssuer {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// `client_id` for first-party sign-in.
    pub client_id: String,
    /// Access-token lifetime.
    pub ttl: Duration,
}

/// What a new access token is about.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// `sub`.
    pub user: UserId,
    /// `sid`.
    pub session: SessionId,
    /// `ver`.
    pub token_version: u64,
    /// `amr`.
    pub amr: Vec<String>,
    /// `fgp`.
    pub fingerprint_hash: Option<String>,
}

/// A signed token and its claims. `Debug` leaves the token out (it is a bearer credential).
#[derive(Clone)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// Its claims.
    pub claims: AccessClaims,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// The `jti` and `exp` a token issued now would get. Split from [`Self::sign`] because the
    /// state store registers the grant before the token (whose `ver` it decides) is signed.
    pub fn grant(&self, now: Timestamp) -> (Jti, Timestamp) {
        (
            Jti::new(),
            Timestamp::from_secs(now.as_secs()).plus(self.ttl),
        )
    }

    /// Signs a token with the ring's active key.
    pub fn sign(
        &self,
        keys: &KeyRing,
        req: TokenRequest,
        jti: Jti,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<IssuedToken, KeyError> {
        let (signer, kid, alg) = keys.signing_key().ok_or(KeyError::NoActiveKey)?;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: req.user,
            client_id: self.client_id.clone(),
            exp: expires_at.as_secs(),
            iat: now.as_secs(),
            jti,
            sid: req.session,
            ver: req.token_version,
            amr: req.amr,
            nbf: None,
            fgp: req.fingerprint_hash,
        };
        let mut header = Header::new(alg.jwt());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(kid.to_owned());
        let token = signer.sign_compact(alg, &header, &claims)?;
        Ok(IssuedToken { token, claims })
    }
}
