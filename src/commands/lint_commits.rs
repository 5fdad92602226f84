//! `sole lint-commits`: services must not commit.
//!
//! Walks every `.rs` file under `--path` (default `src/services`) in file-name order, parses it
//! with syn and reports each unannotated commit as `file:line: source`. Exit codes: 0 clean,
//! 1 unauthorized commits, 2 the check could not run (missing directory, unreadable or
//! unparsable file).

pub mod scan;

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::cli::LintCommitsArgs;
use crate::commands::Reported;

use self::scan::Finding;

/// The directory checked when `--path` is not given (relative to the working directory).
pub const DEFAULT_DIR: &str = "src/services";

const HINT: &str = "Services take &mut PgConnection and never commit; the handler owns the \
                    single commit. Add '// commit-ok: <reason>' if intentional.";

/// The result of checking a directory.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `.rs` files read and parsed.
    pub files_checked: usize,
    /// Unannotated commits, by file then line.
    pub findings: Vec<(PathBuf, Finding)>,
    /// Files that could not be read or parsed, as `file[:line:col]: reason` lines.
    pub failures: Vec<String>,
}

pub fn run(args: &LintCommitsArgs) -> anyhow::Result<()> {
    let dir = args.path.as_path();
    check_dir_exists(dir)?;
    let outcome = lint_dir(dir);

    if !outcome.findings.is_empty() {
        println!("ERROR: Unauthorized commit in services:");
        for (file, finding) in &outcome.findings {
            println!("{}:{}: {}", file.display(), finding.line, finding.text);
        }
        println!("{HINT}");
    }
    if !outcome.failures.is_empty() {
        for failure in &outcome.failures {
            eprintln!("error: {failure}");
        }
        return Err(Reported::new(
            2,
            format!(
                "{} file(s) under {} could not be checked",
                outcome.failures.len(),
                dir.display()
            ),
        )
        .into());
    }
    if !outcome.findings.is_empty() {
        return Err(Reported::new(1, String::new()).into());
    }
    println!(
        "No unauthorized commit in services ({} files checked)",
        outcome.files_checked
    );
    Ok(())
}

fn check_dir_exists(dir: &Path) -> Result<(), Reported> {
    if dir.is_dir() {
        return Ok(());
    }
    let message = if dir.exists() {
        format!("{} is not a directory", dir.display())
    } else if dir == Path::new(DEFAULT_DIR) {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "the working directory".to_owned());
        format!(
            "directory {DEFAULT_DIR} not found in {cwd}: run lint-commits from the repository \
             root, or pass --path DIR"
        )
    } else {
        format!("directory {} not found", dir.display())
    };
    Err(Reported::new(2, message))
}

/// Checks every `.rs` file under `dir`, in file-name order, without stopping at failures.
pub fn lint_dir(dir: &Path) -> Outcome {
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
        match scan::scan_source(&source) {
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
