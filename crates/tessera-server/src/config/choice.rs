//! Settings that take one of a fixed set of words, parsed once into a typed value.

/// A value spelled as one of a fixed set of words (`closed`/`open`, `on`/`off`, …).
///
/// [`SPELLINGS`](Self::SPELLINGS) is the single source of the accepted words, of the
/// canonical name printed back ([`name`](Self::name): the first spelling of a value) and of
/// the "expected …" text of the error.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// Every accepted word with its value; the first word of each value is its name.
    const SPELLINGS: &'static [(&'static str, Self)];

    /// Parses `s`, surrounding white space ignored; the words are case-sensitive.
    fn parse_choice(s: &str) -> Result<Self, UnknownChoice> {
        let s = s.trim();
        Self::SPELLINGS
            .iter()
            .find(|(word, _)| *word == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| UnknownChoice {
                value: s.to_owned(),
                expected: Self::expected(),
            })
    }

    /// The canonical word of `self`.
    fn name(self) -> &'static str {
        Self::SPELLINGS
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(word, _)| word)
    }

    /// The canonical words, as an error lists them: `a or b`, `a, b or c`.
    fn expected() -> String {
        let mut names: Vec<&str> = Vec::new();
        for (word, value) in Self::SPELLINGS {
            if Self::SPELLINGS
                .iter()
                .find(|(_, v)| v == value)
                .is_some_and(|(first, _)| first == word)
            {
                names.push(word);
            }
        }
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }
}

/// A word that is not one of a setting's accepted values. Shows as
/// `"<value>": expected <a, b or c>` (the value is quoted; the key is added by
/// [`InvalidSetting`](super::InvalidSetting)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?}: expected {expected}")]
pub struct UnknownChoice {
    /// The word as given, trimmed.
    pub value: String,
    /// The accepted words.
    pub expected: String,
}

/// An on/off switch (`fingerprint`, `rate_limit`). Also accepts `true`/`false`, `1`/`0`
/// and `yes`/`no`, as TOML booleans and numbers arrive as those words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

impl Switch {
    /// `true` for [`Switch::On`].
    pub fn is_on(self) -> bool {
        self == Switch::On
    }

    /// The switch for a boolean.
    pub fn from_bool(on: bool) -> Self {
        if on { Switch::On } else { Switch::Off }
    }
}

impl Choice for Switch {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("on", Switch::On),
        ("off", Switch::Off),
        ("true", Switch::On),
        ("1", Switch::On),
        ("yes", Switch::On),
        ("false", Switch::Off),
        ("0", Switch::Off),
        ("no", Switch::Off),
    ];
}

/// Implements [`FromStr`](std::str::FromStr) and [`Display`](std::fmt::Display) through
/// [`Choice`].
macro_rules! choice_str {
    ($t:ty) => {
        impl ::std::str::FromStr for $t {
            type Err = $crate::config::choice::UnknownChoice;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t as $crate::config::choice::Choice>::parse_choice(s)
            }
        }

        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::config::choice::Choice::name(*self))
            }
        }
    };
}
pub(crate) use choice_str;

choice_str!(Switch);

impl Choice for tessera_store::RevocationMode {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("allowlist", tessera_store::RevocationMode::Allowlist),
        ("denylist", tessera_store::RevocationMode::Denylist),
    ];
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_spelling_parses_and_errors_list_the_canonical_words() {
        for (word, value) in Switch::SPELLINGS {
            assert_eq!(Switch::parse_choice(&format!(" {word} ")).unwrap(), *value);
        }
        assert_eq!(Switch::On.to_string(), "on");
        assert_eq!(Switch::Off.to_string(), "off");
        let err = "maybe".parse::<Switch>().unwrap_err();
        assert_eq!(err.to_string(), "\"maybe\": expected on or off");
        let err = tessera_store::RevocationMode::parse_choice("On").unwrap_err();
        assert_eq!(err.to_string(), "\"On\": expected allowlist or denylist");
    }
}
