//! Cookies: the browser token transport (API.md "Browser clients") and the fingerprint
//! cookie. Every cookie is `Secure`; token cookies are `HttpOnly`; only the CSRF cookie is
//! readable by JavaScript: a cookie-authenticated state change must echo it in
//! `X-CSRF-Token`, and its value must be the CSRF token of the session the request's token
//! belongs to (`auth::access::csrf`: an HMAC of the session id), so a cookie planted by a sibling
//! subdomain or copied from another session is refused.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;
use time::Duration;

use crate::auth::TokenPair;
use crate::auth::fingerprint::{self, Fingerprint};

/// Access-token cookie.
pub const ACCESS: &str = "__Host-tessera_at";
/// Refresh-token cookie.
pub const REFRESH: &str = "__Secure-tessera_rt";
/// CSRF cookie (session-bound, readable by JavaScript).
pub const CSRF: &str = "__Host-tessera_csrf";
/// Header that must echo [`CSRF`] on cookie-authenticated state changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Path of the refresh cookie: only the auth endpoints ever see it.
pub const REFRESH_PATH: &str = "/v1/auth";

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

/// The three cookies of a token pair; `csrf` is the CSRF token of its session.
pub fn set_tokens(jar: CookieJar, pair: &TokenPair, csrf: String) -> CookieJar {
    jar.add(
        Cookie::build((ACCESS, pair.access_token.clone()))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(secs(pair.expires_in)),
    )
    .add(
        Cookie::build((REFRESH, pair.refresh_token.clone()))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict)
            .path(REFRESH_PATH)
            .max_age(secs(pair.refresh_expires_in)),
    )
    .add(
        Cookie::build((CSRF, csrf))
            .secure(true)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(secs(pair.refresh_expires_in)),
    )
}

/// Expires the three token cookies (and the fingerprint cookie).
pub fn clear_tokens(jar: CookieJar) -> CookieJar {
    [
        (ACCESS, "/"),
        (REFRESH, REFRESH_PATH),
        (CSRF, "/"),
        (fingerprint::COOKIE, "/"),
    ]
    .into_iter()
    .fold(jar, |jar, (name, path)| {
        jar.add(
            Cookie::build((name, ""))
                .secure(true)
                .path(path)
                .max_age(Duration::ZERO)
                .expires(time::OffsetDateTime::UNIX_EPOCH),
        )
    })
}

/// The fingerprint cookie, living as long as the session can.
pub fn set_fingerprint(jar: CookieJar, fp: &Fingerprint, max_age_secs: u64) -> CookieJar {
    jar.add(
        Cookie::build((fingerprint::COOKIE, fp.value().to_owned()))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(secs(max_age_secs)),
    )
}

/// The fingerprint the request carries, if any.
pub fn fingerprint_of(jar: &CookieJar) -> Option<Fingerprint> {
    jar.get(fingerprint::COOKIE)
        .map(|c| Fingerprint::from_cookie(c.value()))
        .filter(|f| !f.value().is_empty())
}

/// The CSRF cookie's value when the `X-CSRF-Token` header equals it (constant time; both
/// present and non-empty), else `None`. The caller still checks that the value is the CSRF
/// token of the request's session.
pub fn csrf_echoed(jar: &CookieJar, headers: &HeaderMap) -> Option<String> {
    let cookie = jar.get(CSRF).map(|c| c.value().to_owned())?;
    let header = headers.get(CSRF_HEADER)?.to_str().ok()?;
    (!cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(header.as_bytes()))).then_some(cookie)
}
