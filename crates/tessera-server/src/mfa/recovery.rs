//! One-time recovery codes: 10 per enrolment, 80 bits each, shown once, stored as keyed
//! hashes (see [`DataKey::keyed_hash`](super::DataKey::keyed_hash)).

use super::DataKey;

/// How many codes an enrolment gets.
pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i

/// Fresh codes, formatted `xxxx-xxxx-xxxx-xxxx`.
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let mut raw = [0u8; 16];
            rand::fill(&mut raw);
            let chars: Vec<char> = raw
                .iter()
                .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// What a user typed, normalised: lower case, separators and spaces removed.
pub fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether `code` looks like a recovery code at all (16 characters of the alphabet).
pub fn plausible(code: &str) -> bool {
    let n = normalise(code);
    n.len() == 16 && n.bytes().all(|b| ALPHABET.contains(&b))
}

/// The stored hash of a code for a user.
pub fn hash(key: &DataKey, user: &str, code: &str) -> String {
    key.keyed_hash(&[
        b"tessera/recovery-code/v1",
        user.as_bytes(),
        normalise(code).as_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_plausible_and_hash_after_normalising() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        let k = DataKey::from_bytes([3; 32]);
        for c in &codes {
            assert!(plausible(c), "{c}");
            assert_eq!(
                hash(&k, "u", c),
                hash(&k, "u", &c.to_uppercase().replace('-', " "))
            );
            assert_ne!(hash(&k, "u", c), hash(&k, "v", c), "bound to the user");
        }
        assert!(!plausible("123456"));
    }
}
