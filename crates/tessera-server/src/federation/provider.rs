//! One configured identity provider: the authorization URL it is sent to, and the code
//! exchange that ends in a verified [`Identity`].
//!
//! - **OpenID Connect**: endpoints and keys come from the issuer's discovery document, read
//!   on first use and again after [`METADATA_MAX_AGE`]. The ID token is verified by the
//!   `openidconnect` crate: signature with a key of the provider's JWKS (the algorithm
//!   pinned to the asymmetric ones the provider announces, never `none` nor a MAC), `iss`,
//!   `aud` (the client id, and no audience the client does not trust), `azp`, `exp`, and
//!   the `nonce` of this sign-in. A token signed with a key the cached JWKS does not have
//!   makes the document be read again (at most once per [`REFETCH_AFTER`]): that is how key
//!   rotation at the provider is followed.
//! - **OAuth 2.0** (GitHub-style): the access token from the code exchange reads the
//!   userinfo endpoint, whose configured members give the subject, the email and whether it
//!   is verified.
//!
//! Both use PKCE S256 and this server's callback as the redirect URI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde_json::Value;
use tessera_core::time::Timestamp;

use super::http::ProviderHttp;
use super::{FederationError, Identity};
use crate::config::oauth::{ProviderKind, ProviderSettings, TokenAuth};

/// How long a discovery document (and its JWKS) is used before it is read again.
pub const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// How far in the future an ID token's `iat` may be (the provider's clock may run ahead).
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// After a failed read of the discovery document, how long requests are answered without
/// trying again (while the provider is down, requests do not queue behind one another's
/// timeouts).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// The oldest discovery document (and JWKS) still used while new reads fail.
pub const STALE_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// The least time between two reads forced by an unknown signing key.
pub const REFETCH_AFTER: Duration = Duration::from_secs(10);

/// A discovery document and when it was read.
struct Discovered {
    metadata: CoreProviderMetadata,
    at: Instant,
}

/// The key of a `private_key_jwt` client (RFC 7523), and how it signs.
struct ClientAssertion {
    key: jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
    kid: Option<String>,
}

/// `client_assertion_type` of RFC 7523.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl ClientAssertion {
    /// Reads a PKCS#8 PEM key; its type picks the algorithm (RSA: RS256, P-256: ES256,
    /// Ed25519: EdDSA), found by signing a probe with each.
    fn load(file: &std::path::Path, kid: Option<String>) -> Result<Self, FederationError> {
        use jsonwebtoken::{Algorithm, EncodingKey};
        let pem = std::fs::read(file).map_err(|e| {
            FederationError::Config(format!("private_key_file {}: {e}", file.display()))
        })?;
        let candidates = [
            (EncodingKey::from_rsa_pem(&pem), Algorithm::RS256),
            (EncodingKey::from_ec_pem(&pem), Algorithm::ES256),
            (EncodingKey::from_ed_pem(&pem), Algorithm::EdDSA),
        ];
        for (key, alg) in candidates {
            let Ok(key) = key else { continue };
            let probe = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(alg),
                &serde_json::json!({}),
                &key,
            );
            if probe.is_ok() {
                return Ok(Self { key, alg, kid });
            }
        }
        Err(FederationError::Config(format!(
            "private_key_file {}: not a PKCS#8 PEM RSA, P-256 or Ed25519 private key",
            file.display()
        )))
    }

    /// A fresh assertion for `client_id` at the token endpoint `audience`, valid 60 s.
    fn sign(
        &self,
        client_id: &str,
        audience: &str,
        now: Timestamp,
    ) -> Result<String, FederationError> {
        let mut jti = [0u8; 16];
        rand::fill(&mut jti);
        let mut header = jsonwebtoken::Header::new(self.alg);
        header.kid = self.kid.clone();
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "iat": now.as_secs(),
            "exp": now.as_secs() + 60,
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| FederationError::Config(format!("client assertion: {e}")))
    }
}

/// See the module documentation.
pub struct Provider {
    settings: ProviderSettings,
    assertion: Option<ClientAssertion>,
    redirect_uri: RedirectUrl,
    http: ProviderHttp,
    discovered: ArcSwapOption<Discovered>,
    /// Serialises reads; holds when the last one failed.
    discovering: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.settings.name)
            .field("kind", &self.settings.kind)
            .finish_non_exhaustive()
    }
}

/// What the authorization request carries that the callback must match.
pub struct AuthorizeRequest<'a> {
    /// The `state` parameter.
    pub state: &'a str,
    /// The PKCE verifier (its S256 challenge is sent).
    pub verifier: &'a str,
    /// The OIDC `nonce` (unused for OAuth 2.0).
    pub nonce: &'a str,
    /// Ask the provider to authenticate the user again (`prompt=login`, OIDC): a link must
    /// not silently take whichever account the browser is signed in to.
    pub reauthenticate: bool,
}

impl Provider {
    /// A provider whose callback is `<issuer>/v1/oauth/<name>/callback`.
    pub fn new(
        settings: ProviderSettings,
        issuer: &str,
        http: ProviderHttp,
    ) -> Result<Self, FederationError> {
        let redirect = format!(
            "{}/v1/oauth/{}/callback",
            issuer.trim_end_matches('/'),
            settings.name
        );
        let redirect_uri =
            RedirectUrl::new(redirect).map_err(|e| FederationError::Config(e.to_string()))?;
        let assertion = match &settings.token_auth {
            TokenAuth::PrivateKeyJwt { key_file, key_id } => {
                Some(ClientAssertion::load(key_file, key_id.clone())?)
            }
            _ => None,
        };
        Ok(Self {
            settings,
            assertion,
            redirect_uri,
            http,
            discovered: ArcSwapOption::empty(),
            discovering: tokio::sync::Mutex::new(None),
        })
    }

    /// Its settings.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// Whether it is an OpenID Connect provider (a `nonce` is sent and checked).
    pub fn is_oidc(&self) -> bool {
        matches!(self.settings.kind, ProviderKind::Oidc { .. })
    }

    /// The URL of the provider's authorization endpoint for this sign-in.
    pub async fn authorize_url(
        &self,
        req: &AuthorizeRequest<'_>,
    ) -> Result<String, FederationError> {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            req.verifier.into(),
        ));
        let scopes = self.settings.scopes.iter().cloned().map(Scope::new);
        let state = req.state.to_owned();
        let url = match &self.settings.kind {
            ProviderKind::Oidc { .. } => {
                let nonce = req.nonce.to_owned();
                let client = self.oidc_client(&*self.metadata(false).await?);
                let mut request = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        move || CsrfToken::new(state),
                        move || Nonce::new(nonce),
                    )
                    .add_scopes(scopes.filter(|s| s.as_str() != "openid"))
                    .set_pkce_challenge(challenge);
                if req.reauthenticate {
                    request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Login);
                }
                let (url, _, _) = request.url();
                url
            }
            ProviderKind::OAuth2 { authorize_url, .. } => {
                let auth = AuthUrl::new(authorize_url.clone())
                    .map_err(|e| FederationError::Config(e.to_string()))?;
                let client =
                    oauth2::basic::BasicClient::new(ClientId::new(self.settings.client_id.clone()))
                        .set_auth_uri(auth)
                        .set_redirect_uri(self.redirect_uri.clone());
                let (url, _) = client
                    .authorize_url(move || CsrfToken::new(state))
                    .add_scopes(scopes)
                    .set_pkce_challenge(challenge)
                    .url();
                url
            }
        };
        Ok(url.to_string())
    }

    /// Exchanges `code` (with the PKCE `verifier`) and verifies who signed in.
    pub async fn identify(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<Identity, FederationError> {
        match &self.settings.kind {
            ProviderKind::Oidc { userinfo, .. } => {
                self.identify_oidc(code, verifier, nonce, *userinfo, now)
                    .await
            }
            ProviderKind::OAuth2 {
                token_url,
                userinfo_url,
                subject_field,
                email_field,
                email_verified_field,
                emails_verified,
                ..
            } => {
                let token = TokenUrl::new(token_url.clone())
                    .map_err(|e| FederationError::Config(e.to_string()))?;
                let assertion = self.assertion(token_url, now)?;
                let mut client =
                    oauth2::basic::BasicClient::new(ClientId::new(self.settings.client_id.clone()))
                        .set_token_uri(token)
                        .set_redirect_uri(self.redirect_uri.clone())
                        .set_auth_type(self.auth_type());
                if let Some(s) = self.client_secret() {
                    client = client.set_client_secret(s);
                }
                let mut request = client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
                if let Some(a) = &assertion {
                    request = request
                        .add_extra_param("client_assertion_type", JWT_BEARER)
                        .add_extra_param("client_assertion", a.as_str());
                }
                let response = request
                    .request_async(&self.http)
                    .await
                    .map_err(exchange_error)?;
                let info = self.userinfo(userinfo_url, response.access_token()).await?;
                let subject = match info.get(subject_field.as_str()) {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(FederationError::InvalidIdentity(format!(
                            "userinfo has no {subject_field:?}"
                        )));
                    }
                };
                let email = info
                    .get(email_field.as_str())
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let verified = match email_verified_field {
                    Some(f) => info.get(f.as_str()).and_then(Value::as_bool) == Some(true),
                    None => *emails_verified,
                };
                Ok(Identity {
                    subject,
                    email,
                    email_verified: verified,
                })
            }
        }
    }

    async fn identify_oidc(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        read_userinfo: bool,
        now: Timestamp,
    ) -> Result<Identity, FederationError> {
        let discovered = self.metadata(false).await?;
        let client = self.oidc_client(&discovered);
        let token_url = discovered
            .metadata
            .token_endpoint()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        let assertion = self.assertion(&token_url, now)?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| FederationError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        if let Some(a) = &assertion {
            request = request
                .add_extra_param("client_assertion_type", JWT_BEARER)
                .add_extra_param("client_assertion", a.as_str());
        }
        let response = request
            .request_async(&self.http)
            .await
            .map_err(exchange_error)?;
        let id_token = response
            .id_token()
            .ok_or_else(|| FederationError::InvalidIdToken("no id_token in the response".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match id_token.claims(&self.id_token_verifier(&client, &discovered), &nonce) {
            Ok(c) => c.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) if discovered.at.elapsed() >= REFETCH_AFTER => {
                // The provider may have rotated its keys: read the document again, once.
                let fresh = self.metadata(true).await?;
                let client = self.oidc_client(&fresh);
                id_token
                    .claims(&self.id_token_verifier(&client, &fresh), &nonce)
                    .map_err(|e| FederationError::InvalidIdToken(e.to_string()))?
                    .clone()
            }
            Err(e) => return Err(FederationError::InvalidIdToken(e.to_string())),
        };
        // The crate checks neither `azp` nor `iat`: an `azp` must be this client, and a token
        // may not claim to be issued in the future (beyond clock skew).
        if let Some(azp) = claims.authorized_party()
            && azp.as_str() != self.settings.client_id
        {
            return Err(FederationError::InvalidIdToken(format!(
                "azp is {:?}, not this client",
                azp.as_str()
            )));
        }
        let issued = claims.issue_time().timestamp_millis();
        if issued > now.as_millis() + MAX_CLOCK_SKEW_MS {
            return Err(FederationError::InvalidIdToken(
                "iat is in the future".into(),
            ));
        }
        let mut identity = Identity {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
        };
        if read_userinfo {
            // Its subject must be the ID token's (token substitution).
            let info: openidconnect::core::CoreUserInfoClaims = client
                .user_info(
                    response.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .map_err(|e| FederationError::Config(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| match e {
                    openidconnect::UserInfoError::ClaimsVerification(v) => {
                        FederationError::InvalidIdentity(v.to_string())
                    }
                    other => FederationError::Unavailable(error_chain(&other)),
                })?;
            if let Some(email) = info.email() {
                identity.email = Some(email.as_str().to_owned());
                identity.email_verified = info.email_verified() == Some(true);
            }
        }
        Ok(identity)
    }

    fn auth_type(&self) -> AuthType {
        match self.settings.token_auth {
            TokenAuth::Basic => AuthType::BasicAuth,
            TokenAuth::Post | TokenAuth::PrivateKeyJwt { .. } => AuthType::RequestBody,
        }
    }

    /// The client secret sent to the token endpoint (none with `private_key_jwt`).
    fn client_secret(&self) -> Option<ClientSecret> {
        match self.settings.token_auth {
            TokenAuth::PrivateKeyJwt { .. } => None,
            _ => self
                .settings
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose_secret().into())),
        }
    }

    /// A client assertion for the token endpoint `token_url` (`private_key_jwt` only).
    fn assertion(
        &self,
        token_url: &str,
        now: Timestamp,
    ) -> Result<Option<String>, FederationError> {
        self.assertion
            .as_ref()
            .map(|a| a.sign(&self.settings.client_id, token_url, now))
            .transpose()
    }

    fn oidc_client(
        &self,
        discovered: &Discovered,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.client_secret(),
        )
        .set_redirect_uri(self.redirect_uri.clone())
        .set_auth_type(self.auth_type())
    }

    /// The verifier of this provider's ID tokens, with the algorithms pinned to the
    /// asymmetric ones its document announces (RS256 when it announces none of them).
    fn id_token_verifier<'a>(
        &self,
        client: &'a CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        discovered: &Discovered,
    ) -> openidconnect::core::CoreIdTokenVerifier<'a> {
        use CoreJwsSigningAlgorithm as A;
        let mut algs: Vec<A> = discovered
            .metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    A::RsaSsaPkcs1V15Sha256
                        | A::RsaSsaPkcs1V15Sha384
                        | A::RsaSsaPkcs1V15Sha512
                        | A::RsaSsaPssSha256
                        | A::RsaSsaPssSha384
                        | A::RsaSsaPssSha512
                        | A::EcdsaP256Sha256
                        | A::EcdsaP384Sha384
                        | A::EdDsa
                )
            })
            .cloned()
            .collect();
        if algs.is_empty() {
            algs.push(A::RsaSsaPkcs1V15Sha256);
        }
        client.id_token_verifier().set_allowed_algs(algs)
    }

    /// The discovery document: the cached one while it is fresh (and `force` is false),
    /// else read now (one reader at a time; the others wait and use its result). When the
    /// read fails, an older document is used if there is one (unless `force`), and for
    /// [`RETRY_AFTER_FAILURE`] no read is tried again.
    async fn metadata(&self, force: bool) -> Result<Arc<Discovered>, FederationError> {
        let fresh = |d: &Arc<Discovered>| {
            d.at.elapsed() < METADATA_MAX_AGE && (!force || d.at.elapsed() < REFETCH_AFTER)
        };
        if let Some(d) = self.discovered.load_full().filter(fresh) {
            return Ok(d);
        }
        // An older document (not for a forced read, and not older than STALE_LIMIT) is
        // served at once while another request reads the new one: nobody queues behind a
        // provider that does not answer.
        let stale = self
            .discovered
            .load_full()
            .filter(|d| !force && d.at.elapsed() < STALE_LIMIT);
        let mut failed = match (&stale, self.discovering.try_lock()) {
            (_, Ok(guard)) => guard,
            (Some(d), Err(_)) => return Ok(Arc::clone(d)),
            (None, Err(_)) => self.discovering.lock().await,
        };
        if let Some(d) = self.discovered.load_full().filter(fresh) {
            return Ok(d);
        }
        if failed.is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE) {
            return stale.ok_or_else(|| {
                FederationError::Unavailable("discovery failed moments ago".into())
            });
        }
        match self.discover().await {
            Ok(metadata) => {
                *failed = None;
                let d = Arc::new(Discovered {
                    metadata,
                    at: Instant::now(),
                });
                self.discovered.store(Some(Arc::clone(&d)));
                Ok(d)
            }
            Err(e) => {
                *failed = Some(Instant::now());
                tracing::warn!(
                    provider = %self.settings.name,
                    error = %e,
                    "identity provider discovery failed"
                );
                stale.ok_or(e)
            }
        }
    }

    /// Reads the discovery document (and its JWKS) now, and checks the endpoints it names.
    async fn discover(&self) -> Result<CoreProviderMetadata, FederationError> {
        let ProviderKind::Oidc { issuer, .. } = &self.settings.kind else {
            return Err(FederationError::Config("not an OpenID provider".into()));
        };
        let issuer =
            IssuerUrl::new(issuer.clone()).map_err(|e| FederationError::Config(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| FederationError::Unavailable(error_chain(&e)))?;
        // Every endpoint it names follows the rule for configured URLs: https, or http on
        // loopback (the code, the client secret and the tokens travel to them).
        let endpoints = [
            Some(metadata.authorization_endpoint().as_str()),
            metadata.token_endpoint().map(|u| u.as_str()),
            Some(metadata.jwks_uri().as_str()),
            metadata.userinfo_endpoint().map(|u| u.as_str()),
        ];
        for url in endpoints.into_iter().flatten() {
            crate::config::oauth::check_url(url).map_err(|why| {
                FederationError::Unavailable(format!("discovery names {url:?}: {why}"))
            })?;
        }
        Ok(metadata)
    }

    async fn userinfo(&self, url: &str, token: &AccessToken) -> Result<Value, FederationError> {
        let request = openidconnect::http::Request::builder()
            .method(openidconnect::http::Method::GET)
            .uri(url)
            .header(
                openidconnect::http::header::AUTHORIZATION,
                format!("Bearer {}", token.secret()),
            )
            .header(openidconnect::http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| FederationError::Config(e.to_string()))?;
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| FederationError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(FederationError::Unavailable(format!(
                "userinfo answered {}",
                response.status()
            )));
        }
        serde_json::from_slice(response.body())
            .map_err(|e| FederationError::InvalidIdentity(format!("userinfo: {e}")))
    }
}

/// Every cause of an error, joined (the crates' errors keep the useful part in sources).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// A failed code exchange: the provider refused it (an error response: the code is bad,
/// used, expired or not this client's), or could not be reached.
fn exchange_error<RE, T>(e: oauth2::RequestTokenError<RE, T>) -> FederationError
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => FederationError::Refused(r.to_string()),
        other => FederationError::Unavailable(error_chain(&other)),
    }
}
