//! Why a token is refused.

/// One variant per reason; the server maps them to `invalid_token` / `token_expired`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Longer than the configured maximum; not parsed at all.
    #[error("token too large")]
    Oversize,
    /// Not three base64url parts, or a header/payload that is not JSON.
    #[error("malformed token")]
    Malformed,
    /// `alg: none` or an algorithm that is not the one pinned to the key.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// A `jku`, `x5u`, `jwk` or `x5c` header: keys are never taken from the token.
    #[error("header {0} not allowed")]
    ForbiddenHeader(&'static str),
    /// A `crit` header: no extension is understood, so every critical one is unknown.
    #[error("unknown critical header")]
    UnknownCritical,
    /// `typ` is not `at+jwt`.
    #[error("wrong token type")]
    WrongType,
    /// No `kid`, or a `kid` no key has.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Wrong `iss`.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Wrong `aud`.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim missing or of the wrong type.
    #[error("invalid claims")]
    InvalidClaims,
    /// `exp` passed (beyond leeway).
    #[error("token expired")]
    Expired,
    /// `iat` or `nbf` in the future (beyond leeway).
    #[error("token not yet valid")]
    NotYetValid,
}
