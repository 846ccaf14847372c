#![allow(clippy::unwrap_used)]
use super::*;

fn sample() -> [u8; 32] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
}

#[test]
fn sealed_keys_open_only_with_their_master_key_and_label() {
    let k = MasterKey::from_bytes(sample());
    let s = k.seal("signing:abc", b"secret material");
    assert_eq!(k.open("signing:abc", &s).unwrap(), b"secret material");
    assert_eq!(k.open("signing:other", &s), Err(UnsealError), "moved row");
    assert_eq!(
        MasterKey::generate().open("signing:abc", &s),
        Err(UnsealError),
        "wrong master key"
    );
    assert_eq!(k.open("signing:abc", "garbage"), Err(UnsealError));
    let mut tampered = URL_SAFE_NO_PAD.decode(&s).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        k.open("signing:abc", &URL_SAFE_NO_PAD.encode(tampered)),
        Err(UnsealError)
    );
    assert_ne!(k.seal("x", b"y"), k.seal("x", b"y"), "random nonces");
    assert!(!s.contains(&URL_SAFE_NO_PAD.encode(b"secret material")));
}

#[test]
fn the_documented_encoding_round_trips_and_standard_base64_is_accepted() {
    let k = MasterKey::generate();
    let text = k.encode();
    assert_eq!(text.len(), 43);
    assert_eq!(
        MasterKey::parse(&format!("  {text}\n")).unwrap().id(),
        k.id()
    );
    let standard = STANDARD.encode(sample());
    assert!(standard.ends_with('='));
    assert_eq!(
        MasterKey::parse(&standard).unwrap().id(),
        MasterKey::from_bytes(sample()).id()
    );
}

#[test]
fn weak_or_malformed_master_keys_are_refused_with_the_reason() {
    assert_eq!(
        MasterKey::parse("not base64 at all!").unwrap_err(),
        MasterKeyFormatError::NotBase64
    );
    assert_eq!(
        MasterKey::parse(&URL_SAFE_NO_PAD.encode([9u8; 16])).unwrap_err(),
        MasterKeyFormatError::Length(16)
    );
    assert_eq!(
        MasterKey::parse("hunter22").unwrap_err(),
        MasterKeyFormatError::Length(6)
    );
    assert_eq!(
        MasterKey::parse(&URL_SAFE_NO_PAD.encode([0u8; 32])).unwrap_err(),
        MasterKeyFormatError::NotRandom(1)
    );
    // A passphrase of 32 characters, encoded: many distinct bytes, none of them random.
    assert_eq!(
        MasterKey::parse(&URL_SAFE_NO_PAD.encode(b"correct horse battery staple 42!")).unwrap_err(),
        MasterKeyFormatError::Printable
    );
    let msg = MasterKeyFormatError::Length(16).to_string();
    assert!(msg.contains("exactly 32 random bytes"), "{msg}");
}

#[test]
fn ids_name_the_key_without_being_it() {
    let k = MasterKey::from_bytes(sample());
    assert_eq!(k.id(), MasterKey::from_bytes(sample()).id());
    assert_eq!(k.id().len(), 16);
    assert_ne!(k.id(), MasterKey::generate().id());
    assert_ne!(
        k.id(),
        crate::mfa::DataKey::from_bytes(sample()).id(),
        "not the data key's label"
    );
    assert_eq!(format!("{k:?}"), "MasterKey(..)");
}

#[test]
fn the_generated_key_is_private_and_created_once() {
    let dir = tempfile::tempdir().unwrap();
    assert!(MasterKey::read_generated(dir.path()).unwrap().is_none());
    let a = MasterKey::generate_into(dir.path()).unwrap();
    let b = MasterKey::generate_into(dir.path()).unwrap();
    assert_eq!(a.id(), b.id(), "an existing file is read, not replaced");
    assert_eq!(
        MasterKey::read_generated(dir.path()).unwrap().unwrap().id(),
        a.id()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(MasterKey::generated_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(dir.path().join("bad.key"), "short").unwrap();
    let e = MasterKey::read_file(&dir.path().join("bad.key")).unwrap_err();
    assert!(e.to_string().contains("bad.key"), "{e}");
}

/// Many processes generating at once on one data directory all end with the one key that
/// landed, and none of them ever reads a half-written file.
#[test]
fn concurrent_generation_ends_with_one_whole_key() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| MasterKey::generate_into(dir.path()).map(|k| k.id())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }
}
