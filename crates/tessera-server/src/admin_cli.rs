//! The operator commands of the CLI (`sessions`, `revoke`, `ban`, `unban`, `stats`,
//! `mfa reset`): the methods of [`AdminService`](crate::auth::AdminService) that the admin
//! API calls too, over the same state store and database, so a revocation leaves the same
//! security events and counts the same metrics whichever way it was asked for. (The CLI's
//! counters live in its own process and end with it: a server's `/metrics` does not see
//! them.)

use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;

use crate::accounts::email::Email;
use crate::app::App;
use crate::audit::device_label;
use crate::auth::AuthError;
use crate::cli::{Command, MfaAction, RevokeTarget, SessionsAction};
use crate::config::{Settings, StateStoreSettings};
use crate::device::ClientInfo;

/// Runs an operator command; prints the result to stdout. Errors (unknown ids, unreachable
/// stores) come back as `Err` with a message for stderr.
#[allow(clippy::disallowed_methods)] // the CLI: an edge, reads the clock and passes `now` in
pub async fn run(settings: Settings, command: &Command) -> anyhow::Result<()> {
    if settings.state_store == StateStoreSettings::Memory {
        bail!(
            "the state store is the server's in-process memory, which no other process can reach: \
             configure REDIS_URL (as the server does) to use this command"
        );
    }
    let app = Arc::new(App::build(&settings, crate::app::Role::Operator).await?);
    let now = Timestamp::now();
    let admin = &app.admin;
    match command {
        Command::Sessions {
            action: SessionsAction::List { user },
        } => {
            let user = resolve_user(&app, user).await?;
            let sessions = admin.user_sessions(user, now).await?;
            if sessions.is_empty() {
                println!("no live sessions for {user}");
            }
            for s in sessions {
                let device = device_label(&ClientInfo {
                    device_name: s.device.name.clone(),
                    browser: s.device.browser.clone().unwrap_or_default(),
                    os: s.device.os.clone().unwrap_or_default(),
                    ..Default::default()
                })
                .unwrap_or_else(|| "unknown device".to_owned());
                println!(
                    "{}\t{}\t{}\tcreated {}\tlast seen {}\texpires {}",
                    s.id,
                    device,
                    s.ip.as_deref().unwrap_or("-"),
                    s.created_at,
                    s.last_seen_at,
                    s.expires_at
                );
            }
        }
        Command::Revoke {
            target: RevokeTarget::Session { id },
        } => {
            let session: SessionId = id
                .parse()
                .map_err(|_| anyhow!("{id:?} is not a session id"))?;
            let user = admin
                .owner_of_session(session)
                .await?
                .ok_or_else(|| anyhow!("no session {session}"))?;
            match admin.revoke_session(user, session, now).await {
                Err(AuthError::SessionNotFound) => {
                    bail!("session {session} is not live (already ended or expired)")
                }
                r => r?,
            }
            println!("revoked session {session} of user {user}");
        }
        Command::Revoke {
            target: RevokeTarget::User { user },
        } => {
            let user = resolve_user(&app, user).await?;
            admin.revoke_sessions(user, now).await?;
            println!("revoked every session of user {user}");
        }
        Command::Revoke {
            target: RevokeTarget::Token { token, user },
        } => {
            let (owner, jti) = if token.contains('.') {
                let claims = app.access.claims(token, now).context(
                    "not a valid Tessera access token (an expired one needs no revoking)",
                )?;
                (claims.sub, claims.jti)
            } else {
                let jti: Jti = token
                    .parse()
                    .map_err(|_| anyhow!("{token:?} is neither an access token nor a jti"))?;
                let user = user
                    .as_deref()
                    .ok_or_else(|| anyhow!("a bare jti needs --user EMAIL|ID"))?;
                (resolve_user(&app, user).await?, jti)
            };
            let session = match admin.revoke_token(owner, jti, now).await {
                Err(AuthError::TokenNotFound) => {
                    bail!("no live access token {jti} for user {owner}")
                }
                r => r?,
            };
            println!("revoked access token {jti} (session {session})");
        }
        Command::Ban { user, reason } => {
            let user = resolve_user(&app, user).await?;
            admin.ban(user, reason, now).await?;
            println!("banned user {user}; every session ended");
        }
        Command::Unban { user } => {
            let user = resolve_user(&app, user).await?;
            admin.unban(user, now).await?;
            println!("unbanned user {user}");
        }
        Command::Stats => {
            let s = admin.stats(now).await?;
            println!("sessions_active\t{}", s.store.sessions_active);
            println!("access_tokens_active\t{}", s.store.access_tokens_active);
            println!("revoked_tokens\t{}", s.store.revoked_tokens);
            println!("users\t{}", s.users);
            for (k, v) in &s.store.backend {
                println!("{}.{k}\t{v}", s.backend);
            }
        }
        Command::Mfa {
            action: MfaAction::Reset { user },
        } => {
            let user = resolve_user(&app, user).await?;
            let reset = admin.reset_mfa(user, &app.mailer, now).await?;
            if !reset.removed {
                println!("user {user} has no second factor; nothing changed");
            } else if reset.mailed {
                println!("reset the second factor of user {user}; the user was told by mail");
            } else {
                println!(
                    "reset the second factor of user {user}; the notice mail could NOT be sent (see the log)"
                );
            }
        }
        Command::Serve { .. } | Command::Keys { .. } | Command::Config { .. } => {
            bail!("not an operator command")
        }
    }
    Ok(())
}

/// A user by id or email; an error naming the input when there is none.
async fn resolve_user(app: &App, who: &str) -> anyhow::Result<UserId> {
    let found = match who.parse::<UserId>() {
        Ok(id) => match app.admin.user(id).await {
            Ok(u) => Some(u),
            Err(AuthError::UserNotFound) => None,
            Err(e) => return Err(e.into()),
        },
        Err(_) => match Email::parse(who) {
            Some(e) => app.admin.user_by_email(&e).await?,
            None => bail!("{who:?} is neither a user id nor an email address"),
        },
    };
    found.map(|u| u.id).ok_or_else(|| anyhow!("no user {who}"))
}
