//! The revocation check of one access token on Redis: one pipeline of plain reads, not a
//! script.
//!
//! Every state *change* is a Lua script. This check changes nothing, and it runs on every
//! authenticated request of the server and of every guard, so its cost is Redis's cost per
//! request: an `EVALSHA` costs ~12 µs of Redis CPU (setting up the script call and its
//! prelude), the plain `HMGET` + `GET` it ran inside cost ~2 µs (`INFO commandstats`,
//! `bench/RESULTS.md`). Sent as one pipeline, they are still one round trip, to one node on
//! Cluster (all keys of a user share a hash tag).
//!
//! Not atomic, and it need not be: Redis runs the `HMGET` before the `GET` (and the
//! denylist `EXISTS`). A revocation that lands between them either deleted the session
//! after it was read — the answer is the one the check would have given just before the
//! revocation — or raised the token version or denied the jti, which the later reads see.
//! The version only grows, so a newer one can only refuse more. Either way the answer is
//! the one of some instant during the check, which is all a check of a moving state can
//! promise.
//!
//! The rule is the one `prelude.lua`'s `live_deadline` applies in every script; the
//! conformance suite holds the two (and the memory backend) to the same outcomes.

use redis::{Pipeline, Value};
use tessera_core::time::Timestamp;

use super::error::protocol;
use super::keys::UserKeys;
use super::reply;
use crate::error::StoreError;
use crate::model::{AccessCheck, AccessStatus, RevocationMode};

/// The pipeline: `HMGET session l i x g <jti>`, `GET ver`, and in denylist mode
/// `EXISTS deny:<jti>`.
pub(crate) fn pipeline(keys: &UserKeys, c: &AccessCheck, mode: RevocationMode) -> Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("HMGET")
        .arg(keys.session(c.session))
        .arg("l")
        .arg("i")
        .arg("x")
        .arg("g")
        .arg(c.jti.as_bytes().as_slice())
        .cmd("GET")
        .arg(keys.version());
    if mode == RevocationMode::Denylist {
        pipe.cmd("EXISTS").arg(keys.denied(c.jti));
    }
    pipe
}

/// The decision from the pipeline's replies (see the module docs).
pub(crate) fn decide(
    replies: Vec<Value>,
    c: &AccessCheck,
    mode: RevocationMode,
    now: Timestamp,
) -> Result<AccessStatus, StoreError> {
    let mut replies = replies.into_iter();
    let mut next = || {
        replies
            .next()
            .ok_or_else(|| protocol("short pipeline reply"))
    };
    let fields = reply::array(next()?)?;
    let num = |v: Option<&Value>| -> Result<Option<i64>, StoreError> {
        match v {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => reply::int(v).map(Some),
        }
    };
    let (l, i, x, g, grant) = (
        num(fields.first())?,
        num(fields.get(1))?,
        num(fields.get(2))?,
        num(fields.get(3))?,
        num(fields.get(4))?,
    );
    let ver = num(Some(&next()?))?;
    let now = now.as_millis();
    let (Some(l), Some(i), Some(x), Some(g), Some(ver)) = (l, i, x, g, ver) else {
        return Ok(AccessStatus::Revoked);
    };
    let token_version = i64::try_from(c.token_version).unwrap_or(i64::MAX);
    let alive = g >= ver && now < l.saturating_add(i).min(x);
    let allowed = match mode {
        RevocationMode::Allowlist => grant.is_some_and(|exp| exp > now),
        RevocationMode::Denylist => reply::int(&next()?)? == 0,
    };
    Ok(if alive && token_version >= ver && allowed {
        AccessStatus::Active
    } else {
        AccessStatus::Revoked
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tessera_core::ids::{Jti, SessionId, UserId};

    use super::*;

    const NOW: i64 = 1_000_000;

    fn check(ver: u64) -> AccessCheck {
        AccessCheck {
            user: UserId::new(),
            session: SessionId::new(),
            jti: Jti::new(),
            token_version: ver,
        }
    }

    fn s(n: i64) -> Value {
        Value::BulkString(n.to_string().into_bytes())
    }

    /// HMGET reply (l, i, x, g, grant exp) and the version.
    fn replies(fields: [Option<i64>; 5], ver: Option<i64>) -> Vec<Value> {
        vec![
            Value::Array(fields.iter().map(|f| f.map_or(Value::Nil, s)).collect()),
            ver.map_or(Value::Nil, s),
        ]
    }

    fn decide_allowlist(
        fields: [Option<i64>; 5],
        ver: Option<i64>,
        token_ver: u64,
    ) -> AccessStatus {
        decide(
            replies(fields, ver),
            &check(token_ver),
            RevocationMode::Allowlist,
            Timestamp::from_millis(NOW),
        )
        .unwrap()
    }

    const LIVE: [Option<i64>; 5] = [
        Some(NOW - 10),
        Some(100),
        Some(NOW + 1000),
        Some(2),
        Some(NOW + 1),
    ];

    #[test]
    fn the_rule_of_live_deadline() {
        assert_eq!(decide_allowlist(LIVE, Some(2), 2), AccessStatus::Active);
        // Any field missing, or the version: revoked.
        for k in 0..5 {
            let mut f = LIVE;
            f[k] = None;
            assert_eq!(
                decide_allowlist(f, Some(2), 2),
                AccessStatus::Revoked,
                "{k}"
            );
        }
        assert_eq!(decide_allowlist(LIVE, None, 2), AccessStatus::Revoked);
        // Session generation or token older than the version.
        assert_eq!(decide_allowlist(LIVE, Some(3), 3), AccessStatus::Revoked);
        assert_eq!(decide_allowlist(LIVE, Some(2), 1), AccessStatus::Revoked);
        // Idle deadline (l + i) and absolute expiry (x) are exclusive.
        let mut idle = LIVE;
        idle[0] = Some(NOW - 100);
        assert_eq!(decide_allowlist(idle, Some(2), 2), AccessStatus::Revoked);
        let mut absolute = LIVE;
        absolute[2] = Some(NOW);
        assert_eq!(
            decide_allowlist(absolute, Some(2), 2),
            AccessStatus::Revoked
        );
        // The grant's exp is exclusive too.
        let mut grant = LIVE;
        grant[4] = Some(NOW);
        assert_eq!(decide_allowlist(grant, Some(2), 2), AccessStatus::Revoked);
    }

    #[test]
    fn denylist_reads_the_third_reply_and_ignores_grants() {
        let mut no_grant = LIVE;
        no_grant[4] = None;
        for (exists, want) in [(0, AccessStatus::Active), (1, AccessStatus::Revoked)] {
            let mut r = replies(no_grant, Some(2));
            r.push(Value::Int(exists));
            let got = decide(
                r,
                &check(2),
                RevocationMode::Denylist,
                Timestamp::from_millis(NOW),
            );
            assert_eq!(got.unwrap(), want);
        }
    }

    #[test]
    fn a_short_or_malformed_reply_is_an_error_not_an_answer() {
        let now = Timestamp::from_millis(NOW);
        let mut short = replies(LIVE, Some(2));
        short.pop();
        assert!(decide(short, &check(2), RevocationMode::Allowlist, now).is_err());
        let denylist_short = replies(LIVE, Some(2));
        assert!(decide(denylist_short, &check(2), RevocationMode::Denylist, now).is_err());
        let garbage = vec![Value::Array(vec![Value::BulkString(b"x".to_vec())]), s(2)];
        assert!(decide(garbage, &check(2), RevocationMode::Allowlist, now).is_err());
    }
}
