//! The panic hook `sole` installs with its logger: a panic in a background task of a real
//! process is one structured JSON line on stdout, its text escaped, and nothing raw on stderr.
//!
//! The process is this test binary run again (the `SOLE_PANIC_HOOK_CHILD` variable makes the
//! test act as the child), so no panic trigger exists in the `sole` binary itself.

use std::process::Command;

const CHILD: &str = "SOLE_PANIC_HOOK_CHILD";
/// Quotes, a newline and a forged log line: what an attacker-controlled value in a panic
/// message could carry.
const PAYLOAD: &str = "bad input \"x\"\n{\"severity\":\"INFO\",\"message\":\"forged\"}";

/// The child: installs the logger as `sole serve` does, then panics in a spawned task.
fn child() {
    sole::telemetry::init("info", sole::config::LogFormat::Json, None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let joined = runtime.block_on(async {
        tokio::spawn(async {
            let input = String::from(PAYLOAD);
            panic!("{input}");
        })
        .await
    });
    assert!(joined.unwrap_err().is_panic());
}

#[test]
fn a_panic_is_one_escaped_json_line_through_the_logger_and_nothing_raw_on_stderr() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panic_hook::a_panic_is_one_escaped_json_line_through_the_logger_and_nothing_raw_on_stderr",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test: {stdout}"
    );
    assert!(
        !stderr.contains("panicked at") && !stderr.contains("forged"),
        "raw panic text on stderr: {stderr}"
    );
    let panics: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.contains("forged"))
        // libtest's "test … " prefix may share the line: the logger's line starts at `{`.
        .map(|l| &l[l.find('{').unwrap_or(0)..])
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(panics.len(), 1, "one line for one panic: {stdout}");
    let line = &panics[0];
    assert_eq!(line["severity"], "ERROR", "{line}");
    assert_eq!(line["message"], "panic", "{line}");
    assert_eq!(line["logger"], "panic", "{line}");
    assert_eq!(line["panic_message"], PAYLOAD, "{line}");
    assert!(
        line["panic_location"]
            .as_str()
            .unwrap()
            .contains("panic_hook.rs"),
        "{line}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.starts_with("{\"severity\":\"INFO\",\"message\":\"forged\"")),
        "the payload forged a log line: {stdout}"
    );
}
