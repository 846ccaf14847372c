//! Redis Sentinel: the `redis+sentinel://` URL and a master connection that follows
//! failovers (`SentinelConn`).
//!
//! # URL
//!
//! `redis+sentinel://[user[:password]@]host[:port][,host[:port]…]/<master-name>[/<db>]`
//!
//! redis-rs has no URL scheme for Sentinel, so this one follows the usual convention of
//! other clients (comma-separated sentinels, the monitored master's name as the path):
//! - the hosts are the **sentinels** (default port 26379), asked in order;
//! - `user:password` are the credentials of the **data nodes** (the master Tessera writes
//!   to: an ACL user or `requirepass`), percent-decoded; the sentinels are asked without
//!   credentials;
//! - `<master-name>` is the name the sentinels monitor (`sentinel monitor <name> …`);
//! - `<db>` the database number (default 0).
//!
//! Query parameters, TLS (`rediss+sentinel://`) and authenticated sentinels are not
//! supported and are refused with a configuration error rather than ignored.
//!
//! # Failover
//!
//! redis-rs resolves the master only when a client is built and does not follow
//! `+switch-master` (redis-rs #1438). `SentinelConn` therefore keeps the current master's
//! `ConnectionManager` in an `ArcSwap` and asks the sentinels again (single-flight):
//! - at once when a sentinel announces `+switch-master` for our master: a background task
//!   stays subscribed to that channel on one sentinel (the next one when it fails). This
//!   matters most for a manual failover (`SENTINEL FAILOVER`), where the old master stays
//!   up and writable for seconds after the replica was promoted, until Sentinel demotes it:
//!   writes sent to it meanwhile would be lost;
//! - after any call that failed with an I/O error, a dropped or refused connection, a
//!   timeout, `READONLY` (the node was demoted to a replica) or `MASTERDOWN` (at most every
//!   `RESOLVE_MIN_GAP`);
//! - every `WATCH_EVERY` in the background, in case an announcement was missed.
//!
//! When the sentinels name another master (one that answers `ROLE` as master — redis-rs
//! checks that), a new manager is connected and swapped in; calls already in flight finish
//! on the old one. The call that met the failure is not retried here (it may have been a
//! write): it fails with [`StoreError::Unavailable`](crate::StoreError::Unavailable), and
//! the next call goes to the new master. Scripts are loaded on the new master on first use
//! (`NOSCRIPT` reload, see `scripts.rs`).
//!
//! # Layout
//! - `url.rs`: parsing and checking the URL ([`check_sentinel_url`]).
//! - `conn.rs`: the store's master connection that follows failovers.
//! - `lookup.rs`: [`resolve_master`] and [`MasterWatch`], for connections of their own.

mod conn;
mod lookup;
mod url;

pub(crate) use conn::SentinelConn;
pub use lookup::{MasterWatch, resolve_master};
pub(crate) use url::SentinelUrl;
pub use url::{SENTINEL_SCHEME, check_sentinel_url, is_sentinel_url};
