//! A minimal HTTP/1.1 client: one keep-alive connection per [`Conn`], one request at a time.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub(crate) struct Conn {
    tx: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    pub(crate) async fn open(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            tx,
            authority: addr.to_owned(),
        })
    }

    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<String>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("user-agent", crate::USER_AGENT);
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let body = match json {
            Some(j) => {
                b = b.header("content-type", "application/json");
                Full::new(Bytes::from(j))
            }
            None => Full::new(Bytes::new()),
        };
        let req = b.body(body)?;
        self.tx.ready().await?;
        let resp = self.tx.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// `POST` of a form body (`application/x-www-form-urlencoded`) with an
    /// `Authorization` header (the `/oauth2/*` client authentication).
    pub(crate) async fn post_form(
        &mut self,
        path: &str,
        authorization: &str,
        form: String,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", &self.authority)
            .header("user-agent", crate::USER_AGENT)
            .header("authorization", authorization)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))?;
        self.tx.ready().await?;
        let resp = self.tx.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub(crate) async fn post_json(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        json: &serde_json::Value,
    ) -> anyhow::Result<(StatusCode, serde_json::Value)> {
        let (status, body) = self
            .send(Method::POST, path, bearer, Some(json.to_string()))
            .await?;
        let v = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
        };
        Ok((status, v))
    }
}

/// `Basic <base64(id:secret)>` (RFC 7617; RFC 6749 §2.3.1 form-encodes the id and secret
/// first, which leaves the unreserved characters used here as they are).
pub(crate) fn basic_authorization(id_secret: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("Basic ");
    for chunk in id_secret.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_authorization_is_base64() {
        // RFC 7617 §2's example.
        assert_eq!(
            super::basic_authorization("Aladdin:open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(super::basic_authorization("ab:c"), "Basic YWI6Yw==");
        assert_eq!(super::basic_authorization("abc"), "Basic YWJj");
    }
}
