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
}

impl StoreError {
    /// True when the store was unreachable (as opposed to answering nonsense).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
