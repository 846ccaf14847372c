//! A refresh judged by the copy before the state store is asked: the defence against a
//! state store that comes back with **older** data (an RDB snapshot or AOF `everysec` loaded
//! after a crash, a restored backup, a master restarted before Sentinel noticed). Such a
//! store still holds a logged-out session, or a family whose current token is one the
//! client rotated away long ago, and would rotate it. The copy knows better: a revoked
//! session has no row (rows are deleted before a revocation answers), and a row's
//! generation is at most one lag behind the store's.
//!
//! The facts come with the account read every refresh makes anyway
//! ([`Rows::account_for_refresh`](super::rows::Rows::account_for_refresh)): no second round
//! trip. What stays out of reach: access tokens the stale store allowlists again are
//! accepted until they expire (the hot path never reads SQL), and a rotation newer than the
//! last flush is not known to the copy (its judgement then defers to the store).

use std::time::Duration;

use tessera_core::ids::SessionId;
use tessera_core::time::Timestamp;
use tessera_store::StoredHash;

use super::rows::CopyView;

/// What a refresh presents, as far as the copy can judge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presented {
    /// The token's refresh generation (its MAC tag verified).
    pub generation: u32,
    /// The fingerprint binding of the request (`None` without the cookie).
    pub binding: Option<StoredHash>,
}

/// What a refresh may do, by the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The copy has nothing against it: the state store decides.
    Ask,
    /// The session has no row although it was opened while the copy was on: it was
    /// revoked (or has expired). The refresh is refused and the session ended in the store.
    Revoked,
    /// The presented token is older than the copy's previous one, or is that previous one
    /// after the grace window: a rotated-away token, as the store would call it theft.
    Reused,
}

impl CopyView {
    /// Judges the `presented` token of `session` by what the copy knows of it (this view),
    /// with the rotation grace window `grace`.
    ///
    /// - No row: [`Judgement::Revoked`] when the session was opened (its id is a UUIDv7,
    ///   which carries its creation time) after the copy was switched on, so it had a row
    ///   from its sign-in on and the sweep keeps a live session's row
    ///   ([`sweep_bound`](super::rows::sweep_bound)); an older session may never have had
    ///   one and is left to the store ([`Judgement::Ask`]), as is every session when no
    ///   `on_since` is recorded.
    /// - A row whose current token is of generation `n`: a token of generation below
    ///   `n − 1`, or of `n − 1` once `grace` has passed since the row's rotation, is
    ///   [`Judgement::Reused`]; anything newer is left to the store. The store's own copy
    ///   is never behind the row (a flush writes what it rotated), so a token the store
    ///   would accept is never judged here.
    /// - A row of a session bound to a fingerprint the request's is not: [`Judgement::Ask`]
    ///   (the store refuses it as invalid). A mismatch is never a theft verdict: a token
    ///   leaked without its cookie must not end the owner's session.
    pub fn judge(
        self,
        session: SessionId,
        presented: Presented,
        grace: Duration,
        now: Timestamp,
    ) -> Judgement {
        let Some(family) = self.family else {
            return match (self.on_since, opened_at(session)) {
                (Some(since), Some(opened)) if opened >= since => Judgement::Revoked,
                _ => Judgement::Ask,
            };
        };
        let Some(current) = family.generation else {
            return Judgement::Ask;
        };
        if let Some(bound) = &family.binding
            && !presented.binding.is_some_and(|b| b.ct_eq(bound))
        {
            return Judgement::Ask;
        }
        match current.checked_sub(1) {
            Some(previous) if presented.generation < previous => Judgement::Reused,
            Some(previous) if presented.generation == previous => {
                let within = grace > Duration::ZERO && now <= family.last_seen.plus(grace);
                if within {
                    Judgement::Ask
                } else {
                    Judgement::Reused
                }
            }
            _ => Judgement::Ask,
        }
    }
}

/// When `session` was opened, from its UUIDv7 timestamp (`None` for another kind of id).
fn opened_at(session: SessionId) -> Option<Timestamp> {
    let (secs, nanos) = session.as_uuid().get_timestamp()?.to_unix();
    let ms = i64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))?;
    Some(Timestamp::from_millis(ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::durable::rows::{CopiedFamily, Rows};

    const GRACE: Duration = Duration::from_secs(10);
    const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

    /// A session id (UUIDv7) opened at `at`, to the second.
    fn opened(at: Timestamp) -> SessionId {
        SessionId::from_uuid(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(at.as_secs()).unwrap(),
            0,
        )))
    }

    fn unbound(generation: u32) -> Presented {
        Presented {
            generation,
            binding: None,
        }
    }

    fn no_row(on_since: Option<Timestamp>) -> CopyView {
        CopyView {
            on_since,
            family: None,
        }
    }

    fn row(generation: Option<u32>, last_seen: Timestamp) -> CopyView {
        CopyView {
            on_since: Some(NOW),
            family: Some(CopiedFamily {
                generation,
                last_seen,
                binding: None,
            }),
        }
    }

    #[test]
    fn a_missing_row_is_a_revocation_only_for_a_session_opened_since_the_copy_is_on() {
        let since = NOW.minus(Duration::from_secs(60));
        let judge = |session, view: CopyView| view.judge(session, unbound(3), GRACE, NOW);
        // Opened since the copy is on: it had a row from its sign-in on.
        for at in [since, NOW] {
            assert_eq!(judge(opened(at), no_row(Some(since))), Judgement::Revoked);
        }
        // Opened before (maybe never copied), no mark (never on, or cleared by a start with
        // the copy off), or not a UUIDv7: the store decides.
        let old = opened(since.minus(Duration::from_secs(1)));
        assert_eq!(judge(old, no_row(Some(since))), Judgement::Ask);
        assert_eq!(judge(opened(NOW), no_row(None)), Judgement::Ask);
        let v4 = SessionId::from_uuid(uuid::Uuid::new_v4());
        assert_eq!(judge(v4, no_row(Some(since))), Judgement::Ask);
    }

    /// The mark is written by the first start with the copy on, kept by later ones,
    /// removed with the copy by a start with it off, and read with the account.
    #[tokio::test]
    async fn the_mark_is_kept_by_later_starts_and_cleared_with_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::accounts::testing::sqlite_in(dir.path()).await;
        let user = crate::accounts::Users::new(db.clone())
            .create(
                crate::accounts::NewUser {
                    id: tessera_core::ids::UserId::new(),
                    email: crate::accounts::email::Email::parse("mark@example.org").unwrap(),
                    name: None,
                    password_hash: String::new(),
                },
                NOW,
            )
            .await
            .unwrap()
            .id;
        let rows = Rows::new(db);
        let on_since = || async {
            let (_, view) = rows
                .account_for_refresh(user, opened(NOW))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(view.family, None);
            view.on_since
        };
        assert_eq!(on_since().await, None);
        rows.mark_on(NOW).await.unwrap();
        rows.mark_on(NOW.plus(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(on_since().await, Some(NOW));
        rows.clear().await.unwrap();
        assert_eq!(on_since().await, None);
    }

    #[test]
    fn tokens_older_than_the_copys_previous_one_are_reused_and_newer_ones_asked() {
        let s = opened(NOW);
        let rotated = NOW.minus(Duration::from_secs(3));
        let view = row(Some(5), rotated);
        let judge = |presented, view: CopyView, now| view.judge(s, unbound(presented), GRACE, now);
        // Current (5), newer than the last flush (6, 7), or previous inside the window (4).
        for presented in [4, 5, 6, 7] {
            assert_eq!(judge(presented, view, NOW), Judgement::Ask, "{presented}");
        }
        // Older than the previous token, at any time.
        for presented in [0, 1, 3] {
            assert_eq!(
                judge(presented, view, NOW),
                Judgement::Reused,
                "{presented}"
            );
        }
        // The previous token after the window; and with no window at all.
        let late = rotated.plus(GRACE).plus(Duration::from_millis(1));
        assert_eq!(judge(4, view, late), Judgement::Reused);
        assert_eq!(judge(4, view, rotated.plus(GRACE)), Judgement::Ask);
        assert_eq!(
            view.judge(s, unbound(4), Duration::ZERO, NOW),
            Judgement::Reused
        );
        // No rotation reached the copy yet: the store decides.
        assert_eq!(judge(0, row(None, NOW), NOW), Judgement::Ask);
        assert_eq!(judge(0, row(Some(0), NOW), NOW), Judgement::Ask);
    }

    /// A session bound to a fingerprint: an old token presented without the cookie (or
    /// with another one) is left to the store, which refuses it as invalid; only the bound
    /// client's presentation can be judged reused.
    #[test]
    fn a_bound_sessions_token_without_its_binding_is_never_judged_reused() {
        let s = opened(NOW);
        let bound = StoredHash::from_bytes([7; 16]);
        let view = CopyView {
            on_since: Some(NOW),
            family: Some(CopiedFamily {
                generation: Some(5),
                last_seen: NOW.minus(Duration::from_secs(60)),
                binding: Some(bound),
            }),
        };
        let at = |binding| {
            view.judge(
                s,
                Presented {
                    generation: 1,
                    binding,
                },
                GRACE,
                NOW,
            )
        };
        assert_eq!(at(None), Judgement::Ask);
        assert_eq!(at(Some(StoredHash::from_bytes([8; 16]))), Judgement::Ask);
        assert_eq!(at(Some(bound)), Judgement::Reused);
    }
}
