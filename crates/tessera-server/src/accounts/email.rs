//! Email addresses.

/// A syntactically plausible, normalised address: trimmed and lower-cased, so that one
/// mailbox is one account whatever case it is typed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Normalises and checks `raw`: one `@`, a non-empty local part of at most 64 bytes, a
    /// domain with a dot and no empty labels, at most 254 bytes, no spaces or control
    /// characters. Deliberately simple: the address is proven by mail, not by a regex.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim().to_lowercase();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (local, domain) = s.split_once('@')?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return None;
        }
        if !domain.contains('.') || domain.split('.').any(|l| l.is_empty() || l.len() > 63) {
            return None;
        }
        if domain.starts_with('-')
            || domain
                .chars()
                .any(|c| !(c.is_alphanumeric() || c == '.' || c == '-'))
        {
            return None;
        }
        Some(Self(s))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Alice@Example.ORG ").map(|e| e.0),
            Some("alice@example.org".into())
        );
    }

    #[test]
    fn implausible_addresses_are_refused() {
        for bad in [
            "",
            "not-an-email",
            "a@b",
            "@example.org",
            "a@@example.org",
            "a b@example.org",
            "a@example..org",
            "a@exa mple.org",
            "a@exam\u{7}ple.org",
            "a@-x.org",
            "a@ex_ample.org",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.org", "a".repeat(65))).is_none());
    }
}
