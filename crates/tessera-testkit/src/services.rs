//! What a test does when a service it needs is missing.

use std::io::Write;

/// Env var that turns "service missing" from a loud skip into a failure.
pub const REQUIRE_SERVICES: &str = "TESSERA_REQUIRE_SERVICES";

/// Whether missing services must fail the tests.
pub fn required() -> bool {
    std::env::var(REQUIRE_SERVICES).as_deref() == Ok("1")
}

/// Reports that `what` is missing: panics when services are required, otherwise prints a
/// loud banner straight to stderr (past the test harness's capture), once per `what`.
pub fn missing(what: &str) {
    if required() {
        panic!("{what} is not available but {REQUIRE_SERVICES}=1");
    }
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.iter().any(|w| w == what) {
        warned.push(what.to_owned());
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPING TESTS THAT NEED {what}: not available \
             (set {REQUIRE_SERVICES}=1 to make this a failure) !!!!!!!!\n"
        );
    }
}
