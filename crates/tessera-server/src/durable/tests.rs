//! The write-behind queue against a real SQLite database.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use tessera_core::ids::UserId;
use tessera_core::refresh::{SuccessorSeed, TokenHash};
use tessera_store::StoredHash;

use super::rows::SessionRow;
use super::*;
use crate::accounts::testing::{databases, sqlite_in};

const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);
const IDLE: Duration = Duration::from_secs(3600);

fn hash(tag: &[u8]) -> StoredHash {
    StoredHash::of(&TokenHash::of(tag))
}

fn family(generation: u32) -> FamilyState {
    FamilyState {
        current: hash(format!("current {generation}").as_bytes()),
        previous: hash(format!("previous {generation}").as_bytes()),
        seed: SuccessorSeed([7; 16]),
        generation,
        last_seen: NOW,
        idle: IDLE,
    }
}

/// A copy on a fresh SQLite database with one session's row in it.
async fn copy_with_a_row() -> (DurableSessions, UserId, SessionId, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_in(dir.path()).await;
    let durable = DurableSessions::new(Rows::new(db), Duration::from_secs(1), Metrics::new());
    let (user, session) = (UserId::new(), SessionId::new());
    let row = SessionRow {
        user,
        session,
        created_at: NOW,
        idle: IDLE,
        absolute_expiry: NOW.plus(Duration::from_secs(86_400)),
        opened_under: 0,
        current: hash(b"first"),
        attributes: String::new(),
        binding: None,
    };
    durable.rows().open(&row, &[]).await.unwrap();
    (durable, user, session, dir)
}

/// A restore that runs while a flush's transaction is open must still see the newest family
/// state: the flush does not make it disappear before SQL holds it.
#[tokio::test]
async fn a_flush_keeps_its_batch_visible_until_it_commits() {
    let (durable, user, session, _dir) = copy_with_a_row().await;
    durable.queue(session, family(1), NOW);

    let mut flush = pin!(durable.flush(NOW));
    let first = std::future::poll_fn(|cx| Poll::Ready(flush.as_mut().poll(cx))).await;
    assert!(
        first.is_pending(),
        "SQLite answers through its worker: the flush waits"
    );
    assert_eq!(
        durable.queued(session).map(|f| f.generation),
        Some(1),
        "in flight, still visible"
    );
    flush.await;

    assert!(
        durable.queued(session).is_none(),
        "committed: off the queue"
    );
    let row = durable
        .rows()
        .load(user, session, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.refresh_generation, Some(1));
    assert!(row.current.ct_eq(&family(1).current));
}

/// A rotation queued while a flush writes an older state of the same session stays queued
/// (newest wins), and a revocation in flight drops both.
#[tokio::test]
async fn the_newest_state_wins_over_one_in_flight_and_a_revocation_drops_both() {
    let (durable, _user, session, _dir) = copy_with_a_row().await;
    durable.queue(session, family(1), NOW);
    let mut flush = pin!(durable.flush(NOW));
    let first = std::future::poll_fn(|cx| Poll::Ready(flush.as_mut().poll(cx))).await;
    assert!(first.is_pending());
    durable.queue(session, family(2), NOW);
    assert_eq!(durable.queued(session).map(|f| f.generation), Some(2));
    flush.await;
    assert_eq!(durable.queued(session).map(|f| f.generation), Some(2));

    durable.unqueue(session);
    assert!(durable.queued(session).is_none());
}

/// The queue's bound holds for states put back by a failed flush as for new ones.
#[test]
fn the_queue_bound_holds_for_put_back_states() {
    let mut p = Pending::default();
    for _ in 0..QUEUE_CAPACITY {
        assert!(p.put_back(SessionId::new(), family(1)));
    }
    assert!(!p.put_back(SessionId::new(), family(1)), "full");
    let (&kept, _) = p.families.iter().next().unwrap();
    assert!(
        p.put_back(kept, family(2)),
        "a session already waiting is replaced"
    );
    assert_eq!(p.families[&kept].generation, 2);
    assert!(
        p.put_back(kept, family(1)),
        "an older state is not put over a newer one"
    );
    assert_eq!(p.families[&kept].generation, 2);
}

/// A flush of more sessions than one statement takes writes every one of them, moves each
/// row only forward (an older generation than the row's is left alone), and skips a
/// session whose row is gone — on SQLite and PostgreSQL alike.
#[tokio::test]
async fn a_large_flush_writes_every_family_and_only_forward() {
    for (engine, db, _keep) in databases().await {
        let rows = Rows::new(db);
        let user = UserId::new();
        let sessions: Vec<SessionId> = (0..rows::WRITE_BATCH * 2 + 50)
            .map(|_| SessionId::new())
            .collect();
        for s in &sessions {
            let row = SessionRow {
                user,
                session: *s,
                created_at: NOW,
                idle: IDLE,
                absolute_expiry: NOW.plus(Duration::from_secs(86_400)),
                opened_under: 0,
                current: hash(b"first"),
                attributes: String::new(),
                binding: None,
            };
            rows.open(&row, &[]).await.unwrap();
        }
        rows.write_families(&sessions.iter().map(|s| (*s, family(5))).collect::<Vec<_>>())
            .await
            .unwrap();
        // An older state (a late flush of another process) does not move a row back; a
        // deleted row stays deleted.
        // Another user naming a session deletes nothing of it.
        let stranger = UserId::new();
        assert!(!rows.forget_session(stranger, sessions[1]).await.unwrap());
        assert!(rows.load(user, sessions[1], NOW).await.unwrap().is_some());
        assert!(rows.forget_session(user, sessions[1]).await.unwrap());
        rows.write_families(&[(sessions[0], family(3)), (sessions[1], family(9))])
            .await
            .unwrap();
        for (k, s) in sessions.iter().enumerate() {
            let got = rows.load(user, *s, NOW).await.unwrap();
            if k == 1 {
                assert!(got.is_none(), "{engine}: a deleted row came back");
                continue;
            }
            let got = got.unwrap();
            assert_eq!(got.refresh_generation, Some(5), "{engine}: row {k}");
            assert!(got.current.ct_eq(&family(5).current), "{engine}: row {k}");
            assert!(got.previous.is_some_and(|p| p.ct_eq(&family(5).previous)));
            assert_eq!(got.seed.map(|x| x.0), Some([7; 16]));
        }
    }
}

/// The sweep deletes a row once its session is dead, and never while it lives: a row is
/// kept one idle timeout past the deadline the copy knows (a rotation lost in a crash
/// extended the session by at most that), capped at the absolute expiry; a flushed
/// rotation that moves that bound past the row's `expires_ms` raises it, plus a quarter of
/// the idle timeout, one that does not leaves it; and the sweep works in bounded batches —
/// on SQLite and PostgreSQL.
#[tokio::test]
async fn the_sweep_deletes_dead_rows_only_in_bounded_batches() {
    let min = |m: u64| NOW.plus(Duration::from_secs(60 * m));
    for (engine, db, _keep) in databases().await {
        let rows = Rows::new(db);
        let user = UserId::new();
        let open = |session, absolute| SessionRow {
            user,
            session,
            created_at: NOW,
            idle: IDLE,
            absolute_expiry: absolute,
            opened_under: 0,
            current: hash(b"first"),
            attributes: String::new(),
            binding: None,
        };
        let rotated = |generation, at| FamilyState {
            last_seen: at,
            ..family(generation)
        };
        let (kept, idle, capped) = (SessionId::new(), SessionId::new(), SessionId::new());
        rows.open(&open(kept, min(24 * 60)), &[]).await.unwrap();
        rows.open(&open(idle, min(24 * 60)), &[]).await.unwrap();
        rows.open(&open(capped, min(70)), &[]).await.unwrap();
        // Idle timeout 60 min. Bounds: idle 120 (deadline 60 + 60); capped 70 (its absolute
        // expiry); kept, rotated at 50 (deadline 110), 170 + 15 = 185.
        rows.write_families(&[(kept, rotated(1, min(50))), (capped, rotated(1, min(50)))])
            .await
            .unwrap();
        let present = |s| {
            let rows = rows.clone();
            async move { rows.load(user, s, NOW).await.unwrap().is_some() }
        };
        rows.sweep(min(69)).await.unwrap();
        assert!(
            present(idle).await && present(kept).await && present(capped).await,
            "{engine}: swept inside the idle margin"
        );
        rows.sweep(min(71)).await.unwrap();
        assert!(
            !present(capped).await,
            "{engine}: the absolute expiry caps the row"
        );
        rows.sweep(min(119)).await.unwrap();
        assert!(present(idle).await, "{engine}: swept before its bound");
        rows.sweep(min(121)).await.unwrap();
        assert!(!present(idle).await, "{engine}: a dead row was kept");
        // A later rotation whose bound (115 + 60 = 175) stays before the row's moves
        // nothing; the row is swept once its bound passes, not before.
        rows.write_families(&[(kept, rotated(2, min(55)))])
            .await
            .unwrap();
        rows.sweep(min(184)).await.unwrap();
        assert!(
            present(kept).await,
            "{engine}: a row was swept before its bound"
        );
        rows.sweep(min(186)).await.unwrap();
        assert!(!present(kept).await, "{engine}: kept past its bound");
        // Bounded batches: one statement deletes at most SWEEP_BATCH rows.
        let many = usize::try_from(rows::SWEEP_BATCH).unwrap() + 7;
        for _ in 0..many {
            rows.open(&open(SessionId::new(), min(24 * 60)), &[])
                .await
                .unwrap();
        }
        let first = rows.sweep(min(121)).await.unwrap();
        let second = rows.sweep(min(121)).await.unwrap();
        assert_eq!((first, second), (rows::SWEEP_BATCH as u64, 7), "{engine}");
    }
}
