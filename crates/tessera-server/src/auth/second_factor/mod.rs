//! [`SecondFactorService`]: a user's second factor — TOTP enrolment, confirmation and
//! removal ([`totp`]) and the devices trusted to skip it ([`trusted`]). Completing a sign-in
//! with a code is a sign-in step (`sign_in::second_step`); an operator's reset is
//! `admin::mfa_reset`. Every code and password is checked under the sign-in budgets
//! (`core::proof`).

pub mod totp;
pub mod trusted;

use std::sync::Arc;

use serde::Serialize;

use super::core::AuthCore;

pub use trusted::TrustedDeviceView;

/// Enrolling, confirming and removing TOTP; listing and removing trusted devices.
#[derive(Clone, Debug)]
pub struct SecondFactorService {
    core: Arc<AuthCore>,
}

impl SecondFactorService {
    /// Over `core`.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }
}

/// What `POST /v1/mfa/totp` returns: the pending secret in three forms.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://totp/…`.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}
