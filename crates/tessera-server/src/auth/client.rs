//! What a request tells about the client device.

use std::net::IpAddr;

use serde::Serialize;

/// The longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;
/// The longest client-given device name kept.
const MAX_DEVICE_NAME: usize = 64;

/// Device facts recorded with a session at sign-in.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientInfo {
    /// `User-Agent`, truncated.
    #[serde(rename = "ua", skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Peer address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Name the client gave the device (`device_name`), truncated.
    #[serde(rename = "name", skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

impl ClientInfo {
    /// Builds the record, truncating the free-text fields.
    pub fn new(user_agent: Option<&str>, ip: Option<IpAddr>, device_name: Option<&str>) -> Self {
        Self {
            user_agent: user_agent.map(|s| truncate(s, MAX_USER_AGENT)),
            ip,
            device_name: device_name
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| truncate(s, MAX_DEVICE_NAME)),
        }
    }

    /// The JSON kept with the session in the state store.
    pub fn to_attributes(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].chars().filter(|c| !c.is_control()).collect()
}
