//! Federated sign-in through the real binary: a real OpenID provider (`oidc-provider`), the
//! same provider configured as plain OAuth 2.0 (userinfo), and a hostile provider whose ID
//! tokens are broken on request. A hand-driven browser ([`Agent`]) follows every redirect.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::{RedisServer, TempDir, free_port, redis_available};

use super::signin::decode;
use crate::common::binary::Binary;
use crate::common::http::form_encode;
use crate::common::idp::{Agent, Idp, Stopped, query};
use crate::common::totp::{fresh_step, totp_now};
use crate::common::{PW, email};

const ADMIN: &str = "federated-admin-token-0123456789";
const HOSTILE_SECRET: &str = "hostile-secret-0123456789abcdef";

/// A server with three providers: `idp` (OpenID Connect, `oidc-provider`), `gh` (the same
/// provider as plain OAuth 2.0 with its userinfo endpoint, `client_secret_post`) and
/// `hostile`. Secrets come from the environment (`TESSERA_OAUTH_<NAME>_CLIENT_SECRET`).
struct Fed {
    srv: Binary,
    idp: Idp,
    hostile: Idp,
    /// The allow-listed return URL (never served: the browser stops there).
    app: String,
    _redis: Option<RedisServer>,
    dir: TempDir,
}

impl Fed {
    async fn start(redis: bool, oauth: &str) -> Option<Self> {
        Self::start_with(redis, oauth, &[]).await
    }

    /// As [`Fed::start`], with `extra` environment variables (they win).
    async fn start_with(redis: bool, oauth: &str, extra: &[(&str, &str)]) -> Option<Self> {
        if redis && !redis_available() {
            tessera_testkit::services::missing("redis-server");
            return None;
        }
        let dir = TempDir::new("federated");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let key_file = dir
            .path()
            .join("client-key.pem")
            .to_string_lossy()
            .into_owned();
        let clients = json!([
            {
                "client_id": "tessera-oidc",
                "client_secret": "idp-secret-0123456789abcdef0123",
                "redirect_uris": [format!("{base}/v1/oauth/idp/callback")],
            },
            {
                "client_id": "tessera-oauth2",
                "client_secret": "gh-secret-0123456789abcdef01234",
                "redirect_uris": [format!("{base}/v1/oauth/gh/callback")],
                "token_endpoint_auth_method": "client_secret_post",
            },
            {
                "client_id": "tessera-pkjwt",
                "redirect_uris": [format!("{base}/v1/oauth/pkjwt/callback")],
                "generate_key_to": key_file,
            }
        ]);
        let idp = Idp::start("provider.mjs", &[("OIDC_CLIENTS", &clients.to_string())])?;
        let hostile = Idp::start(
            "hostile.mjs",
            &[
                ("HOSTILE_CLIENT_ID", "hostile-client"),
                ("HOSTILE_CLIENT_SECRET", HOSTILE_SECRET),
            ],
        )?;
        let app = format!("http://127.0.0.1:{}/signed-in", free_port());
        let config = format!(
            r#"
[oauth]
return_urls = ["{app}"]
{oauth}

[oauth.providers.idp]
display_name = "Test IdP"
issuer = "{idp}"
client_id = "tessera-oidc"
userinfo = true

[oauth.providers.gh]
kind = "oauth2"
authorize_url = "{idp}/auth"
token_url = "{idp}/token"
userinfo_url = "{idp}/me"
subject_field = "sub"
email_verified_field = "email_verified"
scopes = "openid email"
token_auth = "client_secret_post"
client_id = "tessera-oauth2"

[oauth.providers.pkjwt]
issuer = "{idp}"
client_id = "tessera-pkjwt"
token_auth = "private_key_jwt"
private_key_file = "{key_file}"
private_key_id = "tessera-1"

[oauth.providers.hostile]
issuer = "{hostile}"
client_id = "hostile-client"
"#,
            idp = idp.issuer,
            hostile = hostile.issuer,
        );
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, config).unwrap();
        let redis_server = redis.then(|| RedisServer::start(free_port(), dir.path(), &[]));
        let redis_url = redis_server.as_ref().map(|r| r.url()).unwrap_or_default();
        let config_path = path.to_string_lossy().into_owned();
        let mut env = vec![
            ("TESSERA_CONFIG", config_path.as_str()),
            ("TESSERA_RATE_LIMIT", "off"),
            ("TESSERA_ADMIN_TOKEN", ADMIN),
            (
                "TESSERA_OAUTH_IDP_CLIENT_SECRET",
                "idp-secret-0123456789abcdef0123",
            ),
            (
                "TESSERA_OAUTH_GH_CLIENT_SECRET",
                "gh-secret-0123456789abcdef01234",
            ),
            ("TESSERA_OAUTH_HOSTILE_CLIENT_SECRET", HOSTILE_SECRET),
        ];
        if redis {
            env.push(("REDIS_URL", redis_url.as_str()));
        }
        env.extend_from_slice(extra);
        let srv = Binary::serve_on(port, dir.path(), &env).await;
        Some(Self {
            srv,
            idp,
            hostile,
            app,
            _redis: redis_server,
            dir,
        })
    }

    fn base(&self) -> &str {
        &self.srv.http.base
    }

    fn authorize_url(&self, provider: &str, return_to: &str) -> String {
        format!(
            "{}/v1/oauth/{provider}/authorize?return_to={}",
            self.base(),
            form_encode(return_to)
        )
    }

    /// The whole redirect flow in `browser`: the one-time code handed to the app.
    async fn sign_in(&self, browser: &mut Agent, provider: &str) -> Result<String, Stopped> {
        let back = browser
            .follow(&self.authorize_url(provider, &self.app), &self.app)
            .await?;
        Ok(query(&back, "code").expect("a code for the app"))
    }

    /// Up to (not into) this server's callback: its URL, with `state` and `code`.
    async fn to_callback(&self, browser: &mut Agent, provider: &str) -> String {
        let callback = format!("{}/v1/oauth/{provider}/callback", self.base());
        browser
            .follow(&self.authorize_url(provider, &self.app), &callback)
            .await
            .unwrap()
    }

    async fn exchange(&self, browser: &mut Agent, code: &str) -> (StatusCode, Value) {
        browser
            .post(
                &format!("{}/v1/oauth/exchange", self.base()),
                &json!({ "code": code }),
                None,
            )
            .await
    }

    /// Signs in through `provider` and exchanges the code: the token pair.
    async fn tokens(&self, provider: &str) -> Value {
        let mut browser = Agent::new();
        let code = self.sign_in(&mut browser, provider).await.unwrap();
        let (status, body) = self.exchange(&mut browser, &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn access(pair: &Value) -> String {
    pair["access_token"].as_str().unwrap().to_owned()
}

async fn a_real_provider_signs_in_over_oidc_and_plain_oauth2(redis: bool) {
    let Some(f) = Fed::start(redis, "").await else {
        return;
    };
    let listed = f
        .srv
        .call(Method::GET, "/v1/oauth/providers", None, None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    assert_eq!(
        listed.body["providers"],
        json!([
            {"name": "gh", "display_name": "gh"},
            {"name": "hostile", "display_name": "hostile"},
            {"name": "idp", "display_name": "Test IdP"},
            {"name": "pkjwt", "display_name": "pkjwt"},
        ])
    );

    // The first hop: to the provider with PKCE S256, state and nonce, and the binding cookie.
    let alice = email("alice");
    f.idp.next_account("alice-sub", &alice, true).await;
    let mut browser = Agent::new();
    let to_idp = browser.get(&f.authorize_url("idp", &f.app)).await.unwrap();
    assert!(
        to_idp.starts_with(&format!("{}/auth?", f.idp.issuer)),
        "{to_idp}"
    );
    assert_eq!(
        query(&to_idp, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query(&to_idp, "state").unwrap().len(), 43);
    assert_eq!(query(&to_idp, "nonce").unwrap().len(), 43);
    assert_eq!(query(&to_idp, "code_challenge").unwrap().len(), 43);
    assert_eq!(
        query(&to_idp, "redirect_uri").unwrap(),
        format!("{}/v1/oauth/idp/callback", f.base())
    );
    assert!(browser.cookie(f.base(), "__Host-tessera_oauth").is_some());
    let back = browser.follow(&to_idp, &f.app).await.unwrap();
    assert!(back.starts_with(&format!("{}?code=", f.app)), "{back}");
    let code = query(&back, "code").unwrap();
    assert!(!back.contains("access_token") && !back.contains("refresh_token"));

    let (status, pair) = f.exchange(&mut browser, &code).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let me = f.srv.me(&access(&pair)).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["email"], alice.as_str());
    let (_, claims) = decode(&access(&pair));
    assert_eq!(claims["amr"], json!(["fed"]), "{claims}");
    let alice_id = me.body["id"].clone();
    // The code is single use.
    let (status, again) = f.exchange(&mut browser, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(again["code"], "invalid_code");
    // The refresh token of a federated session rotates like any other.
    let refreshed = f.srv.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");

    // Signing in again finds the same account through the linked identity.
    let second = f.tokens("idp").await;
    let me2 = f.srv.me(&access(&second)).await;
    assert_eq!(me2.body["id"], alice_id);
    let ids = f
        .srv
        .call(Method::GET, "/v1/identities", None, Some(&access(&second)))
        .await;
    assert_eq!(ids.status, StatusCode::OK, "{ids:?}");
    let list = ids.body["identities"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{ids:?}");
    assert_eq!(list[0]["provider"], "idp");
    assert_eq!(list[0]["subject"], "alice-sub");
    assert_eq!(list[0]["email"], alice.as_str());
    let events = f
        .srv
        .call(
            Method::GET,
            "/v1/security-events",
            None,
            Some(&access(&second)),
        )
        .await;
    let kinds: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"federated_login"), "{kinds:?}");
    assert!(kinds.contains(&"identity_linked"), "{kinds:?}");
    // The admin sees the user's identities.
    let admin = f
        .srv
        .call(
            Method::GET,
            &format!("/v1/admin/users/{}/identities", alice_id.as_str().unwrap()),
            None,
            Some(ADMIN),
        )
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert_eq!(admin.body["identities"][0]["provider"], "idp");
    // Its only way to sign in is never unlinked.
    let unlink = f
        .srv
        .call(
            Method::DELETE,
            "/v1/identities/idp",
            None,
            Some(&access(&second)),
        )
        .await;
    assert_eq!(unlink.status, StatusCode::CONFLICT, "{unlink:?}");
    assert_eq!(unlink.code(), Some("last_sign_in_method"));

    let metrics = f.srv.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(
        text.contains(r#"tessera_federated_logins_total{provider="idp",result="success"} 2"#),
        "{text}"
    );

    // Plain OAuth 2.0: the access token reads the userinfo endpoint.
    let bob = email("bob");
    f.idp.next_account("bob-sub", &bob, true).await;
    let pair = f.tokens("gh").await;
    let me = f.srv.me(&access(&pair)).await;
    assert_eq!(me.body["email"], bob.as_str());
    assert_ne!(me.body["id"], alice_id);

    // private_key_jwt: the client proves itself with a signed assertion, no secret.
    let carol = email("carol");
    f.idp.next_account("carol-sub", &carol, true).await;
    let pair = f.tokens("pkjwt").await;
    assert_eq!(f.srv.me(&access(&pair)).await.body["email"], carol.as_str());

    // Alice's email through another provider account: not linked by email (not allowed by
    // this configuration), 409.
    f.idp.next_account("alice-other", &alice, true).await;
    let mut browser = Agent::new();
    let refused = f.sign_in(&mut browser, "gh").await.unwrap_err();
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.code(), "account_exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_provider_signs_in_over_oidc_and_plain_oauth2_on_memory() {
    a_real_provider_signs_in_over_oidc_and_plain_oauth2(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_provider_signs_in_over_oidc_and_plain_oauth2_on_redis() {
    a_real_provider_signs_in_over_oidc_and_plain_oauth2(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_single_use_bound_to_its_browser_and_provider_and_return_urls_allow_listed() {
    let Some(f) = Fed::start(false, "").await else {
        return;
    };
    // Return URLs: exactly an allow-listed one (its own query string allowed).
    let app_origin = f.app.trim_end_matches("/signed-in").to_owned();
    for bad in [
        "http://evil.example/signed-in".to_owned(),
        format!("{}.evil.example", f.app),
        format!("{app_origin}/other"),
        format!("{}#fragment", f.app),
        f.app.replace("http://", "http://user:pw@"),
        "javascript:alert(1)".to_owned(),
        format!("{}?code=planted", f.app),
        format!("{}?x=1&linked=idp", f.app),
        "//evil.example".to_owned(),
        String::new(),
    ] {
        let mut browser = Agent::new();
        let r = browser
            .get(&f.authorize_url("idp", &bad))
            .await
            .unwrap_err();
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {r:?}");
        assert_eq!(r.code(), "invalid_return_url", "{bad}");
    }
    let mut browser = Agent::new();
    let r = browser
        .get(&format!("{}/v1/oauth/idp/authorize", f.base()))
        .await
        .unwrap_err();
    assert_eq!(r.code(), "invalid_return_url");
    let r = browser
        .get(&f.authorize_url("nope", &f.app))
        .await
        .unwrap_err();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "unknown_provider");
    let with_query = format!("{}?next=%2Fsettings", f.app);
    assert!(
        browser
            .get(&f.authorize_url("idp", &with_query))
            .await
            .is_ok()
    );

    f.idp.next_account("carol-sub", &email("carol"), true).await;
    // Another browser (no binding cookie, or another one) cannot use the state…
    let mut owner = Agent::new();
    let callback = f.to_callback(&mut owner, "idp").await;
    let mut thief = Agent::new();
    let r = thief.get(&callback).await.unwrap_err();
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    assert_eq!(r.code(), "invalid_state");
    let _ = thief.get(&f.authorize_url("idp", &f.app)).await.unwrap();
    let r = thief.get(&callback).await.unwrap_err();
    assert_eq!(
        r.code(),
        "invalid_state",
        "a binding cookie of its own does not help"
    );
    // …nor can another provider's callback…
    let foreign = callback.replace("/v1/oauth/idp/callback", "/v1/oauth/hostile/callback");
    let r = owner.get(&foreign).await.unwrap_err();
    assert_eq!(r.code(), "invalid_state");
    // …and neither attempt used it up: the owner goes on, once.
    let back = owner.get(&callback).await.unwrap();
    assert!(back.starts_with(&format!("{}?code=", f.app)), "{back}");
    let r = owner.get(&callback).await.unwrap_err();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_state", "replayed state");
    // A made-up state, and none.
    let forged = format!(
        "{}/v1/oauth/idp/callback?code=x&state={}",
        f.base(),
        "A".repeat(43)
    );
    assert_eq!(
        owner.get(&forged).await.unwrap_err().code(),
        "invalid_state"
    );
    let none = format!("{}/v1/oauth/idp/callback?code=x", f.base());
    assert_eq!(owner.get(&none).await.unwrap_err().code(), "invalid_state");

    // The one-time code only works in the browser it was handed to.
    let code = query(&back, "code").unwrap();
    let (status, body) = f.exchange(&mut thief, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_code");
    let (status, body) = f.exchange(&mut owner, &code).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the thief's try did not use it up: {body}"
    );
    let (status, _) = f.exchange(&mut owner, "not-a-code").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_id_tokens_and_provider_errors_are_refused_and_key_rotation_is_followed() {
    let Some(f) = Fed::start(false, "").await else {
        return;
    };
    f.hostile
        .next_account("dave-sub", &email("dave"), true)
        .await;
    // The same provider with a valid token works (so the refusals below are about the token).
    f.hostile.control("/test/mode?m=ok").await;
    let mut browser = Agent::new();
    let code = f.sign_in(&mut browser, "hostile").await.unwrap();
    assert_eq!(f.exchange(&mut browser, &code).await.0, StatusCode::OK);
    for mode in [
        "wrong_aud",
        "wrong_nonce",
        "wrong_iss",
        "wrong_azp",
        "future_iat",
        "expired",
        "alg_none",
        "unknown_key",
        "tampered",
        "hs256",
    ] {
        f.hostile.control(&format!("/test/mode?m={mode}")).await;
        let mut browser = Agent::new();
        let r = f.sign_in(&mut browser, "hostile").await.unwrap_err();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{mode}: {r:?}");
        assert_eq!(r.code(), "invalid_id_token", "{mode}");
    }
    f.hostile.control("/test/mode?m=deny").await;
    let mut browser = Agent::new();
    let r = f.sign_in(&mut browser, "hostile").await.unwrap_err();
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    assert_eq!(r.code(), "oauth_denied");

    // The provider rotates to a new key: once the cached JWKS is old enough to be read
    // again, a token signed with the new key is accepted.
    tokio::time::sleep(tessera_server::federation::provider::REFETCH_AFTER).await;
    f.hostile.control("/test/mode?m=rotate").await;
    let mut browser = Agent::new();
    let code = f.sign_in(&mut browser, "hostile").await.unwrap();
    assert_eq!(f.exchange(&mut browser, &code).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_takeover_by_email_linking_needs_the_password_and_mfa_and_bans_still_hold() {
    let Some(f) = Fed::start(false, "").await else {
        return;
    };
    f.hostile.control("/test/mode?m=ok").await;
    let victim = email("victim");
    let sess = f.srv.signed_up(&victim).await;
    // Someone else's provider account with the victim's email, unverified or verified: the
    // existing account is never entered (linking by email is off here).
    for verified in [false, true] {
        f.hostile
            .next_account(&format!("mallory-{verified}"), &victim, verified)
            .await;
        let mut browser = Agent::new();
        let r = f.sign_in(&mut browser, "hostile").await.unwrap_err();
        assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
        assert_eq!(r.code(), "account_exists");
    }
    // An account a federated sign-in wrote but could not link (no password, no identity):
    // the verified owner of its email gets it, as creating it would have given it.
    let orphan = email("orphan");
    let db = crate::common::keys::database(&crate::common::keys::sqlite_url(
        &f.dir.path().join("tessera-data"),
    ))
    .await;
    let orphan_id = "0190c0de-0000-7000-8000-00000000abcd";
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, token_version, created_at, updated_at) \
         VALUES ($1, $2, '!none:orphan', 0, 0, 0)",
    )
    .bind(orphan_id)
    .bind(orphan.clone())
    .execute(db.pool())
    .await
    .unwrap();
    f.hostile.next_account("orphan-sub", &orphan, true).await;
    let pair = f.tokens("hostile").await;
    assert_eq!(f.srv.me(&access(&pair)).await.body["id"], orphan_id);

    // A new account needs a verified email.
    f.hostile
        .next_account("nobody-sub", &email("unverified"), false)
        .await;
    let mut browser = Agent::new();
    let r = f.sign_in(&mut browser, "hostile").await.unwrap_err();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "email_unverified");

    // The victim links a provider account from a signed-in session, with the password, in
    // its browser.
    let link_url = format!("{}/v1/oauth/hostile/link", f.base());
    let mut browser = Agent::new();
    let (status, wrong) = browser
        .post(
            &link_url,
            &json!({"password": "not the password"}),
            Some(&sess.access),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
    let (status, started) = browser
        .post(&link_url, &json!({"password": PW}), Some(&sess.access))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let url = started["authorize_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/v1/oauth/hostile/authorize?", f.base())),
        "{url}"
    );
    // The URL is no capability: another browser (one the user was tricked into sending it
    // to) cannot use it, nor can another provider, and neither try uses it up.
    let mut other = Agent::new();
    let r = other.get(&url).await.unwrap_err();
    assert_eq!(r.code(), "invalid_state", "{r:?}");
    let elsewhere = url.replace("/v1/oauth/hostile/", "/v1/oauth/idp/");
    let r = browser.get(&elsewhere).await.unwrap_err();
    assert_eq!(r.code(), "invalid_state", "{r:?}");
    f.hostile
        .next_account("victim-at-hostile", &email("elsewhere"), true)
        .await;
    let back = browser.follow(&url, &f.app).await.unwrap();
    assert_eq!(query(&back, "linked").as_deref(), Some("hostile"), "{back}");
    // The ticket was single use.
    let r = browser.get(&url).await.unwrap_err();
    assert_eq!(r.code(), "invalid_state");
    let ids = f
        .srv
        .call(Method::GET, "/v1/identities", None, Some(&sess.access))
        .await;
    assert_eq!(ids.body["identities"][0]["provider"], "hostile", "{ids:?}");

    // With a second factor, a federated sign-in is still challenged.
    let (secret, _) = super::mfa::enable_totp(&f.srv, &sess).await;
    let mut browser = Agent::new();
    let code = f.sign_in(&mut browser, "hostile").await.unwrap();
    let (status, body) = f.exchange(&mut browser, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("access_token").is_none());
    fresh_step().await;
    let done = f
        .srv
        .call(
            Method::POST,
            "/v1/auth/mfa",
            Some(json!({"challenge_id": body["challenge_id"], "code": totp_now(&secret, 0)})),
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    let me = f.srv.me(&done.str("access_token")).await;
    assert_eq!(me.body["email"], victim.as_str());

    // An account with a password may unlink its identity; then that provider account no
    // longer enters it (it would make a new account, but its email is not verified).
    let unlink = f
        .srv
        .call(
            Method::DELETE,
            "/v1/identities/hostile",
            None,
            Some(&sess.access),
        )
        .await;
    assert_eq!(unlink.status, StatusCode::NO_CONTENT, "{unlink:?}");
    let again = f
        .srv
        .call(
            Method::DELETE,
            "/v1/identities/hostile",
            None,
            Some(&sess.access),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{again:?}");

    // A banned user stays out, whatever the path.
    let mut browser = Agent::new();
    let (status, relink) = browser
        .post(&link_url, &json!({"password": PW}), Some(&sess.access))
        .await;
    assert_eq!(status, StatusCode::OK, "{relink}");
    browser
        .follow(relink["authorize_url"].as_str().unwrap(), &f.app)
        .await
        .unwrap();
    let me = f.srv.me(&sess.access).await;
    let ban = f
        .srv
        .call(
            Method::POST,
            &format!("/v1/admin/users/{}/ban", me.str("id")),
            Some(json!({"reason": "test"})),
            Some(ADMIN),
        )
        .await;
    assert_eq!(ban.status, StatusCode::NO_CONTENT, "{ban:?}");
    let mut browser = Agent::new();
    let r = f.sign_in(&mut browser, "hostile").await.unwrap_err();
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    assert_eq!(r.code(), "account_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_email_links_to_its_account_only_when_the_operator_allows_it() {
    let Some(f) = Fed::start(false, "link_verified_email = true").await else {
        return;
    };
    f.hostile.control("/test/mode?m=ok").await;
    // A password account: its email was never proven, so whoever registered it may not own
    // it (pre-account hijacking). Never entered by email, verified or not.
    let registered = email("registered");
    f.srv.signed_up(&registered).await;
    for verified in [false, true] {
        f.hostile
            .next_account(&format!("r-{verified}"), &registered, verified)
            .await;
        let mut browser = Agent::new();
        let r = f.sign_in(&mut browser, "hostile").await.unwrap_err();
        assert_eq!(r.code(), "account_exists", "{verified}: {r:?}");
    }
    // An account made by a provider (its email proven there): another provider asserting
    // the same verified email signs in to it, when the operator allows it.
    let owner = email("owner");
    f.hostile.next_account("o-first", &owner, true).await;
    let first = f.tokens("hostile").await;
    let me = f.srv.me(&access(&first)).await;
    f.idp.next_account("o-second", &owner, false).await;
    let mut browser = Agent::new();
    let r = f.sign_in(&mut browser, "idp").await.unwrap_err();
    assert_eq!(r.code(), "account_exists", "unverified: {r:?}");
    f.idp.next_account("o-second", &owner, true).await;
    let pair = f.tokens("idp").await;
    let me2 = f.srv.me(&access(&pair)).await;
    assert_eq!(me2.body["id"], me.body["id"]);
    let ids = f
        .srv
        .call(Method::GET, "/v1/identities", None, Some(&access(&pair)))
        .await;
    assert_eq!(
        ids.body["identities"].as_array().unwrap().len(),
        2,
        "{ids:?}"
    );

    // A link asked for before "sign out everywhere" (or a password reset) is void after it:
    // whoever held the password then cannot finish planting their provider account.
    let linker = email("linker");
    let sess = f.srv.signed_up(&linker).await;
    let mut browser = Agent::new();
    let (status, started) = browser
        .post(
            &format!("{}/v1/oauth/hostile/link", f.base()),
            &json!({"password": PW}),
            Some(&sess.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let other = f.srv.login(&linker, PW).await;
    let out = f.srv.logout_all(&other.str("access_token")).await;
    assert!(out.status.is_success(), "{out:?}");
    f.hostile
        .next_account("planted", &email("planted"), true)
        .await;
    let r = browser
        .follow(started["authorize_url"].as_str().unwrap(), &f.app)
        .await
        .unwrap_err();
    assert_eq!(r.code(), "invalid_state", "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_state_is_refused() {
    let Some(f) = Fed::start(false, "state_ttl = \"1s\"").await else {
        return;
    };
    f.idp.next_account("erin-sub", &email("erin"), true).await;
    let mut browser = Agent::new();
    let callback = f.to_callback(&mut browser, "idp").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let r = browser.get(&callback).await.unwrap_err();
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    assert_eq!(r.code(), "invalid_state");
    let metrics = f.srv.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(
        text.contains(r#"tessera_federated_logins_total{provider="idp",result="refused"} 1"#),
        "{text}"
    );
    // A fresh start within the lifetime still works.
    let code = f.sign_in(&mut browser, "idp").await.unwrap();
    assert_eq!(f.exchange(&mut browser, &code).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_sign_ins_is_budgeted_per_address_even_concurrently() {
    let Some(f) = Fed::start_with(false, "", &[("TESSERA_RATE_LIMIT", "on")]).await else {
        return;
    };
    // Each start stores a pending sign-in: 60 per 10 minutes per address. Twice that,
    // at once.
    let url = f.authorize_url("idp", &f.app);
    let tries = (0..120).map(|_| {
        let url = url.clone();
        async move {
            let mut browser = Agent::new();
            match browser.get(&url).await {
                Ok(_) => StatusCode::FOUND,
                Err(stopped) => stopped.status,
            }
        }
    });
    let statuses = futures::future::join_all(tries).await;
    let started = statuses.iter().filter(|s| **s == StatusCode::FOUND).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!((59..=60).contains(&started), "{statuses:?}");
    assert_eq!(started + limited, 120, "{statuses:?}");
}
