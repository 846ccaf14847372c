//! The refresh-token parser (`tessera_core::refresh::RefreshToken::parse` / `route`).
//!
//! Every input is used twice:
//! 1. as token text: no panic; a token that parses is written back exactly as it was read,
//!    and its routing ids are the ones `route` reads without the key;
//! 2. as a recipe: a tagged token (or its successor) built with the fixture key, then edited.
//!    The token itself parses back to itself; an edited one never parses with a generation
//!    (its tag cannot verify) unless the edit changed nothing.
#![no_main]

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_core::ids::{SessionId, UserId};
use tessera_core::refresh::{MAX_ENCODED_LEN, RefreshToken, RefreshTokenError, SuccessorSeed};
use tessera_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    as_text(&String::from_utf8_lossy(data));
    let _ = as_recipe(&mut Unstructured::new(data));
});

fn as_text(s: &str) {
    let key = &fixture().refresh;
    let parsed = RefreshToken::parse(s, key);
    let route = RefreshToken::route(s);
    match &parsed {
        Ok(token) => {
            assert_eq!(token.encode(), s, "a parsed token is written back as read");
            assert_eq!(route, Ok((token.user(), token.session())));
            let next = token.successor(key, &SuccessorSeed([7; 16]));
            assert_eq!(next.generation(), Some(token.successor_generation()));
            assert_eq!(RefreshToken::parse(&next.encode(), key).as_ref(), Ok(&next));
        }
        // A well-formed token whose tag fails still has routing ids.
        Err(RefreshTokenError::BadTag) => assert!(route.is_ok()),
        Err(RefreshTokenError::Malformed) => assert!(route.is_err()),
    }
    if s.len() > MAX_ENCODED_LEN {
        assert_eq!(parsed, Err(RefreshTokenError::Malformed));
    }
}

fn as_recipe(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let key = &fixture().refresh;
    let user = UserId::from_bytes(u.arbitrary()?);
    let session = SessionId::from_bytes(u.arbitrary()?);
    let mut token = RefreshToken::generate(user, session, key);
    for _ in 0..u.int_in_range(0..=3)? {
        token = token.successor(key, &SuccessorSeed(u.arbitrary()?));
    }
    let original = token.encode();
    assert_eq!(RefreshToken::parse(&original, key).as_ref(), Ok(&token));

    let mut edited = original.clone().into_bytes();
    for _ in 0..u.int_in_range(1..=3)? {
        let at = usize::from(u.arbitrary::<u8>()?) % (edited.len() + 1);
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
    if edited != original
        && let Ok(parsed) = RefreshToken::parse(&edited, key)
    {
        assert_eq!(
            parsed.generation(),
            None,
            "an edited token verified: {edited:?}"
        );
    }
    Ok(())
}
