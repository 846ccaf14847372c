//! Outgoing mail: over SMTP (`TESSERA_SMTP_URL`) or, when no SMTP server is configured, as
//! RFC 5322 `.eml` files in `<data dir>/outbox/` (development and tests: open the newest file
//! to follow a link).
//!
//! SMTP goes through `lettre` on tokio with rustls (aws-lc-rs provider, system roots):
//! `smtp://host:port` is plain SMTP (a local relay), `smtp://host?tls=required` STARTTLS,
//! `smtps://user:pass@host` implicit TLS with credentials. The URL is a secret (it may hold a
//! password) and never appears in logs or `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use tessera_core::time::Timestamp;

/// How long one SMTP conversation may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Mail could not be built or delivered. Messages never hold the SMTP URL or a token.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `smtp_url` is not usable.
    #[error("smtp_url: {0}")]
    Config(String),
    /// A sender or recipient address does not parse.
    #[error("address: {0}")]
    Address(String),
    /// The message could not be assembled.
    #[error("message: {0}")]
    Message(String),
    /// The SMTP server refused or could not be reached.
    #[error("smtp: {0}")]
    Smtp(String),
    /// Writing to the outbox failed.
    #[error("outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

/// One plain-text mail.
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Sends mail from one configured sender.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Outbox(_) => "outbox",
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.email.to_string())
            .field("transport", &kind)
            .finish()
    }
}

/// Whether `s` is a usable sender (`Name <addr>` or `addr`).
pub fn parse_mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse::<Mailbox>()
        .map_err(|e| MailError::Address(e.to_string()))
}

/// Whether `url` has a scheme the SMTP transport takes (`smtp://`, `smtps://`). Checked at
/// start, before anything connects.
pub fn check_smtp_url(url: &str) -> Result<(), MailError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| MailError::Config(e.to_string()))
}

impl Mailer {
    /// SMTP when `smtp_url` is given, else the outbox `<data_dir>/outbox` (created 0700).
    pub fn new(
        smtp_url: Option<&SecretString>,
        data_dir: &Path,
        from: &str,
    ) -> Result<Self, MailError> {
        let from = parse_mailbox(from)?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| MailError::Config(e.to_string()))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => {
                let dir = data_dir.join("outbox");
                create_private_dir(&dir)?;
                Transport::Outbox(dir)
            }
        };
        Ok(Self { from, transport })
    }

    /// `"smtp"` or `"outbox"`.
    pub fn kind(&self) -> &'static str {
        match &self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Outbox(_) => "outbox",
        }
    }

    /// Sends `mail` (SMTP) or writes it to `<outbox>/<ms>-<id>.eml` (mode 0600).
    pub async fn send(&self, mail: Mail, now: Timestamp) -> Result<(), MailError> {
        let to = parse_mailbox(&mail.to)?;
        // lettre picks the transfer encoding: a reset link is longer than 76 characters, so
        // the body goes out quoted-printable (readers decode it; see `decode_quoted_printable`
        // in the tests).
        let body = Body::new(mail.text);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Message(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Smtp(e.to_string())),
            Transport::Outbox(dir) => {
                let name = format!("{}-{}.eml", now.as_millis(), uuid::Uuid::new_v4().simple());
                write_private(&dir.join(name), &message.formatted()).await
            }
        }
    }
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

async fn write_private(path: &Path, bytes: &[u8]) -> Result<(), MailError> {
    use tokio::io::AsyncWriteExt;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)] // tests read the clock
    use super::*;

    #[tokio::test]
    async fn outbox_files_are_private_rfc5322_messages() {
        let dir = tempfile::tempdir().unwrap();
        let m = Mailer::new(None, dir.path(), "Tessera <no-reply@localhost>").unwrap();
        assert_eq!(m.kind(), "outbox");
        let link = format!(
            "http://127.0.0.1:8080/reset-password?token=tsp_{}",
            "A".repeat(64)
        );
        m.send(
            Mail {
                to: "alice@example.org".into(),
                subject: "Reset".into(),
                text: format!("Open this link:\n\n{link}\n"),
            },
            Timestamp::now(),
        )
        .await
        .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert!(files[0].extension().is_some_and(|e| e == "eml"));
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("To: alice@example.org"), "{text}");
        assert!(
            text.contains("From: Tessera <no-reply@localhost>"),
            "{text}"
        );
        let decoded = text.replace("=\r\n", "").replace("=3D", "=");
        assert!(decoded.contains(&link), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&files[0]), 0o600);
            assert_eq!(mode(&dir.path().join("outbox")), 0o700);
        }
    }

    #[test]
    fn smtp_urls_are_checked_and_bad_senders_refused() {
        check_smtp_url("smtp://127.0.0.1:2525").unwrap();
        check_smtp_url("smtps://user:pass@mail.example.org").unwrap();
        check_smtp_url("smtp://mail.example.org?tls=required").unwrap();
        assert!(check_smtp_url("http://mail.example.org").is_err());
        assert!(check_smtp_url("not a url").is_err());
        assert!(parse_mailbox("not an address").is_err());
    }
}
