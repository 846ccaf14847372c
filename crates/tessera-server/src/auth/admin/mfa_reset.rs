//! An operator removes a user's second factor (`DELETE /v1/admin/users/{id}/mfa`,
//! `tessera mfa reset`): for a user who lost their authenticator and recovery codes, or whose
//! factor was sealed with a data key that is gone.

use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::AdminService;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::mail::{Mail, Mailer};
use crate::mfa::trusted;

/// What a reset did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MfaReset {
    /// Whether there was anything to remove (a TOTP enrolment, recovery codes or trusted
    /// devices). When not, nothing changed: no event, no mail.
    pub removed: bool,
    /// Whether the notice reached the mailer (SMTP accepted it or it is in the outbox).
    pub mailed: bool,
}

impl AdminService {
    /// Removes the user's TOTP enrolment (confirmed or pending, whether or not it opens with
    /// the data key), recovery codes and trusted devices; records `mfa_reset_by_admin` and
    /// mails the user. Idempotent: a user with nothing enrolled is left as is (no event, no
    /// mail). Sessions stay: the password still holds and the user may enrol again.
    ///
    /// The removal comes first and stands even when the mail cannot be sent (the event says
    /// so, and it is logged): a lost factor must not stay in place because a mail failed.
    pub async fn reset_mfa(
        &self,
        id: UserId,
        mailer: &Mailer,
        now: Timestamp,
    ) -> Result<MfaReset, AuthError> {
        let user = self.user(id).await?;
        let factor = self.core.mfa.remove(id).await?;
        let devices = self.core.store.map_clear(id, trusted::MAP).await?;
        self.core.profiles.forget(id);
        if !factor && devices == 0 {
            return Ok(MfaReset {
                removed: false,
                mailed: false,
            });
        }
        let text = format!(
            "Hello,\n\n\
             an administrator has reset the two-step sign-in of your account {email}\n\
             on {at}: your authenticator app's codes and your recovery codes no longer work,\n\
             and no device is trusted any more. You now sign in with your password alone;\n\
             set up two-step sign-in again in your account settings.\n\n\
             If you did not ask for this, change your password and contact your administrator.\n",
            email = user.email,
            at = crate::rfc3339::format(now),
        );
        let mail = Mail {
            to: user.email.clone(),
            subject: "Your two-step sign-in was reset".to_owned(),
            text,
        };
        let mailed = match mailer.send(mail, now).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, user = %id, via = mailer.kind(), "mfa-reset notice not sent");
                false
            }
        };
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::MfaResetByAdmin, id, now).details(json!({
                    "totp_removed": factor,
                    "trusted_devices_removed": devices,
                    "notice": if mailed { "sent" } else { "not_sent" },
                    "delivery": mailer.kind(),
                })),
            )
            .await;
        Ok(MfaReset {
            removed: true,
            mailed,
        })
    }
}
