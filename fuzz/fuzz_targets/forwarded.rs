//! The `Forwarded` / `X-Forwarded-For` parser (`TrustedProxies::client`) and the
//! `trusted_proxies` list parser (`TrustedProxies::parse`).
//!
//! The input is a request as text: the peer address on the first line, then `name: value`
//! header lines (either header, any number of lines, any bytes a header value may hold); or
//! `proxies:` and a `trusted_proxies` list. Besides "no panic": a peer outside the trusted
//! CIDRs is always the client, whatever the headers say; without forwarding headers the peer
//! is the client; the client is always reported in canonical form (mapped IPv6 as IPv4); and
//! the answer does not change when the request carries no other headers.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use axum::http::header::FORWARDED;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tessera_server::http::forwarded::TrustedProxies;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

fn trusted() -> &'static TrustedProxies {
    static TRUSTED: OnceLock<TrustedProxies> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8, ::ffff:192.168.0.0/112, 2001:db8:ffff::/48")
            .unwrap_or_else(|e| panic!("fixture CIDRs: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(list) = data.strip_prefix(b"proxies:") {
        proxies(&String::from_utf8_lossy(list));
    } else {
        request(data);
    }
});

/// The `trusted_proxies` setting: a list that parses contains each of its bare addresses.
fn proxies(list: &str) {
    let Ok(parsed) = TrustedProxies::parse(list) else {
        return;
    };
    for entry in list.split(',').map(str::trim) {
        if let Ok(ip) = entry.parse::<IpAddr>() {
            assert!(parsed.contains(ip), "{entry} missing from {parsed:?}");
        }
    }
}

/// A request as text: the peer address on the first line (a trusted proxy when it is not an
/// address), then `name: value` header lines.
fn request(data: &[u8]) {
    let trusted = trusted();
    let mut lines = data.split(|&b| b == b'\n');
    let peer = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut headers = HeaderMap::new();
    let mut forwarding = false;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            continue;
        };
        forwarding |= name == FORWARDED || name == X_FORWARDED_FOR;
        headers.append(name, value);
    }

    let client = trusted.client(peer, &headers);
    assert_eq!(client, client.to_canonical(), "not canonical: {client}");
    if !trusted.contains(peer) || !forwarding {
        assert_eq!(client, peer.to_canonical(), "{headers:?}");
    }
    // Other headers change nothing.
    let mut forwarding_only = HeaderMap::new();
    for name in [FORWARDED, X_FORWARDED_FOR] {
        for value in headers.get_all(&name) {
            forwarding_only.append(name.clone(), value.clone());
        }
    }
    assert_eq!(trusted.client(peer, &forwarding_only), client);
}
