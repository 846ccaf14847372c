//! User input is never reported as a state-store outage.

use reqwest::{Method, StatusCode};

use crate::common::{Backend, TestServer, email};

/// The sum of every `name` sample in a `/metrics` scrape (0 when not recorded yet).
async fn metric(s: &TestServer, name: &str) -> f64 {
    let r = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub async fn an_impossible_trusted_device_id_is_404_not_an_outage(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let session = s.signed_up(&email("td-id")).await;
    let before = metric(&s, "tessera_state_store_unavailable_total").await;
    for id in [
        "x".repeat(300),
        "{braces}".to_owned(),
        "not-a-device".to_owned(),
        "0192a7c2-0000-7000-8000-00000000000g".to_owned(),
        // The right shape, but no such device.
        uuid::Uuid::new_v4().to_string(),
    ] {
        let r = s
            .call(
                Method::DELETE,
                &format!("/v1/devices/trusted/{id}"),
                None,
                Some(&session.access),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {r:?}");
        assert_eq!(r.code(), Some("device_not_found"), "{id}: {r:?}");
    }
    let after = metric(&s, "tessera_state_store_unavailable_total").await;
    assert_eq!(after, before, "user input counted as an outage");
    let five_hundreds: f64 = s
        .call(Method::GET, "/metrics", None, None)
        .await
        .body
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("tessera_http_requests_total") && l.contains("status=\"5"))
        .count() as f64;
    assert_eq!(five_hundreds, 0.0);
}
