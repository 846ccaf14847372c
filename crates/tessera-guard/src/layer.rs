//! [`GuardLayer`]: a tower layer that lets only authenticated requests through, and
//! [`Guard::layer`]. Depends on [`guard`](crate::guard), never the other way round.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tessera_core::time::Timestamp;
use tower::{Layer, Service};

use crate::guard::Guard;

/// Wraps a service so that every request must carry a verified, live Tessera access token.
/// A refused request never reaches the inner service: it gets the [`GuardError`] response
/// (401 / 503). An accepted one reaches it with a [`VerifiedToken`] in its extensions (read
/// it with [`Authenticated`](crate::Authenticated)).
///
/// [`GuardError`]: crate::GuardError
/// [`VerifiedToken`]: crate::VerifiedToken
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    /// A layer that authenticates with `guard`.
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl Guard {
    /// A tower layer that authenticates every request (see [`GuardLayer`]).
    pub fn layer(&self) -> GuardLayer {
        GuardLayer::new(self.clone())
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            guard: self.guard.clone(),
            inner,
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    guard: Guard,
    inner: S,
}

impl<S> Service<Request> for GuardService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The clone that was polled ready serves this request; a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            match guard
                .authenticate_headers(req.headers(), Timestamp::now())
                .await
            {
                Ok(verified) => {
                    req.extensions_mut().insert(verified);
                    inner.call(req).await
                }
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}
