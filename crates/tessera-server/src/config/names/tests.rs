//! The table of names, the [`RawConfig`] fields, the loader and the documentation agree.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::collections::BTreeSet;

use super::*;
use crate::config::RawConfig;

/// The fields of [`RawConfig`], from its serialized form (every field, `None` included).
fn raw_fields(raw: &RawConfig) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(raw).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("RawConfig serializes as a map, not {other}"),
    }
}

/// A value of the right type for field `key`, holding `marker` when the field is text.
fn sample(key: &str, marker: &str) -> serde_json::Value {
    for candidate in [
        serde_json::Value::from(marker),
        serde_json::Value::from(7),
        serde_json::Value::from(true),
    ] {
        let one = serde_json::json!({ key: candidate.clone() });
        if serde_json::from_value::<RawConfig>(one).is_ok() {
            return candidate;
        }
    }
    panic!("no sample value fits {key}");
}

#[test]
fn every_raw_config_field_has_exactly_one_entry() {
    let fields: BTreeSet<String> = raw_fields(&RawConfig::default())
        .keys()
        .filter(|k| !SECTIONS.contains(&k.as_str()))
        .cloned()
        .collect();
    let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
    let unique: BTreeSet<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(unique.len(), keys.len(), "a key is listed twice: {keys:?}");
    assert_eq!(fields, unique, "RawConfig fields and SETTINGS differ");
    let envs: BTreeSet<String> = SETTINGS.iter().map(|s| s.env.to_owned()).collect();
    assert_eq!(envs.len(), SETTINGS.len(), "an env name is listed twice");
    for s in SETTINGS {
        match s.prefixed_name() {
            Some(rest) => assert_eq!(rest.to_ascii_lowercase(), s.key, "{s:?}"),
            None => assert_eq!(s.env.to_ascii_lowercase(), s.key, "{s:?}"),
        }
        assert!(!PLANNED.contains(&s.env), "{} is built, not planned", s.env);
        assert_eq!(by_env(&s.env.to_ascii_lowercase()), Some(s));
        assert_eq!(by_key(s.key), Some(s));
    }
}

#[test]
fn debug_shows_every_field_and_redacts_every_secret() {
    let mut all = serde_json::Map::new();
    for s in SETTINGS {
        all.insert(
            s.key.to_owned(),
            sample(s.key, &format!("marker-{}-hunter2", s.key)),
        );
    }
    let raw: RawConfig = serde_json::from_value(serde_json::Value::Object(all.clone())).unwrap();
    assert!(
        raw_fields(&raw)
            .iter()
            .all(|(k, v)| !v.is_null() || SECTIONS.contains(&k.as_str())),
        "every field set"
    );
    let shown = format!("{raw:?}");
    for s in SETTINGS {
        assert!(
            shown.contains(&format!("{}: ", s.key)),
            "{} missing: {shown}",
            s.key
        );
        let marker = format!("marker-{}-hunter2", s.key);
        if s.secret {
            assert!(!shown.contains(&marker), "{} shown: {shown}", s.key);
        } else if all[s.key].is_string() {
            assert!(shown.contains(&marker), "{} hidden: {shown}", s.key);
        }
    }
}

#[test]
fn each_environment_name_reaches_its_field_and_only_it() {
    for s in SETTINGS {
        // One jail per name: it restores the environment when it ends.
        figment::Jail::expect_with(|jail| {
            // Whatever the test's own environment holds (DATABASE_URL…).
            let baseline = raw_fields(&RawConfig::load(None).unwrap());
            let (value, expected) = match sample(s.key, "from-env") {
                serde_json::Value::String(text) => (text.clone(), serde_json::Value::from(text)),
                other => (other.to_string(), other),
            };
            jail.set_env(s.env, &value);
            let loaded = raw_fields(&RawConfig::load(None).unwrap());
            assert_eq!(
                loaded[s.key], expected,
                "{} does not reach {}",
                s.env, s.key
            );
            for (key, v) in &loaded {
                if key != s.key {
                    assert_eq!(v, &baseline[key], "{} changed {key}", s.env);
                }
            }
            assert!(
                !RawConfig::unknown_env_keys().contains(&s.key.to_owned()),
                "{} is named as unknown",
                s.env
            );
            Ok(())
        });
    }
}

#[test]
fn unknown_and_bare_prefixed_names_are_not_read_and_are_named_as_unknown() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TESSERA_WEBAUTHN_RP_NAME", "example.com");
        jail.set_env("TESSERA_DATABASE_URL", "postgres://x:hunter2@db/x");
        jail.set_env("TESSERA_CONFIG_FILE", "x");
        let baseline_url = std::env::var("DATABASE_URL").ok();
        let raw = RawConfig::load(None).unwrap();
        assert_eq!(raw.database_url, baseline_url);
        let unknown = RawConfig::unknown_env_keys();
        for k in ["webauthn_rp_name", "database_url", "config_file"] {
            assert!(unknown.contains(&k.to_owned()), "{k}: {unknown:?}");
        }
        assert!(!unknown.contains(&"config".to_owned()));
        Ok(())
    });
}

/// The backticked words of the first `columns` columns of each table row of `section`.
fn table_names(doc: &str, section: &str, columns: usize) -> Vec<Vec<String>> {
    let start = doc
        .find(section)
        .unwrap_or_else(|| panic!("no {section:?}"));
    let body = &doc[start + section.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    body.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            row.split('|')
                .skip(1)
                .take(columns)
                .flat_map(|cell| {
                    cell.split('`')
                        .skip(1)
                        .step_by(2)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_documents_every_setting_by_both_names_and_nothing_else() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let documented: BTreeSet<(String, String)> = table_names(&readme, "\n## Configuration\n", 2)
        .into_iter()
        .map(|words| {
            let env: Vec<&String> = words
                .iter()
                .filter(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                .collect();
            let key: Vec<&String> = words
                .iter()
                .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .collect();
            assert!(env.len() == 1 && key.len() == 1, "row {words:?}");
            (env[0].clone(), key[0].clone())
        })
        .collect();
    let table: BTreeSet<(String, String)> = SETTINGS
        .iter()
        .map(|s| (s.env.to_owned(), s.key.to_owned()))
        .collect();
    assert_eq!(
        documented, table,
        "README \"Configuration\" and SETTINGS differ"
    );
}

#[test]
fn every_name_of_the_contract_is_a_setting_or_planned() {
    let contract = include_str!("api-configuration.md");
    let names: BTreeSet<String> = table_names(contract, "## Configuration — fixed names", 1)
        .into_iter()
        .flatten()
        .collect();
    assert!(names.len() > 20, "{names:?}");
    for name in &names {
        assert!(
            by_env(name).is_some()
                || PLANNED.contains(&name.as_str())
                || SECTION_ENV.contains(&name.as_str()),
            "{name} (API.md) is neither in SETTINGS nor in PLANNED"
        );
    }
    for planned in PLANNED {
        assert!(names.contains(*planned), "{planned} is not in API.md");
    }
}
