//! Running gcloud: argument vectors only, output streamed line by line, a spinner per step on a
//! terminal and plain lines elsewhere (CI, pipes).

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::plan::GcloudCall;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Spinner,
    Plain,
}

impl Progress {
    /// A spinner when stderr is a terminal and `CI` is unset.
    pub fn detect() -> Self {
        use std::io::IsTerminal as _;
        if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            Self::Spinner
        } else {
            Self::Plain
        }
    }
}

/// Why a step failed, said in one line.
#[derive(Debug)]
pub struct StepError {
    pub reason: String,
    pub command: Option<String>,
}

/// A gcloud call that did not succeed.
#[derive(Debug)]
pub enum GcloudError {
    Spawn(std::io::Error),
    Status(Option<i32>),
}

impl std::fmt::Display for GcloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn(e) => write!(f, "cannot run gcloud: {e}"),
            Self::Status(Some(code)) => write!(f, "gcloud exited with status {code}"),
            Self::Status(None) => write!(f, "gcloud was killed by a signal"),
        }
    }
}

impl StepError {
    pub fn from_gcloud(err: GcloudError, call: &GcloudCall) -> Self {
        Self {
            reason: err.to_string(),
            command: Some(call.display()),
        }
    }
}

pub struct Runner {
    gcloud: PathBuf,
    progress: Progress,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl Runner {
    pub fn new(gcloud: PathBuf, progress: Progress) -> Self {
        Self {
            gcloud,
            progress,
            bar: std::sync::Mutex::new(None),
        }
    }

    fn command(&self, call: &GcloudCall) -> Command {
        let mut cmd = Command::new(&self.gcloud);
        cmd.args(&call.args)
            .stdin(Stdio::null())
            // Never wait for an answer nobody can give.
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
        cmd
    }

    fn bar(&self) -> Option<ProgressBar> {
        self.bar.lock().ok().and_then(|b| b.clone())
    }

    /// Prints a line without tearing the spinner.
    fn line(&self, to_stderr: bool, text: &str) {
        let print = || {
            if to_stderr {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            } else {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
        };
        match self.bar() {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    pub fn note(&self, text: &str) {
        self.line(false, &format!("    {text}"));
    }

    /// Runs one step between a start and an end line (or a spinner).
    pub fn step(
        &self,
        label: &str,
        what: &str,
        body: impl FnOnce() -> Result<(), StepError>,
    ) -> Result<(), StepError> {
        let started = Instant::now();
        match self.progress {
            Progress::Plain => println!("==> {label}: {what}"),
            Progress::Spinner => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{label}: {what}"));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut slot) = self.bar.lock() {
                    *slot = Some(bar);
                }
            }
        }
        let result = body();
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
        let secs = started.elapsed().as_secs_f64();
        match &result {
            Ok(()) => println!("<== {label}: ok ({secs:.1}s)"),
            Err(_) => println!("<== {label}: FAILED ({secs:.1}s)"),
        }
        result
    }

    /// Runs a call whose output the user should see as it comes.
    pub fn stream(&self, call: &GcloudCall) -> Result<(), StepError> {
        self.line(false, &format!("$ {}", call.display()));
        let fail = |e: GcloudError| StepError::from_gcloud(e, call);
        let mut child = self
            .command(call)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(GcloudError::Spawn(e)))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        std::thread::scope(|scope| {
            if let Some(out) = stdout {
                scope.spawn(|| self.forward(out, false));
            }
            if let Some(err) = stderr {
                scope.spawn(|| self.forward(err, true));
            }
        });
        let status = child.wait().map_err(|e| fail(GcloudError::Spawn(e)))?;
        if status.success() {
            Ok(())
        } else {
            Err(fail(GcloudError::Status(status.code())))
        }
    }

    fn forward(&self, pipe: impl Read, to_stderr: bool) {
        for line in BufReader::new(pipe).lines() {
            match line {
                Ok(line) => self.line(to_stderr, &line),
                Err(_) => break,
            }
        }
    }

    /// Runs a call (an existence check) and returns its stdout; its output is not shown,
    /// since a failure is an expected answer ("not found").
    pub fn capture_quietly(&self, call: &GcloudCall) -> Result<String, GcloudError> {
        let output = self
            .command(call)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(GcloudError::Spawn)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(GcloudError::Status(output.status.code()))
        }
    }

    /// Runs a call and returns its stdout; stderr is passed through.
    pub fn capture(&self, call: &GcloudCall) -> Result<String, GcloudError> {
        let output = self
            .command(call)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(GcloudError::Spawn)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        for line in stderr.lines() {
            self.line(true, line);
        }
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(GcloudError::Status(output.status.code()))
        }
    }
}
