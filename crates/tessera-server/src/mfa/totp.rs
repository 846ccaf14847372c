//! TOTP (RFC 6238): SHA-1, 6 digits, 30 s steps, one step of skew either way — what every
//! authenticator app supports.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Why a TOTP factor cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid TOTP secret")]
pub struct TotpError;

/// A user's TOTP factor.
pub struct TotpFactor(Totp);

impl TotpFactor {
    /// A fresh random 160-bit secret.
    pub fn generate(issuer: &str, account: &str) -> Result<Self, TotpError> {
        Self::build(Secret::generate(), issuer, account)
    }

    /// From a stored base32 secret.
    pub fn from_base32(secret: &str, issuer: &str, account: &str) -> Result<Self, TotpError> {
        let secret = Secret::try_from_base32(secret).map_err(|_| TotpError)?;
        Self::build(secret, issuer, account)
    }

    fn build(secret: Secret, issuer: &str, account: &str) -> Result<Self, TotpError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(secret)
            .with_issuer(Some(issuer.replace(':', "")))
            .with_account_name(account.replace(':', ""))
            .build()
            .map(TotpFactor)
            .map_err(|_| TotpError)
    }

    /// The secret, base32 (what a user types into an app by hand).
    pub fn secret_base32(&self) -> String {
        self.0.secret().to_base32()
    }

    /// The `otpauth://totp/…` URI.
    pub fn uri(&self) -> String {
        self.0.to_url().unwrap_or_default()
    }

    /// The URI as an SVG QR code.
    pub fn qr_svg(&self) -> String {
        match qrcode::QrCode::new(self.uri().as_bytes()) {
            Ok(code) => code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build(),
            Err(_) => String::new(),
        }
    }

    /// The step a `code` matches at `unix_secs` (±1 step), if any. The caller makes the step
    /// single-use. Anything that is not six ASCII digits never matches.
    pub fn check(&self, code: &str, unix_secs: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.0.check(code, unix_secs)
    }

    /// The code at `unix_secs` (tests).
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.0.generate(unix_secs).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector_and_skew() {
        // RFC 6238 Appendix B, SHA-1 secret "12345678901234567890", T = 59 s → 94287082 (8
        // digits); the 6-digit code is its last six digits.
        let secret = totp_rs::Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let f = TotpFactor::from_base32(&secret, "Tessera", "a@example.org").unwrap();
        assert_eq!(f.code_at(59), "287082");
        assert_eq!(f.check("287082", 59), Some(1));
        assert_eq!(f.check("287082", 59 + 30), Some(1), "one step of skew");
        assert_eq!(f.check("287082", 59 + 90), None);
        for bad in ["", "28708", "2870822", "abcdef", " 287082x"] {
            assert_eq!(f.check(bad, 59), None, "{bad:?}");
        }
    }

    #[test]
    fn uri_and_qr_describe_the_secret() {
        let f = TotpFactor::generate("Tessera", "a@example.org").unwrap();
        assert!(f.uri().starts_with("otpauth://totp/"));
        assert!(f.uri().contains(&f.secret_base32()));
        assert!(f.qr_svg().contains("<svg"));
    }
}
