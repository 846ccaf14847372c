//! Mapping of redis-rs errors onto [`StoreError`].

use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::error::{ProtocolError, StoreError};

/// Reachability problems (I/O, timeouts, refused or dropped connections, a cluster that is
/// down or resharding, a server still loading, failed authentication) become
/// [`StoreError::Unavailable`] with the cause kept; anything else the server or the driver
/// reports (a script error, a reply of the wrong type) becomes [`StoreError::Protocol`],
/// the driver error kept as [`ProtocolError::Redis`].
pub(crate) fn map_redis_error(err: RedisError) -> StoreError {
    let unavailable = err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::AuthenticationFailed
                | ErrorKind::InvalidClientConfig
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                        | ServerErrorKind::NoPerm
                )
        );
    if unavailable {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Protocol(ProtocolError::Redis(err))
    }
}

/// A whole call exceeded [`RedisConfig::operation_timeout`](super::RedisConfig).
#[derive(Debug, thiserror::Error)]
#[error("redis call timed out after {0:?}")]
pub(crate) struct OperationTimeout(pub(crate) std::time::Duration);

/// A [`StoreError::Protocol`] for a reply this code does not understand
/// ([`ProtocolError::Malformed`]).
pub(crate) fn protocol(what: impl Into<String>) -> StoreError {
    StoreError::Protocol(ProtocolError::Malformed(what.into()))
}
