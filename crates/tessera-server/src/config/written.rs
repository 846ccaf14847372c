//! [`Written`]: a setting's text as the operator wrote it, typed by what it must parse into.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// The text of a setting that [`Settings::from_raw`](super::Settings::from_raw) parses into
/// a `T` (one of a fixed set of words, a duration…). The raw layer keeps the text, so the
/// error of a bad value is the section's `invalid setting <key>: …` (naming the accepted
/// values), not a deserializer's; the type parameter makes the compiler check that each
/// key is parsed into what it is for.
///
/// Built from a `&str` or `String` (`Some("open".into())`), shown and serialized as the text.
pub struct Written<T> {
    text: String,
    into: PhantomData<fn() -> T>,
}

impl<T> Written<T> {
    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<T> Clone for Written<T> {
    fn clone(&self) -> Self {
        Written::from(self.text.clone())
    }
}

impl<T> PartialEq for Written<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> Eq for Written<T> {}

impl<T> From<String> for Written<T> {
    fn from(text: String) -> Self {
        Written {
            text,
            into: PhantomData,
        }
    }
}

impl<T> From<&str> for Written<T> {
    fn from(text: &str) -> Self {
        Written::from(text.to_owned())
    }
}

impl<T> Deref for Written<T> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl<T> fmt::Debug for Written<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl<T> Serialize for Written<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de, T> Deserialize<'de> for Written<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Written::from)
    }
}
