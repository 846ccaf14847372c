//! The SQL of the durable copy: the `durable_sessions` and `durable_denied_tokens` tables
//! (migration 0006). Every statement is keyed by one session (or one user) and touches a
//! bounded number of rows, except the sweep, which works in batches of [`SWEEP_BATCH`].

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::SuccessorSeed;
use tessera_core::time::Timestamp;
use tessera_store::{AccessGrant, RestoredSession, StoredHash};

use crate::accounts::{Database, DbError, Engine};

/// Sessions written per statement by a flush on PostgreSQL (8 parameters each: well below its
/// limit): one round trip per 200 sessions.
pub const WRITE_BATCH: usize = 200;

/// Sessions written per statement by a flush on SQLite. Small, because SQLite finds a numbered
/// parameter's name (`sqlite3_bind_parameter_name`, which sqlx calls for every bind) by a
/// linear scan of the statement's parameter list: the binding cost of one statement grows
/// with the square of its parameters. At 200 rows (1,600 parameters) that scan took 12 % of
/// the server's CPU under refresh load; in process, a statement costs no round trip, so
/// small ones lose nothing (bench/RESULTS.md, "Durable sessions").
pub const SQLITE_WRITE_BATCH: usize = 16;

/// Sessions per flush statement on `engine`.
pub fn write_batch(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => SQLITE_WRITE_BATCH,
        Engine::Postgres => WRITE_BATCH,
    }
}

/// `UPDATE durable_sessions … FROM (VALUES …)` for `rows` sessions' family state, in the
/// common subset of SQLite (3.33+) and PostgreSQL: the VALUES columns are `column1`… in both,
/// and each parameter is cast so PostgreSQL knows its type. It leaves `expires_ms` alone:
/// that column is indexed, and [`expiry_update`] moves it only when it must.
fn families_update(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = |k: usize| r * 7 + k;
            format!(
                "(CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), \
                 CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7)
            )
        })
        .collect();
    format!(
        "UPDATE durable_sessions SET current_hash = v.column2, previous_hash = v.column3, \
         seed = v.column4, generation = v.column5, last_seen_ms = v.column6, \
         idle_ms = v.column7 \
         FROM (VALUES {}) AS v \
         WHERE durable_sessions.session_id = v.column1 \
         AND (durable_sessions.generation IS NULL OR durable_sessions.generation < v.column5)",
        values.join(", ")
    )
}

/// `UPDATE durable_sessions SET expires_ms …` for `rows` sessions: a row whose `expires_ms`
/// lies before its new [`sweep_bound`] (`column2`) gets `column3`, that bound plus
/// [`expiry_slack`], both capped at the row's absolute expiry. Every other row is only
/// looked up: most rotations leave the index on `expires_ms` untouched, which is about a
/// third of the row update's cost on SQLite (bench/RESULTS.md, "Durable sessions"). The
/// column is only ever raised.
fn expiry_update(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = |k: usize| r * 3 + k;
            format!(
                "(CAST(${} AS TEXT), CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                p(1),
                p(2),
                p(3)
            )
        })
        .collect();
    format!(
        "UPDATE durable_sessions SET expires_ms = (CASE WHEN v.column3 < durable_sessions.absolute_ms \
         THEN v.column3 ELSE durable_sessions.absolute_ms END) \
         FROM (VALUES {}) AS v \
         WHERE durable_sessions.session_id = v.column1 \
         AND durable_sessions.expires_ms < v.column2 \
         AND durable_sessions.expires_ms < durable_sessions.absolute_ms",
        values.join(", ")
    )
}

/// The earliest time a row may be swept, for a session whose deadline the copy knows to be
/// `deadline`: one idle timeout later (the caller caps it at the absolute expiry). A
/// rotation that never reached SQL (lost with a crashed process inside the lag, or dropped
/// by a full queue) extended the session by at most one idle timeout past that deadline,
/// and the client's next rotation, which comes before the session's own end, is flushed
/// and raises the bound again. So a live session's row is never swept; a missing row means
/// a revoked session (`durable::judge`).
pub(crate) fn sweep_bound(deadline: Timestamp, idle: Duration) -> Timestamp {
    deadline.plus(idle)
}

/// How far past its [`sweep_bound`] a rotation moves a row's `expires_ms`: a quarter of its
/// idle timeout, so a session refreshed more often than that moves the column about once
/// per quarter idle timeout, not once per rotation. The cost is that a dead row is swept
/// that much later: it is dead either way (a restore checks the deadline from
/// `last_seen_ms`, `idle_ms` and `absolute_ms`, never `expires_ms`).
fn expiry_slack(idle: Duration) -> Duration {
    idle / 4
}

/// Rows deleted per statement by the expiry sweep.
pub const SWEEP_BATCH: i64 = 500;

/// A session's row as written at sign-in.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Owner.
    pub user: UserId,
    /// Id (the primary key).
    pub session: SessionId,
    /// Sign-in time (also the first `last_seen`).
    pub created_at: Timestamp,
    /// Idle timeout.
    pub idle: Duration,
    /// Absolute expiry.
    pub absolute_expiry: Timestamp,
    /// The token version the store opened it under (`CreatedSession::token_version`).
    pub opened_under: u64,
    /// Stored hash of the first refresh token.
    pub current: StoredHash,
    /// Device attributes, as the store keeps them.
    pub attributes: String,
    /// Fingerprint binding, if bound.
    pub binding: Option<StoredHash>,
}

/// The family state a rotation leaves (what the write-behind batcher writes).
#[derive(Clone, Copy, Debug)]
pub struct FamilyState {
    /// Stored hash of the successor (now current).
    pub current: StoredHash,
    /// Stored hash of the token just rotated away (now previous).
    pub previous: StoredHash,
    /// Seed of the successor (for a grace replay).
    pub seed: SuccessorSeed,
    /// Generation of the successor; a row is only ever moved to a newer one.
    pub generation: u32,
    /// When the rotation happened (the new `last_seen`).
    pub last_seen: Timestamp,
    /// Idle timeout the rotation extended the session by.
    pub idle: Duration,
}

/// What the copy knows of a session at a refresh, read with the account
/// ([`Rows::account_for_refresh`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyView {
    /// Since when the copy has been on (`durable_meta.on_since`; `None` when no serving
    /// process has marked it, or one started with the copy off has cleared it).
    pub on_since: Option<Timestamp>,
    /// The session's row, if it has one.
    pub family: Option<CopiedFamily>,
}

/// A session's family state as its row holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopiedFamily {
    /// Refresh generation of the row's current token (`None` before the first rotation
    /// reached SQL).
    pub generation: Option<u32>,
    /// When the row's current token was issued (its `last_seen`).
    pub last_seen: Timestamp,
    /// The session's fingerprint binding, if bound.
    pub binding: Option<StoredHash>,
}

/// The durable tables over one pool.
#[derive(Clone, Debug)]
pub struct Rows {
    db: Database,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn enc(b: &[u8]) -> String {
    B64.encode(b)
}

fn dec16(s: &str) -> Result<[u8; 16], DbError> {
    let v = B64
        .decode(s)
        .map_err(|e| DbError::Query(sqlx::Error::Decode(Box::new(e))))?;
    v.try_into()
        .map_err(|_| DbError::Query(sqlx::Error::Decode("not 16 bytes".into())))
}

fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, DbError>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse()
        .map_err(|e: T::Err| DbError::Query(sqlx::Error::Decode(Box::new(e))))
}

impl Rows {
    /// The tables of `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Writes a new session's row and deletes the rows of the sessions its sign-in evicted,
    /// in one transaction.
    pub async fn open(&self, row: &SessionRow, evicted: &[SessionId]) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        let deadline = row.created_at.plus(row.idle);
        let bound = sweep_bound(deadline, row.idle).min(row.absolute_expiry);
        sqlx::query(
            "INSERT INTO durable_sessions (session_id, user_id, created_ms, last_seen_ms, idle_ms, \
             absolute_ms, expires_ms, opened_under, current_hash, attributes, binding) \
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(row.session.to_string())
        .bind(row.user.to_string())
        .bind(row.created_at.as_millis())
        .bind(ms(row.idle))
        .bind(row.absolute_expiry.as_millis())
        .bind(bound.as_millis())
        .bind(int(row.opened_under))
        .bind(enc(row.current.as_bytes()))
        .bind(row.attributes.clone())
        .bind(row.binding.map(|b| enc(b.as_bytes())))
        .execute(&mut *tx)
        .await?;
        for s in evicted {
            delete_session(&mut tx, row.user, *s).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes the newest family state of each session, [`write_batch`] rows per statement
    /// (`UPDATE … FROM (VALUES …)`: one round trip per batch, not per session; a row already
    /// at this generation or newer, or deleted, is left alone), and raises the `expires_ms`
    /// of those whose new deadline passed it ([`expiry_update`]), in one transaction.
    pub async fn write_families(
        &self,
        families: &[(SessionId, FamilyState)],
    ) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        for chunk in families.chunks(write_batch(self.db.engine())) {
            // Built from row counts only: no input reaches the text.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(families_update(chunk.len())));
            for (session, f) in chunk {
                q = q
                    .bind(session.to_string())
                    .bind(enc(f.current.as_bytes()))
                    .bind(enc(f.previous.as_bytes()))
                    .bind(enc(&f.seed.0))
                    .bind(i64::from(f.generation))
                    .bind(f.last_seen.as_millis())
                    .bind(ms(f.idle));
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(expiry_update(chunk.len())));
            for (session, f) in chunk {
                let bound = sweep_bound(f.last_seen.plus(f.idle), f.idle);
                q = q
                    .bind(session.to_string())
                    .bind(bound.as_millis())
                    .bind(bound.plus(expiry_slack(f.idle)).as_millis());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes `user`'s session `session`: its row and its denied tokens. Whether it had a
    /// row. Scoped to the user, as every session id a caller names may be another user's.
    pub async fn forget_session(&self, user: UserId, session: SessionId) -> Result<bool, DbError> {
        let mut tx = self.db.pool().begin().await?;
        let deleted = delete_session(&mut tx, user, session).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes every session row of `user` (but `keep`, when given) and their denied tokens.
    pub async fn forget_user(&self, user: UserId, keep: Option<SessionId>) -> Result<(), DbError> {
        let keep = keep.map(|k| k.to_string()).unwrap_or_default();
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM durable_denied_tokens WHERE user_id = $1 AND session_id <> $2")
            .bind(user.to_string())
            .bind(keep.clone())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM durable_sessions WHERE user_id = $1 AND session_id <> $2")
            .bind(user.to_string())
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a denylist-mode revoked access token of a session until its `exp`.
    pub async fn deny(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
    ) -> Result<(), DbError> {
        // Delete-then-insert instead of an engine-specific upsert: the jti is unique.
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM durable_denied_tokens WHERE jti = $1")
            .bind(grant.jti.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO durable_denied_tokens (jti, user_id, session_id, expires_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(grant.jti.to_string())
        .bind(user.to_string())
        .bind(session.to_string())
        .bind(grant.expires_at.as_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session's row of `user` with its unexpired denied tokens, as a store would hold
    /// it (`token_version` is left at `opened_under`: the caller sets the user's durable
    /// one). `None` when there is no row (never opened, revoked, or swept).
    pub async fn load(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<Option<RestoredSession>, DbError> {
        let row = sqlx::query(
            "SELECT created_ms, last_seen_ms, idle_ms, absolute_ms, opened_under, current_hash, \
             previous_hash, seed, generation, attributes, binding FROM durable_sessions \
             WHERE session_id = $1 AND user_id = $2",
        )
        .bind(session.to_string())
        .bind(user.to_string())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let denied = sqlx::query(
            "SELECT jti, expires_ms FROM durable_denied_tokens \
             WHERE session_id = $1 AND expires_ms > $2",
        )
        .bind(session.to_string())
        .bind(now.as_millis())
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| {
            let jti: String = r.try_get("jti")?;
            let exp: i64 = r.try_get("expires_ms")?;
            Ok(AccessGrant {
                jti: parse_id::<Jti>(&jti)?,
                expires_at: Timestamp::from_millis(exp),
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
        from_row(user, session, &row, denied).map(Some)
    }

    /// Up to `limit` live sessions (`user`, `session`) whose id sorts after `after`, in id
    /// order: the pages of a start-up restore.
    pub async fn live_sessions(
        &self,
        after: Option<SessionId>,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<(UserId, SessionId)>, DbError> {
        let rows = sqlx::query(
            "SELECT user_id, session_id FROM durable_sessions \
             WHERE expires_ms > $1 AND session_id > $2 ORDER BY session_id LIMIT $3",
        )
        .bind(now.as_millis())
        .bind(after.map(|s| s.to_string()).unwrap_or_default())
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let user: String = r.try_get("user_id")?;
                let session: String = r.try_get("session_id")?;
                Ok((parse_id(&user)?, parse_id(&session)?))
            })
            .collect()
    }

    /// The account `user`, its session's row if it has one, and since when the copy is on,
    /// in one statement: a refresh reads the account anyway, so the copy's view costs no
    /// second round trip (and is never a cached one: another process may have cleared the
    /// copy). `None` without such a user.
    pub async fn account_for_refresh(
        &self,
        user: UserId,
        session: SessionId,
    ) -> Result<Option<(crate::accounts::User, CopyView)>, DbError> {
        let row = sqlx::query(
            "SELECT u.id AS id, u.email AS email, u.name AS name, \
             u.password_hash AS password_hash, u.token_version AS token_version, \
             u.disabled_at AS disabled_at, u.created_at AS created_at, \
             d.session_id AS copy_session, d.generation AS copy_generation, \
             d.last_seen_ms AS copy_last_seen, d.binding AS copy_binding, \
             (SELECT m.value FROM durable_meta m WHERE m.name = 'on_since') AS on_since \
             FROM users u LEFT JOIN durable_sessions d \
             ON d.session_id = $2 AND d.user_id = u.id WHERE u.id = $1",
        )
        .bind(user.to_string())
        .bind(session.to_string())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let on_since: Option<i64> = row.try_get("on_since")?;
        let family = match row.try_get::<Option<String>, _>("copy_session")? {
            None => None,
            Some(_) => {
                let generation: Option<i64> = row.try_get("copy_generation")?;
                let last_seen: i64 = row.try_get("copy_last_seen")?;
                let binding: Option<String> = row.try_get("copy_binding")?;
                Some(CopiedFamily {
                    generation: generation.and_then(|g| u32::try_from(g).ok()),
                    last_seen: Timestamp::from_millis(last_seen),
                    binding: binding
                        .map(|b| dec16(&b).map(StoredHash::from_bytes))
                        .transpose()?,
                })
            }
        };
        let view = CopyView {
            on_since: on_since.map(Timestamp::from_millis),
            family,
        };
        Ok(Some((crate::accounts::users::from_row(row)?, view)))
    }

    /// Records that the copy is on from `now`, unless it already was (an earlier start, or
    /// another instance). Every session opened since then has a row.
    pub async fn mark_on(&self, now: Timestamp) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO durable_meta (name, value) VALUES ('on_since', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(now.as_millis())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Empties both tables and forgets since when the copy was on (the copy is off: a stale
    /// copy must not come back when it is on again, and sessions opened meanwhile have no
    /// row); returns how many session rows went.
    pub async fn clear(&self) -> Result<u64, DbError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM durable_meta WHERE name = 'on_since'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM durable_denied_tokens")
            .execute(&mut *tx)
            .await?;
        let sessions = sqlx::query("DELETE FROM durable_sessions")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(sessions)
    }

    /// Deletes up to [`SWEEP_BATCH`] dead session rows and as many expired denied tokens;
    /// returns how many rows went.
    pub async fn sweep(&self, now: Timestamp) -> Result<u64, DbError> {
        let sessions = sqlx::query(
            "DELETE FROM durable_sessions WHERE session_id IN \
             (SELECT session_id FROM durable_sessions WHERE expires_ms <= $1 LIMIT $2)",
        )
        .bind(now.as_millis())
        .bind(SWEEP_BATCH)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        let tokens = sqlx::query(
            "DELETE FROM durable_denied_tokens WHERE jti IN \
             (SELECT jti FROM durable_denied_tokens WHERE expires_ms <= $1 LIMIT $2)",
        )
        .bind(now.as_millis())
        .bind(SWEEP_BATCH)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(sessions + tokens)
    }
}

/// Deletes `user`'s session `session` (row and denied tokens); whether it had a row.
async fn delete_session(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: UserId,
    session: SessionId,
) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM durable_denied_tokens WHERE session_id = $1 AND user_id = $2")
        .bind(session.to_string())
        .bind(user.to_string())
        .execute(&mut **tx)
        .await?;
    let deleted =
        sqlx::query("DELETE FROM durable_sessions WHERE session_id = $1 AND user_id = $2")
            .bind(session.to_string())
            .bind(user.to_string())
            .execute(&mut **tx)
            .await?;
    Ok(deleted.rows_affected() > 0)
}

fn from_row(
    user: UserId,
    session: SessionId,
    row: &AnyRow,
    denied: Vec<AccessGrant>,
) -> Result<RestoredSession, DbError> {
    let hash = |s: Option<String>| -> Result<Option<StoredHash>, DbError> {
        s.map(|s| dec16(&s).map(StoredHash::from_bytes)).transpose()
    };
    let opened_under: i64 = row.try_get("opened_under")?;
    let idle: i64 = row.try_get("idle_ms")?;
    let current: String = row.try_get("current_hash")?;
    let generation: Option<i64> = row.try_get("generation")?;
    let seed: Option<String> = row.try_get("seed")?;
    let opened_under = u64::try_from(opened_under).unwrap_or(0);
    Ok(RestoredSession {
        user,
        session,
        created_at: Timestamp::from_millis(row.try_get("created_ms")?),
        last_seen: Timestamp::from_millis(row.try_get("last_seen_ms")?),
        idle_timeout: Duration::from_millis(u64::try_from(idle).unwrap_or(0)),
        absolute_expiry: Timestamp::from_millis(row.try_get("absolute_ms")?),
        opened_under,
        token_version: opened_under,
        current: StoredHash::from_bytes(dec16(&current)?),
        previous: hash(row.try_get("previous_hash")?)?,
        seed: seed.map(|s| dec16(&s).map(SuccessorSeed)).transpose()?,
        refresh_generation: generation.and_then(|n| u32::try_from(n).ok()),
        attributes: row.try_get("attributes")?,
        binding: hash(row.try_get("binding")?)?,
        denied,
    })
}
