//! The access-token verifier (`tessera_core::token::Verifier`), as the server runs it (with
//! its key ring) and as `tessera-guard` runs it (with the keys of the published JWKS).
//!
//! An input that starts with `{` is a JWKS document for the guard's `KeySet::from_jwks`.
//! Any other input is used twice:
//! 1. as token text, verified with the server's ring and with the guard's key set: no panic,
//!    and the two agree on every token whose key the JWKS publishes;
//! 2. as a recipe: claims for a token signed with a fixture key, then edits to it. The
//!    untouched token must verify to its own claims; an edited token must not verify unless
//!    the edit left the signed bytes and the signature as they were (ES256 aside, where
//!    `(r, n - s)` is a second valid signature of the same message).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::keys::{SigningAlg, VerificationKeys};
use tessera_core::token::{AccessClaims, TokenRequest, VerifyError};
use tessera_fuzz::{ALGS, NOW, TTL, fixture, issuer, verifier};
use tessera_guard::KeySet;

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        jwks(data);
        return;
    }
    as_text(&String::from_utf8_lossy(data));
    // A recipe too short to say anything is skipped rather than signed with defaults.
    let _ = as_recipe(&mut Unstructured::new(data));
});

/// A JWKS from the network: any document gives a key set; never a symmetric key.
fn jwks(data: &[u8]) {
    let Ok(set) = serde_json::from_slice::<jsonwebtoken::jwk::JwkSet>(data) else {
        return;
    };
    let keys = KeySet::from_jwks(&set);
    assert!(keys.len() <= set.keys.len());
    for jwk in &set.keys {
        if let Some(kid) = jwk.common.key_id.as_deref()
            && let Some((_, alg)) = keys.find(kid)
        {
            assert!(alg.is_asymmetric(), "a JWKS gave a {alg} key");
        }
    }
    // A token naming one of its keys goes through the verifier to the signature check.
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.as_deref() else {
            continue;
        };
        let Some((_, alg)) = keys.find(kid) else {
            continue;
        };
        let header = serde_json::json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": kid});
        let token = format!("{}.e30.AAAA", URL_SAFE_NO_PAD.encode(header.to_string()));
        assert!(verifier().verify(&keys, &token, NOW).is_err());
    }
}

/// Arbitrary text: the server's ring and the guard's JWKS keys agree.
fn as_text(token: &str) {
    let f = fixture();
    let v = verifier();
    let server = v.verify(&f.all, token, NOW);
    let guard = v.verify(&f.jwks, token, NOW);
    match (&server, &guard) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        // HS256 keys are never published: the guard does not know them.
        (Ok(_), Err(VerifyError::UnknownKey)) => assert!(header_kid_is_hs256(token)),
        (Err(a), Err(b)) => {
            if !matches!(b, VerifyError::UnknownKey) || !header_kid_is_hs256(token) {
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{token:?}");
            }
        }
        _ => panic!("server and guard disagree on {token:?}: {server:?} vs {guard:?}"),
    }
}

/// Whether the token's header names the fixture's HS256 key (the one the JWKS leaves out).
fn header_kid_is_hs256(token: &str) -> bool {
    let f = fixture();
    let Some(header) = token.split('.').next() else {
        return false;
    };
    let Ok(raw) = URL_SAFE_NO_PAD.decode(header) else {
        return false;
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&raw) else {
        return false;
    };
    json.get("kid")
        .and_then(serde_json::Value::as_str)
        .and_then(|kid| f.all.find(kid))
        .is_some_and(|(_, alg)| alg == SigningAlg::HS256)
}

/// A fixture-signed token with fuzzed claims, then fuzzed edits.
fn as_recipe(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let f = fixture();
    let v = verifier();
    let which = usize::from(u.arbitrary::<u8>()?) % ALGS.len();
    let alg = ALGS[which];
    let ring = &f.by_alg[which];
    let mut amr = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        amr.push(bounded(u.arbitrary::<&str>()?, 64).to_owned());
    }
    let fingerprint = match u.arbitrary::<Option<&str>>()? {
        Some(s) => Some(bounded(s, 64).to_owned()),
        None => None,
    };
    let req = TokenRequest {
        user: UserId::from_bytes(u.arbitrary()?),
        session: SessionId::from_bytes(u.arbitrary()?),
        token_version: u.arbitrary()?,
        amr,
        fingerprint_hash: fingerprint,
    };
    let jti = Jti::from_bytes(u.arbitrary()?);
    let Ok(issued) = issuer().sign(ring, req, jti, NOW.plus(TTL), NOW) else {
        panic!("signing with the fixture {alg} key failed");
    };
    let original = issued.token;

    // The untouched token verifies to its claims, with the server's keys and the guard's.
    let expect: Result<&AccessClaims, String> = if original.len() > 4096 {
        Err(format!("{:?}", VerifyError::Oversize))
    } else {
        Ok(&issued.claims)
    };
    let got = v.verify(&f.all, &original, NOW);
    assert_eq!(got.as_ref().map_err(|e| format!("{e:?}")), expect, "{alg}");
    if alg.is_asymmetric() {
        let got = v.verify(&f.jwks, &original, NOW);
        assert_eq!(got.as_ref().map_err(|e| format!("{e:?}")), expect, "{alg}");
    }
    // Past its expiry (plus the leeway) it is refused.
    let late = NOW.plus(TTL).plus(std::time::Duration::from_secs(30));
    assert!(v.verify(&f.all, &original, late).is_err());

    // Edits: replace, insert or delete bytes anywhere.
    let mut edited = original.clone().into_bytes();
    for _ in 0..u.int_in_range(1..=4)? {
        let at = usize::from(u.arbitrary::<u16>()?) % (edited.len() + 1);
        match u.int_in_range(0..=2)? {
            0 if at < edited.len() => edited[at] = u.arbitrary()?,
            1 => edited.insert(at, u.arbitrary()?),
            _ if at < edited.len() => {
                edited.remove(at);
            }
            _ => {}
        }
    }
    let Ok(edited) = String::from_utf8(edited) else {
        return Ok(());
    };
    if edited == original {
        return Ok(());
    }
    if let Ok(claims) = v.verify(&f.all, &edited, NOW) {
        let (signed_a, sig_a) = split_signature(&original);
        let (signed_b, sig_b) = split_signature(&edited);
        assert_eq!(
            signed_a, signed_b,
            "{alg}: an edited token verified: {edited:?}"
        );
        let same_sig = URL_SAFE_NO_PAD.decode(sig_a).ok() == URL_SAFE_NO_PAD.decode(sig_b).ok();
        assert!(
            same_sig || alg == SigningAlg::ES256,
            "{alg}: another signature verified: {edited:?}"
        );
        assert_eq!(claims, issued.claims);
    }
    Ok(())
}

/// The signed part (`header.payload`) and the signature of a compact JWS.
fn split_signature(token: &str) -> (&str, &str) {
    token.rsplit_once('.').unwrap_or((token, ""))
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn bounded(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
