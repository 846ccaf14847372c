//! Tests of the `redis+sentinel://` URL parser.

use super::*;

#[test]
fn parses_sentinels_master_credentials_and_db() {
    let u =
        SentinelUrl::parse("redis+sentinel://alice:p%40ss@10.0.0.1:26380,s2,[::1]:5000/mymaster/3")
            .unwrap();
    assert_eq!(
        u.sentinels,
        vec![
            ("10.0.0.1".to_owned(), 26380),
            ("s2".to_owned(), 26379),
            ("::1".to_owned(), 5000)
        ]
    );
    assert_eq!(u.master_name, "mymaster");
    assert_eq!(u.username.as_deref(), Some("alice"));
    assert_eq!(u.password.as_deref(), Some("p@ss"));
    assert_eq!(u.db, 3);
    let dbg = format!("{u:?}");
    assert!(!dbg.contains("p@ss") && !dbg.contains("p%40ss"), "{dbg}");

    let u = SentinelUrl::parse("REDIS+SENTINEL://:secret@h:1/m").unwrap();
    assert_eq!(
        (u.username, u.password.as_deref(), u.db),
        (None, Some("secret"), 0)
    );
}

#[test]
fn refuses_what_it_cannot_honour_without_echoing_the_password() {
    for bad in [
        "redis://h:1/m",
        "redis+sentinel://h:1",
        "redis+sentinel://h:1/",
        "redis+sentinel://h:x/m",
        "redis+sentinel://h:1,/m",
        "redis+sentinel://u:hunter2@h:1/m?tls=true",
        "redis+sentinel://u:hunter2@h:1/m/x",
        "redis+sentinel://u:hunter2@h:1/m/1/2",
        "redis+sentinel://u:hunter2%zz@h:1/m",
    ] {
        let e = SentinelUrl::parse(bad).expect_err(bad);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
