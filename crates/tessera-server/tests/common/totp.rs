//! An independent RFC 6238 implementation (HMAC-SHA-1, 6 digits, 30 s), written from the RFC
//! for the tests, so the server's TOTP crate is checked against something it does not share.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// RFC 4648 base32 (no padding needed).
pub fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = A
            .iter()
            .position(|x| *x == c.to_ascii_uppercase())
            .expect("base32") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

/// HOTP (RFC 4226) with `digits` digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[off] & 0x7f) << 24)
        | (u32::from(h[off + 1]) << 16)
        | (u32::from(h[off + 2]) << 8)
        | u32::from(h[off + 3]);
    format!(
        "{:0width$}",
        bin % 10u32.pow(digits),
        width = digits as usize
    )
}

/// The 6-digit TOTP of a base32 secret at Unix time `t`.
pub fn totp(secret_b32: &str, t: u64) -> String {
    hotp(&base32_decode(secret_b32), t / 30, 6)
}

/// The code for now, `offset_steps` steps away.
pub fn totp_now(secret_b32: &str, offset_steps: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp(secret_b32, (now + offset_steps * 30) as u64)
}

/// Waits until the current 30 s step has at least 5 s left, so a code doesn't expire
/// between computing and checking it.
pub async fn fresh_step() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 30 > 24 {
        tokio::time::sleep(std::time::Duration::from_secs(31 - now % 30)).await;
    }
}

#[test]
fn rfc6238_sha1_test_vectors() {
    let key = b"12345678901234567890";
    for (t, code) in [
        (59u64, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ] {
        assert_eq!(hotp(key, t / 30, 8), code, "T={t}");
    }
}
