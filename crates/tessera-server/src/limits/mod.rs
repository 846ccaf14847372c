//! Rate limiting and lockout, shared by every Tessera process on one state store.
//!
//! Each limit is a GCRA bucket in the state store ([`EphemeralStore::throttle`]), so a limit holds
//! across instances. Limits count what attackers do and stay generous for honest traffic:
//!
//! | bucket | key | rate | what it stops |
//! |---|---|---|---|
//! | requests per address | `ip:<a>` / `req` | 600 per 10 min | floods of the unauthenticated endpoints |
//! | failed sign-ins per address | `ip:<a>` / `fail` | 100 per hour | one address spraying many accounts (wrong passwords and wrong second-factor codes) |
//! | failed sign-ins per account and address | `acct:<h>` / `fail:<a>` | 10 per 15 min | guessing one password from one place |
//! | failed sign-ins per account | `acct:<h>` / `fail` | 100 per day | distributed guessing (NIST SP 800-63B: at most 100 consecutive failures) |
//! | wrong second-factor codes per user | user / `mfa-fail` | 20 per 15 min, 100 per day | code guessing across many challenges |
//! | wrong admin tokens per address | `ip:<a>` / `admin-fail` | 20 per hour | guessing `TESSERA_ADMIN_TOKEN` |
//! | wrong client credentials per address | `ip:<a>` / `client-fail` | 60 per hour | guessing an introspection client's secret |
//! | password-reset mails | `acct:<h>` / `forgot`, `ip:<a>` / `forgot` | 5 per hour, 30 per hour | mail bombing |
//! | registrations per address | `ip:<a>` / `register` | 30 per hour | account farming |
//! | sign-in ceremonies started per address (federated sign-ins, passkey sign-in options) | `ip:<a>` / `ceremony` | 60 per 10 min | filling the state store with pending sign-ins |
//!
//! `<a>` is the client address ([`crate::http::extract::Client`], which believes
//! `Forwarded` / `X-Forwarded-For` only from trusted proxies): an IPv4 address, or the /64
//! prefix of an IPv6 one, since one host or subscriber holds at least a /64 and could
//! otherwise rotate through it. `<h>` is a hash of the normalised email, known account or
//! not, so limits never reveal whether an account exists.
//!
//! # Budgets are taken before the check
//! A password (Argon2) or a second-factor code is checked only after a [`Reservation`] took
//! one unit from every failure bucket that guards it: a refused bucket refuses the request
//! (429) before any check, and what was taken is given back ([`Limits::refund`]) only when
//! the check succeeds. So N concurrent guesses never get more checks than the smallest
//! budget, whatever the interleaving, and a crash between check and settlement counts as a
//! failure. Successful checks cost nothing in the end, so many users behind one NAT address
//! still sign in. The admin token and client secrets are reserved for the same way
//! ([`Limits::reserve_credential`]); a client whose exact credentials were already proven
//! from that address in this process skips the budget (see `http::extract::client_auth`), so a resource
//! server's many concurrent introspections are not limited by its own requests in flight.
//!
//! The lockout is progressive (a bucket refills one attempt at a time). Known limit: the
//! account-wide bucket bounds online guessing of one password at 100 a day from any number
//! of addresses, and so it can be kept empty by anyone who keeps failing for that account,
//! even from one address (10 at once, then one per 90 s, which outruns its refill of one
//! per 864 s); while it is empty the owner's correct password gets 429 too. That is the
//! trade every account-wide lockout makes; exempting browsers that already signed in to
//! the account (device cookies, OWASP) is the known remedy and is not built.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::{EphemeralKey, EphemeralStore, Rate, StoreError};

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

/// Requests per address on the unauthenticated endpoints.
const IP_REQUESTS: Rate = Rate::new(600, Duration::from_secs(600));
/// Failed sign-ins per address.
const IP_FAILURES: Rate = Rate::new(100, HOUR);
/// Failed sign-ins per account from one address.
const ACCOUNT_IP_FAILURES: Rate = Rate::new(10, Duration::from_secs(900));
/// Failed sign-ins per account (and wrong second-factor codes per user per day).
const ACCOUNT_FAILURES: Rate = Rate::new(100, DAY);
/// Wrong second-factor codes per user.
const MFA_FAILURES: Rate = Rate::new(20, Duration::from_secs(900));
/// Wrong admin tokens per address.
const ADMIN_FAILURES: Rate = Rate::new(20, HOUR);
/// Wrong client credentials per address.
const CLIENT_FAILURES: Rate = Rate::new(60, HOUR);
/// Reset mails and registrations per address.
const IP_THIRTY_PER_HOUR: Rate = Rate::new(30, HOUR);
/// Ceremonies started per address (federated sign-ins, passkey sign-ins: each stores a
/// record).
const IP_CEREMONIES: Rate = Rate::new(60, Duration::from_secs(600));
/// Reset mails per account.
const ACCOUNT_FORGOT: Rate = Rate::new(5, HOUR);

/// A credential compared without a slow hash, limited per address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `TESSERA_ADMIN_TOKEN`.
    AdminToken,
    /// An introspection client's id and secret.
    Client,
}

impl Credential {
    fn bucket(self, ip: Option<IpAddr>) -> (EphemeralKey, Rate) {
        match self {
            Credential::AdminToken => (EphemeralKey::tag(ip_tag(ip), "admin-fail"), ADMIN_FAILURES),
            Credential::Client => (
                EphemeralKey::tag(ip_tag(ip), "client-fail"),
                CLIENT_FAILURES,
            ),
        }
    }
}

/// Failure budgets taken before a secret is checked (see the [module docs](self)). Give it
/// back with [`Limits::refund`] when the check succeeds; dropping it keeps the charge, which
/// is what a failed check must do.
#[derive(Debug, Default)]
#[must_use = "refund the reservation when the check succeeds; dropping it counts a failure"]
pub struct Reservation {
    taken: Vec<(EphemeralKey, Rate)>,
    last: bool,
}

impl Reservation {
    /// This attempt took the last unit of an account's budget (from its address or
    /// overall): if it fails, a lockout begins.
    pub fn took_the_last(&self) -> bool {
        self.last
    }
}

/// The limits (see the module table).
#[derive(Clone)]
pub struct Limits {
    /// Only the ephemeral records: limits are GCRA buckets and nothing else.
    store: Arc<dyn EphemeralStore>,
    on: bool,
}

impl Limits {
    /// Over `store`; `on: false` (TESSERA_RATE_LIMIT=off, benchmarks only) allows everything.
    pub fn new(store: Arc<dyn EphemeralStore>, on: bool) -> Self {
        Self { store, on }
    }

    /// Before checking a password for `email` (known account or not): charges the address's
    /// request bucket, then reserves one failure from the address, the account from this
    /// address and the account. Refused (429) when any of them is empty; nothing stays
    /// reserved then.
    pub async fn reserve_password(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: Timestamp,
    ) -> Result<Reservation, LimitError> {
        if !self.on {
            return Ok(Reservation::default());
        }
        let ip = ip_tag(ip);
        let acct = account_tag(email);
        self.charge(&EphemeralKey::tag(&ip, "req"), IP_REQUESTS, now)
            .await?;
        self.reserve(
            vec![
                (EphemeralKey::tag(&ip, "fail"), IP_FAILURES, false),
                (
                    EphemeralKey::tag(&acct, format!("fail:{ip}")),
                    ACCOUNT_IP_FAILURES,
                    true,
                ),
                (EphemeralKey::tag(&acct, "fail"), ACCOUNT_FAILURES, true),
            ],
            now,
        )
        .await
    }

    /// Before checking a second-factor code of `user` sent from `ip` (the caller's address,
    /// not the one that passed the password step): charges the address's request bucket,
    /// then reserves one failure from the address and from the user's two code budgets,
    /// which count across challenges.
    pub async fn reserve_code(
        &self,
        ip: Option<IpAddr>,
        user: UserId,
        now: Timestamp,
    ) -> Result<Reservation, LimitError> {
        if !self.on {
            return Ok(Reservation::default());
        }
        let ip = ip_tag(ip);
        self.charge(&EphemeralKey::tag(&ip, "req"), IP_REQUESTS, now)
            .await?;
        self.reserve(
            vec![
                (EphemeralKey::tag(&ip, "fail"), IP_FAILURES, false),
                (EphemeralKey::user(user, "mfa-fail"), MFA_FAILURES, true),
                (
                    EphemeralKey::user(user, "mfa-fail-day"),
                    ACCOUNT_FAILURES,
                    true,
                ),
            ],
            now,
        )
        .await
    }

    /// After a successful check: gives back what `reservation` took.
    pub async fn refund(&self, reservation: Reservation, now: Timestamp) -> Result<(), StoreError> {
        for (key, rate) in &reservation.taken {
            self.store.refund(key, *rate, 1, now).await?;
        }
        Ok(())
    }

    /// Before comparing a `credential` sent from `ip`: reserves one failure from the
    /// address's budget for it, like [`reserve_password`](Self::reserve_password), so no
    /// more guesses than the budget are ever compared, however many arrive at once.
    pub async fn reserve_credential(
        &self,
        credential: Credential,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Reservation, LimitError> {
        if !self.on {
            return Ok(Reservation::default());
        }
        let (key, rate) = credential.bucket(ip);
        self.reserve(vec![(key, rate, false)], now).await
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
        self.requests_and(ip, "register", IP_THIRTY_PER_HOUR, now)
            .await
    }

    /// Before a sign-in ceremony is started (`/v1/oauth/{provider}/authorize`,
    /// `/v1/auth/passkey/options`): each stores a record.
    pub async fn before_ceremony(
        &self,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        self.requests_and(ip, "ceremony", IP_CEREMONIES, now).await
    }

    /// The address's request bucket, then its bucket `name` at `rate`.
    async fn requests_and(
        &self,
        ip: Option<IpAddr>,
        name: &str,
        rate: Rate,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        if !self.on {
            return Ok(());
        }
        let ip = ip_tag(ip);
        self.charge(&EphemeralKey::tag(&ip, "req"), IP_REQUESTS, now)
            .await?;
        self.charge(&EphemeralKey::tag(&ip, name), rate, now).await
    }

    /// Before an unauthenticated request of another kind (token reset, refresh): the
    /// address's request bucket only.
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

    /// Takes one unit from each bucket in order. The first refusal gives back what was taken
    /// and answers [`LimitError::Limited`]. `lockout` marks the buckets whose last unit makes
    /// [`Reservation::took_the_last`] true.
    async fn reserve(
        &self,
        buckets: Vec<(EphemeralKey, Rate, bool)>,
        now: Timestamp,
    ) -> Result<Reservation, LimitError> {
        let mut reservation = Reservation::default();
        for (key, rate, lockout) in buckets {
            let t = self.store.throttle(&key, rate, 1, now).await?;
            if !t.allowed {
                self.refund(reservation, now).await?;
                return Err(LimitError::Limited(Limited {
                    retry_after: t.retry_after,
                }));
            }
            reservation.last |= lockout && t.remaining == 0;
            reservation.taken.push((key, rate));
        }
        Ok(reservation)
    }
}

/// The tag of a client address: `ip:<IPv4>` or `ip:<IPv6 /64 prefix>/64` (an IPv4-mapped
/// IPv6 address is its IPv4 address).
fn ip_tag(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Some(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("ip:{}/64", std::net::Ipv6Addr::from(prefix))
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
        let tag = |s: &str| ip_tag(Some(s.parse().unwrap()));
        assert_eq!(tag("203.0.113.9"), "ip:203.0.113.9");
        assert_eq!(tag("::ffff:203.0.113.9"), "ip:203.0.113.9");
        assert_eq!(tag("2001:db8:1:2:aaaa::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(
            tag("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            tag("2001:db8:1:2::")
        );
        assert_ne!(tag("2001:db8:1:2::1"), tag("2001:db8:1:3::1"));
        assert_eq!(ip_tag(None), "ip:unknown");
        assert!(!tag("2001:db8::1").contains(['{', '}']));
    }
}
