//! Databases for the unit tests of modules that keep state in SQL.
#![allow(clippy::unwrap_used)]

use secrecy::SecretString;
use tessera_testkit::postgres::TempDatabase;

use super::Database;

/// A fresh, migrated database of each available engine: `(engine, db, guard)`. SQLite in a
/// temporary directory always; PostgreSQL when `DATABASE_URL` names a server (its own
/// database, dropped with the guard).
pub(crate) async fn databases() -> Vec<(&'static str, Database, Box<dyn std::any::Any>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out: Vec<(&'static str, Database, Box<dyn std::any::Any>)> =
        vec![("sqlite", sqlite_in(dir.path()).await, Box::new(dir))];
    if let Some(pg) = TempDatabase::create().await {
        let db = Database::connect(&SecretString::from(pg.url().to_owned()))
            .await
            .unwrap();
        out.push(("postgres", db, Box::new(pg)));
    }
    out
}

/// A migrated SQLite database in `dir`.
pub(crate) async fn sqlite_in(dir: &std::path::Path) -> Database {
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    Database::connect(&SecretString::from(url)).await.unwrap()
}
