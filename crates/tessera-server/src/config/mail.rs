//! Section "mail and password reset": how mail leaves, from whom, and the reset link.

use std::time::Duration;

use secrecy::SecretString;

use super::file::RawConfig;
use super::value::{InvalidSetting, duration, invalid, text};

/// `smtp_url`, `mail_from`, `password_reset_url`, `password_reset_ttl`.
pub(super) struct Mail {
    pub(super) smtp_url: Option<SecretString>,
    pub(super) mail_from: String,
    pub(super) password_reset_url: String,
    pub(super) password_reset_ttl: Duration,
}

impl Mail {
    /// Defaults: the outbox (no SMTP), `Tessera <no-reply@localhost>`,
    /// `<issuer>/reset-password`, `15m` (accepted: 1s–24h).
    pub(super) fn from_raw(raw: &RawConfig, issuer: &str) -> Result<Self, InvalidSetting> {
        let smtp_url = text(&raw.smtp_url);
        if let Some(url) = &smtp_url {
            // The reason never repeats the URL: it may hold a password.
            crate::mail::check_smtp_url(url).map_err(|_| {
                invalid(
                    "smtp_url",
                    "expected smtp://host:port, smtp://host?tls=required or smtps://user:pass@host",
                )
            })?;
        }
        let mail_from =
            text(&raw.mail_from).unwrap_or_else(|| "Tessera <no-reply@localhost>".to_owned());
        crate::mail::parse_mailbox(&mail_from).map_err(|e| invalid("mail_from", e.to_string()))?;
        let password_reset_url =
            text(&raw.password_reset_url).unwrap_or_else(|| format!("{issuer}/reset-password"));
        if !(password_reset_url.starts_with("https://")
            || password_reset_url.starts_with("http://"))
            || password_reset_url.contains(char::is_whitespace)
        {
            return Err(invalid(
                "password_reset_url",
                "expected an http:// or https:// URL",
            ));
        }
        let password_reset_ttl = duration("password_reset_ttl", &raw.password_reset_ttl, "15m")?;
        if password_reset_ttl < Duration::from_secs(1)
            || password_reset_ttl > Duration::from_secs(86_400)
        {
            return Err(invalid("password_reset_ttl", "must be between 1s and 24h"));
        }
        Ok(Mail {
            smtp_url: smtp_url.map(SecretString::from),
            mail_from,
            password_reset_url,
            password_reset_ttl,
        })
    }
}
