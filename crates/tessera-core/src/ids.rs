//! Identifiers. Users and sessions get UUIDv7 (time-ordered, native PostgreSQL type); access
//! tokens get a UUIDv4 `jti` (no creation time to reveal). Each is its own type so a session id
//! can never be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $new:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random identifier.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self($new)
            }

            /// Wraps an existing UUID (read back from storage).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The 16 raw bytes (used inside refresh tokens).
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// From 16 raw bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A user account (UUIDv7).
    UserId,
    Uuid::now_v7()
);
id_type!(
    /// A session: one sign-in on one device, and the refresh-token family that belongs to it
    /// (UUIDv7).
    SessionId,
    Uuid::now_v7()
);
id_type!(
    /// One access token (`jti` claim, UUIDv4).
    Jti,
    Uuid::new_v4()
);
