//! Accounts in SQL: users, password hashes, the durable token version.
//!
//! - [`db`]: the connection pool (SQLite by default, PostgreSQL with `DATABASE_URL`) and
//!   migrations for both.
//! - [`users`]: the `users` table.
//! - [`password`]: Argon2id hashing off the async runtime, and the strength policy.
//! - [`email`]: normalisation and validation of addresses.

pub mod db;
pub mod email;
pub mod passkeys;
pub mod password;
pub mod users;

#[cfg(test)]
pub(crate) mod testing;

pub use db::{Database, DbError, Engine};
pub use users::{NewUser, User, Users};
