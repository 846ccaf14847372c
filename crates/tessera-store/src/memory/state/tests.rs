//! The maintained statistics of the memory backend against a full walk.

use std::time::Duration;

use tessera_core::refresh::{SuccessorSeed, TokenHash};

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn grant(exp: i64) -> AccessGrant {
    AccessGrant {
        jti: Jti::new(),
        expires_at: t(exp),
    }
}

/// Maintained figures equal a full walk at several instants around `now`.
fn check(state: &State, now: i64, step: &str) {
    for at in [
        now - 1000,
        now,
        now + 1,
        now + 299,
        now + 300,
        now + 901,
        now + 5000,
    ] {
        assert_eq!(
            state.stats(t(at)),
            state.stats_walked(t(at)),
            "{step} at {at}"
        );
    }
}

/// A session whose grant (300 s) outlives it when `lifetime` is shorter.
fn new_session(
    user: UserId,
    now: i64,
    token_version: u64,
    lifetime: i64,
) -> (NewSession, TokenHash) {
    let refresh = TokenHash::of(SessionId::new().to_string().as_bytes());
    let new = NewSession {
        user,
        session: SessionId::new(),
        refresh,
        access: grant(now + 300),
        token_version,
        limits: SessionLimits {
            idle_timeout: Duration::from_secs(900),
            absolute_expiry: t(now + lifetime),
        },
        max_sessions: Some(3),
        attributes: String::new(),
        binding: None,
    };
    (new, refresh)
}

#[test]
fn maintained_statistics_equal_a_full_walk_after_every_step() {
    let mut state = State::default();
    let users: Vec<UserId> = (0..3).map(|_| UserId::new()).collect();
    let mut held: Vec<(UserId, SessionId, TokenHash)> = Vec::new();
    let mut now = 1_000;
    for round in 0..6 {
        for (i, user) in users.iter().enumerate() {
            // Opening sessions (the cap of 3 evicts), one with a raised version.
            let version = u64::from(round == 3 && i == 0) * 50;
            let lifetime = if (round + i) % 2 == 0 { 200 } else { 3600 };
            let (new, refresh) = new_session(*user, now, version, lifetime);
            let id = new.session;
            state.create_session(new, t(now));
            state.reindex(*user);
            held.push((*user, id, refresh));
            check(&state, now, "create");
            state.push_event(
                *user,
                SecurityEventRecord {
                    id: format!("{round}-{i}"),
                    at: t(now),
                    payload: String::new(),
                },
                t(now),
            );
            check(&state, now, "event");
        }
        // Rotating every held session (dead ones are refused), with extra grants.
        for (user, id, refresh) in held.iter_mut() {
            let successor = TokenHash::of(Jti::new().to_string().as_bytes());
            state.rotate_refresh(
                Rotation {
                    user: *user,
                    session: *id,
                    presented: *refresh,
                    generation: None,
                    successor,
                    successor_generation: 1,
                    seed: SuccessorSeed::random(),
                    access: grant(now + 120),
                    grace: Duration::from_secs(10),
                    idle_timeout: Duration::from_secs(600),
                    binding: None,
                },
                t(now),
            );
            state.reindex(*user);
            *refresh = successor;
            check(&state, now, "rotate");
        }
        if let Some((user, id, _)) = held.get(round) {
            let g = grant(now + 60);
            state.revoke_access_token(*user, *id, g, RevocationMode::Denylist, t(now));
            state.reindex(*user);
            check(&state, now, "revoke token");
            state.revoke_session(*user, *id, t(now));
            state.reindex(*user);
            check(&state, now, "revoke session");
        }
        if round == 4 {
            state.revoke_user(users[1], t(now));
            state.reindex(users[1]);
            check(&state, now, "revoke user");
        }
        state.list_sessions(users[2], t(now));
        state.reindex(users[2]);
        check(&state, now, "list");
        now += 400;
        if round % 2 == 1 {
            state.sweep(t(now));
            check(&state, now, "sweep");
        }
    }
    assert!(state.stats(t(now)).sessions_active > 0);
}
