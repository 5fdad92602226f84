//! Every recorded legacy exchange of the domain contracts is replayed by a test that names it:
//! a sample added to `contract/samples/domain-*.json` without a test fails here, by name.

use std::path::Path;

/// The source of every test file, to look sample names up in.
fn test_sources() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut text = String::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "golden_coverage.rs")
            {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    text
}

#[test]
fn every_domain_sample_is_named_by_a_test() {
    let sources = test_sources();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/contract/samples");
    let mut missing = Vec::new();
    let mut files = 0;
    for file in [
        "domain-stock.json",
        "domain-loans.json",
        "domain-loan-admin.json",
        "domain-documents.json",
    ] {
        let text = std::fs::read_to_string(samples.join(file)).unwrap();
        let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert!(!all.is_empty(), "{file} has no samples");
        files += 1;
        for sample in all {
            let name = sample["name"].as_str().unwrap();
            // As a Rust string literal spells it: quotes and backslashes escaped.
            let literal = serde_json::to_string(name).unwrap();
            if !sources.contains(&literal[1..literal.len() - 1]) {
                missing.push(format!("{file}: {name}"));
            }
        }
    }
    assert_eq!(files, 4);
    assert!(
        missing.is_empty(),
        "{} golden sample(s) no test names:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
