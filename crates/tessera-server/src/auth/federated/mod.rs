//! [`FederatedSignIn`]: signing in with an external OpenID Connect or OAuth 2.0 provider
//! (`/v1/oauth/*`), and the user's linked identities (`/v1/identities`).
//!
//! The flow, and what each step checks:
//! 1. **authorize**: the provider exists and `return_to` is allow-listed; a [`Pending`]
//!    record (PKCE verifier, nonce, provider, return URL, the digest of the browser-binding
//!    cookie `__Host-tessera_oauth`, and the user when linking) is stored for 10 minutes
//!    under the SHA-256 of a 256-bit `state`; the browser is sent to the provider.
//! 2. **callback**: the state must exist, belong to this provider and to this browser (its
//!    cookie); only then is it *taken* (single use: of two concurrent callbacks, one goes
//!    on). The code is exchanged with the verifier and the answer verified
//!    (`federation::Provider::identify`). The identity decides the account:
//!    a linked one signs in to its user; a new one with an email nobody has, asserted
//!    verified, creates an account; a new one whose email has an account signs in to it only
//!    when the provider asserts the email verified **and** the operator allowed linking by
//!    email (`oauth.link_verified_email`) **and** that account has no password (its email
//!    was proven by a provider; a registration never proves its email), else 409
//!    `account_exists`. A banned user is
//!    refused. The browser is sent back to `return_to` with a one-time code (60 s) — tokens
//!    never travel in a URL.
//! 3. **exchange**: the app posts the code from the same browser (the cookie again); it is
//!    taken once, and the sign-in goes on exactly like a password sign-in after its first
//!    factor: tokens, or the second-factor challenge when the account has one.
//!
//! Linking from a signed-in session (`link`) proves the password, then hands back a URL
//! of this server's `authorize` carrying a single-use ticket, so the browser that follows it
//! gets the binding cookie.

pub mod error;
pub mod records;
pub mod secrets;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use self::records::{Handoff, LinkTicket, Pending};
use self::secrets::Secret;
use super::AuthCore;
use super::error::AuthError;
use super::fingerprint::Fingerprint;
use super::sign_in::{SignIn, SignInService};
use crate::accounts::email::Email;
use crate::accounts::users::{CreateUserError, NewUser, User};
use crate::app_metrics::{FederatedResult, LoginResult};
use crate::audit::{EventKind, SecurityEvent};
use crate::config::oauth::OAuthSettings;
use crate::device::ClientInfo;
use crate::federation::identities::LinkError;
use crate::federation::{Identities, Identity, LinkedIdentity, Providers};
use crate::mfa::challenge::standing;
pub use error::FederatedError;

/// The `amr` value of a session opened through a provider.
pub const AMR_FEDERATED: &str = "fed";

/// How long after its creation a password-less account without identity is taken for
/// another sign-in's account still being linked, not an orphan.
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Name of the browser-binding cookie.
pub const BROWSER_COOKIE: &str = "__Host-tessera_oauth";

/// A started sign-in: where to send the browser, and the binding cookie to set.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL.
    pub location: String,
    /// Value of [`BROWSER_COOKIE`].
    pub browser: String,
}

/// What the provider sent back to the callback.
#[derive(Debug, Default)]
pub struct CallbackParams {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error` (e.g. `access_denied`).
    pub error: Option<String>,
}

/// See the module documentation.
#[derive(Clone)]
pub struct FederatedSignIn {
    core: Arc<AuthCore>,
    sign_in: SignInService,
    providers: Providers,
    identities: Identities,
    passkeys: crate::accounts::passkeys::Passkeys,
    settings: Arc<OAuthSettings>,
    /// This server's public base URL (the link URL points at its `authorize`).
    issuer: String,
}

impl std::fmt::Debug for FederatedSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederatedSignIn")
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl FederatedSignIn {
    /// Over `core`; sign-ins finish through `sign_in`.
    pub fn new(
        core: Arc<AuthCore>,
        sign_in: SignInService,
        providers: Providers,
        settings: OAuthSettings,
        issuer: String,
    ) -> Self {
        let identities = Identities::new(core.users.database().clone());
        let passkeys = crate::accounts::passkeys::Passkeys::new(core.users.database().clone());
        Self {
            core,
            sign_in,
            providers,
            identities,
            passkeys,
            settings: Arc::new(settings),
            issuer,
        }
    }

    /// `(name, display_name)` of every provider.
    pub fn providers(&self) -> Vec<(String, String)> {
        self.providers
            .all()
            .map(|p| (p.settings().name.clone(), p.settings().display_name.clone()))
            .collect()
    }

    /// Step 1: stores the pending sign-in and gives the provider's URL. `browser` is the
    /// caller's binding cookie, kept when well-formed (two tabs signing in at once share
    /// it); `link` a ticket from [`FederatedSignIn::link`].
    #[allow(clippy::too_many_arguments)]
    pub async fn authorize(
        &self,
        provider: &str,
        return_to: Option<&str>,
        link: Option<&str>,
        browser: Option<&str>,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Started, AuthError> {
        // Each start stores a record for `state_ttl`: the address's budgets first.
        self.core.limits.before_ceremony(ip, now).await?;
        let provider = self
            .providers
            .get(provider)
            .ok_or(FederatedError::UnknownProvider)?;
        let return_to = self.allowed_return(return_to)?;
        let browser = browser.and_then(Secret::parse);
        // A link ticket: this provider's, from this browser; checked before it is taken, so
        // a foreign try does not use it up.
        let ticket = match link {
            None => None,
            Some(t) => {
                let ticket = Secret::parse(t).ok_or(FederatedError::InvalidState)?;
                let record: LinkTicket = self
                    .core
                    .read_record(&records::link_key(&ticket), now)
                    .await?
                    .ok_or(FederatedError::InvalidState)?;
                if record.provider != provider.settings().name
                    || !browser.as_ref().is_some_and(|b| b.matches(&record.browser))
                {
                    return Err(FederatedError::InvalidState.into());
                }
                Some((ticket, record.target))
            }
        };
        let browser = browser.unwrap_or_else(Secret::generate);
        let state = Secret::generate();
        let verifier = Secret::generate();
        let nonce = Secret::generate();
        let location = provider
            .authorize_url(&crate::federation::provider::AuthorizeRequest {
                state: state.as_str(),
                verifier: verifier.as_str(),
                nonce: nonce.as_str(),
                reauthenticate: ticket.is_some(),
            })
            .await
            .map_err(FederatedError::from)?;
        let link = match ticket {
            None => None,
            Some((ticket, target)) => {
                if self
                    .core
                    .store
                    .take(&records::link_key(&ticket), now)
                    .await?
                    .is_none()
                {
                    return Err(FederatedError::InvalidState.into());
                }
                Some(target)
            }
        };
        let pending = Pending {
            provider: provider.settings().name.clone(),
            verifier: verifier.as_str().to_owned(),
            nonce: nonce.as_str().to_owned(),
            return_to,
            browser: browser.digest(),
            link,
        };
        self.core
            .put_record(
                &records::pending_key(&state),
                &pending,
                self.settings.state_ttl,
                now,
            )
            .await?;
        Ok(Started {
            location,
            browser: browser.as_str().to_owned(),
        })
    }

    /// Step 2: checks the state against this provider and browser, takes it, verifies the
    /// provider's answer and decides the account. Gives the URL to send the browser to.
    pub async fn callback(
        &self,
        provider: &str,
        params: CallbackParams,
        browser: Option<&str>,
        client: ClientInfo,
        now: Timestamp,
    ) -> Result<String, AuthError> {
        self.core.limits.before_request(client.ip, now).await?;
        let result = self
            .callback_step(provider, params, browser, client, now)
            .await;
        if let Err(AuthError::Federated(_) | AuthError::AccountDisabled) = &result
            && self.providers.get(provider).is_some()
        {
            self.core
                .metrics
                .federated(provider, FederatedResult::Refused);
        }
        result
    }

    async fn callback_step(
        &self,
        provider: &str,
        params: CallbackParams,
        browser: Option<&str>,
        client: ClientInfo,
        now: Timestamp,
    ) -> Result<String, AuthError> {
        let provider = self
            .providers
            .get(provider)
            .ok_or(FederatedError::UnknownProvider)?;
        let state = params
            .state
            .as_deref()
            .and_then(Secret::parse)
            .ok_or(FederatedError::InvalidState)?;
        let key = records::pending_key(&state);
        let pending: Pending = self
            .core
            .read_record(&key, now)
            .await?
            .ok_or(FederatedError::InvalidState)?;
        let browser = browser.and_then(Secret::parse);
        if pending.provider != provider.settings().name
            || !browser
                .as_ref()
                .is_some_and(|b| b.matches(&pending.browser))
        {
            return Err(FederatedError::InvalidState.into());
        }
        // Single use: of two concurrent callbacks with this state, one goes on.
        if self.core.store.take(&key, now).await?.is_none() {
            return Err(FederatedError::InvalidState.into());
        }
        if let Some(error) = params.error {
            return Err(FederatedError::Denied(error).into());
        }
        let code = params
            .code
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or_else(|| FederatedError::Denied("no code".into()))?;
        let identity = provider
            .identify(&code, &pending.verifier, &pending.nonce, now)
            .await
            .map_err(FederatedError::from)?;
        let name = provider.settings().name.clone();
        if let Some(target) = pending.link {
            // The password that asked for the link must still be good.
            let account = self.core.user(target.user).await?;
            if standing(&account.password_hash, account.token_version) != target.standing {
                return Err(FederatedError::InvalidState.into());
            }
            self.link_to(target.user, &name, &identity, &client, now)
                .await?;
            return Ok(with_query(&pending.return_to, "linked", &name));
        }
        let user = self.account_for(&name, &identity, &client, now).await?;
        if user.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        let code = Secret::generate();
        let handoff = Handoff {
            user: user.id,
            provider: name,
            client,
            browser: pending.browser,
            standing: standing(&user.password_hash, user.token_version),
        };
        self.core
            .put_record(
                &records::handoff_key(&code),
                &handoff,
                records::CODE_TTL,
                now,
            )
            .await?;
        Ok(with_query(&pending.return_to, "code", code.as_str()))
    }

    /// Step 3: takes the one-time code (from the browser it was issued to) and finishes the
    /// sign-in as a password sign-in finishes after the password: tokens, or the
    /// second-factor challenge.
    pub async fn exchange(
        &self,
        code: &str,
        browser: Option<&str>,
        fingerprint: Option<&Fingerprint>,
        trust_cookie: Option<&str>,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<SignIn, AuthError> {
        self.core.limits.before_request(ip, now).await?;
        let code = Secret::parse(code).ok_or(FederatedError::InvalidCode)?;
        let key = records::handoff_key(&code);
        let handoff: Handoff = self
            .core
            .read_record(&key, now)
            .await?
            .ok_or(FederatedError::InvalidCode)?;
        let browser = browser.and_then(Secret::parse);
        if !browser
            .as_ref()
            .is_some_and(|b| b.matches(&handoff.browser))
        {
            return Err(FederatedError::InvalidCode.into());
        }
        if self.core.store.take(&key, now).await?.is_none() {
            return Err(FederatedError::InvalidCode.into());
        }
        let user = self.core.user(handoff.user).await?;
        if user.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        if standing(&user.password_hash, user.token_version) != handoff.standing {
            return Err(FederatedError::InvalidCode.into());
        }
        let mut client = handoff.client;
        client.amr = vec![AMR_FEDERATED.to_owned()];
        let outcome = self
            .sign_in
            .after_password(&user, client.clone(), fingerprint, trust_cookie, false, now)
            .await?;
        let (result, login) = match outcome {
            SignIn::Tokens(_) => (FederatedResult::Success, LoginResult::Success),
            SignIn::Mfa(_) => (FederatedResult::MfaRequired, LoginResult::MfaRequired),
        };
        self.core.metrics.federated(&handoff.provider, result);
        self.core.metrics.login(login);
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::FederatedLogin, user.id, now)
                    .client(&client)
                    .details(json!({
                        "provider": handoff.provider,
                        "mfa_required": matches!(outcome, SignIn::Mfa(_)),
                    })),
            )
            .await;
        Ok(outcome)
    }

    /// `POST /v1/oauth/{provider}/link`: after the password, a URL of this server's
    /// `authorize` with a single-use ticket that only this provider and this browser (its
    /// binding cookie `browser`, kept when well-formed, else a new one to set) can use; its
    /// callback links the identity to `user`. `location` of the result is that URL.
    #[allow(clippy::too_many_arguments)]
    pub async fn link(
        &self,
        user: UserId,
        provider: &str,
        password: Zeroizing<String>,
        return_to: Option<&str>,
        browser: Option<&str>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<Started, AuthError> {
        let provider = self
            .providers
            .get(provider)
            .ok_or(FederatedError::UnknownProvider)?;
        let return_to = self
            .allowed_return(return_to.or(self.settings.return_urls.first().map(String::as_str)))?;
        let user = self.core.user(user).await?;
        self.core
            .prove_password(&user, password, client, "link_identity", now)
            .await?;
        let browser = browser
            .and_then(Secret::parse)
            .unwrap_or_else(Secret::generate);
        let ticket = Secret::generate();
        let record = LinkTicket {
            target: records::LinkTarget {
                user: user.id,
                standing: standing(&user.password_hash, user.token_version),
            },
            provider: provider.settings().name.clone(),
            browser: browser.digest(),
        };
        self.core
            .put_record(&records::link_key(&ticket), &record, records::LINK_TTL, now)
            .await?;
        let base = format!(
            "{}/v1/oauth/{}/authorize",
            self.issuer.trim_end_matches('/'),
            provider.settings().name
        );
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| AuthError::Internal(format!("issuer URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("return_to", &return_to)
            .append_pair("link", ticket.as_str());
        Ok(Started {
            location: url.to_string(),
            browser: browser.as_str().to_owned(),
        })
    }

    /// `user`'s linked identities.
    pub async fn identities(&self, user: UserId) -> Result<Vec<LinkedIdentity>, AuthError> {
        Ok(self.identities.of_user(user).await?)
    }

    /// Unlinks `user`'s identity at `provider`, unless it is the last way to sign in (no
    /// password and no other identity: decided in one transaction, so two concurrent
    /// unlinks cannot remove the last two).
    pub async fn unlink(
        &self,
        user: UserId,
        provider: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let user = self.core.user(user).await?;
        let outcome = self
            .identities
            .unlink_unless_last(user.id, provider, user.has_password())
            .await?;
        match outcome {
            crate::federation::identities::Unlinked::Removed => {}
            crate::federation::identities::Unlinked::NotLinked => {
                return Err(FederatedError::IdentityNotFound.into());
            }
            crate::federation::identities::Unlinked::Last => {
                return Err(FederatedError::LastSignInMethod.into());
            }
        }
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::IdentityUnlinked, user.id, now)
                    .client(client)
                    .details(json!({ "provider": provider })),
            )
            .await;
        Ok(())
    }

    /// The account `identity` signs in to, creating or linking as the module documentation
    /// says.
    async fn account_for(
        &self,
        provider: &str,
        identity: &Identity,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<User, AuthError> {
        if let Some(linked) = self.identities.find(provider, &identity.subject).await? {
            return self.core.user(linked.user).await;
        }
        let email = identity
            .email
            .as_deref()
            .and_then(Email::parse)
            .filter(|_| identity.email_verified);
        let Some(email) = email else {
            // Another account's email, asserted or not, is never taken over; a new account
            // needs a verified email (an unverified one could belong to someone else, who
            // would later reset the password of an account the provider account can enter).
            if let Some(e) = identity.email.as_deref().and_then(Email::parse)
                && self.core.users.by_email(&e).await?.is_some()
            {
                return Err(FederatedError::AccountExists.into());
            }
            return Err(FederatedError::EmailUnverified.into());
        };
        let user = match self.core.users.by_email(&email).await? {
            // Only an account whose email was proven by a provider (it has no password: it
            // was made by a federated sign-in, which needs a verified email). A password
            // account's email was never proven: whoever registered it may not own it, and
            // linking would let them share the account the real owner then signs in to.
            Some(existing) if self.settings.link_verified_email && !existing.has_password() => {
                existing
            }
            // An account a federated sign-in created but could not link (the link failed
            // after the account was written): no password and no identity. Linking a
            // verified owner of its email is what creating it would have done.
            // Not within a minute of its creation (then it may be another sign-in's account
            // still being linked), and never one with a passkey (a way to sign in too).
            Some(existing)
                if !existing.has_password()
                    && existing.created_at.plus(ORPHAN_GRACE) <= now
                    && self.identities.of_user(existing.id).await?.is_empty()
                    && self.passkeys.of_user(existing.id).await?.is_empty() =>
            {
                // As for a new account: the provider asserted the email verified.
                self.core.users.prove_email(existing.id, now).await?;
                existing
            }
            Some(_) => return Err(FederatedError::AccountExists.into()),
            None => {
                let new = NewUser {
                    id: UserId::new(),
                    email,
                    name: None,
                    password_hash: crate::accounts::users::no_password(),
                };
                match self.core.users.create(new, now).await {
                    // The provider asserted the email verified (checked above).
                    Ok(u) => {
                        self.core.users.prove_email(u.id, now).await?;
                        u
                    }
                    Err(CreateUserError::EmailTaken) => {
                        return Err(FederatedError::AccountExists.into());
                    }
                    Err(CreateUserError::Db(e)) => return Err(e.into()),
                }
            }
        };
        self.link_to(user.id, provider, identity, client, now)
            .await?;
        Ok(user)
    }

    /// Links `identity` to `user` (nothing to do when it already is).
    async fn link_to(
        &self,
        user: UserId,
        provider: &str,
        identity: &Identity,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let account = self.core.user(user).await?;
        if account.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        if let Some(linked) = self.identities.find(provider, &identity.subject).await? {
            return if linked.user == user {
                Ok(())
            } else {
                Err(FederatedError::IdentityInUse.into())
            };
        }
        let link = LinkedIdentity {
            provider: provider.to_owned(),
            subject: identity.subject.clone(),
            user,
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            linked_at: now,
        };
        match self.identities.link(&link).await {
            Ok(()) => {}
            Err(LinkError::Conflict) => return Err(FederatedError::IdentityInUse.into()),
            Err(LinkError::Db(e)) => return Err(e.into()),
        }
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::IdentityLinked, user, now)
                    .client(client)
                    .details(json!({ "provider": provider })),
            )
            .await;
        Ok(())
    }

    /// `return_to` when it is allow-listed: equal to a listed URL in scheme, host, port and
    /// path (a query string of its own is kept; a fragment or user info never passes).
    fn allowed_return(&self, return_to: Option<&str>) -> Result<String, FederatedError> {
        let given = return_to.ok_or(FederatedError::InvalidReturnUrl)?;
        let parsed = reqwest::Url::parse(given).map_err(|_| FederatedError::InvalidReturnUrl)?;
        // Its own query may not carry what this server appends (`code`, `linked`): the app
        // would read a planted value first.
        if parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed
                .query_pairs()
                .any(|(k, _)| k == "code" || k == "linked" || k == "state" || k == "error")
        {
            return Err(FederatedError::InvalidReturnUrl);
        }
        let same = |allowed: &String| {
            reqwest::Url::parse(allowed).is_ok_and(|a| {
                a.scheme() == parsed.scheme()
                    && a.host() == parsed.host()
                    && a.port_or_known_default() == parsed.port_or_known_default()
                    && a.path() == parsed.path()
            })
        };
        if self.settings.return_urls.iter().any(same) {
            Ok(parsed.to_string())
        } else {
            Err(FederatedError::InvalidReturnUrl)
        }
    }
}

/// `url` with `name=value` appended to its query.
fn with_query(url: &str, name: &str, value: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair(name, value);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}
