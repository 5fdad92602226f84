//! `sole lint-commits`: services must not commit, route handlers must not run SQL, and no route
//! file reaches into another resource's routes.
//!
//! The rules, each over every `.rs` file of a directory in file-name order, parsed with syn:
//! - the commit rule (`--path`, default `src/services`) reports each unannotated commit;
//! - the route rules (`--routes`, default `src/http/routes`) report each `sqlx` statement
//!   builder or query macro outside `health.rs` (DESIGN.md §6: SQL lives in services), and each
//!   path from one resource's route files into another's (shared code lives under `src/http/`).
//!
//! Without options all run; `--path` or `--routes` alone runs those rules only. Findings are
//! `file:line: source` lines. Exit codes: 0 clean, 1 findings, 2 a check could not run
//! (missing directory, unreadable or unparsable file).

pub mod imports;
pub mod scan;
pub mod sql;

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::cli::LintCommitsArgs;
use crate::commands::Reported;

use self::scan::Finding;

/// The directory the commit rule checks when `--path` is not given (relative to the working
/// directory).
pub const DEFAULT_DIR: &str = "src/services";
/// The directory the route rule checks when `--routes` is not given.
pub const DEFAULT_ROUTES_DIR: &str = "src/http/routes";
/// The one route file allowed to run a statement: the readiness probe's `SELECT 1`.
pub const SQL_ALLOWED_FILE: &str = "health.rs";

const HINT: &str = "Services take &mut PgConnection and never commit; the handler owns the \
                    single commit. Add '// commit-ok: <reason>' if intentional.";
const SQL_HINT: &str = "Rule: route handlers run no SQL (DESIGN.md §6). Move the statement into a \
                        service under src/services (a function taking &mut PgConnection) and call \
                        it from the handler; only routes/health.rs keeps its probe.";
const IMPORT_HINT: &str = "Rule: a resource's route files use no other resource's route module \
                           (DESIGN.md §6). Move what both need to src/http/ (extractors, \
                           validate/, files.rs) or into a service, and import it from there.";

/// The result of checking a directory.
#[derive(Debug)]
pub struct Outcome<F = Finding> {
    /// `.rs` files read and parsed.
    pub files_checked: usize,
    /// Findings, by file then line.
    pub findings: Vec<(PathBuf, F)>,
    /// Files that could not be read or parsed, as `file[:line:col]: reason` lines.
    pub failures: Vec<String>,
}

impl<F> Default for Outcome<F> {
    fn default() -> Self {
        Self {
            files_checked: 0,
            findings: Vec::new(),
            failures: Vec::new(),
        }
    }
}

pub fn run(args: &LintCommitsArgs) -> anyhow::Result<()> {
    let both = args.path.is_none() && args.routes.is_none();
    let services = args
        .path
        .clone()
        .or_else(|| both.then(|| PathBuf::from(DEFAULT_DIR)));
    let routes = args
        .routes
        .clone()
        .or_else(|| both.then(|| PathBuf::from(DEFAULT_ROUTES_DIR)));

    let mut findings = 0;
    let mut failures = Vec::new();
    if let Some(dir) = &services {
        check_dir_exists(dir, DEFAULT_DIR)?;
        let outcome = lint_dir(dir);
        if outcome.findings.is_empty() {
            if outcome.failures.is_empty() {
                println!(
                    "No unauthorized commit in services ({} files checked)",
                    outcome.files_checked
                );
            }
        } else {
            println!("ERROR: Unauthorized commit in services:");
            for (file, finding) in &outcome.findings {
                println!("{}:{}: {}", file.display(), finding.line, finding.text);
            }
            println!("{HINT}");
        }
        findings += outcome.findings.len();
        failures.push((dir.clone(), outcome.failures));
    }
    if let Some(dir) = &routes {
        check_dir_exists(dir, DEFAULT_ROUTES_DIR)?;
        let outcome = lint_routes(dir);
        if outcome.findings.is_empty() {
            if outcome.failures.is_empty() {
                println!(
                    "No SQL in route handlers ({} files checked)",
                    outcome.files_checked
                );
            }
        } else {
            println!("ERROR: SQL in route handlers:");
            for (file, finding) in &outcome.findings {
                println!(
                    "{}:{}: {} in a route handler: {}",
                    file.display(),
                    finding.line,
                    finding.what,
                    finding.text
                );
            }
            println!("{SQL_HINT}");
        }
        findings += outcome.findings.len();
        failures.push((dir.clone(), outcome.failures));

        let outcome = lint_route_imports(dir);
        if outcome.findings.is_empty() {
            if outcome.failures.is_empty() {
                println!(
                    "No route file imports another resource's routes ({} files checked)",
                    outcome.files_checked
                );
            }
        } else {
            println!("ERROR: Route files importing another resource's routes:");
            for (file, finding) in &outcome.findings {
                println!(
                    "{}:{}: reaches into routes::{}: {}",
                    file.display(),
                    finding.line,
                    finding.resource,
                    finding.text
                );
            }
            println!("{IMPORT_HINT}");
        }
        findings += outcome.findings.len();
        // A file that cannot be parsed was already reported by the SQL rule.
    }

    let mut unchecked = Vec::new();
    for (dir, failures) in &failures {
        for failure in failures {
            eprintln!("error: {failure}");
        }
        if !failures.is_empty() {
            unchecked.push(format!(
                "{} file(s) under {} could not be checked",
                failures.len(),
                dir.display()
            ));
        }
    }
    if !unchecked.is_empty() {
        return Err(Reported::new(2, unchecked.join("; ")).into());
    }
    if findings > 0 {
        return Err(Reported::new(1, String::new()).into());
    }
    Ok(())
}

fn check_dir_exists(dir: &Path, default: &str) -> Result<(), Reported> {
    if dir.is_dir() {
        return Ok(());
    }
    let message = if dir.exists() {
        format!("{} is not a directory", dir.display())
    } else if dir == Path::new(default) {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "the working directory".to_owned());
        format!(
            "directory {default} not found in {cwd}: run lint-commits from the repository \
             root, or pass --path DIR / --routes DIR"
        )
    } else {
        format!("directory {} not found", dir.display())
    };
    Err(Reported::new(2, message))
}

/// The commit rule: checks every `.rs` file under `dir`, in file-name order, without stopping
/// at failures.
pub fn lint_dir(dir: &Path) -> Outcome {
    walk(dir, |_, source| scan::scan_source(source))
}

/// The route rule: every `sqlx` statement builder under `dir`, except in `health.rs` at its
/// top.
pub fn lint_routes(dir: &Path) -> Outcome<sql::Finding> {
    walk(dir, |path, source| {
        let allowed = path
            .strip_prefix(dir)
            .is_ok_and(|rel| rel == Path::new(SQL_ALLOWED_FILE));
        let findings = sql::scan_source(source)?;
        Ok(if allowed { Vec::new() } else { findings })
    })
}

/// The route import rule: every path from one resource's route files into another's.
pub fn lint_route_imports(dir: &Path) -> Outcome<imports::Finding> {
    walk(dir, |path, source| {
        let relative = path.strip_prefix(dir).unwrap_or(path);
        imports::scan_source(relative, source)
    })
}

/// Runs `scan` on every `.rs` file under `dir`, in file-name order, without stopping at
/// failures.
fn walk<F>(dir: &Path, scan: impl Fn(&Path, &str) -> syn::Result<Vec<F>>) -> Outcome<F> {
    let mut outcome = Outcome::default();
    let walk = WalkDir::new(dir).follow_links(true).sort_by_file_name();
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let at = err.path().unwrap_or(dir).display().to_string();
                outcome.failures.push(format!("{at}: cannot read: {err}"));
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(err) => {
                outcome
                    .failures
                    .push(format!("{}: cannot read: {err}", path.display()));
                continue;
            }
        };
        match scan(path, &source) {
            Ok(findings) => {
                outcome.files_checked += 1;
                outcome
                    .findings
                    .extend(findings.into_iter().map(|f| (path.to_path_buf(), f)));
            }
            Err(err) => {
                for e in err {
                    let start = e.span().start();
                    let mut reason = e.to_string();
                    if reason == "cannot parse string into token stream" {
                        // The lexer failed before syn saw the file.
                        reason = "unbalanced delimiter or invalid token".to_owned();
                    }
                    outcome.failures.push(format!(
                        "{}:{}:{}: cannot parse: {reason}",
                        path.display(),
                        start.line,
                        start.column + 1
                    ));
                }
            }
        }
    }
    outcome
}
