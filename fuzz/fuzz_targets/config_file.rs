//! The configuration file parser: the TOML text (`RawConfig::from_toml`, the file layer of
//! `RawConfig::load` without the environment), then validation (`Settings::from_raw`) and
//! the effective configuration `tessera config check` prints (`Effective`).
//!
//! Besides "no panic": what `config check` prints is itself a configuration file that reads
//! back (its doc promises so), and reads back to the same effective configuration once the
//! redacted secrets are put back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_server::config::effective::REDACTED;
use tessera_server::config::{Effective, RawConfig, Settings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut raw) = RawConfig::from_toml(text) else {
        return;
    };
    // The one file validation reads; a fuzzer must not make it read /dev/zero.
    raw.redis_ca_file = None;
    let _ = format!("{raw:?}");
    let Ok(settings) = Settings::from_raw(raw, false) else {
        return;
    };
    let _ = format!("{settings:?}");
    let effective = Effective::of(&settings, None);
    let printed = effective.to_string();
    let reread = match RawConfig::from_toml(&printed) {
        Ok(reread) => reread,
        Err(e) => panic!("`config check` output does not read back: {e}\n{printed}"),
    };
    // Secrets are printed redacted (whole, or the password of a URL, the secret of a
    // client): only a configuration without one reads back to itself.
    if printed.contains(REDACTED) {
        return;
    }
    let again = match Settings::from_raw(reread, false) {
        Ok(again) => again,
        Err(e) => panic!("`config check` output is not valid: {e}\n{printed}"),
    };
    let printed_again = Effective::of(&again, None).to_string();
    assert_eq!(printed, printed_again, "input:\n{text}");
});
