//! The ways a request proves who sends it, as the document's security schemes. Operations
//! name them in their `security(...)`:
//!
//! - user endpoints: `("bearer" = [])`, or the access cookie (`("access_cookie" = [])`; a
//!   state-changing request also needs `"csrf"`, the `X-CSRF-Token` header equal to the
//!   `__Host-tessera_csrf` cookie);
//! - operator endpoints: `("admin" = [])`;
//! - RFC 7662 / RFC 7009: `("client" = [])`.

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::http::cookies;

/// Adds the schemes named above to the document's components.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from a `TokenPair`: `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cookies::ACCESS,
                "The access token as a cookie (token transport `cookie` or `both`), used when no \
                 `Authorization` header is sent",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "With the access cookie, a state-changing request carries the value of the \
                 `__Host-tessera_csrf` cookie in this header, else 403 `csrf_failed`",
            ))),
        );
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin API key (`TESSERA_ADMIN_TOKEN`) or an access token with the \
                         admin scope",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A registered client's id and secret (RFC 6749 §2.3.1), for RFC 7662 and \
                         RFC 7009; `client_id`/`client_secret` in the form are accepted too",
                    ))
                    .build(),
            ),
        );
    }
}
