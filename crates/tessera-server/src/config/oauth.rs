//! Section `[oauth]`: federated sign-in. The one nested section of the configuration:
//! `oauth.return_urls`, `oauth.link_verified_email` and one table per provider,
//! `[oauth.providers.<name>]`.
//!
//! Environment overrides (the environment wins, as everywhere): `TESSERA_OAUTH_RETURN_URLS`
//! (comma-separated), `TESSERA_OAUTH_LINK_VERIFIED_EMAIL`, and for a provider declared in
//! the file `TESSERA_OAUTH_<NAME>_CLIENT_ID` / `TESSERA_OAUTH_<NAME>_CLIENT_SECRET` (`NAME`
//! upper-cased; provider names are `a-z`, `0-9` and `_`, so the mapping is exact), so
//! secrets need not be in the file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::value::{InvalidSetting, invalid};

/// Key of the whole section in [`InvalidSetting`]s about providers.
const PROVIDERS: &str = "oauth.providers";

/// `[oauth]` as written.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOAuth {
    /// Front-end URLs a federated sign-in may return to: a TOML array, or one string of
    /// comma-separated URLs (as the environment gives it). Default: none.
    pub return_urls: Option<UrlList>,
    /// Whether a new identity whose provider asserts a verified email may sign in to the
    /// existing account with that email (linking it). Default `false`: 409
    /// `account_exists`, and the user links it from a signed-in session.
    pub link_verified_email: Option<bool>,
    /// How long a sign-in may stay at the provider before its `state` expires (1s–1h).
    /// Default `10m`.
    pub state_ttl: Option<String>,
    /// One table per provider, by name.
    pub providers: BTreeMap<String, RawProvider>,
}

/// Either form of a list of URLs.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UrlList {
    /// `["https://a", "https://b"]`.
    List(Vec<String>),
    /// `"https://a,https://b"`.
    Text(String),
}

impl UrlList {
    fn items(&self) -> Vec<String> {
        let all: Vec<String> = match self {
            UrlList::List(v) => v.clone(),
            UrlList::Text(s) => s.split(',').map(str::to_owned).collect(),
        };
        all.into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// `[oauth.providers.<name>]` as written.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProvider {
    /// `oidc` (default) or `oauth2`.
    pub kind: Option<String>,
    /// Shown in `GET /v1/oauth/providers`. Default: the name.
    pub display_name: Option<String>,
    /// OIDC: the issuer; its discovery document is read from
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    /// Client id at the provider.
    pub client_id: Option<String>,
    /// Client secret at the provider (secret; unset for a public client).
    pub client_secret: Option<String>,
    /// Scopes: a TOML array or a space-separated string. Default `openid email profile`
    /// (OIDC), none (OAuth 2.0).
    pub scopes: Option<UrlList>,
    /// How the client authenticates at the token endpoint: `client_secret_basic`
    /// (default), `client_secret_post` or `private_key_jwt` (RFC 7523: a JWT signed with
    /// `private_key_file`).
    pub token_auth: Option<String>,
    /// `private_key_jwt`: PKCS#8 PEM file of the client's private key (RSA: RS256, P-256:
    /// ES256, Ed25519: EdDSA); its public key is registered at the provider.
    pub private_key_file: Option<std::path::PathBuf>,
    /// `private_key_jwt`: the `kid` the provider knows the key by. Default: none.
    pub private_key_id: Option<String>,
    /// OIDC: also read the userinfo endpoint (with the access token, its `sub` required to
    /// be the ID token's) and take the email and its verified flag from there when it has
    /// them. Default `false`: the ID token's claims.
    pub userinfo: Option<bool>,
    /// OAuth 2.0: the authorization endpoint.
    pub authorize_url: Option<String>,
    /// OAuth 2.0: the token endpoint.
    pub token_url: Option<String>,
    /// OAuth 2.0: the userinfo endpoint (read with the access token, JSON).
    pub userinfo_url: Option<String>,
    /// OAuth 2.0: the userinfo member holding the subject. Default `id`.
    pub subject_field: Option<String>,
    /// OAuth 2.0: the userinfo member holding the email. Default `email`.
    pub email_field: Option<String>,
    /// OAuth 2.0: the userinfo member telling whether the email is verified (a boolean).
    /// Default: unset, and then `emails_verified` decides.
    pub email_verified_field: Option<String>,
    /// OAuth 2.0: whether every email this provider returns is verified (for providers that
    /// only return verified emails and say so in their documentation). Default `false`.
    pub emails_verified: Option<bool>,
}

/// Shows every field; the client secret only as set or unset.
impl fmt::Debug for RawProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawProvider")
            .field("kind", &self.kind)
            .field("display_name", &self.display_name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token_auth", &self.token_auth)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("userinfo_url", &self.userinfo_url)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RawOAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawOAuth")
            .field(
                "return_urls",
                &self.return_urls.as_ref().map(UrlList::items),
            )
            .field("link_verified_email", &self.link_verified_email)
            .field("state_ttl", &self.state_ttl)
            .field("providers", &self.providers)
            .finish()
    }
}

/// The configuration key an environment variable `TESSERA_OAUTH_<rest>` sets (`rest` as
/// given, any case), or `None` when it is not one of this section's.
pub fn env_key(rest: &str) -> Option<String> {
    let rest = rest.to_ascii_lowercase();
    match rest.as_str() {
        "return_urls" => return Some("oauth.return_urls".to_owned()),
        "link_verified_email" => return Some("oauth.link_verified_email".to_owned()),
        _ => {}
    }
    for field in ["client_id", "client_secret"] {
        if let Some(name) = rest.strip_suffix(&format!("_{field}"))
            && !name.is_empty()
        {
            return Some(format!("oauth.providers.{name}.{field}"));
        }
    }
    None
}

/// How a provider is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: everything from the issuer's discovery document.
    Oidc {
        /// The issuer URL (exactly as the provider's `iss`).
        issuer: String,
        /// Whether the userinfo endpoint is read too.
        userinfo: bool,
    },
    /// Plain OAuth 2.0 with a userinfo endpoint (GitHub-style).
    OAuth2 {
        /// Authorization endpoint.
        authorize_url: String,
        /// Token endpoint.
        token_url: String,
        /// Userinfo endpoint.
        userinfo_url: String,
        /// Member holding the subject.
        subject_field: String,
        /// Member holding the email.
        email_field: String,
        /// Member telling whether the email is verified.
        email_verified_field: Option<String>,
        /// Whether every email of this provider is verified.
        emails_verified: bool,
    },
}

/// How the client authenticates at the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenAuth {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
    /// A signed JWT (`private_key_jwt`, RFC 7523), no secret sent.
    PrivateKeyJwt {
        /// PKCS#8 PEM private key.
        key_file: std::path::PathBuf,
        /// Its `kid` at the provider.
        key_id: Option<String>,
    },
}

/// One validated provider.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Name in the URL paths (`[a-z0-9_]`, at most 32 characters).
    pub name: String,
    /// Shown to users.
    pub display_name: String,
    /// OIDC or OAuth 2.0.
    pub kind: ProviderKind,
    /// Client id.
    pub client_id: String,
    /// Client secret (`None`: a public client, PKCE only).
    pub client_secret: Option<SecretString>,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Token endpoint authentication.
    pub token_auth: TokenAuth,
}

/// The validated `[oauth]` section.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// Allow-listed return URLs, each compared exactly (scheme, host, port, path), query
    /// strings aside.
    pub return_urls: Vec<String>,
    /// See [`RawOAuth::link_verified_email`].
    pub link_verified_email: bool,
    /// How long a `state` lives.
    pub state_ttl: Duration,
    /// Providers, sorted by name.
    pub providers: Vec<ProviderSettings>,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            return_urls: Vec::new(),
            link_verified_email: false,
            state_ttl: DEFAULT_STATE_TTL,
            providers: Vec::new(),
        }
    }
}

/// The default `oauth.state_ttl`.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(600);

impl OAuthSettings {
    /// Validates the section.
    pub(super) fn from_raw(raw: Option<&RawOAuth>) -> Result<Self, InvalidSetting> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let state_ttl = match raw.state_ttl.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_STATE_TTL,
            Some(s) => humantime::parse_duration(s)
                .map_err(|e| invalid("oauth.state_ttl", format!("{s:?}: {e}")))?,
        };
        if state_ttl < Duration::from_secs(1) || state_ttl > Duration::from_secs(3600) {
            return Err(invalid("oauth.state_ttl", "must be between 1s and 1h"));
        }
        let return_urls = raw
            .return_urls
            .as_ref()
            .map(UrlList::items)
            .unwrap_or_default();
        for url in &return_urls {
            check_url(url)
                .map_err(|why| invalid("oauth.return_urls", format!("{url:?}: {why}")))?;
        }
        let mut providers = Vec::new();
        for (name, p) in &raw.providers {
            providers.push(provider(name, p)?);
        }
        Ok(Self {
            return_urls,
            link_verified_email: raw.link_verified_email.unwrap_or(false),
            state_ttl,
            providers,
        })
    }
}

fn provider(name: &str, p: &RawProvider) -> Result<ProviderSettings, InvalidSetting> {
    let bad = |why: String| invalid(PROVIDERS, format!("{name}: {why}"));
    if name.is_empty()
        || name.len() > 32
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(bad(
            "a provider name is 1–32 characters of a-z, 0-9 and _".into()
        ));
    }
    let nonblank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let url = |field: &str, v: &Option<String>| -> Result<String, InvalidSetting> {
        let u = nonblank(v).ok_or_else(|| bad(format!("{field} is required")))?;
        check_url(&u).map_err(|why| bad(format!("{field} {u:?}: {why}")))?;
        Ok(u)
    };
    let kind = match nonblank(&p.kind).as_deref().unwrap_or("oidc") {
        "oidc" => ProviderKind::Oidc {
            issuer: url("issuer", &p.issuer)?,
            userinfo: p.userinfo.unwrap_or(false),
        },
        "oauth2" => ProviderKind::OAuth2 {
            authorize_url: url("authorize_url", &p.authorize_url)?,
            token_url: url("token_url", &p.token_url)?,
            userinfo_url: url("userinfo_url", &p.userinfo_url)?,
            subject_field: nonblank(&p.subject_field).unwrap_or_else(|| "id".to_owned()),
            email_field: nonblank(&p.email_field).unwrap_or_else(|| "email".to_owned()),
            email_verified_field: nonblank(&p.email_verified_field),
            emails_verified: p.emails_verified.unwrap_or(false),
        },
        other => return Err(bad(format!("kind {other:?}: expected oidc or oauth2"))),
    };
    let client_id = nonblank(&p.client_id).ok_or_else(|| bad("client_id is required".into()))?;
    let token_auth = match nonblank(&p.token_auth).as_deref() {
        None | Some("client_secret_basic") => TokenAuth::Basic,
        Some("client_secret_post") => TokenAuth::Post,
        Some("private_key_jwt") => TokenAuth::PrivateKeyJwt {
            key_file: p
                .private_key_file
                .clone()
                .ok_or_else(|| bad("private_key_jwt needs private_key_file".into()))?,
            key_id: nonblank(&p.private_key_id),
        },
        Some(other) => {
            return Err(bad(format!(
                "token_auth {other:?}: expected client_secret_basic, client_secret_post or private_key_jwt"
            )));
        }
    };
    let scopes: Vec<String> = match &p.scopes {
        Some(UrlList::List(v)) => v.iter().map(|s| s.trim().to_owned()).collect(),
        Some(UrlList::Text(s)) => s.split([' ', ',']).map(str::to_owned).collect(),
        None if matches!(kind, ProviderKind::Oidc { .. }) => {
            vec!["openid".into(), "email".into(), "profile".into()]
        }
        None => Vec::new(),
    };
    let scopes: Vec<String> = scopes.into_iter().filter(|s| !s.is_empty()).collect();
    Ok(ProviderSettings {
        name: name.to_owned(),
        display_name: nonblank(&p.display_name).unwrap_or_else(|| name.to_owned()),
        kind,
        client_id,
        client_secret: nonblank(&p.client_secret).map(SecretString::from),
        scopes,
        token_auth,
    })
}

/// An `https://` URL, or an `http://` one on a loopback address (local development and
/// tests). No user info, no fragment.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a URL")?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a URL with user info");
    }
    if parsed.fragment().is_some() {
        return Err("a URL with a fragment");
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err("http:// is accepted only on a loopback address"),
        _ => Err("expected an https:// URL"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn environment_names_map_to_the_section() {
        assert_eq!(env_key("RETURN_URLS").unwrap(), "oauth.return_urls");
        assert_eq!(
            env_key("MY_IDP_CLIENT_SECRET").unwrap(),
            "oauth.providers.my_idp.client_secret"
        );
        assert_eq!(
            env_key("google_client_id").unwrap(),
            "oauth.providers.google.client_id"
        );
        assert_eq!(env_key("CLIENT_ID"), None);
        assert_eq!(env_key("SOMETHING"), None);
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(check_url("https://accounts.example.com").is_ok());
        assert!(check_url("http://127.0.0.1:9000/cb").is_ok());
        assert!(check_url("http://localhost:9000").is_ok());
        assert!(check_url("http://[::1]:9000").is_ok());
        assert!(check_url("http://example.com").is_err());
        assert!(check_url("https://u:p@example.com").is_err());
        assert!(check_url("javascript:alert(1)").is_err());
        assert!(check_url("https://example.com/#x").is_err());
    }

    #[test]
    fn a_provider_needs_its_endpoints_and_a_valid_name() {
        let mut raw = RawOAuth::default();
        raw.providers.insert(
            "Bad Name".into(),
            RawProvider {
                issuer: Some("https://idp.example".into()),
                client_id: Some("c".into()),
                ..Default::default()
            },
        );
        assert!(OAuthSettings::from_raw(Some(&raw)).is_err());
        let mut raw = RawOAuth::default();
        raw.providers.insert(
            "gh".into(),
            RawProvider {
                kind: Some("oauth2".into()),
                client_id: Some("c".into()),
                authorize_url: Some("https://gh.example/authorize".into()),
                ..Default::default()
            },
        );
        let e = OAuthSettings::from_raw(Some(&raw)).unwrap_err();
        assert!(e.reason.contains("token_url"), "{e}");
        let mut raw = RawOAuth::default();
        raw.providers.insert(
            "idp".into(),
            RawProvider {
                issuer: Some("https://idp.example".into()),
                client_id: Some("c".into()),
                client_secret: Some("hunter2".into()),
                ..Default::default()
            },
        );
        raw.return_urls = Some(UrlList::Text(" https://app.example/cb , ".into()));
        let s = OAuthSettings::from_raw(Some(&raw)).unwrap();
        assert_eq!(s.return_urls, vec!["https://app.example/cb".to_owned()]);
        assert_eq!(s.providers[0].scopes, ["openid", "email", "profile"]);
        assert!(!format!("{raw:?}").contains("hunter2"));
    }
}
