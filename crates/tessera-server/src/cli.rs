//! The `tessera` command line.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tessera_core::keys::SigningAlg;
use tessera_core::time::Timestamp;

use crate::accounts::Database;
use crate::app::key_retention;
use crate::config::{Effective, RawConfig, Settings};
use crate::keys::KeyVault;
use crate::keys::startup::{master_key, ring};
use crate::keys::vault::list_signing_keys;

/// Tessera: revocable JWT access tokens and rotating refresh tokens.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// TOML configuration file (also `TESSERA_CONFIG`); the environment overrides it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on (overrides `TESSERA_LISTEN`).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage signing keys.
    Keys {
        /// Key action.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Inspect sessions.
    Sessions {
        /// Sessions action.
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// End access: a session, every session of a user, or one access token.
    Revoke {
        /// What to revoke.
        #[command(subcommand)]
        target: RevokeTarget,
    },
    /// Ban a user: every session ends, sign-in and refresh are refused until `unban`.
    Ban {
        /// Email or user id.
        user: String,
        /// Reason, kept with the ban and in the audit trail.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a ban.
    Unban {
        /// Email or user id.
        user: String,
    },
    /// Counters from the state store and the database.
    Stats,
    /// Manage users' second factors.
    Mfa {
        /// MFA action.
        #[command(subcommand)]
        action: MfaAction,
    },
    /// Inspect the configuration.
    Config {
        /// Config action.
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// `tessera config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration (file and environment, read and checked exactly as `serve`
    /// does, without starting anything or connecting to Redis or SQL) and print the effective
    /// values, defaults applied and secrets redacted. Exits 0 when valid; otherwise prints the
    /// error `serve` would print and exits 2.
    Check,
}

/// `tessera mfa …`.
#[derive(Debug, Subcommand)]
pub enum MfaAction {
    /// Remove a user's second factor (TOTP, recovery codes, trusted devices) and tell them by
    /// mail; works even when the factor no longer opens with the data key.
    Reset {
        /// Email or user id.
        user: String,
    },
}

/// `tessera sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List a user's live sessions.
    List {
        /// Email or user id.
        #[arg(long)]
        user: String,
    },
}

/// `tessera revoke …`.
#[derive(Debug, Subcommand)]
pub enum RevokeTarget {
    /// One session (device): its refresh token and access tokens die.
    Session {
        /// Session id.
        id: String,
    },
    /// Every session of a user, and the token version is bumped.
    User {
        /// Email or user id.
        user: String,
    },
    /// One access token: pass the token itself, or its jti with `--user`.
    Token {
        /// The access token (JWT) or its `jti`.
        token: String,
        /// Owner (email or id) when a bare jti is given.
        #[arg(long)]
        user: Option<String>,
    },
}

/// `tessera keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Add a new active signing key in the database; the old one keeps verifying until its
    /// tokens expire. Every running server picks the change up within seconds.
    Rotate {
        /// Algorithm of the new key (default: the configured one).
        #[arg(long)]
        alg: Option<SigningAlg>,
    },
    /// List the signing keys in the database.
    List,
}

/// Reads configuration, applying command-line overrides.
pub fn settings(cli: &Cli, listen: Option<String>) -> anyhow::Result<Settings> {
    let mut raw = RawConfig::load(cli.config.as_deref())?;
    if listen.is_some() {
        raw.listen = listen;
    }
    Ok(Settings::from_raw(raw, std::io::stderr().is_terminal())?)
}

/// `tessera config check` once `settings` validated: prints the effective configuration
/// (secrets redacted) to stdout.
pub fn config_check(cli: &Cli, settings: &Settings) -> anyhow::Result<()> {
    let file = RawConfig::file_path(cli.config.as_deref());
    print!("{}", Effective::of(settings, file));
    Ok(())
}

/// Runs a `keys` action against the keys stored in the database; prints to stdout.
#[allow(clippy::disallowed_methods)] // the CLI: an edge, reads the clock and passes `now` in
pub async fn keys(settings: &Settings, action: &KeysAction) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let retention = key_retention(settings.access_token_ttl);
    if let Some(pem) = &settings.signing_key_file {
        // The configured PEM is the signing key: there is nothing here to rotate or list
        // but that one key.
        let ring = ring(&[], Some(pem), settings.signing_alg, retention, now)?;
        return match action {
            KeysAction::Rotate { .. } => anyhow::bail!(
                "the signing key comes from signing_key_file ({}): rotate it by deploying a new PEM file",
                pem.display()
            ),
            KeysAction::List => {
                println!(
                    "{}\t{}\tactive (from {})",
                    ring.active_kid(),
                    ring.active_alg(),
                    pem.display()
                );
                Ok(())
            }
        };
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let db = Database::connect(&settings.database_url).await?;
    match action {
        KeysAction::Rotate { alg } => {
            let alg = alg.unwrap_or(settings.signing_alg);
            let (master, given_by) =
                master_key(&settings.master_key, &settings.data_dir, &db).await?;
            let vault = KeyVault::new(db, master, given_by);
            vault
                .open_or_create(&settings.data_dir, settings.signing_alg, retention, now)
                .await?;
            let kid = vault.rotate(alg, retention, now).await?;
            println!(
                "new signing key {kid} ({alg}); previous keys verify for another {}",
                humantime::format_duration(retention)
            );
        }
        KeysAction::List => {
            let listed = list_signing_keys(&db).await?;
            if listed.is_empty() {
                anyhow::bail!(
                    "no keys in the database (they are created by the first `tessera serve`)"
                );
            }
            for k in &listed {
                let state = match k.retired_at {
                    None => "active".to_owned(),
                    Some(r) => format!("retired {}s ago", now.as_secs() - r.as_secs()),
                };
                println!("{}\t{}\t{}", k.kid, k.alg, state);
            }
        }
    }
    Ok(())
}
