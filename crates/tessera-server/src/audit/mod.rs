//! The security-event audit trail.
//!
//! - [`event`]: [`SecurityEvent`] and its [`EventKind`]s.
//! - [`trail`]: [`AuditTrail`], which writes each event to the state store (recent events,
//!   read by `GET /v1/security-events`) and durably to SQL.
//! - [`retention`]: how long SQL keeps them.

pub mod event;
pub mod retention;
pub mod trail;

pub use event::{EventKind, SecurityEvent, device_label};
pub use trail::AuditTrail;
