//! The HTTP client that talks to identity providers: no redirects followed (a token or
//! discovery endpoint that redirects is an error, never a hop to wherever it points), short
//! timeouts, bounded response bodies. It is the `AsyncHttpClient` of the `openidconnect`
//! and `oauth2` crates.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The largest response body read from a provider.
pub const MAX_BODY: usize = 1 << 20;

/// A request to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, sending or reading failed (or timed out).
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    /// The response could not be represented.
    #[error("malformed response: {0}")]
    Response(#[from] openidconnect::http::Error),
    /// The body is larger than [`MAX_BODY`].
    #[error("response body larger than {MAX_BODY} bytes")]
    TooLarge,
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    /// A client with redirects off and a 10 s timeout per request.
    pub fn new() -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(Self)
    }

    /// Sends `request` and reads the response, body bounded.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let mut res = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        let mut builder = openidconnect::http::Response::builder().status(res.status());
        for (name, value) in res.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(builder.body(body)?)
    }
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
