//! HTTP helpers over reqwest.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The problem `code`, if any.
    pub fn code(&self) -> Option<&str> {
        self.body.get("code").and_then(Value::as_str)
    }

    /// A string field of the body.
    pub fn str(&self, key: &str) -> String {
        self.body[key].as_str().unwrap_or_default().to_owned()
    }

    /// Every `Set-Cookie`: name → (value, attributes lower-cased).
    pub fn cookies(&self) -> std::collections::HashMap<String, (String, String)> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|h| {
                let (first, attrs) = h.split_once(';').unwrap_or((h, ""));
                let (name, value) = first.trim().split_once('=').unwrap_or((first, ""));
                (name.to_owned(), (value.to_owned(), attrs.to_lowercase()))
            })
            .collect()
    }

    /// Whether the body is problem+json.
    pub fn is_problem(&self) -> bool {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/problem+json"))
    }
}

/// The tokens of one sign-in.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub id: String,
}

impl Session {
    pub fn from(reply: &Reply) -> Self {
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        Self {
            access: reply.str("access_token"),
            refresh: reply.str("refresh_token"),
            id: reply.str("session_id"),
        }
    }
}

/// A client bound to one base URL.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    client: reqwest::Client,
}

impl Http {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::new(),
        }
    }

    /// The same base URL with a client of its own (no pooled connections shared).
    pub fn fresh(&self) -> Self {
        Self::new(self.base.clone())
    }

    /// Any request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        Self::read(req).await
    }

    /// A raw request with explicit content type and bytes.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Reply {
        let req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(bytes);
        Self::read(req).await
    }

    /// `POST path` with a form body (`application/x-www-form-urlencoded`) and, when given,
    /// HTTP Basic client credentials (form-urlencoded inside Basic, RFC 6749 §2.3.1).
    pub async fn form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        use base64::Engine;
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some((id, secret)) = basic {
            let raw = format!("{}:{}", form_encode(id), form_encode(secret));
            let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
            req = req.header("authorization", format!("Basic {b64}"));
        }
        Self::read(req).await
    }

    /// Any request with extra headers; `body` is sent as JSON when given.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::read(req).await
    }

    /// `GET path` with a literal `Authorization` header value.
    pub async fn with_authorization(&self, path: &str, value: &str) -> Reply {
        let req = self
            .client
            .get(format!("{}{path}", self.base))
            .header("authorization", value);
        Self::read(req).await
    }

    /// Like [`Self::raw`], but `None` when the server closed the connection before the
    /// request was sent whole (what a server may do to an oversized upload).
    pub async fn try_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Option<Reply> {
        let res = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .ok()?;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    async fn read(req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn register(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/auth/register",
            Some(json!({"email": email, "password": password})),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": email, "password": password})),
            None,
        )
        .await
    }

    /// Registers and signs in.
    pub async fn signed_up(&self, email: &str) -> Session {
        let r = self.register(email, super::PW).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        Session::from(&self.login(email, super::PW).await)
    }

    pub async fn refresh(&self, token: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": token})),
            None,
        )
        .await
    }

    pub async fn me(&self, access: &str) -> Reply {
        self.call(Method::GET, "/v1/me", None, Some(access)).await
    }

    pub async fn logout(&self, access: &str) -> Reply {
        self.call(Method::POST, "/v1/auth/logout", None, Some(access))
            .await
    }

    pub async fn logout_all(&self, access: &str) -> Reply {
        self.call(Method::POST, "/v1/auth/logout-all", None, Some(access))
            .await
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
