//! Store errors.

/// Why a state-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time. Callers answer 503 and must
    /// not assume anything about the state (fail closed unless configured otherwise).
    #[error("state store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store answered something this code does not understand (corrupt record, script
    /// protocol mismatch). A bug or tampering, never user input.
    #[error("state store protocol error: {0}")]
    Protocol(String),
    /// The store can never work with this Tessera (a Redis older than the scripts need).
    /// Permanent: retrying does not help, so start-up fails with this message.
    #[error("state store cannot be used: {0}")]
    Incompatible(String),
}

impl StoreError {
    /// True when the store was unreachable (as opposed to answering nonsense).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// True when retrying cannot help ([`StoreError::Incompatible`]).
    pub fn is_permanent(&self) -> bool {
        matches!(self, StoreError::Incompatible(_))
    }
}
