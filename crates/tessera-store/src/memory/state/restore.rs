//! The restore rule of [`State`]: `restore_session.lua`, rule for rule.

use std::collections::HashMap;

use tessera_core::time::Timestamp;

use super::State;
use super::session::Session;
use crate::model::{RestoreOutcome, RestoredSession};

impl State {
    pub(in crate::memory) fn restore_session(
        &mut self,
        r: RestoredSession,
        now: Timestamp,
    ) -> RestoreOutcome {
        let present = self
            .sessions
            .get(&r.user)
            .is_some_and(|s| s.contains_key(&r.session));
        let gone = self
            .gone
            .get(&(r.user, r.session))
            .is_some_and(|until| *until > now);
        if present || gone {
            return RestoreOutcome::Present;
        }
        let ver = self.versions.entry(r.user).or_insert(0);
        *ver = (*ver).max(r.token_version);
        let ver = *ver;
        let session = Session {
            created_at: r.created_at,
            last_seen: r.last_seen,
            idle: r.idle_timeout,
            absolute_expiry: r.absolute_expiry,
            generation: r.opened_under,
            current: r.current,
            previous: r.previous,
            seed: r.seed,
            refresh_generation: r.refresh_generation,
            attributes: r.attributes,
            binding: r.binding,
            access: HashMap::new(),
            registered: 0,
        };
        if !session.alive(now, Some(ver)) {
            return RestoreOutcome::Dead;
        }
        self.sessions
            .entry(r.user)
            .or_default()
            .insert(r.session, session);
        for d in r.denied {
            if d.expires_at > now {
                self.denied.insert((r.user, d.jti), d.expires_at);
            }
        }
        RestoreOutcome::Restored
    }
}
