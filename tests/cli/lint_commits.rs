//! `sole lint-commits` end to end: the built binary on one fixture directory per scenario
//! (tests/fixtures/lint/<scenario>/), checking exit codes and the exact `file:line:` lines, for
//! the commit rule (`--path`) and the route no-SQL rule (`--routes`).

use std::path::Path;
use std::process::{Command, Output};

const HEADER: &str = "ERROR: Unauthorized commit in services:";
const HINT: &str = "Services take &mut PgConnection and never commit; the handler owns the single \
                    commit. Add '// commit-ok: <reason>' if intentional.";

const SQL_HEADER: &str = "ERROR: SQL in route handlers:";
const SQL_HINT: &str = "Rule: route handlers run no SQL (DESIGN.md §6). Move the statement into a \
                        service under src/services (a function taking &mut PgConnection) and call \
                        it from the handler; only routes/health.rs keeps its probe.";

fn sole_in(cwd: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sole"))
        .current_dir(cwd)
        .env_remove("CONFIG_FILE")
        .args(["--no-dotenv", "lint-commits"])
        .args(extra)
        .output()
        .expect("run sole")
}

/// Runs the lint on `tests/fixtures/lint/<scenario>` from the package root.
fn lint(scenario: &str) -> Output {
    let dir = format!("tests/fixtures/lint/{scenario}");
    sole_in(Path::new(env!("CARGO_MANIFEST_DIR")), &["--path", &dir])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit 1 and exactly `expected` finding lines between the header and the hint.
fn assert_findings(scenario: &str, expected: &[&str]) {
    let out = lint(scenario);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    let mut want = vec![HEADER.to_owned()];
    want.extend(
        expected
            .iter()
            .map(|line| format!("tests/fixtures/lint/{scenario}/{line}")),
    );
    want.push(HINT.to_owned());
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got, want);
    assert_eq!(stderr(&out), "");
}

fn assert_clean(scenario: &str, files: usize) {
    let out = lint(scenario);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        format!("No unauthorized commit in services ({files} files checked)\n")
    );
}

#[test]
fn clean_code_mentioning_commit_passes() {
    assert_clean("clean", 1);
}

#[test]
fn annotated_commit_with_reason_passes() {
    assert_clean("annotated", 1);
}

#[test]
fn unannotated_method_commit_fails() {
    assert_findings("unannotated", &["service.rs:6: tx.commit().await?;"]);
}

#[test]
fn commit_ok_without_reason_is_flagged() {
    assert_findings(
        "empty_reason",
        &[
            "service.rs:5: tx.commit().await?; // commit-ok:",
            "service.rs:7: tx2.commit().await?; // commit-ok:",
        ],
    );
}

#[test]
fn transaction_commit_path_calls_are_flagged() {
    assert_findings(
        "path_call",
        &[
            "service.rs:5: Transaction::commit(tx).await?;",
            "service.rs:7: sqlx::Transaction::<'_, Postgres>::commit(tx).await?;",
        ],
    );
}

#[test]
fn commit_inside_tokio_select_is_flagged() {
    assert_findings(
        "select_macro",
        &["service.rs:8: done = tx.commit() => done?,"],
    );
}

#[test]
fn raw_commit_and_end_sql_literals_are_flagged() {
    assert_findings(
        "raw_sql",
        &[
            "service.rs:5: sqlx::query(\"COMMIT\").execute(&mut *conn).await?;",
            "service.rs:6: sqlx::raw_sql(r#\"end;\"#).execute(&mut *conn).await?;",
        ],
    );
}

#[test]
fn nested_directories_are_walked_in_file_name_order() {
    assert_findings(
        "mixed",
        &[
            "a.rs:2: tx.commit().await.ok();",
            "nested/b.rs:3: let _ = sqlx::query(\"commit work\").fetch_all(&mut *conn).await;",
            "z.rs:2: futures::future::try_join(a, async move { Transaction::commit(tx).await }).await;",
            "z.rs:3: futures::future::ready(tx).then(Transaction::commit);",
        ],
    );
}

#[test]
fn unparsable_files_are_named_with_line_and_exit_2() {
    let out = lint("unparsable");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with("error: tests/fixtures/lint/unparsable/broken_lex.rs:3:"),
        "{err}"
    );
    assert!(
        lines[0].ends_with(": cannot parse: unbalanced delimiter or invalid token"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("error: tests/fixtures/lint/unparsable/broken_syntax.rs:4:"),
        "{err}"
    );
    assert!(lines[1].contains("cannot parse: expected"), "{err}");
    assert_eq!(
        lines[2],
        "error: 2 file(s) under tests/fixtures/lint/unparsable could not be checked"
    );
}

#[test]
fn missing_directory_exits_2() {
    let out = lint("does-not-exist");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: directory tests/fixtures/lint/does-not-exist not found\n"
    );
}

#[test]
fn a_file_is_not_a_directory() {
    let out = lint("clean/service.rs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: tests/fixtures/lint/clean/service.rs is not a directory\n"
    );
}

#[test]
fn missing_default_directory_explains_where_it_looked() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let out = sole_in(cwd.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: directory src/services not found in "),
        "{err}"
    );
    assert!(
        err.contains("run lint-commits from the repository root, or pass --path DIR"),
        "{err}"
    );
}

#[test]
fn the_real_services_directory_is_clean() {
    // No --path: the default src/services, relative to the package root.
    let out = sole_in(Path::new(env!("CARGO_MANIFEST_DIR")), &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    assert!(
        text.starts_with("No unauthorized commit in services (")
            && text.ends_with(" files checked)\n"),
        "{text}"
    );
}

/// Runs the route rule alone on `tests/fixtures/lint/<scenario>` from the package root.
fn lint_routes(scenario: &str) -> Output {
    let dir = format!("tests/fixtures/lint/{scenario}");
    sole_in(Path::new(env!("CARGO_MANIFEST_DIR")), &["--routes", &dir])
}

#[test]
fn sql_in_route_handlers_is_refused_with_file_line_and_rule() {
    let out = lint_routes("routes_sql");
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    let dir = "tests/fixtures/lint/routes_sql";
    let want = [
        SQL_HEADER.to_owned(),
        format!(
            "{dir}/nested/health.rs:2: sqlx::raw_sql in a route handler: \
             let _ = tokio::join!(sqlx::raw_sql(\"SELECT 1\").execute(&mut *conn));"
        ),
        format!(
            "{dir}/users.rs:1: sqlx::query_scalar in a route handler: \
             use sqlx::{{PgConnection, query_scalar}};"
        ),
        format!(
            "{dir}/users.rs:4: sqlx::query in a route handler: \
             sqlx::query(\"DELETE FROM users\").execute(&mut *conn).await?;"
        ),
        format!(
            "{dir}/users.rs:5: sqlx::query_scalar! in a route handler: \
             let _n: i64 = sqlx::query_scalar!(\"SELECT count(*) FROM users\")"
        ),
        format!(
            "{dir}/users.rs:8: sqlx::query_as in a route handler: \
             let _row: (i32,) = ::sqlx::query_as(\"SELECT 1\").fetch_one(&mut *conn).await?;"
        ),
        SQL_HINT.to_owned(),
        "No route file imports another resource's routes (3 files checked)".to_owned(),
    ];
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got, want);
    assert_eq!(stderr(&out), "");
}

#[test]
fn thin_route_handlers_pass() {
    let out = lint_routes("routes_clean");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "No SQL in route handlers (1 files checked)\n\
         No route file imports another resource's routes (1 files checked)\n"
    );
}

#[test]
fn a_route_file_reaching_into_another_resource_is_refused() {
    let out = lint_routes("routes_imports");
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    let dir = "tests/fixtures/lint/routes_imports";
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(
        got[..4],
        [
            "No SQL in route handlers (3 files checked)".to_owned(),
            "ERROR: Route files importing another resource's routes:".to_owned(),
            format!(
                "{dir}/loans/admin/edit.rs:2: reaches into routes::users: \
                 use super::super::super::users::profile_body;"
            ),
            format!(
                "{dir}/users.rs:1: reaches into routes::roles: \
                 use crate::http::routes::roles::role_body;"
            ),
        ]
    );
    assert_eq!(
        got[4],
        format!(
            "{dir}/users.rs:5: reaches into routes::departments: let _ = super::departments::list();"
        )
    );
    assert!(got[5].starts_with("Rule: a resource's route files use no other resource's"));
    assert_eq!(got.len(), 6, "{text}");
}

#[test]
fn both_rules_run_on_the_real_tree_by_default() {
    let out = sole_in(Path::new(env!("CARGO_MANIFEST_DIR")), &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("No unauthorized commit in services ("),
        "{text}"
    );
    assert!(lines[1].starts_with("No SQL in route handlers ("), "{text}");
    assert!(
        lines[2].starts_with("No route file imports another resource's routes ("),
        "{text}"
    );
}

#[test]
fn the_real_routes_directory_has_no_sql() {
    let out = sole_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["--routes", "src/http/routes"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
}
