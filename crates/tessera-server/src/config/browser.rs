//! Section "browser": how token pairs travel (body or cookies) and the fingerprint binding.

use super::choice::{Choice, Switch, choice_str};
use super::file::RawConfig;
use super::value::{InvalidSetting, choice};

/// How token pairs travel to the client (`token_transport`; API.md "Browser clients").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTransport {
    /// JSON body only (default).
    Body,
    /// Hardened cookies only; token strings left out of the body.
    Cookie,
    /// Both.
    Both,
}

impl TokenTransport {
    /// Whether cookies are set.
    pub fn cookies(self) -> bool {
        matches!(self, TokenTransport::Cookie | TokenTransport::Both)
    }

    /// Whether tokens appear in JSON bodies.
    pub fn body(self) -> bool {
        matches!(self, TokenTransport::Body | TokenTransport::Both)
    }
}

impl Choice for TokenTransport {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("body", TokenTransport::Body),
        ("cookie", TokenTransport::Cookie),
        ("both", TokenTransport::Both),
    ];
}
choice_str!(TokenTransport);

/// `token_transport` (default `body`), `fingerprint` (default `off`).
pub(super) struct Browser {
    pub(super) token_transport: TokenTransport,
    pub(super) fingerprint: bool,
}

impl Browser {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        Ok(Browser {
            token_transport: choice(
                "token_transport",
                &raw.token_transport,
                TokenTransport::Body,
            )?,
            fingerprint: choice("fingerprint", &raw.fingerprint, Switch::Off)?.is_on(),
        })
    }
}
