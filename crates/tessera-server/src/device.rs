//! [`ClientInfo`]: what a request tells about the client device (user agent, address, the
//! name the client gave it), recorded with its session and its security events. Built by the
//! `Client` extractor ([`crate::http::extract::Client::info`]) and read back from session
//! attributes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The longest client-given device name kept.
const MAX_DEVICE_NAME: usize = 64;

/// Device facts recorded with a session at sign-in: parsed once from `User-Agent` (woothee,
/// no data files) plus the name the client gave. Stored as the session's attributes with
/// short keys, since it is kept per live session in the state store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Name the client gave the device (`device_name`), truncated.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// Browser and major version, e.g. `Firefox 128`; empty when unknown.
    #[serde(rename = "b", default, skip_serializing_if = "String::is_empty")]
    pub browser: String,
    /// Operating system, e.g. `Linux`, `iPhone 17.5`; empty when unknown.
    #[serde(rename = "o", default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    /// Device kind: `desktop`, `mobile`, `bot`, `other`.
    #[serde(rename = "k", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Peer address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Authentication methods of the sign-in (RFC 8176), carried into refreshed tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The trusted device the session was opened on (or made trusted by), if any.
    #[serde(rename = "td", default, skip_serializing_if = "Option::is_none")]
    pub trusted_device: Option<String>,
}

impl ClientInfo {
    /// Builds the record, parsing the user agent and truncating the device name.
    pub fn new(user_agent: Option<&str>, ip: Option<IpAddr>, device_name: Option<&str>) -> Self {
        let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
        let (browser, os, kind) = match parsed {
            Some(r) => {
                let major = r.version.split('.').next().unwrap_or("");
                let browser = known(r.name).map(|n| format!("{n} {major}").trim().to_owned());
                let os = known(r.os).map(|o| {
                    let v = r.os_version.as_ref();
                    if known(v).is_some() && !o.contains(v) {
                        format!("{o} {v}")
                    } else {
                        o.to_owned()
                    }
                });
                let kind = match r.category {
                    "pc" => "desktop",
                    "smartphone" | "mobilephone" => "mobile",
                    "crawler" => "bot",
                    _ => "other",
                };
                (
                    browser.unwrap_or_default(),
                    os.unwrap_or_default(),
                    kind.to_owned(),
                )
            }
            None => (String::new(), String::new(), "other".to_owned()),
        };
        Self {
            device_name: device_name
                .map(|s| s.chars().filter(|c| !c.is_control()).collect::<String>())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(MAX_DEVICE_NAME).collect()),
            browser: clean(browser),
            os: clean(os),
            kind,
            ip,
            amr: vec!["pwd".to_owned()],
            trusted_device: None,
        }
    }

    /// The JSON kept with the session in the state store.
    pub fn to_attributes(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads stored attributes back; unknown or corrupt input gives an empty record.
    pub fn from_attributes(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }
}

fn known(s: &str) -> Option<&str> {
    (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then_some(s)
}

fn clean(s: String) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_and_phone_user_agents_are_parsed() {
        let ff = ClientInfo::new(
            Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            None,
            Some(" work laptop "),
        );
        assert_eq!(ff.browser, "Firefox 128");
        assert_eq!(ff.os, "Linux");
        assert_eq!(ff.kind, "desktop");
        assert_eq!(ff.device_name.as_deref(), Some("work laptop"));
        let iphone = ClientInfo::new(
            Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            ),
            None,
            None,
        );
        assert!(iphone.os.starts_with("iPhone"), "{iphone:?}");
        assert_eq!(iphone.kind, "mobile");
        assert!(iphone.browser.starts_with("Safari"), "{iphone:?}");
    }

    #[test]
    fn missing_or_hostile_input_gives_a_bounded_record() {
        let none = ClientInfo::new(None, None, Some("   "));
        assert_eq!(
            (none.browser.as_str(), none.kind.as_str(), none.device_name),
            ("", "other", None)
        );
        let long = ClientInfo::new(Some(&"x".repeat(10_000)), None, Some(&"\u{7}y".repeat(500)));
        assert!(long.to_attributes().len() < 400);
        assert_eq!(ClientInfo::from_attributes(&long.to_attributes()), long);
        assert_eq!(
            ClientInfo::from_attributes("not json"),
            ClientInfo::default()
        );
    }
}
