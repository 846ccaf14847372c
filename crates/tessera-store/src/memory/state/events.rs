//! The event-log rules of [`State`] (`push_event.lua` and the `ZRANGE` read).

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::{State, event_horizon, event_order};
use crate::model::{EVENT_MAX_PER_USER, SecurityEventRecord};

impl State {
    pub(in crate::memory) fn push_event(
        &mut self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) {
        let events = self.events.entry(user).or_default();
        let before = events.len();
        let key = event_order(&event);
        let pos = events.partition_point(|e| event_order(e) <= key);
        events.insert(pos, event);
        let oldest = event_horizon(now);
        events.retain(|e| e.at > oldest);
        let excess = events.len().saturating_sub(EVENT_MAX_PER_USER);
        events.drain(..excess);
        self.figures.stored_events = self.figures.stored_events - before + events.len();
        if events.is_empty() {
            self.events.remove(&user);
        }
    }

    pub(in crate::memory) fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Vec<SecurityEventRecord> {
        let oldest = event_horizon(now);
        let Some(events) = self.events.get(&user) else {
            return Vec::new();
        };
        events
            .iter()
            .rev()
            .filter(|e| e.at > oldest && before.is_none_or(|b| e.at < b))
            .take(limit)
            .cloned()
            .collect()
    }
}
