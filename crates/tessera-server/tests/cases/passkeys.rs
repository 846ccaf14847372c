//! Passkeys through the real binary, with webauthn-authenticator-rs's software passkey as the
//! authenticator: registration behind the password, username-less and email + passkey
//! sign-in, and the answers an attacker would try.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::{RedisServer, TempDir, free_port, redis_available};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::{AuthenticatorBackend, WebauthnAuthenticator};
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};
use webauthn_rs_proto::{AllowCredentials, PublicKeyCredentialRequestOptions};

/// A resident-key authenticator: webauthn-authenticator-rs's software passkey (real keys,
/// real signatures, real authenticator data), plus what a discoverable credential adds: it
/// remembers the user handle of each credential it made, answers a request that names no
/// credential with one of its own, and returns the user handle (which is not signed: the
/// browser passes it along).
struct Key {
    soft: SoftPasskey,
    creds: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Key {
    fn new() -> Self {
        Self {
            soft: SoftPasskey::new(true),
            creds: Vec::new(),
        }
    }

    fn do_registration(
        &mut self,
        origin: Url,
        mut creation: CreationChallengeResponse,
    ) -> Result<RegisterPublicKeyCredential, String> {
        let user = creation.public_key.user.id.clone();
        // The server asks for a discoverable credential; this wrapper is what keeps it
        // discoverable, so the software passkey underneath is asked for a plain one.
        let selection = creation
            .public_key
            .authenticator_selection
            .as_mut()
            .expect("authenticator selection");
        assert!(selection.require_resident_key, "a resident key is required");
        selection.require_resident_key = false;
        selection.resident_key = None;
        let credential = self
            .soft
            .do_registration(origin, creation)
            .map_err(|e| format!("{e:?}"))?;
        self.creds.push((credential.raw_id.to_vec(), user));
        Ok(credential)
    }

    fn name_own(&self, options: &mut PublicKeyCredentialRequestOptions) {
        if options.allow_credentials.is_empty() {
            options.allow_credentials = self
                .creds
                .iter()
                .map(|(id, _)| AllowCredentials {
                    type_: "public-key".into(),
                    id: id.clone(),
                    transports: None,
                })
                .collect();
        }
    }

    fn with_handle(&self, mut c: PublicKeyCredential) -> PublicKeyCredential {
        c.response.user_handle = self
            .creds
            .iter()
            .find(|(id, _)| *id == c.raw_id.to_vec())
            .map(|(_, user)| user.clone());
        c
    }

    /// What a browser gets from the authenticator for `options` at `origin`.
    fn do_authentication(
        &mut self,
        origin: Url,
        mut options: RequestChallengeResponse,
    ) -> Result<PublicKeyCredential, String> {
        self.name_own(&mut options.public_key);
        let c = self
            .soft
            .do_authentication(origin, options)
            .map_err(|e| format!("{e:?}"))?;
        Ok(self.with_handle(c))
    }

    /// The same without the browser's checks of origin and relying party (what a hostile
    /// client could send).
    fn perform_auth(
        &mut self,
        origin: Url,
        mut options: PublicKeyCredentialRequestOptions,
    ) -> Result<PublicKeyCredential, String> {
        self.name_own(&mut options);
        let c = self
            .soft
            .perform_auth(origin, options, 60_000)
            .map_err(|e| format!("{e:?}"))?;
        Ok(self.with_handle(c))
    }
}

use super::signin::decode;
use crate::common::binary::Binary;
use crate::common::{PW, Session, email};

/// The operator's token of the servers here.
const ADMIN: &str = "passkeys-admin-token-0123456789abcdef";

struct Rp {
    srv: Binary,
    /// The browser origin the ceremonies come from.
    origin: Url,
    _redis: Option<RedisServer>,
    dir: TempDir,
}

impl Rp {
    async fn start(redis: bool) -> Option<Self> {
        if redis && !redis_available() {
            tessera_testkit::services::missing("redis-server");
            return None;
        }
        let dir = TempDir::new("passkeys");
        let port = free_port();
        // Browsers allow http:// only on localhost; the server itself listens on 127.0.0.1.
        let origin = format!("http://localhost:{port}");
        let redis_server = redis.then(|| RedisServer::start(free_port(), dir.path(), &[]));
        let redis_url = redis_server.as_ref().map(|r| r.url()).unwrap_or_default();
        let mut env = vec![
            ("TESSERA_RATE_LIMIT", "off"),
            ("TESSERA_WEBAUTHN_RP_ID", "localhost"),
            ("TESSERA_WEBAUTHN_ORIGINS", origin.as_str()),
            ("TESSERA_ADMIN_TOKEN", ADMIN),
        ];
        if redis {
            env.push(("REDIS_URL", redis_url.as_str()));
        }
        let srv = Binary::serve_on(port, dir.path(), &env).await;
        Some(Self {
            srv,
            origin: Url::parse(&origin).unwrap(),
            _redis: redis_server,
            dir,
        })
    }

    async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
        let r = self.srv.call(Method::POST, path, Some(body), bearer).await;
        (r.status, r.body)
    }

    /// Registers a passkey of `authenticator` for `sess`: its id.
    async fn register(&self, sess: &Session, authenticator: &mut Key, name: &str) -> String {
        let (status, options) = self
            .post(
                "/v1/passkeys/register/options",
                json!({"password": PW}),
                Some(&sess.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{options}");
        let creation: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
        let credential = authenticator
            .do_registration(self.origin.clone(), creation)
            .unwrap();
        let (status, body) = self
            .post(
                "/v1/passkeys/register",
                json!({"challenge_id": options["challenge_id"], "name": name, "credential": credential}),
                Some(&sess.access),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Sign-in options (`email` or username-less): the challenge id and the options.
    async fn sign_in_options(&self, email: Option<&str>) -> (String, RequestChallengeResponse) {
        let body = match email {
            Some(e) => json!({"email": e}),
            None => json!({}),
        };
        let (status, options) = self.post("/v1/auth/passkey/options", body, None).await;
        assert_eq!(status, StatusCode::OK, "{options}");
        let id = options["challenge_id"].as_str().unwrap().to_owned();
        (id, serde_json::from_value(options).unwrap())
    }

    async fn sign_in(&self, challenge_id: &str, credential: &Value) -> (StatusCode, Value) {
        self.post(
            "/v1/auth/passkey",
            json!({"challenge_id": challenge_id, "credential": credential}),
            None,
        )
        .await
    }
}

async fn registered_passkeys_sign_in_with_and_without_an_email(redis: bool) {
    let Some(rp) = Rp::start(redis).await else {
        return;
    };
    let alice = email("alice");
    let sess = rp.srv.signed_up(&alice).await;
    let me = rp.srv.me(&sess.access).await;
    let mut laptop = Key::new();
    let id = rp.register(&sess, &mut laptop, "laptop").await;
    let listed = rp
        .srv
        .call(Method::GET, "/v1/passkeys", None, Some(&sess.access))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    assert_eq!(listed.body["passkeys"][0]["id"], id.as_str());
    assert_eq!(listed.body["passkeys"][0]["name"], "laptop");
    assert_eq!(listed.body["passkeys"][0]["last_used_at"], Value::Null);

    // Username-less.
    let (challenge, options) = rp.sign_in_options(None).await;
    let assertion = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let assertion = serde_json::to_value(&assertion).unwrap();
    let (status, pair) = rp.sign_in(&challenge, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let access = pair["access_token"].as_str().unwrap();
    let me2 = rp.srv.me(access).await;
    assert_eq!(me2.body["id"], me.body["id"]);
    let (_, claims) = decode(access);
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"user") && amr.contains(&"mfa"), "{amr:?}");
    assert!(amr.contains(&"swk") || amr.contains(&"hwk"), "{amr:?}");
    // The same answer again: the challenge was used up.
    let (status, body) = rp.sign_in(&challenge, &assertion).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_challenge");
    // The old answer for a new challenge: it signed another challenge.
    let (fresh, _) = rp.sign_in_options(None).await;
    let (status, body) = rp.sign_in(&fresh, &assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "invalid_credential");

    // Email + passkey; the session is listed like any other.
    let (challenge, options) = rp.sign_in_options(Some(&alice)).await;
    // The options say nothing about the account: no credential ids, and the same for an
    // unknown email.
    assert!(options.public_key.allow_credentials.is_empty());
    let (_, unknown) = rp.sign_in_options(Some("nobody@example.org")).await;
    let shape = |o: &RequestChallengeResponse| {
        let mut v = serde_json::to_value(o).unwrap();
        v["publicKey"]["challenge"] = Value::Null;
        v
    };
    assert_eq!(shape(&options), shape(&unknown));
    let assertion = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let (status, pair) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let sessions = rp
        .srv
        .call(
            Method::GET,
            "/v1/sessions",
            None,
            Some(pair["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        sessions.body["sessions"].as_array().unwrap().len(),
        3,
        "{sessions:?}"
    );
    let listed = rp
        .srv
        .call(Method::GET, "/v1/passkeys", None, Some(&sess.access))
        .await;
    assert!(
        listed.body["passkeys"][0]["last_used_at"].is_string(),
        "{listed:?}"
    );
    let events = rp
        .srv
        .call(Method::GET, "/v1/security-events", None, Some(&sess.access))
        .await;
    assert!(
        events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "passkey_added"),
        "{events:?}"
    );

    // As the second factor of a password sign-in.
    super::mfa::enable_totp(&rp.srv, &sess).await;
    let challenge = rp.srv.login(&alice, PW).await;
    assert_eq!(challenge.body["mfa_required"], true, "{challenge:?}");
    assert_eq!(
        challenge.body["methods"],
        json!(["totp", "recovery_code", "passkey"])
    );
    let options: RequestChallengeResponse =
        serde_json::from_value(challenge.body["passkey"].clone()).unwrap();
    // Another authenticator's answer is a wrong second factor (and counts as one).
    let mut stranger = Key::new();
    let bob = rp.srv.signed_up(&email("bob")).await;
    rp.register(&bob, &mut stranger, "bob's").await;
    let mut foreign = options.public_key.clone();
    foreign.allow_credentials.clear();
    let wrong = stranger.perform_auth(rp.origin.clone(), foreign).unwrap();
    let (status, body) = rp
        .post(
            "/v1/auth/mfa",
            json!({"challenge_id": challenge.body["challenge_id"], "passkey": wrong}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "invalid_code");
    let answer = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let (status, pair) = rp
        .post(
            "/v1/auth/mfa",
            json!({"challenge_id": challenge.body["challenge_id"], "passkey": answer}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (_, claims) = decode(pair["access_token"].as_str().unwrap());
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(amr[0], "pwd", "{amr:?}");
    assert!(amr.contains(&"mfa") && amr.contains(&"user"), "{amr:?}");
    let (status, body) = rp
        .post(
            "/v1/auth/mfa",
            json!({"challenge_id": challenge.body["challenge_id"], "passkey": answer}),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the challenge is used up: {body}"
    );

    // Removing it (the account still has its password).
    let gone = rp
        .srv
        .call(
            Method::DELETE,
            &format!("/v1/passkeys/{id}"),
            None,
            Some(&sess.access),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");
    let (challenge, options) = rp.sign_in_options(None).await;
    let assertion = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let (status, _) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a removed passkey signs nobody in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_passkeys_sign_in_with_and_without_an_email_on_memory() {
    registered_passkeys_sign_in_with_and_without_an_email(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_passkeys_sign_in_with_and_without_an_email_on_redis() {
    registered_passkeys_sign_in_with_and_without_an_email(true).await;
}

/// A passkey signs in without the second factor, so adding one to an account that has one
/// needs its code as well as the password: a stolen access token with the password (a
/// phishing relay, XSS plus a reused password) cannot plant a passkey that skips TOTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_passkey_to_an_account_with_a_second_factor_needs_its_code() {
    let Some(rp) = Rp::start(false).await else {
        return;
    };
    let alice = email("alice");
    let sess = rp.srv.signed_up(&alice).await;
    let (_, codes) = super::mfa::enable_totp(&rp.srv, &sess).await;
    let options = |body: Value| rp.post("/v1/passkeys/register/options", body, Some(&sess.access));
    let (status, body) = options(json!({"password": PW})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa_required")),
        "{body}"
    );
    let (status, body) = options(json!({"password": PW, "code": "000000"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code")),
        "{body}"
    );
    let (status, body) = options(json!({"password": "not the password", "code": codes[0]})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials")),
        "{body}"
    );
    // The code was not spent by the refused attempt: it opens the ceremony now.
    let (status, options) = options(json!({"password": PW, "code": codes[0]})).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let creation: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    let credential = Key::new()
        .do_registration(rp.origin.clone(), creation)
        .unwrap();
    let (status, body) = rp
        .post(
            "/v1/passkeys/register",
            json!({"challenge_id": options["challenge_id"], "name": "phone", "credential": credential}),
            Some(&sess.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_needs_the_password_and_forged_answers_are_refused() {
    let Some(rp) = Rp::start(false).await else {
        return;
    };
    let alice = email("alice");
    let sess = rp.srv.signed_up(&alice).await;
    // A stolen access token alone cannot add the thief's authenticator.
    let (status, body) = rp
        .post(
            "/v1/passkeys/register/options",
            json!({}),
            Some(&sess.access),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_ne!(status, StatusCode::OK);
    let (status, body) = rp
        .post(
            "/v1/passkeys/register/options",
            json!({"password": "not the password"}),
            Some(&sess.access),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A registration challenge is its user's, and single use.
    let (_, options) = rp
        .post(
            "/v1/passkeys/register/options",
            json!({"password": PW}),
            Some(&sess.access),
        )
        .await;
    let mut thief_key = Key::new();
    let creation: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    let credential = thief_key
        .do_registration(rp.origin.clone(), creation)
        .unwrap();
    let bob = rp.srv.signed_up(&email("bob")).await;
    let body = json!({"challenge_id": options["challenge_id"], "credential": credential});
    let (status, r) = rp
        .post("/v1/passkeys/register", body.clone(), Some(&bob.access))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], "invalid_challenge");
    let (status, r) = rp
        .post("/v1/passkeys/register", body, Some(&sess.access))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used up by bob's try: {r}");

    // A name that could pass for another in a list.
    let (status, r) = rp
        .post(
            "/v1/passkeys/register",
            json!({"challenge_id": "AAAAAAAAAAAAAAAAAAAAAA", "name": "\u{202E}potpal", "credential": credential}),
            Some(&sess.access),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["code"], "invalid_name");

    let mut laptop = Key::new();
    rp.register(&sess, &mut laptop, "laptop").await;
    let mut bobs = Key::new();
    rp.register(&bob, &mut bobs, "bob's").await;

    // Another user's credential for alice's email challenge.
    let (challenge, options) = rp.sign_in_options(Some(&alice)).await;
    let mut options_for_bob = options.clone();
    options_for_bob.public_key.allow_credentials.clear();
    let assertion = bobs
        .perform_auth(rp.origin.clone(), options_for_bob.public_key)
        .unwrap();
    let (status, r) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{r}");

    // An answer made for another origin, and one for another relying party.
    let (challenge, options) = rp.sign_in_options(Some(&alice)).await;
    let evil = Url::parse("https://evil.example").unwrap();
    let assertion = laptop
        .perform_auth(evil, options.public_key.clone())
        .unwrap();
    let (status, r) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other origin: {r}");
    let (challenge, options) = rp.sign_in_options(Some(&alice)).await;
    let mut other_rp = options.public_key.clone();
    other_rp.rp_id = "evil.example".into();
    let assertion = laptop
        .perform_auth(rp.origin.clone(), other_rp)
        .unwrap_or_else(|e| panic!("the soft passkey signs for any rp id: {e:?}"));
    let (status, r) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other rp id: {r}");

    // A wrong signature.
    let (challenge, options) = rp.sign_in_options(None).await;
    let mut assertion = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let last = assertion.response.signature.len() - 1;
    assertion.response.signature[last] ^= 0x01;
    let (status, r) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{r}");
    // A made-up challenge id.
    let (status, r) = rp
        .sign_in(
            "AAAAAAAAAAAAAAAAAAAAAA",
            &serde_json::to_value(&assertion).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    // After all that, the real one still works.
    let (challenge, options) = rp.sign_in_options(Some(&alice)).await;
    let assertion = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let (status, r) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    // A counter that does not grow past the newest one seen: another copy of the key (a
    // cloned authenticator) is refused, and the user is told.
    let db = crate::common::keys::database(&crate::common::keys::sqlite_url(
        &rp.dir.path().join("tessera-data"),
    ))
    .await;
    sqlx::query("UPDATE passkeys SET sign_count = 1000000")
        .execute(db.pool())
        .await
        .unwrap();
    let (challenge, options) = rp.sign_in_options(Some(&alice)).await;
    let assertion = laptop
        .do_authentication(rp.origin.clone(), options)
        .unwrap();
    let (status, r) = rp
        .sign_in(&challenge, &serde_json::to_value(&assertion).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{r}");
    let events = rp
        .srv
        .call(Method::GET, "/v1/security-events", None, Some(&sess.access))
        .await;
    assert!(
        events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "passkey_cloned"),
        "{events:?}"
    );
}

/// Account pre-hijacking: someone registers an address they do not own and adds a passkey
/// and a second factor before its owner arrives. The owner's way in is a password reset,
/// the first proof that the address reaches its holder: it removes the passkeys added
/// before, so the planted one no longer signs in. It never removes a second factor (mailbox
/// access alone must not): the owner, asked for a code they never had, gets the operator to
/// reset it. A later reset (the email now proven) removes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_reset_of_an_unproven_email_removes_the_passkeys_added_before_it() {
    let Some(rp) = Rp::start(false).await else {
        return;
    };
    let victim = email("prehijacked");
    // The registrant: a password, a passkey, then TOTP.
    let sess = rp.srv.signed_up(&victim).await;
    let uid = rp.srv.me(&sess.access).await.str("id");
    let mut planted = Key::new();
    register_passkey(&rp, &sess.access, "planted", &mut planted).await;
    super::mfa::enable_totp(&rp.srv, &sess).await;

    // The owner resets the password through the mailbox.
    let reset_with = |password: &'static str| {
        let rp = &rp;
        let victim = victim.clone();
        async move {
            let outbox = rp.dir.path().join("tessera-data").join("outbox");
            let files = || -> Vec<std::path::PathBuf> {
                std::fs::read_dir(&outbox)
                    .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default()
            };
            let before = files();
            let r = super::password::forgot(&rp.srv, &victim).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
            // The new mail that holds a reset link (other notices may arrive meanwhile).
            let mut token = None;
            for _ in 0..400 {
                token = files()
                    .iter()
                    .filter(|p| !before.contains(p))
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .find_map(|m| super::password::token_in(&m));
                if token.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            let token = token.expect("a reset mail");
            let r = super::password::reset(&rp.srv, &token, password).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        }
    };
    // (To `PW` again: the helpers that enrol a factor use it; the registrant's sessions are
    // revoked by the reset, and what they added is what this test is about.)
    reset_with(PW).await;
    // The planted passkey no longer signs in.
    let (status, options) = rp
        .post("/v1/auth/passkey/options", json!({"email": victim}), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let request: RequestChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    let assertion = planted
        .do_authentication(rp.origin.clone(), request)
        .unwrap();
    let (status, body) = rp
        .post(
            "/v1/auth/passkey",
            json!({"challenge_id": options["challenge_id"], "credential": assertion}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The second factor stays: the owner is asked for it, and an operator resets it.
    let owner = rp.srv.login(&victim, PW).await;
    assert_eq!(owner.body["mfa_required"], true, "{owner:?}");
    let gone = rp.srv.me(&sess.access).await;
    assert_eq!(
        gone.status,
        StatusCode::UNAUTHORIZED,
        "the registrant's session survived"
    );
    let r = rp
        .srv
        .call_with(
            Method::DELETE,
            &format!("/v1/admin/users/{uid}/mfa"),
            None,
            &[("authorization", &format!("Bearer {ADMIN}"))],
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");
    let owner = rp.srv.login(&victim, PW).await;
    assert!(owner.body.get("mfa_required").is_none(), "{owner:?}");
    let owner = Session::from(&owner);
    let list = rp
        .srv
        .call(Method::GET, "/v1/passkeys", None, Some(&owner.access))
        .await;
    assert_eq!(list.body["passkeys"], json!([]), "{list:?}");
    let events = rp
        .srv
        .call(
            Method::GET,
            "/v1/security-events",
            None,
            Some(&owner.access),
        )
        .await;
    let completed = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "password_reset_completed")
        .cloned()
        .unwrap();
    assert_eq!(
        completed["details"]["first_proof_of_email"], true,
        "{completed}"
    );
    assert_eq!(
        completed["details"]["removed"]["passkeys"], 1,
        "{completed}"
    );

    // The owner's own passkey survives the next reset.
    register_passkey(&rp, &owner.access, "mine", &mut Key::new()).await;
    reset_with("the owner's second passphrase 2").await;
    let again = Session::from(
        &rp.srv
            .login(&victim, "the owner's second passphrase 2")
            .await,
    );
    let list = rp
        .srv
        .call(Method::GET, "/v1/passkeys", None, Some(&again.access))
        .await;
    let names: Vec<&str> = list.body["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["mine"], "{list:?}");
}

/// Registers a passkey of `key` named `name` for the account of `access` (no second factor
/// enrolled: the password alone opens the ceremony).
async fn register_passkey(rp: &Rp, access: &str, name: &str, key: &mut Key) {
    let (status, options) = rp
        .post(
            "/v1/passkeys/register/options",
            json!({"password": PW}),
            Some(access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let creation: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    let credential = key.do_registration(rp.origin.clone(), creation).unwrap();
    let (status, body) = rp
        .post(
            "/v1/passkeys/register",
            json!({"challenge_id": options["challenge_id"], "name": name, "credential": credential}),
            Some(access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
