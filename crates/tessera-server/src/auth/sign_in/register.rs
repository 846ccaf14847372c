//! `POST /v1/auth/register`.

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use super::SignInService;
use crate::accounts::email::Email;
use crate::accounts::password::check_strength;
use crate::accounts::users::CreateUserError;
use crate::accounts::{NewUser, User};
use crate::auth::error::AuthError;

/// Longest display name kept.
const MAX_NAME: usize = 100;

impl SignInService {
    /// Creates an account. The email is normalised; the password must pass the policy; the
    /// unique index decides races between two registrations of one address.
    pub async fn register(
        &self,
        email: &str,
        password: Zeroizing<String>,
        name: Option<&str>,
        ip: Option<std::net::IpAddr>,
        now: Timestamp,
    ) -> Result<User, AuthError> {
        self.core.limits.before_register(ip, now).await?;
        let email = Email::parse(email).ok_or(AuthError::InvalidEmail)?;
        check_strength(&password, &[email.as_str()])?;
        let name = name.map(str::trim).filter(|n| !n.is_empty()).map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME)
                .collect()
        });
        if self.core.users.by_email(&email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let password_hash = self.core.hasher.hash(password).await?;
        let new = NewUser {
            id: UserId::new(),
            email,
            name,
            password_hash,
        };
        self.core.users.create(new, now).await.map_err(|e| match e {
            CreateUserError::EmailTaken => AuthError::EmailTaken,
            CreateUserError::Db(e) => AuthError::Database(e),
        })
    }
}
