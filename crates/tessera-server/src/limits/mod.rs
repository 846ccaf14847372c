//! Rate limiting and lockout, shared by every Tessera process on one state store.
//!
//! Each limit is a GCRA bucket in the state store ([`StateStore::throttle`]), so a limit holds
//! across instances. Limits count what attackers do and stay generous for honest traffic:
//!
//! | bucket | key | rate | what it stops |
//! |---|---|---|---|
//! | requests per IP | `ip:<ip>` / `req` | 600 per 10 min | floods of the unauthenticated endpoints |
//! | failed sign-ins per IP | `ip:<ip>` / `fail` | 100 per hour | one address spraying many accounts |
//! | failed sign-ins per account and IP | `acct:<h>` / `fail:<ip>` | 10 per 15 min | guessing one password from one place |
//! | failed sign-ins per account | `acct:<h>` / `fail` | 100 per day | distributed guessing (NIST SP 800-63B: at most 100 consecutive failures) |
//! | wrong second-factor codes per user | user / `mfa-fail` | 20 per 15 min, 100 per day | code guessing across many challenges |
//! | password-reset mails | `acct:<h>` / `forgot`, `ip:<ip>` / `forgot` | 5 per hour, 30 per hour | mail bombing |
//! | registrations per IP | `ip:<ip>` / `register` | 30 per hour | account farming |
//!
//! `<h>` is a hash of the normalised email, known account or not, so limits never reveal
//! whether an account exists. The lockout is progressive (a bucket refills one attempt at a
//! time) and cannot lock a victim out from one attacker's address: that address exhausts its
//! own `fail:<ip>` bucket long before the account-wide daily bucket. Successful requests are
//! never charged to a failure bucket, so many users behind one NAT address still sign in.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::{EphemeralKey, Rate, StateStore, StoreError};

/// A request refused by a limit: answer 429 with `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// When to try again.
    pub retry_after: Duration,
}

/// Why a limit check did not answer.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Over a limit.
    #[error("rate limited")]
    Limited(Limited),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Requests per IP on the unauthenticated endpoints.
const IP_REQUESTS: Rate = Rate::new(600, Duration::from_secs(600));
/// Failed sign-ins per IP.
const IP_FAILURES: Rate = Rate::new(100, HOUR);
/// Failed sign-ins per account from one IP.
const ACCOUNT_IP_FAILURES: Rate = Rate::new(10, Duration::from_secs(900));
/// Failed sign-ins per account (and wrong second-factor codes per user per day).
const ACCOUNT_FAILURES: Rate = Rate::new(100, DAY);
/// Wrong second-factor codes per user.
const MFA_FAILURES: Rate = Rate::new(20, Duration::from_secs(900));
/// Reset mails and registrations per IP.
const IP_THIRTY_PER_HOUR: Rate = Rate::new(30, HOUR);
/// Reset mails per account.
const ACCOUNT_FORGOT: Rate = Rate::new(5, HOUR);

/// The limits (see the module table).
#[derive(Clone)]
pub struct Limits {
    store: Arc<dyn StateStore>,
    on: bool,
}

impl Limits {
    /// Over `store`; `on: false` (TESSERA_RATE_LIMIT=off, benchmarks only) allows everything.
    pub fn new(store: Arc<dyn StateStore>, on: bool) -> Self {
        Self { store, on }
    }

    /// Before checking a password: charges the IP's request bucket and refuses when the IP,
    /// the account, or the account from this IP has no failure budget left.
    pub async fn before_login(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        if !self.on {
            return Ok(());
        }
        let ip = ip_tag(ip);
        let acct = account_tag(email);
        self.charge(&EphemeralKey::tag(&ip, "req"), IP_REQUESTS, now)
            .await?;
        self.peek_all(
            &[
                (EphemeralKey::tag(&ip, "fail"), IP_FAILURES),
                (
                    EphemeralKey::tag(&acct, format!("fail:{ip}")),
                    ACCOUNT_IP_FAILURES,
                ),
                (EphemeralKey::tag(&acct, "fail"), ACCOUNT_FAILURES),
            ],
            now,
        )
        .await
    }

    /// After a wrong password: charges the failure buckets. Returns true when this failure
    /// used up the account's budget from this IP or overall (a lockout begins).
    pub async fn login_failed(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        if !self.on {
            return Ok(false);
        }
        let ip = ip_tag(ip);
        let acct = account_tag(email);
        self.store
            .throttle(&EphemeralKey::tag(&ip, "fail"), IP_FAILURES, 1, now)
            .await?;
        let pair = self
            .store
            .throttle(
                &EphemeralKey::tag(&acct, format!("fail:{ip}")),
                ACCOUNT_IP_FAILURES,
                1,
                now,
            )
            .await?;
        let all = self
            .store
            .throttle(&EphemeralKey::tag(&acct, "fail"), ACCOUNT_FAILURES, 1, now)
            .await?;
        Ok((pair.allowed && pair.remaining == 0) || (all.allowed && all.remaining == 0))
    }

    /// Before checking a second-factor code.
    pub async fn before_mfa(
        &self,
        ip: Option<IpAddr>,
        user: UserId,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        if !self.on {
            return Ok(());
        }
        self.charge(&EphemeralKey::tag(ip_tag(ip), "req"), IP_REQUESTS, now)
            .await?;
        self.peek_all(
            &[
                (EphemeralKey::user(user, "mfa-fail"), MFA_FAILURES),
                (EphemeralKey::user(user, "mfa-fail-day"), ACCOUNT_FAILURES),
            ],
            now,
        )
        .await
    }

    /// After a wrong second-factor code.
    pub async fn mfa_failed(&self, user: UserId, now: Timestamp) -> Result<(), StoreError> {
        if !self.on {
            return Ok(());
        }
        self.store
            .throttle(&EphemeralKey::user(user, "mfa-fail"), MFA_FAILURES, 1, now)
            .await?;
        self.store
            .throttle(
                &EphemeralKey::user(user, "mfa-fail-day"),
                ACCOUNT_FAILURES,
                1,
                now,
            )
            .await?;
        Ok(())
    }

    /// Before sending a password-reset mail (known account or not).
    pub async fn before_forgot(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        if !self.on {
            return Ok(());
        }
        let ip = ip_tag(ip);
        self.charge(&EphemeralKey::tag(&ip, "req"), IP_REQUESTS, now)
            .await?;
        self.charge(&EphemeralKey::tag(&ip, "forgot"), IP_THIRTY_PER_HOUR, now)
            .await?;
        self.charge(
            &EphemeralKey::tag(account_tag(email), "forgot"),
            ACCOUNT_FORGOT,
            now,
        )
        .await
    }

    /// Before creating an account.
    pub async fn before_register(
        &self,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        if !self.on {
            return Ok(());
        }
        let ip = ip_tag(ip);
        self.charge(&EphemeralKey::tag(&ip, "req"), IP_REQUESTS, now)
            .await?;
        self.charge(&EphemeralKey::tag(&ip, "register"), IP_THIRTY_PER_HOUR, now)
            .await
    }

    /// Before an unauthenticated request of another kind (token reset, refresh): the IP's
    /// request bucket only.
    pub async fn before_request(
        &self,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        if !self.on {
            return Ok(());
        }
        self.charge(&EphemeralKey::tag(ip_tag(ip), "req"), IP_REQUESTS, now)
            .await
    }

    async fn charge(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        let t = self.store.throttle(key, rate, 1, now).await?;
        if t.allowed {
            Ok(())
        } else {
            Err(LimitError::Limited(Limited {
                retry_after: t.retry_after,
            }))
        }
    }

    async fn peek_all(
        &self,
        buckets: &[(EphemeralKey, Rate)],
        now: Timestamp,
    ) -> Result<(), LimitError> {
        let mut wait: Option<Duration> = None;
        for (key, rate) in buckets {
            let t = self.store.throttle(key, *rate, 0, now).await?;
            if !t.allowed {
                wait = Some(wait.map_or(t.retry_after, |w| w.max(t.retry_after)));
            }
        }
        match wait {
            Some(retry_after) => Err(LimitError::Limited(Limited { retry_after })),
            None => Ok(()),
        }
    }
}

fn ip_tag(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".to_owned(),
    }
}

/// A hash of the normalised email (any string: unknown accounts are limited alike).
fn account_tag(email: &str) -> String {
    let normal = email.trim().to_lowercase();
    let h = Sha256::digest(normal.as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("acct:{hex}")
}
