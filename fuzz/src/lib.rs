//! Fixtures shared by the fuzz targets in `fuzz_targets/`.
//!
//! Keys are fixed (`keys/`: made for fuzzing, never used anywhere else) and so is "now", so a
//! token in the seed corpus verifies on every run and the fuzzer starts from inputs that reach
//! the signature and claim checks, not only the header checks.

use std::sync::OnceLock;
use std::time::Duration;

use tessera_core::keys::{KeyMaterial, KeyRing, SigningAlg, StoredKey};
use tessera_core::refresh::RefreshKey;
use tessera_core::time::Timestamp;
use tessera_core::token::{TokenIssuer, Verifier};
use tessera_guard::KeySet;

/// The fixed "now" of every target: 2026-01-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp::from_secs(1_767_225_600);
/// `iss` of the fixture tokens.
pub const ISSUER: &str = "https://auth.example.test";
/// `aud` of the fixture tokens.
pub const AUDIENCE: &str = "tessera-fuzz";
/// Lifetime of the tokens the targets sign.
pub const TTL: Duration = Duration::from_secs(900);

const ED25519_PEM: &str = include_str!("../keys/ed25519.pem");
const P256_PEM: &str = include_str!("../keys/p256.pem");
const RSA_PEM: &str = include_str!("../keys/rsa2048.pem");
const HS256_SECRET: &str = include_str!("../keys/hs256.secret");
/// The refresh key of the fixture refresh tokens.
const REFRESH_KEY: [u8; 32] = *b"tessera-fuzz-refresh-key-0123456";

/// Every algorithm Tessera signs with.
pub const ALGS: [SigningAlg; 4] = [
    SigningAlg::EdDSA,
    SigningAlg::ES256,
    SigningAlg::RS256,
    SigningAlg::HS256,
];

/// The fixture keys, loaded once per process.
pub struct Fixture {
    /// One ring holding all four keys: what the server verifies with.
    pub all: KeyRing,
    /// One ring per algorithm, in the order of [`ALGS`], to sign with that algorithm.
    pub by_alg: Vec<KeyRing>,
    /// The guard's view: the keys of the JWKS the server publishes (asymmetric keys only).
    pub jwks: KeySet,
    /// The JWKS document itself.
    pub jwks_json: String,
    /// The refresh-token key.
    pub refresh: RefreshKey,
}

/// The fixture (built on first use). Any failure here is a broken fixture, not a finding.
#[allow(clippy::expect_used)]
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let stored: Vec<StoredKey> = ALGS
            .iter()
            .zip(1i64..)
            .map(|(&alg, age)| {
                let material = match alg {
                    SigningAlg::EdDSA => KeyMaterial::PrivateKeyPem(ED25519_PEM.to_owned()),
                    SigningAlg::ES256 => KeyMaterial::PrivateKeyPem(P256_PEM.to_owned()),
                    SigningAlg::RS256 => KeyMaterial::PrivateKeyPem(RSA_PEM.to_owned()),
                    SigningAlg::HS256 => KeyMaterial::HmacSecret(HS256_SECRET.trim().to_owned()),
                };
                StoredKey::from_material(alg, material, Timestamp::from_secs(NOW.as_secs() - age))
                    .expect("fixture key loads")
            })
            .collect();
        let all = KeyRing::new(&stored, TTL, NOW).expect("fixture ring");
        let by_alg = stored
            .iter()
            .map(|k| KeyRing::new(std::slice::from_ref(k), TTL, NOW).expect("fixture ring"))
            .collect();
        let set = all.jwks();
        let jwks_json = serde_json::to_string(&set).expect("JWKS serialises");
        Fixture {
            jwks: KeySet::from_jwks(&set),
            jwks_json,
            all,
            by_alg,
            refresh: RefreshKey::from_bytes(REFRESH_KEY),
        }
    })
}

/// The verifier every target uses (30 s leeway, 4 KiB limit: the server's defaults).
pub fn verifier() -> Verifier {
    Verifier::new(ISSUER, AUDIENCE)
}

/// The issuer of the tokens the targets sign.
pub fn issuer() -> TokenIssuer {
    TokenIssuer {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        client_id: "tessera-fuzz".to_owned(),
        ttl: TTL,
    }
}
