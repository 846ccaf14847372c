//! The server's Prometheus metrics: names, labels and the recorder they live in.
//!
//! # One recorder per [`App`](crate::app::App), not the global one
//!
//! Every [`App`](crate::app::App) owns a [`Metrics`], which owns its own
//! `metrics_exporter_prometheus::PrometheusRecorder`, built with `build_recorder()` (no HTTP
//! listener, no push gateway: the exporter's default features are off) and rendered by
//! `GET /metrics` from its handle. Values are recorded through that recorder's
//! [`metrics::Recorder`] methods, not through the facade's macros and its process-wide
//! recorder, because:
//! - the global recorder can be installed once per process, and the integration tests run
//!   dozens of servers in one process, concurrently. With one shared recorder a test could
//!   not tell its server's sign-ins from those of the test running beside it, so every
//!   "exactly one more" assertion would be flaky;
//! - `metrics::with_local_recorder` scopes a recorder to a synchronous closure on one thread,
//!   and a request is an async task that hops threads at every `.await`.
//!
//! The binary builds one `App`, so in production this is one recorder per process, built at
//! startup; the global facade recorder stays free for a program that embeds the server.
//!
//! # Names and labels (every label value comes from a closed set)
//! - `tessera_http_requests_total{method,route,status}` and
//!   `tessera_http_request_duration_seconds{method,route}` (histogram, [`DURATION_BUCKETS`]):
//!   recorded by one middleware layer (`http::track`). `route` is the matched route template
//!   (`/v1/sessions/{id}`), `unmatched` when no route matched; `method` is one of the
//!   standard methods or `other`.
//! - `tessera_logins_total{result}`: `success`, `mfa_required`, `failure` (wrong credentials,
//!   banned account, wrong or expired second factor), `limited` (rate limit or lockout).
//! - `tessera_refresh_total{outcome}`: `rotated`, `grace_replay`, `reused` (theft: the
//!   session was revoked), `invalid`.
//! - `tessera_revocations_total{kind}`: `session`, `user` (every session of a user),
//!   `access_token`.
//! - `tessera_federated_logins_total{provider,result}`: `success`, `mfa_required`, `refused`
//!   (at the callback or the exchange); `provider` is a configured provider's name.
//! - `tessera_state_store_unavailable_total`: requests answered 503 `state_store_unavailable`.
//! - The durable session copy (`durable/`, when `TESSERA_DURABLE_SESSIONS=on`):
//!   `tessera_durable_lag_seconds` (gauge: how long the oldest rotation of the last flush
//!   waited), `tessera_durable_queue_length` (gauge: sessions whose rotation waited to be
//!   written, sampled at each flush), `tessera_durable_restores_total` (sessions put back into the state store),
//!   `tessera_durable_write_failures_total` (SQL writes of the copy that failed: a sign-in or
//!   revocation answered 503, a flush retried, a sweep), `tessera_durable_queue_overflow_total`
//!   (rotations not queued because the queue was full).
//! - `tessera_build_info{version}` = 1.
//! - The state store's circuit breaker (`tessera_store::redis` `breaker.rs`; standalone and
//!   Sentinel Redis only, absent for the memory store and Cluster), sampled from
//!   `StoreHealth::breaker` whenever the metrics are rendered (see [`Metrics::watch_store`]):
//!   `tessera_state_store_breaker_open` (gauge: 1 while open, i.e. store calls fail at once
//!   until a background probe is answered) and `tessera_state_store_breaker_opens_total`
//!   (times it opened).
//! - Read at scrape time (see `http::routes::prometheus`): `tessera_state_store_up`, and the
//!   `/v1/admin/stats` figures `tessera_sessions_active`, `tessera_access_tokens_active`,
//!   `tessera_revoked_tokens` (omitted while the store is down).
//!
//! No label ever holds a user id, an email, a token or any other request-supplied text.

use std::sync::{Arc, OnceLock, Weak};

use metrics::{Counter, Key, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tessera_store::StoreHealth;

/// Upper bounds (seconds) of the request-duration histogram buckets: 1 ms to 10 s, which
/// covers a cached token check (sub-millisecond) up to an Argon2 sign-in under load.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

const HTTP_REQUESTS: &str = "tessera_http_requests_total";
const HTTP_DURATION: &str = "tessera_http_request_duration_seconds";
const LOGINS: &str = "tessera_logins_total";
const REFRESHES: &str = "tessera_refresh_total";
const REVOCATIONS: &str = "tessera_revocations_total";
const STORE_UNAVAILABLE: &str = "tessera_state_store_unavailable_total";
const BUILD_INFO: &str = "tessera_build_info";
const FEDERATED: &str = "tessera_federated_logins_total";
const BREAKER_OPEN: &str = "tessera_state_store_breaker_open";
const BREAKER_OPENS: &str = "tessera_state_store_breaker_opens_total";

/// Result of a federated sign-in (`tessera_federated_logins_total{provider,result}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FederatedResult {
    /// Tokens handed out.
    Success,
    /// The account's second factor was asked for.
    MfaRequired,
    /// Refused at the callback or the exchange (state, code, ID token, provider error,
    /// account rules, ban).
    Refused,
}

impl FederatedResult {
    fn label(self) -> &'static str {
        match self {
            FederatedResult::Success => "success",
            FederatedResult::MfaRequired => "mfa_required",
            FederatedResult::Refused => "refused",
        }
    }
}

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// Result of a sign-in step (`tessera_logins_total{result}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginResult {
    /// A session was opened.
    Success,
    /// The password was right; a second factor is now asked for.
    MfaRequired,
    /// Wrong credentials, banned account, wrong or expired second factor.
    Failure,
    /// Refused by a rate limit or the lockout before any check.
    Limited,
}

impl LoginResult {
    const ALL: [Self; 4] = [
        Self::Success,
        Self::MfaRequired,
        Self::Failure,
        Self::Limited,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::MfaRequired => "mfa_required",
            Self::Failure => "failure",
            Self::Limited => "limited",
        }
    }
}

/// What a refresh-token presentation turned out to be (`tessera_refresh_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The current token: rotated.
    Rotated,
    /// The previous token inside the reuse grace window: the same successor again.
    GraceReplay,
    /// The previous token after the grace window: the session was revoked.
    Reused,
    /// Malformed, unknown, expired or unbound.
    Invalid,
}

impl RefreshOutcome {
    const ALL: [Self; 4] = [
        Self::Rotated,
        Self::GraceReplay,
        Self::Reused,
        Self::Invalid,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::GraceReplay => "grace_replay",
            Self::Reused => "reused",
            Self::Invalid => "invalid",
        }
    }
}

/// What a revocation ended (`tessera_revocations_total{kind}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationKind {
    /// One session (logout, ending a session, RFC 7009 with a refresh token).
    Session,
    /// Every session of a user (logout-all, admin, ban, password reset).
    User,
    /// One access token.
    AccessToken,
}

impl RevocationKind {
    const ALL: [Self; 3] = [Self::Session, Self::User, Self::AccessToken];

    fn label(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::User => "user",
            Self::AccessToken => "access_token",
        }
    }
}

/// The server's metrics (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    logins: [Counter; 4],
    refreshes: [Counter; 4],
    revocations: [Counter; 3],
    store_unavailable: Counter,
    /// The state store whose circuit breaker `render` samples ([`Metrics::watch_store`]);
    /// weak, since the store's durable copy holds these metrics.
    store: OnceLock<Weak<dyn StoreHealth>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder with every event counter registered at 0 (so a scrape shows each
    /// series from the start) and `tessera_build_info` set.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&DURATION_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        describe(&recorder);
        let counter = |name: &'static str, label: Option<(&'static str, &'static str)>| {
            let labels = label
                .map(|(k, v)| vec![Label::new(k, v)])
                .unwrap_or_default();
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        let logins = LoginResult::ALL.map(|r| counter(LOGINS, Some(("result", r.label()))));
        let refreshes =
            RefreshOutcome::ALL.map(|o| counter(REFRESHES, Some(("outcome", o.label()))));
        let revocations =
            RevocationKind::ALL.map(|k| counter(REVOCATIONS, Some(("kind", k.label()))));
        let store_unavailable = counter(STORE_UNAVAILABLE, None);
        recorder
            .register_gauge(
                &Key::from_parts(
                    BUILD_INFO,
                    vec![Label::new("version", env!("CARGO_PKG_VERSION"))],
                ),
                &METADATA,
            )
            .set(1.0);
        Self {
            inner: Arc::new(Inner {
                recorder,
                handle,
                logins,
                refreshes,
                revocations,
                store_unavailable,
                store: OnceLock::new(),
            }),
        }
    }

    /// Counts a sign-in step.
    pub fn login(&self, result: LoginResult) {
        self.inner.logins[result as usize].increment(1);
    }

    /// Counts a refresh-token presentation.
    pub fn refresh(&self, outcome: RefreshOutcome) {
        self.inner.refreshes[outcome as usize].increment(1);
    }

    /// Counts a revocation.
    pub fn revocation(&self, kind: RevocationKind) {
        self.inner.revocations[kind as usize].increment(1);
    }

    /// Counts a request answered 503 because the state store was unavailable.
    pub fn state_store_unavailable(&self) {
        self.inner.store_unavailable.increment(1);
    }

    /// Counts a federated sign-in step. `provider` is a configured provider's name (a closed
    /// set, from the configuration).
    pub fn federated(&self, provider: &str, result: FederatedResult) {
        let labels = vec![
            Label::new("provider", provider.to_owned()),
            Label::new("result", result.label()),
        ];
        self.inner
            .recorder
            .register_counter(&Key::from_parts(FEDERATED, labels), &METADATA)
            .increment(1);
    }

    /// Counts one HTTP request and its duration. `method` and `route` must come from closed
    /// sets (see [`crate::http::track`]).
    pub fn http_request(
        &self,
        method: &'static str,
        route: SharedString,
        status: u16,
        seconds: f64,
    ) {
        let r = &self.inner.recorder;
        let labels = vec![
            Label::new("method", method),
            Label::new("route", route.clone()),
            Label::new("status", SharedString::from(status.to_string())),
        ];
        r.register_counter(&Key::from_parts(HTTP_REQUESTS, labels), &METADATA)
            .increment(1);
        let labels = vec![Label::new("method", method), Label::new("route", route)];
        r.register_histogram(&Key::from_parts(HTTP_DURATION, labels), &METADATA)
            .record(seconds);
    }

    fn durable_counter(&self, name: &'static str) {
        self.inner
            .recorder
            .register_counter(&Key::from_name(name), &METADATA)
            .increment(1);
    }

    fn durable_gauge(&self, name: &'static str, value: f64) {
        self.inner
            .recorder
            .register_gauge(&Key::from_name(name), &METADATA)
            .set(value);
    }

    /// Counts a session restored from the durable copy.
    pub fn durable_restore(&self) {
        self.durable_counter("tessera_durable_restores_total");
    }

    /// Counts a failed SQL write of the durable copy.
    pub fn durable_write_failure(&self) {
        self.durable_counter("tessera_durable_write_failures_total");
    }

    /// Counts a rotation dropped because the write-behind queue was full.
    pub fn durable_overflow(&self) {
        self.durable_counter("tessera_durable_queue_overflow_total");
    }

    /// Sets the number of sessions waiting in the write-behind queue.
    pub fn durable_queue(&self, len: usize) {
        self.durable_gauge("tessera_durable_queue_length", len as f64);
    }

    /// Sets the mirror lag: how long the oldest rotation of the last flush waited.
    pub fn durable_lag(&self, lag: std::time::Duration) {
        self.durable_gauge("tessera_durable_lag_seconds", lag.as_secs_f64());
    }

    /// Samples `store`'s circuit breaker ([`StoreHealth::breaker`]) at every
    /// [`render`](Self::render) from now on (the first call wins; a store without a breaker
    /// adds no series).
    pub fn watch_store(&self, store: &Arc<dyn StoreHealth>) {
        let _ = self.inner.store.set(Arc::downgrade(store));
    }

    /// The recorded metrics in the Prometheus text format (0.0.4), the state store's
    /// circuit breaker sampled now.
    pub fn render(&self) -> String {
        let breaker = self
            .inner
            .store
            .get()
            .and_then(Weak::upgrade)
            .and_then(|s| s.breaker());
        if let Some(b) = breaker {
            let r = &self.inner.recorder;
            r.register_gauge(&Key::from_name(BREAKER_OPEN), &METADATA)
                .set(if b.open { 1.0 } else { 0.0 });
            r.register_counter(&Key::from_name(BREAKER_OPENS), &METADATA)
                .absolute(b.opened_total);
        }
        self.inner.handle.render()
    }

    /// Drains histogram samples into their buckets, so they do not pile up between scrapes.
    pub fn run_upkeep(&self) {
        self.inner.handle.run_upkeep();
    }

    /// Runs [`Metrics::run_upkeep`] every `every` in a background task (`tessera serve` does,
    /// every 5 s: without a scraper, samples would otherwise accumulate). The task ends when
    /// the last clone of these metrics is dropped.
    pub fn spawn_upkeep(&self, every: std::time::Duration) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(inner) => inner.handle.run_upkeep(),
                    None => break,
                }
            }
        });
    }
}

fn describe(r: &PrometheusRecorder) {
    let d = |name: &'static str, unit: Option<Unit>, help: &'static str| {
        r.describe_counter(name.into(), unit, help.into());
    };
    d(
        HTTP_REQUESTS,
        None,
        "HTTP requests by method, route template and status.",
    );
    r.describe_histogram(
        HTTP_DURATION.into(),
        Some(Unit::Seconds),
        "HTTP request duration by method and route template.".into(),
    );
    d(LOGINS, None, "Sign-in steps by result.");
    d(
        FEDERATED,
        None,
        "Federated sign-ins by provider and result.",
    );
    d(REFRESHES, None, "Refresh-token presentations by outcome.");
    d(REVOCATIONS, None, "Revocations by what they ended.");
    d(
        STORE_UNAVAILABLE,
        None,
        "Requests answered 503 because the state store was unavailable.",
    );
    r.describe_gauge(
        BREAKER_OPEN.into(),
        None,
        "1 while the state store's circuit breaker is open (calls fail at once until a probe is answered).".into(),
    );
    d(
        BREAKER_OPENS,
        None,
        "Times the state store's circuit breaker opened.",
    );
    r.describe_gauge(
        BUILD_INFO.into(),
        None,
        "Always 1; the version label is the server's version.".into(),
    );
}
