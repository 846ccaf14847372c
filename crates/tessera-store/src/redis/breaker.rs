//! The circuit breaker in front of Redis (standalone and Sentinel): once Redis is known to
//! be unreachable, store calls fail at once instead of each waiting out its timeout, and one
//! background probe finds out when Redis answers again.
//!
//! ## Rule
//! - **What counts.** Only *unreachability*: an I/O error, a refused or dropped connection
//!   ([`Seen::Unreachable`]), and a response timeout or the store's own operation timeout
//!   ([`Seen::TimedOut`]) — but a timeout only when no call at all was answered since the
//!   timed-out call was admitted. A timeout is ambiguous: under load the calls queued on the
//!   multiplexed connection behind a slow script time out together, and one long command
//!   (or an attacker's) delays everybody; counted blindly, that would turn a slow but
//!   healthy Redis into a refusal of every request. A paused or unreachable Redis answers
//!   nothing, so its timeouts still count. Anything Redis *answered* — a reply, a script error, `READONLY`, `LOADING`, `NOPERM`, a
//!   refused password — proves the connection works (and such answers come back fast), so
//!   it counts as [`Seen::Answered`], even where the call maps it to
//!   [`StoreError::Unavailable`].
//! - **Closed → open** after [`FAILURES_TO_OPEN`] (3) unreachable outcomes in a row with no
//!   answered call between them. One slow call between answered ones does not open it; a
//!   dead Redis opens it within its first three calls (under load, concurrent calls fail
//!   together: within one timeout).
//! - **Open**: every call fails at once with [`StoreError::Unavailable`] (cause
//!   [`BreakerOpen`]) without touching the network, so the server answers its 503
//!   `state_store_unavailable` at once. It is never an answer about a token: callers fail
//!   closed exactly as for any unreachable store. Only the probe talks to Redis: one task,
//!   spawned by the transition to open (so there is never a second one, and no herd of
//!   callers reconnecting), sends a `PING` every [`PROBE_EVERY`] (250 ms) after the previous
//!   one ended, each bounded by the connection's response timeout. It goes through the very
//!   connection the store uses: with standalone Redis the `ConnectionManager`, whose
//!   reconnect the probe triggers; with Sentinel the `SentinelConn`, whose failed calls
//!   trigger a lookup of the master, so the probe follows a failover and is answered once
//!   the promoted replica is connected.
//! - **Open → closed, on trial**, when a probe is answered. The streak is then set to
//!   [`FAILURES_TO_OPEN`] − 1: every call is admitted again (the probe has shown the
//!   connection works, so nothing is gained by letting a single call through first), but the
//!   first one to find Redis unreachable reopens it at once, and the first answered call
//!   clears the streak.
//! - **Stale outcomes are ignored.** Each call carries the epoch it was admitted in
//!   ([`Ticket`]); an outcome from an earlier epoch (a call that waited out its timeout
//!   while the breaker opened, or opened and closed) changes nothing, so it can neither count
//!   towards opening nor reopen a breaker a probe just closed. Only the probe closes it: a
//!   late success of a call admitted before it opened does not.
//!
//! Time is passed in (`now`) and the probe uses tokio's clock, so tests control both. Redis
//! Cluster does not use a breaker: its failures are per shard (a store-wide breaker would
//! turn one unreachable primary into a refusal of every user), and the driver routes around
//! failed nodes itself.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use redis::RedisError;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::store::BreakerState;

/// Unreachable outcomes in a row (no answered call between them) that open the breaker.
pub const FAILURES_TO_OPEN: u32 = 3;
/// Pause between the end of one probe and the next `PING`.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);

/// The cause of the [`StoreError::Unavailable`] of a call refused by an open breaker.
#[derive(Debug, thiserror::Error)]
#[error(
    "Redis was found unreachable and is not asked until a background probe is answered \
     (circuit breaker open)"
)]
pub struct BreakerOpen;

/// What one call showed about Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Redis answered (a reply or an error reply): the connection works.
    Answered,
    /// No answer and a broken connection: I/O error, refused or dropped connection.
    Unreachable,
    /// No answer in time. Ambiguous: Redis may be gone, or only slow (a long script, a
    /// queue of calls behind it on the multiplexed connection). It counts as unreachable
    /// only when no call has been answered since this one was admitted: a Redis that
    /// answered meanwhile is alive, and load or one slow command must not open the breaker
    /// of a healthy store (every request would then be refused).
    TimedOut,
}

impl Seen {
    /// How a driver error counts: unreachable when it is about the connection, answered when
    /// Redis sent it (`READONLY`, `LOADING`, `NOPERM`, a script error…).
    pub(crate) fn of(err: &RedisError) -> Self {
        if err.is_timeout() {
            Seen::TimedOut
        } else if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
            Seen::Unreachable
        } else {
            Seen::Answered
        }
    }
}

/// The epoch a call was admitted in (see the module docs, "Stale outcomes"), and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    epoch: u64,
    admitted: Instant,
}

/// The breaker of one store (shared by its clones). See the module docs for the rule.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// Even: closed; odd: open. Raised by one at every transition.
    epoch: AtomicU64,
    /// Unreachable outcomes in a row in the current epoch (while closed).
    streak: AtomicU32,
    /// Transitions so far to open.
    opens: AtomicU64,
    /// Serialises changes of `epoch` and `streak` (the open path and failures only: an
    /// answered call with no streak reads two atomics and takes no lock).
    changing: Mutex<Option<Instant>>,
    /// When a call was last answered (the latest `now` given with [`Seen::Answered`]).
    last_answered: Mutex<Option<Instant>>,
    /// Bound on one probe's `PING`.
    probe_timeout: Duration,
}

impl Breaker {
    /// A closed breaker whose probes give up on a `PING` after `probe_timeout`.
    pub(crate) fn new(probe_timeout: Duration) -> Self {
        Self {
            epoch: AtomicU64::new(0),
            streak: AtomicU32::new(0),
            opens: AtomicU64::new(0),
            changing: Mutex::new(None),
            last_answered: Mutex::new(None),
            probe_timeout,
        }
    }

    /// Admits a call at `now` (its [`Ticket`] goes back with its outcome to
    /// [`record`](Self::record)), or refuses it at once while open.
    pub(crate) fn admit(&self, now: Instant) -> Result<Ticket, StoreError> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if is_open(epoch) {
            return Err(StoreError::Unavailable(Box::new(BreakerOpen)));
        }
        Ok(Ticket {
            epoch,
            admitted: now,
        })
    }

    /// Records what an admitted call saw. True when this outcome opened the breaker: the
    /// caller then starts the one probe ([`probe`]).
    pub(crate) fn record(&self, ticket: Ticket, seen: Seen, now: Instant) -> bool {
        match seen {
            Seen::Answered => {
                {
                    let mut last = self.last_answered.lock().unwrap_or_else(|e| e.into_inner());
                    if last.is_none_or(|t| t < now) {
                        *last = Some(now);
                    }
                }
                if self.streak.load(Ordering::Acquire) != 0 {
                    let _changing = self.lock();
                    if self.epoch.load(Ordering::Acquire) == ticket.epoch {
                        self.streak.store(0, Ordering::Release);
                    }
                }
                false
            }
            Seen::TimedOut if self.answered_since(ticket.admitted) => false,
            Seen::Unreachable | Seen::TimedOut => {
                let mut opened_at = self.lock();
                if self.epoch.load(Ordering::Acquire) != ticket.epoch {
                    return false;
                }
                let streak = self.streak.load(Ordering::Acquire) + 1;
                if streak < FAILURES_TO_OPEN {
                    self.streak.store(streak, Ordering::Release);
                    return false;
                }
                self.streak.store(0, Ordering::Release);
                *opened_at = Some(now);
                self.opens.fetch_add(1, Ordering::AcqRel);
                self.epoch.fetch_add(1, Ordering::AcqRel);
                true
            }
        }
    }

    /// Closes an open breaker, on trial (module docs); returns how long it was open, or
    /// `None` when it was not open.
    pub(crate) fn close(&self, now: Instant) -> Option<Duration> {
        let mut opened_at = self.lock();
        if !is_open(self.epoch.load(Ordering::Acquire)) {
            return None;
        }
        self.streak.store(FAILURES_TO_OPEN - 1, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Some(opened_at.take().map_or(Duration::ZERO, |t| now - t))
    }

    /// The state now.
    pub(crate) fn state(&self) -> BreakerState {
        BreakerState {
            open: is_open(self.epoch.load(Ordering::Acquire)),
            opened_total: self.opens.load(Ordering::Acquire),
        }
    }

    /// Whether a call was answered at or after `t`.
    fn answered_since(&self, t: Instant) -> bool {
        self.last_answered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|last| last >= t)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.changing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Odd epochs are open ones.
fn is_open(epoch: u64) -> bool {
    epoch & 1 == 1
}

/// The probe of an open breaker: every [`PROBE_EVERY`], `ping` (bounded by the breaker's
/// probe timeout; `true` = answered) until one is answered, then closes the breaker and
/// returns. Returns early when the breaker is gone (its store dropped).
pub(crate) async fn probe<F, Fut>(breaker: Weak<Breaker>, ping: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(b) = breaker.upgrade() else {
            return;
        };
        let answered = tokio::time::timeout(b.probe_timeout, ping())
            .await
            .unwrap_or(false);
        if answered {
            if let Some(open_for) = b.close(Instant::now()) {
                tracing::info!(
                    open_for = ?open_for,
                    "Redis answers again: circuit breaker closed, calls go to Redis"
                );
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    /// Records `seen` for a call admitted now.
    fn call(b: &Breaker, seen: Seen, now: Instant) -> bool {
        let ticket = b.admit(now).expect("admitted");
        b.record(ticket, seen, now)
    }

    fn refused(b: &Breaker) -> bool {
        match b.admit(Instant::now()) {
            Err(e @ StoreError::Unavailable(_)) => {
                assert!(e.chain().contains("circuit breaker open"), "{}", e.chain());
                true
            }
            Err(e) => panic!("not unavailable: {e}"),
            Ok(_) => false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_slow_call_between_answers_does_not_open_three_in_a_row_do() {
        let b = Breaker::new(TIMEOUT);
        let now = Instant::now();
        for seen in [
            Seen::Unreachable,
            Seen::Answered,
            Seen::Unreachable,
            Seen::Unreachable,
            Seen::Answered,
            Seen::Unreachable,
            Seen::Unreachable,
        ] {
            assert!(!call(&b, seen, now));
        }
        assert!(!refused(&b), "two in a row leave it closed");
        assert!(call(&b, Seen::Unreachable, now), "the third opens it");
        assert!(refused(&b));
        assert_eq!(
            b.state(),
            BreakerState {
                open: true,
                opened_total: 1
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_of_calls_admitted_before_a_transition_change_nothing() {
        let b = Breaker::new(TIMEOUT);
        let now = Instant::now();
        // Eight concurrent calls are admitted, then all find Redis gone: one opening.
        let tickets: Vec<Ticket> = (0..8).map(|_| b.admit(now).expect("closed")).collect();
        let openings = tickets
            .iter()
            .filter(|t| b.record(**t, Seen::Unreachable, now))
            .count();
        assert_eq!(openings, 1, "exactly one outcome opens it (one probe)");
        // A late success of a call admitted before the opening does not close it.
        assert!(!b.record(tickets[0], Seen::Answered, now));
        assert!(b.state().open);
        // After a probe closed it, failures admitted before never reopen it.
        assert!(b.close(now + Duration::from_secs(2)).is_some());
        for t in &tickets {
            assert!(!b.record(*t, Seen::Unreachable, now));
        }
        assert!(!b.state().open);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_probe_closes_it_one_failure_reopens_and_one_answer_clears_the_trial() {
        let b = Breaker::new(TIMEOUT);
        let t0 = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            call(&b, Seen::Unreachable, t0);
        }
        assert_eq!(
            b.close(t0 + Duration::from_millis(750)),
            Some(Duration::from_millis(750)),
            "how long it was open"
        );
        assert_eq!(b.close(t0), None, "closing a closed breaker does nothing");
        assert!(!refused(&b));
        assert!(
            call(&b, Seen::Unreachable, t0),
            "on trial: one failure reopens"
        );
        assert_eq!(b.state().opened_total, 2);

        b.close(t0);
        assert!(!call(&b, Seen::Answered, t0));
        assert!(
            !call(&b, Seen::Unreachable, t0),
            "the answer ended the trial"
        );
        assert!(!call(&b, Seen::Unreachable, t0));
        assert!(call(&b, Seen::Unreachable, t0));
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_open_it_only_when_nothing_was_answered_since_they_were_admitted() {
        let b = Breaker::new(TIMEOUT);
        let t0 = Instant::now();
        // A slow Redis under load: calls admitted at t0 time out at t0 + 1 s, while calls
        // admitted later are answered in between. Redis is alive: nothing opens.
        let slow: Vec<Ticket> = (0..6).map(|_| b.admit(t0).expect("closed")).collect();
        let later = t0 + Duration::from_millis(500);
        assert!(!call(&b, Seen::Answered, later));
        for t in &slow {
            assert!(!b.record(*t, Seen::TimedOut, t0 + TIMEOUT));
        }
        assert!(!refused(&b), "a slow but answering Redis keeps it closed");
        // A paused Redis: nothing is answered after the calls were admitted, so their
        // timeouts count and the third opens it.
        let t1 = t0 + Duration::from_secs(5);
        let paused: Vec<Ticket> = (0..3).map(|_| b.admit(t1).expect("closed")).collect();
        let opened: Vec<bool> = paused
            .iter()
            .map(|t| b.record(*t, Seen::TimedOut, t1 + TIMEOUT))
            .collect();
        assert_eq!(opened, [false, false, true]);
        assert!(refused(&b));
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_pings_every_interval_and_closes_on_the_first_answer() {
        let b = Arc::new(Breaker::new(TIMEOUT));
        let t0 = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            call(&b, Seen::Unreachable, t0);
        }
        let pings = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&pings);
        let task = tokio::spawn(probe(Arc::downgrade(&b), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move { n >= 3 }
        }));
        tokio::time::sleep(PROBE_EVERY * 2 + Duration::from_millis(10)).await;
        assert_eq!(pings.load(Ordering::SeqCst), 2);
        assert!(refused(&b), "still open: no probe answered");
        task.await.expect("probe ends");
        assert_eq!(pings.load(Ordering::SeqCst), 3);
        assert_eq!(t0.elapsed(), PROBE_EVERY * 3, "closed by the third ping");
        assert!(!refused(&b));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(pings.load(Ordering::SeqCst), 3, "no ping once closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_is_not_answered_is_cut_at_its_timeout() {
        let b = Arc::new(Breaker::new(TIMEOUT));
        let t0 = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            call(&b, Seen::Unreachable, t0);
        }
        let pings = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&pings);
        // The first PING never answers (a paused Redis); the second does.
        probe(Arc::downgrade(&b), move || {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    std::future::pending::<()>().await;
                }
                true
            }
        })
        .await;
        assert_eq!(t0.elapsed(), PROBE_EVERY + TIMEOUT + PROBE_EVERY);
        assert!(!b.state().open);
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_stops_when_its_store_is_dropped() {
        let b = Arc::new(Breaker::new(TIMEOUT));
        for _ in 0..FAILURES_TO_OPEN {
            call(&b, Seen::Unreachable, Instant::now());
        }
        let task = tokio::spawn(probe(Arc::downgrade(&b), || async { false }));
        tokio::time::sleep(PROBE_EVERY * 4).await;
        assert!(!task.is_finished());
        drop(b);
        tokio::time::sleep(PROBE_EVERY * 2).await;
        assert!(task.is_finished());
    }

    #[test]
    fn connection_failures_count_and_answers_from_redis_do_not() {
        use redis::{ErrorKind, ServerErrorKind};
        let io = |kind| RedisError::from(std::io::Error::from(kind));
        for e in [
            io(std::io::ErrorKind::ConnectionRefused),
            io(std::io::ErrorKind::BrokenPipe),
            io(std::io::ErrorKind::ConnectionReset),
        ] {
            assert_eq!(Seen::of(&e), Seen::Unreachable, "{e}");
        }
        let timeout = io(std::io::ErrorKind::TimedOut);
        assert_eq!(Seen::of(&timeout), Seen::TimedOut, "{timeout}");
        for e in [
            RedisError::from((ErrorKind::Server(ServerErrorKind::ReadOnly), "READONLY")),
            RedisError::from((ErrorKind::Server(ServerErrorKind::BusyLoading), "LOADING")),
            RedisError::from((ErrorKind::AuthenticationFailed, "WRONGPASS")),
            RedisError::from((ErrorKind::UnexpectedReturnType, "script error")),
        ] {
            assert_eq!(Seen::of(&e), Seen::Answered, "{e}");
        }
    }
}
