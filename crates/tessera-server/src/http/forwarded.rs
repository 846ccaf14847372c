//! The client address behind trusted reverse proxies (`trusted_proxies`).
//!
//! Rules (API.md "Configuration", `TESSERA_TRUSTED_PROXIES`):
//! - The TCP peer is the client unless it lies in a trusted CIDR; only then are `Forwarded`
//!   (RFC 7239, its `for=` parameters) and `X-Forwarded-For` read. A header from an untrusted
//!   peer is ignored, so nobody can choose their own address.
//! - Every line of a header is read, in order, each a comma-separated list. The list is
//!   walked right to left (nearest hop first): trusted addresses are skipped, the first
//!   untrusted address is the client. A hop that is not an address (`unknown`, an
//!   obfuscated `_name`, garbage) ends the walk without a client: entries further left were
//!   written by whoever that hop was and prove nothing, so the peer is used instead. When
//!   every hop is trusted, the left-most one is the client.
//! - A trusted peer that sends neither header is the client itself.
//! - When both headers are present they must name the same client, else the peer is used.
//!   A proxy appends to one of them; the other then comes untouched from the client, and
//!   believing either one alone would let a client pick its address whenever the proxy
//!   writes the other. Agreement cannot be forged: the header the proxy writes always ends
//!   in the real address.
//! - IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are IPv4 addresses: they match IPv4
//!   CIDRs and are reported in dotted form.
//!
//! Nothing here panics on any input.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::FORWARDED;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// `X-Forwarded-For`.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The CIDRs of reverse proxies whose forwarding headers are believed (empty: none).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(ToString::to_string))
            .finish()
    }
}

/// A `trusted_proxies` entry that is not a CIDR or address.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a CIDR (expected e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)")]
pub struct BadCidr(pub String);

impl TrustedProxies {
    /// Parses comma-separated CIDRs; a bare address is its own /32 or /128. Blank entries are
    /// skipped; anything else that is not a CIDR is refused.
    pub fn parse(list: &str) -> Result<Self, BadCidr> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| BadCidr(entry.to_owned()))?,
            };
            // A mapped IPv4 range (`::ffff:10.0.0.0/104`) is the IPv4 range it maps.
            nets.push(match net {
                IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                    Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
                    None => net,
                },
                _ => net,
            });
        }
        Ok(Self(nets))
    }

    /// No proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (mapped addresses as IPv4) lies in a trusted CIDR.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request from `peer` carrying `headers` (see the module
    /// documentation).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let forwarded = self.walk(forwarded_hops(headers));
        let xff = self.walk(xff_hops(headers));
        match (forwarded, xff) {
            (Walk::Absent, Walk::Absent) => peer,
            (Walk::Client(ip), Walk::Absent) | (Walk::Absent, Walk::Client(ip)) => ip,
            (Walk::Client(a), Walk::Client(b)) if a == b => a,
            _ => peer,
        }
    }

    /// Walks `hops` (left to right as written; `None` for a hop that is not an address)
    /// from the right.
    fn walk(&self, hops: Option<Vec<Option<IpAddr>>>) -> Walk {
        let Some(hops) = hops else {
            return Walk::Absent;
        };
        let mut leftmost_trusted = None;
        for hop in hops.iter().rev() {
            match hop.map(|ip| ip.to_canonical()) {
                Some(ip) if self.contains(ip) => leftmost_trusted = Some(ip),
                Some(ip) => return Walk::Client(ip),
                None => return Walk::Unknown,
            }
        }
        leftmost_trusted.map_or(Walk::Unknown, Walk::Client)
    }
}

/// What one header says.
#[derive(Debug, PartialEq, Eq)]
enum Walk {
    /// The header is not there.
    Absent,
    /// It names this client.
    Client(IpAddr),
    /// It is there but names no usable client.
    Unknown,
}

/// The hops of every `X-Forwarded-For` line, or `None` without the header. Each line is split
/// at its commas as bytes, and only an element that is not text is a hop of unknown address:
/// a client that sends a non-ASCII byte cannot hide the address its proxy appends to the
/// same line (`<junk>, <real>`), so it cannot make itself look like its proxy.
fn xff_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut lines = headers.get_all(X_FORWARDED_FOR).iter().peekable();
    lines.peek()?;
    let mut hops = Vec::new();
    for line in lines {
        hops.extend(line.as_bytes().split(|b| *b == b',').map(|element| {
            std::str::from_utf8(element)
                .ok()
                .and_then(|text| node_addr(text.trim()))
        }));
    }
    Some(hops)
}

/// The `for=` of every element of every `Forwarded` line, or `None` without the header. An
/// element without `for=` is a hop of unknown address.
///
/// A line that breaks the RFC 7239 grammar is one hop of unknown address as a whole: a
/// quoted string still open at the end of the line (a client sending `for=9.9.9.9;by="_x`
/// would otherwise swallow the element its proxy appends to the same line, `, for=<real>`,
/// and name its own address), an element with two `for=`, or a value with a quote that does
/// not wrap it whole. The walk then stops there and the peer is used: a client can make
/// itself look like its proxy, never like anyone else.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut lines = headers.get_all(FORWARDED).iter().peekable();
    lines.peek()?;
    let mut hops = Vec::new();
    for line in lines {
        match line.to_str().ok().and_then(forwarded_line) {
            Some(line_hops) => hops.extend(line_hops),
            None => hops.push(None),
        }
    }
    Some(hops)
}

/// The hops of one well-formed `Forwarded` line; `None` for a malformed one.
fn forwarded_line(text: &str) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for element in split_unquoted(text, ',')? {
        let mut node = None;
        for pair in split_unquoted(element, ';')? {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if !name.trim().eq_ignore_ascii_case("for") {
                continue;
            }
            if node.is_some() {
                return None;
            }
            node = Some(unquote(value.trim())?);
        }
        hops.push(node.and_then(|n| node_addr(&n)));
    }
    Some(hops)
}

/// Splits `s` at `sep` outside double-quoted strings (backslash escapes inside quotes);
/// `None` when a quoted string is still open at the end.
fn split_unquoted(s: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// A token or quoted-string value without its quotes and escapes; `None` when a quote
/// stands anywhere but around the whole value.
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return (!v.contains('"')).then(|| v.to_owned());
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            escaped = false;
            out.push(c);
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The address of a node: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:4711`. `unknown`, obfuscated identifiers and anything else: `None`.
fn node_addr(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = node.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    // IPv4 with an obfuscated port (`192.0.2.43:_abc`).
    if let Some((host, port)) = node.rsplit_once(':')
        && port.starts_with('_')
        && let Ok(v4) = host.parse::<std::net::Ipv4Addr>()
    {
        return Some(IpAddr::V4(v4));
    }
    // `[v6]` without a port, or with an obfuscated port (`[v6]:_port`).
    let inner = node.strip_prefix('[')?;
    let (addr, rest) = inner.split_once(']')?;
    if !(rest.is_empty() || rest.starts_with(':')) {
        return None;
    }
    addr.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The resolved client address of a request (`None` when the server was started without
/// connect info), put into the request's extensions by [`resolve`].
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address of the request in `parts` or `req` extensions: what [`resolve`] put
    /// there, else the TCP peer (forwarding headers ignored).
    pub fn of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
        match extensions.get::<ClientAddr>() {
            Some(c) => c.0,
            None => extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_canonical()),
        }
    }
}

/// Middleware: resolves the client address once per request (see the module documentation)
/// and stores it as [`ClientAddr`] for the extractors and the request span.
pub async fn resolve(
    State(trusted): State<std::sync::Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = peer.map(|p| trusted.client(p, req.headers()));
    req.extensions_mut().insert(ClientAddr(client));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8,2001:db8:ffff::/48").unwrap()
    }

    #[test]
    fn cidrs_and_bare_addresses_parse_and_garbage_is_refused() {
        let p = TrustedProxies::parse(" 10.0.0.0/8 ,, 192.0.2.7, 2001:db8::/32 ").unwrap();
        assert!(p.contains(ip("10.1.2.3")));
        assert!(p.contains(ip("192.0.2.7")));
        assert!(!p.contains(ip("192.0.2.8")));
        assert!(p.contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "example.org",
            "10.0.0.0/8;",
            "::1/129",
        ] {
            let e = TrustedProxies::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let p = proxies();
        assert!(p.contains(ip("::ffff:127.0.0.1")));
        assert!(p.contains(ip("::ffff:10.9.8.7")));
        let mapped_range = TrustedProxies::parse("::ffff:192.0.2.0/120").unwrap();
        assert!(mapped_range.contains(ip("192.0.2.9")));
        // A mapped peer is trusted and a mapped forwarded address is reported as IPv4.
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.4")]);
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.4"));
        // An untrusted mapped peer is reported in dotted form.
        assert_eq!(
            p.client(ip("::ffff:198.51.100.9"), &HeaderMap::new()),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4"),
            ("forwarded", "for=198.51.100.4"),
        ]);
        assert_eq!(proxies().client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_is_walked_right_to_left_over_every_line() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        // The left-most entry is whatever the client sent: the right-most untrusted wins.
        let h = headers(&[("x-forwarded-for", "203.0.113.66, 198.51.100.4, 10.0.0.2")]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.4"));
        // Several lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.66"),
            ("x-forwarded-for", "198.51.100.4,10.0.0.2"),
            ("x-forwarded-for", "10.0.0.3"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.4"));
        // Ports and brackets are tolerated.
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:4711, 198.51.100.4:80")]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.4"));
        let h = headers(&[("x-forwarded-for", "2001:db8::7, 10.0.0.2")]);
        assert_eq!(p.client(peer, &h), ip("2001:db8::7"));
        // A trusted peer without headers is the client.
        assert_eq!(p.client(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn an_all_trusted_chain_gives_its_left_most_address() {
        let h = headers(&[("x-forwarded-for", "10.0.0.1, 10.0.0.2, 127.0.0.5")]);
        assert_eq!(proxies().client(ip("127.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers(&[("forwarded", "for=10.0.0.1, for=\"[2001:db8:ffff::1]\"")]);
        assert_eq!(proxies().client(ip("127.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_reads_for_with_quoted_ipv6_ports_and_case() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        let h = headers(&[(
            "forwarded",
            "for=203.0.113.66;proto=http, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
        )]);
        assert_eq!(p.client(peer, &h), ip("2001:db8:cafe::17"));
        let h = headers(&[
            ("forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43"),
            ("forwarded", "for=\"198.51.100.4:8080\", for=10.0.0.2"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.4"));
        // Quoted values may hold separators.
        let h = headers(&[("forwarded", "by=\"a,b;c\";for=198.51.100.4")]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.4"));
        let h = headers(&[("forwarded", "for=\"[2001:db8:cafe::17]\"")]);
        assert_eq!(p.client(peer, &h), ip("2001:db8:cafe::17"));
    }

    #[test]
    fn unknown_and_obfuscated_hops_stop_the_walk() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        for h in [
            headers(&[("forwarded", "for=198.51.100.4, for=unknown")]),
            headers(&[("forwarded", "for=198.51.100.4, for=_hidden, for=10.0.0.1")]),
            headers(&[("forwarded", "for=198.51.100.4, proto=https")]),
            headers(&[("x-forwarded-for", "198.51.100.4, unknown")]),
            headers(&[("x-forwarded-for", "198.51.100.4,,10.0.0.1")]),
        ] {
            assert_eq!(p.client(peer, &h), peer, "{h:?}");
        }
    }

    #[test]
    fn a_client_cannot_swallow_the_element_its_proxy_appends() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        // The proxy appends `, for=<real address>` to the client's own line: a quote the
        // client left open must not swallow it.
        for forged in [
            "for=9.9.9.9;by=\"_x, for=198.51.100.2",
            "for=9.9.9.9;by=\"_x\\\", for=198.51.100.2",
            "for=\"9.9.9.9, for=198.51.100.2",
            "for=9.9.9.9;for=8.8.8.8, for=198.51.100.2",
            "for=9.9.9.9\"x, for=198.51.100.2",
        ] {
            let h = headers(&[("forwarded", forged)]);
            let client = p.client(peer, &h);
            assert_ne!(client, ip("9.9.9.9"), "{forged}");
            assert_ne!(client, ip("8.8.8.8"), "{forged}");
        }
        // On a line of its own, the proxy's element still wins.
        let h = headers(&[
            ("forwarded", "for=9.9.9.9;by=\"_x"),
            ("forwarded", "for=198.51.100.2"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.2"));
    }

    #[test]
    fn a_non_ascii_byte_spoils_only_its_own_x_forwarded_for_element() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        // nginx's `$proxy_add_x_forwarded_for` appends `, <real>` to the client's line,
        // whatever bytes the client sent: the real address is still read.
        for sent in [&b"\xff"[..], b"9.9.9.9\xfe", b"\xc3\x28, 8.8.8.8\x80"] {
            let mut line = sent.to_vec();
            line.extend_from_slice(b", 198.51.100.2");
            let mut h = HeaderMap::new();
            h.append(X_FORWARDED_FOR, HeaderValue::from_bytes(&line).unwrap());
            assert_eq!(p.client(peer, &h), ip("198.51.100.2"), "{line:?}");
        }
        // The spoiled element still stops a walk that reaches it.
        let mut h = HeaderMap::new();
        h.append(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"198.51.100.2, \xff, 10.0.0.9").unwrap(),
        );
        assert_eq!(p.client(peer, &h), peer);
    }

    #[test]
    fn ipv4_with_an_obfuscated_port_is_an_address() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        let h = headers(&[("forwarded", "for=\"192.0.2.43:_abc\"")]);
        assert_eq!(p.client(peer, &h), ip("192.0.2.43"));
        let h = headers(&[("forwarded", "for=\"[2001:db8::9]:_abc\"")]);
        assert_eq!(p.client(peer, &h), ip("2001:db8::9"));
    }

    #[test]
    fn both_headers_must_agree() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        let h = headers(&[
            ("forwarded", "for=198.51.100.4"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.4"));
        let h = headers(&[
            ("forwarded", "for=203.0.113.66"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(p.client(peer, &h), peer);
        let h = headers(&[
            ("forwarded", "for=unknown"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(p.client(peer, &h), peer);
    }

    #[test]
    fn garbage_never_panics() {
        let p = proxies();
        let peer = ip("127.0.0.1");
        for v in [
            "",
            ",",
            "\"",
            "for=",
            "for=\"",
            "for=\"[",
            "for=\"[]\"",
            "for=\"[::1\"",
            "for=[2001:db8::1]x",
            "for=\"\\\"",
            "=;=;,,;",
            "for=198.51.100.4;for=203.0.113.1",
            "for=ünïcödé",
            "for=\"[2001:db8::1]:_port\"",
        ] {
            let h = headers(&[("forwarded", v), ("x-forwarded-for", v)]);
            let _ = p.client(peer, &h);
            let h = headers(&[("forwarded", v)]);
            let _ = p.client(peer, &h);
        }
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"198.51.100.4\xff").unwrap(),
        );
        assert_eq!(p.client(peer, &h), peer);
        assert_eq!(
            node_addr("[2001:db8::1]:_port"),
            Some(ip("2001:db8::1")),
            "an obfuscated port keeps the address"
        );
    }
}
