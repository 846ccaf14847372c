//! The HTTP surface: the layer and the extractor answer 200 / 401 / 503 with the server's
//! problem codes and `WWW-Authenticate`, and hand typed claims to handlers.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use tessera_guard::{AccessClaims, Authenticated, GuardClaims, GuardError, VerifiedToken};
use tower::ServiceExt;

use crate::support::Env;
use crate::support::redis::shared_standalone;

#[derive(Deserialize)]
struct Custom {
    client_id: String,
    amr: Vec<String>,
}

impl GuardClaims for Custom {
    fn from_verified(v: &VerifiedToken) -> Result<Self, GuardError> {
        v.decode()
    }
}

fn app(env: &Env) -> Router {
    let protected = Router::new()
        .route(
            "/me",
            get(|Authenticated(c): Authenticated| async move { c.sub.to_string() }),
        )
        .route(
            "/custom",
            get(|Authenticated(c): Authenticated<Custom>| async move {
                format!("{} {}", c.client_id, c.amr.join(","))
            }),
        )
        .layer(env.guard.layer());
    let single = Router::new()
        .route(
            "/single",
            get(|Authenticated(c): Authenticated<AccessClaims>| async move { c.sid.to_string() }),
        )
        .layer(Extension(env.guard.clone()));
    let bare = Router::new().route(
        "/bare",
        get(|Authenticated(c): Authenticated| async move { c.sub.to_string() }),
    );
    protected.merge(single).merge(bare)
}

async fn call(app: &Router, path: &str, auth: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let www = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, www, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_and_extractor_answer_like_the_server() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let env = Env::new(&target, |_| {}).await;
    let app = app(&env);
    let login = env.login().await;
    let bearer = format!("Bearer {}", login.token);

    let (s, _, body) = call(&app, "/me", Some(&bearer)).await;
    assert_eq!((s, body), (StatusCode::OK, login.user.to_string()));
    let (s, _, body) = call(&app, "/custom", Some(&format!("bearer {}", login.token))).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "tessera pwd"));
    let (s, _, body) = call(&app, "/single", Some(&bearer)).await;
    assert_eq!((s, body), (StatusCode::OK, login.session.to_string()));

    let (s, www, body) = call(&app, "/me", None).await;
    assert_eq!((s, www.as_str()), (StatusCode::UNAUTHORIZED, "Bearer"));
    assert!(body.contains("\"code\":\"missing_token\""), "{body}");
    let (s, _, _) = call(&app, "/single", Some("Basic dXNlcjpwYXNz")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, www, body) = call(&app, "/me", Some("Bearer not.a.token")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(www, "Bearer error=\"invalid_token\"");
    assert!(body.contains("\"code\":\"invalid_token\""), "{body}");
    assert!(!body.contains(&login.token));

    env.store
        .revoke_user(login.user, tessera_core::time::Timestamp::now())
        .await
        .map(|_| ())
        .unwrap();
    env.refused_within_a_second(&login).await;
    let (s, _, body) = call(&app, "/me", Some(&bearer)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"code\":\"token_revoked\""), "{body}");

    let (s, _, body) = call(&app, "/bare", Some(&bearer)).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
}

use tessera_store::SessionStore as _;
