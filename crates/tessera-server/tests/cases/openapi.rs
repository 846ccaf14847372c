//! The API described: `/openapi.json` is OpenAPI 3.1 that an independent validator accepts,
//! it and the router agree route for route, and `/docs` renders it in a real browser.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{Backend, TestServer};

/// Every route of the contract (`API.md`), as `METHOD path` with the document's templates.
const CONTRACT: &[&str] = &[
    "POST /v1/auth/register",
    "POST /v1/auth/login",
    "POST /v1/auth/mfa",
    "POST /v1/auth/refresh",
    "POST /v1/auth/logout",
    "POST /v1/auth/logout-all",
    "GET /v1/me",
    "GET /v1/sessions",
    "DELETE /v1/sessions/{id}",
    "DELETE /v1/tokens/{jti}",
    "GET /v1/devices/trusted",
    "DELETE /v1/devices/trusted/{id}",
    "GET /v1/security-events",
    "POST /v1/mfa/totp",
    "POST /v1/mfa/totp/confirm",
    "DELETE /v1/mfa/totp",
    "POST /v1/password/forgot",
    "POST /v1/password/reset",
    "POST /v1/password/change",
    "GET /v1/oauth/providers",
    "GET /v1/oauth/{provider}/authorize",
    "GET /v1/oauth/{provider}/callback",
    "POST /v1/oauth/exchange",
    "POST /v1/oauth/{provider}/link",
    "GET /v1/identities",
    "DELETE /v1/identities/{provider}",
    "POST /v1/passkeys/register/options",
    "POST /v1/passkeys/register",
    "GET /v1/passkeys",
    "DELETE /v1/passkeys/{id}",
    "POST /v1/auth/passkey/options",
    "POST /v1/auth/passkey",
    "GET /.well-known/jwks.json",
    "GET /.well-known/oauth-authorization-server",
    "POST /oauth2/introspect",
    "POST /oauth2/revoke",
    "GET /v1/admin/stats",
    "GET /v1/admin/users/{id}/sessions",
    "POST /v1/admin/users/{id}/revoke-sessions",
    "POST /v1/admin/users/{id}/ban",
    "DELETE /v1/admin/users/{id}/ban",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /docs",
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(METHOD, path template)` of every operation in `doc`.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                ops.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// A concrete path for a template: every `{param}` becomes a value of the right shape (a
/// UUID for ids, a file of the docs page for `{file}`).
fn concrete(template: &str) -> String {
    template
        .replace("{file}", "index.css")
        .replace("{provider}", "nosuchprovider")
        .replace("{id}", "00000000-0000-7000-8000-000000000000")
        .replace("{jti}", "00000000-0000-4000-8000-000000000000")
}

/// Whether `r` is the router's own answer for a path or method it does not serve (the
/// fallbacks of `http::router`), rather than a handler's.
fn unrouted(r: &crate::common::http::Reply) -> bool {
    (r.status == StatusCode::NOT_FOUND && r.body["detail"] == "no such endpoint")
        || r.status == StatusCode::METHOD_NOT_ALLOWED
}

async fn document(s: &TestServer) -> Value {
    let r = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.headers["content-type"], "application/json",
        "served as JSON"
    );
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_agree_route_for_route() {
    let Some(s) = TestServer::start(Backend::MemorySqlite, |_| {}).await else {
        return;
    };
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);

    // Every route of the contract is described …
    for route in CONTRACT {
        let (m, p) = route.split_once(' ').expect("METHOD path");
        assert!(
            ops.iter().any(|(om, op)| om == m && op == p),
            "{route} is in the contract but not in /openapi.json"
        );
    }
    // … and every described operation is served by a handler, not the router's fallback.
    for (m, p) in &ops {
        let method = Method::from_bytes(m.as_bytes()).expect("method");
        let r = s.call(method, &concrete(p), None, None).await;
        assert!(
            !unrouted(&r),
            "{m} {p} is in /openapi.json but the router does not serve it: {r:?}"
        );
    }
    // A path that is not in the document is the router's fallback.
    let r = s.call(Method::GET, "/v1/nothing-here", None, None).await;
    assert!(unrouted(&r), "{r:?}");
    // The router is built only from the described list (`OpenApiRouter::routes`), so a route
    // added with a plain `.route(…)` — served but not described — fails here.
    let router = include_str!("../../src/http/router.rs");
    assert!(
        !router.contains(".route("),
        "http/router.rs adds a route outside the described list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_problems_security_and_bodies() {
    let Some(s) = TestServer::start(Backend::MemorySqlite, |_| {}).await else {
        return;
    };
    let doc = document(&s).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["access_cookie"]["in"], "cookie");
    assert_eq!(schemes["access_cookie"]["name"], "__Host-tessera_at");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    assert_eq!(schemes["admin"]["scheme"], "bearer");
    assert_eq!(schemes["client"]["scheme"], "basic");
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "code", "detail"] {
        assert!(
            problem["properties"].get(field).is_some(),
            "Problem.{field}: {problem}"
        );
    }

    let login = &doc["paths"]["/v1/auth/login"]["post"];
    assert!(
        login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("/LoginRequest")),
        "{login}"
    );
    let unauthorized = &login["responses"]["401"];
    assert!(
        unauthorized["description"]
            .as_str()
            .is_some_and(|d| d.contains("invalid_credentials")),
        "the 401 names its code: {unauthorized}"
    );
    assert!(
        unauthorized["content"]["application/problem+json"].is_object(),
        "{unauthorized}"
    );
    let me = &doc["paths"]["/v1/me"]["get"];
    assert_eq!(me["security"][0]["bearer"], serde_json::json!([]));
    let stats = &doc["paths"]["/v1/admin/stats"]["get"];
    assert_eq!(stats["security"][0]["admin"], serde_json::json!([]));
    let introspect = &doc["paths"]["/oauth2/introspect"]["post"];
    assert!(
        introspect["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
        "{introspect}"
    );
    // RFC 7662's most common answer, `{"active":false}`, is valid: no claim is required
    // (found by review: the flattened claims were all required).
    let claims = &doc["components"]["schemas"]["ActiveClaims"];
    assert!(
        claims["required"].as_array().is_none_or(Vec::is_empty),
        "{claims}"
    );
    let introspection = doc["components"]["schemas"]["IntrospectionResponse"].to_string();
    assert!(
        introspection.contains(r#""required":["active"]"#),
        "{introspection}"
    );
    // Every operation may answer a problem.
    for (m, p) in operations(&doc) {
        let op = &doc["paths"][&p][m.to_lowercase()];
        assert!(
            op["responses"]["default"]["content"]["application/problem+json"].is_object(),
            "{m} {p} has no default problem answer"
        );
    }
    // A TokenPair's required fields are the ones every transport sends.
    let pair = &doc["components"]["schemas"]["TokenPair"];
    let required: Vec<&str> = pair["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(required.contains(&"session_id") && !required.contains(&"access_token"));
}

/// `openapi-spec-validator` (PyPI), an independent OpenAPI 3.1 validator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_validator_accepts_the_document() {
    let validator = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !validator {
        tessera_testkit::services::missing(
            "openapi-spec-validator (python3 -m pip install openapi-spec-validator)",
        );
        return;
    }
    let Some(s) = TestServer::start(Backend::MemorySqlite, |_| {}).await else {
        return;
    };
    let doc = document(&s).await;
    let file = s.data_dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("json")).expect("write");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
             validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n\
             print('valid')",
        ])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The validator is not a rubber stamp: a document with an operation answering nothing
    // is refused.
    let mut broken = doc.clone();
    broken["paths"]["/v1/me"]["get"]["responses"] = Value::String("none".into());
    std::fs::write(&file, serde_json::to_vec(&broken).expect("json")).expect("write");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(!out.status.success(), "a broken document passed");
}

/// The first Chromium found, if any.
fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
}

/// `/docs` in headless Chromium: the page loads its scripts from this server (its policy
/// allows nothing else), fetches `/openapi.json` and renders the operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_the_document_in_headless_chromium() {
    let Some(browser) = chromium() else {
        tessera_testkit::services::missing("chromium (apt-get install chromium)");
        return;
    };
    let Some(s) = TestServer::start(Backend::MemorySqlite, |_| {}).await else {
        return;
    };
    let page = s.call(Method::GET, "/docs", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.headers["content-security-policy"]
        .to_str()
        .expect("policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let r = s
            .call(Method::GET, &format!("/docs/{asset}"), None, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{asset}");
    }
    let r = s
        .call(Method::GET, "/docs/..%2Fkeys.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "only the page's files");

    let profile = tempfile::tempdir().expect("profile");
    let url = format!("{}/docs", s.http.base);
    let run = tokio::task::spawn_blocking({
        let browser = browser.to_owned();
        let profile = profile.path().to_owned();
        move || {
            Command::new(browser)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--virtual-time-budget=15000",
                    "--dump-dom",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .output()
        }
    });
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium finished in time")
        .expect("join")
        .expect("chromium ran");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("opblock") && dom.contains("/v1/auth/login") && dom.contains("/v1/me"),
        "Swagger UI rendered the operations; stderr: {}\nDOM: {}",
        String::from_utf8_lossy(&out.stderr),
        dom.chars().take(3000).collect::<String>()
    );
    assert!(
        dom.contains("Tessera"),
        "the document's title is shown: {}",
        dom.chars().take(3000).collect::<String>()
    );
}
