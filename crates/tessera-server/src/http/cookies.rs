//! Cookies: the browser token transport (API.md "Browser clients") and the fingerprint
//! cookie. Every cookie is `Secure`; token cookies are `HttpOnly`; only the CSRF cookie is
//! readable by JavaScript: a cookie-authenticated state change must echo it in
//! `X-CSRF-Token`, and its value must be the CSRF token of the session the request's token
//! belongs to (`auth::access::csrf`: an HMAC of the session id), so a cookie planted by a sibling
//! subdomain or copied from another session is refused.
//!
//! Cookies are **read** only through [`SentCookies`], never through `CookieJar` (which is
//! for setting them): the jar percent-decodes names, so `__Host%2Dtessera_at`, which any
//! sibling subdomain may set (a browser enforces the `__Host-` rules on the raw name),
//! would read as `__Host-tessera_at`.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
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

/// The cookies a request carries, by their names exactly as sent (never percent-decoded),
/// from every `Cookie` header (HTTP/2 may split them).
#[derive(Clone, Debug, Default)]
pub struct SentCookies(Vec<(String, String)>);

impl SentCookies {
    /// From the request's `Cookie` headers; a pair that does not parse, or a header that is
    /// not visible ASCII, is skipped.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self(
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(Cookie::split_parse)
                .filter_map(Result::ok)
                .map(|c| (c.name().to_owned(), c.value().to_owned()))
                .collect(),
        )
    }

    /// The value of the cookie named `name`, byte for byte. `None` when it is absent, empty,
    /// or sent more than once: a second cookie of one name can only have been planted
    /// (a sibling subdomain's `Domain` cookie beside ours), and which one is whose is not
    /// knowable here.
    pub fn get(&self, name: &str) -> Option<&str> {
        let mut found = self.0.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (Some((_, value)), None) if !value.is_empty() => Some(value),
            _ => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SentCookies {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

/// The fingerprint the request carries, if any.
pub fn fingerprint_of(sent: &SentCookies) -> Option<Fingerprint> {
    sent.get(fingerprint::COOKIE).map(Fingerprint::from_cookie)
}

/// The CSRF cookie's value when the `X-CSRF-Token` header equals it (constant time; both
/// present and non-empty), else `None`. The caller still checks that the value is the CSRF
/// token of the request's session.
pub fn csrf_echoed(sent: &SentCookies, headers: &HeaderMap) -> Option<String> {
    let cookie = sent.get(CSRF)?;
    let header = headers.get(CSRF_HEADER)?.to_str().ok()?;
    bool::from(cookie.as_bytes().ct_eq(header.as_bytes())).then(|| cookie.to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn sent(lines: &[&str]) -> SentCookies {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header::COOKIE, HeaderValue::from_str(line).unwrap());
        }
        SentCookies::from_headers(&headers)
    }

    #[test]
    fn names_are_compared_as_sent_and_never_decoded() {
        let c = sent(&["a=1; __Host%2Dtessera_at=planted; __Host-tessera_csrf=x"]);
        assert_eq!(c.get(ACCESS), None);
        assert_eq!(c.get("__Host%2Dtessera_at"), Some("planted"));
        assert_eq!(c.get(CSRF), Some("x"));
        assert_eq!(c.get("a"), Some("1"));
    }

    #[test]
    fn a_name_sent_twice_or_empty_is_absent_and_every_header_counts() {
        let c = sent(&[
            "__Secure-tessera_rt=mine",
            "__Secure-tessera_rt=planted; e=",
        ]);
        assert_eq!(c.get(REFRESH), None);
        assert_eq!(c.get("e"), None);
        let c = sent(&["x=1", "__Secure-tessera_rt=mine"]);
        assert_eq!(c.get(REFRESH), Some("mine"));
    }

    #[test]
    fn the_csrf_header_must_equal_the_cookie() {
        let c = sent(&["__Host-tessera_csrf=token"]);
        let mut headers = HeaderMap::new();
        assert_eq!(csrf_echoed(&c, &headers), None);
        headers.insert(CSRF_HEADER, HeaderValue::from_static("other"));
        assert_eq!(csrf_echoed(&c, &headers), None);
        headers.insert(CSRF_HEADER, HeaderValue::from_static("token"));
        assert_eq!(csrf_echoed(&c, &headers).as_deref(), Some("token"));
        let planted = sent(&["__Host%2Dtessera_csrf=token"]);
        assert_eq!(csrf_echoed(&planted, &headers), None);
    }
}
