//! Medians over rounds, and ratios to the hello baseline.

use std::collections::BTreeMap;
use std::path::Path;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub(crate) fn print(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut by: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(l)?;
        if v["kind"] == "load" {
            let label = v["label"].as_str().unwrap_or("?").to_owned();
            by.entry(label).or_default().push(v);
        }
    }
    let stat = |rows: &[serde_json::Value], k: &str| {
        median(rows.iter().filter_map(|r| r[k].as_f64()).collect())
    };
    let hello = by.get("hello").map(|r| stat(r, "rps"));
    println!(
        "| scenario | conns | runs | req/s (median) | × hello | p50 ms | p99 ms | errors | req/s per run |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, rows) in &by {
        let rps = stat(rows, "rps");
        let ratio = hello.map_or("–".to_owned(), |h| format!("{:.3}", rps / h));
        let errors: u64 = rows.iter().filter_map(|r| r["errors"].as_u64()).sum();
        let runs: Vec<String> = rows
            .iter()
            .filter_map(|r| r["rps"].as_f64())
            .map(|x| format!("{x:.0}"))
            .collect();
        println!(
            "| {label} | {} | {} | {rps:.0} | {ratio} | {:.2} | {:.2} | {errors} | {} |",
            rows[0]["connections"],
            rows.len(),
            stat(rows, "p50_us") / 1000.0,
            stat(rows, "p99_us") / 1000.0,
            runs.join(" "),
        );
    }
    Ok(())
}
