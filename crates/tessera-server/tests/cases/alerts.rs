//! `deploy/prometheus-alerts.yml`: Prometheus accepts it, and every metric it watches is one
//! the server exports (an alert on a misspelt metric never fires).

use std::collections::BTreeSet;
use std::process::Command;

const RULES: &str = include_str!("../../../../deploy/prometheus-alerts.yml");
/// Where the server names its metrics.
const SOURCES: [&str; 2] = [
    include_str!("../../src/app_metrics.rs"),
    include_str!("../../src/http/routes/prometheus.rs"),
];

/// Every `tessera_…` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.starts_with("tessera_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_the_alert_rules_watch_is_exported() {
    let exported: BTreeSet<String> = SOURCES
        .iter()
        .flat_map(|s| s.split('"'))
        .filter(|t| t.starts_with("tessera_"))
        .map(str::to_owned)
        .collect();
    let watched = metric_names(RULES);
    assert!(watched.len() >= 8, "{watched:?}");
    for name in &watched {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            exported.contains(base),
            "the alert rules watch {name}, which the server does not export ({exported:?})"
        );
    }
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let Ok(out) = Command::new("promtool")
        .args([
            "check",
            "rules",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../deploy/prometheus-alerts.yml"
            ),
        ])
        .output()
    else {
        tessera_testkit::services::missing("promtool (apt-get install prometheus)");
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
