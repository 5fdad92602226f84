//! `sole release` against a fake `gcloud` (tests/fixtures/fake-gcloud) placed first on PATH: the
//! exact command sequence, stop-on-failure, preflight, dry-run, and that both jobs receive the
//! env file and secrets the service gets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

const SECRETS: &str = "DATABASE_URL=DATABASE_URL:latest,DATABASE_URL_DIRECT=DATABASE_URL_DIRECT:latest,\
REDIS_URL=REDIS_URL:latest,SECRET_KEY=SECRET_KEY:latest,JWT_PRIVATE_KEY=JWT_PRIVATE_KEY:latest,\
JWT_PUBLIC_KEY=JWT_PUBLIC_KEY:latest,SEED_ADMIN_PASSWORD=SEED_ADMIN_PASSWORD:latest,\
SEED_ADMIN_EMAIL=SEED_ADMIN_EMAIL:latest,FERNET_KDF_SALT=FERNET_KDF_SALT:latest";

const IMAGE: &str = "us-central1-docker.pkg.dev/sole-486122/sole-docker/sole-api:0f1e2d3c";

/// A release workspace: the repository's config.prod.yaml and cloudbuild.yaml, a bin/ with
/// the fake gcloud, and the call log.
struct Workspace {
    dir: tempfile::TempDir,
    with_gcloud: bool,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for file in ["config.prod.yaml", "cloudbuild.yaml"] {
            std::fs::copy(Path::new(ROOT).join(file), dir.path().join(file)).unwrap();
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(
            Path::new(ROOT).join("tests/fixtures/fake-gcloud"),
            bin.join("gcloud"),
        )
        .unwrap();
        Self {
            dir,
            with_gcloud: true,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.path().join("gcloud.log")
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        // Without the fake, PATH names only an empty directory: a real gcloud may be installed
        // in /usr/bin and must never run from a test.
        let path = if self.with_gcloud {
            format!("{}:/usr/bin:/bin", self.path().join("bin").display())
        } else {
            self.path().join("empty-bin").display().to_string()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
        cmd.arg("release")
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", path)
            .env("CI", "true")
            .env("PROJECT_ID", "sole-486122")
            .env("FAKE_GCLOUD_LOG", self.log());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Every recorded gcloud call, as argument vectors.
    fn calls(&self) -> Vec<Vec<String>> {
        let Ok(text) = std::fs::read_to_string(self.log()) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| {
                line.split('\x1f')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn auth_list() -> Vec<String> {
    v(&[
        "auth",
        "list",
        "--filter=status:ACTIVE",
        "--format=value(account)",
    ])
}

fn deploy() -> Vec<String> {
    vec![
        "builds".into(),
        "submit".into(),
        "--project=sole-486122".into(),
        "--config=cloudbuild.yaml".into(),
        format!(
            "--substitutions=^|^_SERVICE=sole-api|_REGION=us-central1|_AR_HOST=us-central1-docker.pkg.dev|_RUNTIME_SA={RUNTIME_SA}|_ENV_VARS_FILE=config.prod.yaml|_SECRETS={SECRETS}"
        ),
        ".".into(),
    ]
}

const RUNTIME_SA: &str = "sole-runner@sole-486122.iam.gserviceaccount.com";

fn describe() -> Vec<String> {
    v(&[
        "run",
        "services",
        "describe",
        "sole-api",
        "--project=sole-486122",
        "--region=us-central1",
        "--format=value(spec.template.spec.containers[0].image)",
    ])
}

fn update(job: &str, command: &str) -> Vec<String> {
    vec![
        "run".into(),
        "jobs".into(),
        "update".into(),
        job.into(),
        "--project=sole-486122".into(),
        "--region=us-central1".into(),
        format!("--image={IMAGE}"),
        format!("--service-account={RUNTIME_SA}"),
        "--env-vars-file=config.prod.yaml".into(),
        format!("--set-secrets={SECRETS}"),
        "--command=sole".into(),
        format!("--args={command}"),
        "--quiet".into(),
    ]
}

/// The PBGC job is deployed (created when missing) with what the other jobs get.
fn deploy_pbgc() -> Vec<String> {
    vec![
        "run".into(),
        "jobs".into(),
        "deploy".into(),
        "sole-pbgc-refresh".into(),
        "--project=sole-486122".into(),
        "--region=us-central1".into(),
        format!("--image={IMAGE}"),
        format!("--service-account={RUNTIME_SA}"),
        "--env-vars-file=config.prod.yaml".into(),
        format!("--set-secrets={SECRETS}"),
        "--command=sole".into(),
        "--args=pbgc,refresh".into(),
        "--max-retries=1".into(),
        "--task-timeout=300s".into(),
        "--quiet".into(),
    ]
}

fn execute(job: &str) -> Vec<String> {
    v(&[
        "run",
        "jobs",
        "execute",
        job,
        "--project=sole-486122",
        "--region=us-central1",
        "--wait",
    ])
}

#[test]
fn bare_release_runs_deploy_update_jobs_migrate_in_order_and_never_seeds() {
    let ws = Workspace::new();
    let out = ws.run(&[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        ws.calls(),
        vec![
            auth_list(),
            deploy(),
            describe(),
            update("sole-db-migrate", "migrate"),
            update("sole-db-seed", "seed"),
            deploy_pbgc(),
            execute("sole-db-migrate"),
        ]
    );
    let all = text(&out);
    // gcloud's own output is streamed through, stdout and stderr alike.
    assert!(all.contains("SUCCESS"), "{all}");
    assert!(all.contains("Job [sole-db-migrate] has successfully been updated."));
    assert!(all.contains("==> [1/3] deploy: build and deploy sole-api with Cloud Build"));
    for step in ["[1/3] deploy", "[2/3] update-jobs", "[3/3] migrate"] {
        assert!(all.contains(&format!("<== {step}: ok")), "{all}");
    }
}

#[test]
fn jobs_receive_the_env_file_and_secrets_of_the_service() {
    let ws = Workspace::new();
    let out = ws.run(&[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = ws.calls();
    let substitutions = calls[1]
        .iter()
        .find_map(|a| a.strip_prefix("--substitutions=^|^"))
        .unwrap();
    let subs: Vec<(&str, &str)> = substitutions
        .split('|')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    let service_env = subs.iter().find(|(k, _)| *k == "_ENV_VARS_FILE").unwrap().1;
    let service_secrets = subs.iter().find(|(k, _)| *k == "_SECRETS").unwrap().1;
    for job_call in &calls[3..6] {
        assert!(job_call.contains(&format!("--env-vars-file={service_env}")));
        assert!(job_call.contains(&format!("--set-secrets={service_secrets}")));
        assert!(job_call.contains(&format!("--image={IMAGE}")));
    }
    // cloudbuild.yaml deploys with exactly those substitutions, and its defaults (used by a
    // manual `gcloud builds submit`) are the same list.
    let cloudbuild = std::fs::read_to_string(Path::new(ROOT).join("cloudbuild.yaml")).unwrap();
    assert!(cloudbuild.contains("- --env-vars-file=${_ENV_VARS_FILE}"));
    assert!(cloudbuild.contains("- --set-secrets=${_SECRETS}"));
    assert!(cloudbuild.contains(&format!("_SECRETS: {SECRETS}")));
    assert!(cloudbuild.contains("_ENV_VARS_FILE: config.prod.yaml"));
}

#[test]
fn a_failing_step_stops_the_release_with_its_name_and_gclouds_status() {
    let ws = Workspace::new();
    let out = ws.run(
        &[],
        &[
            ("FAKE_GCLOUD_FAIL_ON", "jobs update sole-db-migrate"),
            ("FAKE_GCLOUD_FAIL_CODE", "7"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("release stopped at step update-jobs: gcloud exited with status 7"),
        "{stderr}"
    );
    assert!(stderr.contains("command: gcloud run jobs update sole-db-migrate"));
    assert!(stderr.contains("not run: migrate"), "{stderr}");
    assert!(
        stderr.contains("simulated failure"),
        "gcloud's error is shown: {stderr}"
    );
    assert_eq!(
        ws.calls(),
        vec![
            auth_list(),
            deploy(),
            describe(),
            update("sole-db-migrate", "migrate")
        ]
    );

    // A failed deploy runs nothing after it.
    let ws = Workspace::new();
    let out = ws.run(&[], &[("FAKE_GCLOUD_FAIL_ON", "builds submit")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("release stopped at step deploy: gcloud exited with status 1"));
    assert!(text(&out).contains("not run: update-jobs, migrate"));
    assert_eq!(ws.calls(), vec![auth_list(), deploy()]);
}

#[test]
fn update_jobs_refuses_a_service_without_an_image() {
    let ws = Workspace::new();
    let out = ws.run(&["update-jobs"], &[("FAKE_GCLOUD_IMAGE", "")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("service sole-api reports no image"),
        "{}",
        text(&out)
    );
    assert_eq!(ws.calls(), vec![auth_list(), describe()]);
}

#[test]
fn single_steps_and_settings_from_the_environment() {
    let ws = Workspace::new();
    let out = ws.run(&["seed"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.calls(), vec![auth_list(), execute("sole-db-seed")]);

    let ws = Workspace::new();
    let out = ws.run(
        &["migrate"],
        &[
            ("PROJECT_ID", "other-project"),
            ("REGION", "europe-west1"),
            ("MIGRATE_JOB", "my-migrate"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        ws.calls()[1],
        v(&[
            "run",
            "jobs",
            "execute",
            "my-migrate",
            "--project=other-project",
            "--region=europe-west1",
            "--wait"
        ])
    );

    // Flags win over the environment; logs needs no config.prod.yaml.
    let ws = Workspace::new();
    std::fs::remove_file(ws.path().join("config.prod.yaml")).unwrap();
    let out = ws.run(
        &["logs", "--limit", "5", "--project", "flag-project"],
        &[("PROJECT_ID", "env-project")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let logs = &ws.calls()[1];
    assert_eq!(&logs[..2], &v(&["logging", "read"])[..]);
    assert!(logs[2].starts_with("severity>=ERROR"));
    assert!(logs[2].contains("resource.labels.service_name=\"sole-api\""));
    assert!(logs.contains(&"--project=flag-project".to_owned()));
    assert!(logs.contains(&"--limit=5".to_owned()));
    assert!(text(&out).contains("simulated error entry"));
    assert!(
        logs[2].contains("resource.labels.job_name=\"sole-pbgc-refresh\""),
        "the PBGC job's errors are listed too: {}",
        logs[2]
    );
}

#[test]
fn the_pbgc_job_runs_on_demand_and_its_schedule_is_checked_before_anything_runs() {
    // `sole release pbgc-refresh` does what the monthly trigger does, now.
    let ws = Workspace::new();
    let out = ws.run(&["pbgc-refresh"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.calls(), vec![auth_list(), execute("sole-pbgc-refresh")]);

    // A schedule and a job name of the operator's own reach the trigger as given.
    let ws = Workspace::new();
    let out = ws.run(
        &["bootstrap", "--dry-run", "--pbgc-job", "rates"],
        &[("PBGC_SCHEDULE", " 0  6 1 * * ")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("gcloud scheduler jobs create http rates ")
            && stdout.contains("'--schedule=0 6 1 * *'")
            && stdout.contains("/jobs/rates:run"),
        "{stdout}"
    );

    // A schedule that is not five cron fields stops bootstrap before gcloud changes anything
    // (only the read-only login check has run).
    let ws = Workspace::new();
    let out = ws.run(&["bootstrap"], &[("PBGC_SCHEDULE", "monthly")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("PBGC_SCHEDULE / --pbgc-schedule must be five unix-cron fields"),
        "{}",
        text(&out)
    );
    assert_eq!(ws.calls(), vec![auth_list()]);
}

#[test]
fn preflight_reports_every_problem_on_one_line_each_and_runs_nothing() {
    // No gcloud on PATH, no cloudbuild.yaml, FERNET_KDF_SALT missing from the secret list.
    let mut ws = Workspace::new();
    ws.with_gcloud = false;
    std::fs::remove_file(ws.path().join("cloudbuild.yaml")).unwrap();
    let secrets = "DATABASE_URL,REDIS_URL,SECRET_KEY,JWT_PRIVATE_KEY,JWT_PUBLIC_KEY";
    let out = ws.run(&["--secrets", secrets], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("preflight: "))
        .collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].contains("FERNET_KDF_SALT: is required in production"),
        "{stderr}"
    );
    assert!(lines[1].contains("cloudbuild.yaml not found"));
    assert!(lines[2].contains("gcloud is not on PATH"));
    assert!(stderr.contains("release stopped before running anything (3 preflight problem(s))"));
    assert!(ws.calls().is_empty());

    // Logged out.
    let ws = Workspace::new();
    let out = ws.run(&["migrate"], &[("FAKE_GCLOUD_NO_ACCOUNT", "1")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("preflight: gcloud has no active account (run `gcloud auth login`")
    );
    assert_eq!(ws.calls(), vec![auth_list()]);

    // A secret that is also in the env file, and an env file that is not production.
    let ws = Workspace::new();
    let yaml = std::fs::read_to_string(ws.path().join("config.prod.yaml"))
        .unwrap()
        .replace("ENVIRONMENT: \"production\"", "ENVIRONMENT: \"staging\"")
        + "SECRET_KEY: \"0123456789012345678901234567890123456789\"\n";
    std::fs::write(ws.path().join("config.prod.yaml"), yaml).unwrap();
    let out = ws.run(&["update-jobs"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(
        all.contains(
            "preflight: config.prod.yaml: ENVIRONMENT must be production (found \"staging\")"
        ),
        "{all}"
    );
    assert!(all.contains("preflight: config.prod.yaml: SECRET_KEY is also in the secret list"));
    assert!(!all.contains("0123456789012345678901234567890123456789"));
}

#[test]
fn dry_run_prints_every_command_and_runs_none() {
    let ws = Workspace::new();
    let out = ws.run(&["--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(ws.calls().is_empty(), "dry run must not call gcloud");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("gcloud "))
        .collect();
    assert_eq!(commands.len(), 6, "{stdout}");
    assert_eq!(
        commands[0],
        format!(
            "gcloud builds submit --project=sole-486122 --config=cloudbuild.yaml '--substitutions=^|^_SERVICE=sole-api|_REGION=us-central1|_AR_HOST=us-central1-docker.pkg.dev|_RUNTIME_SA={RUNTIME_SA}|_ENV_VARS_FILE=config.prod.yaml|_SECRETS={SECRETS}' ."
        )
    );
    assert!(commands[1].starts_with("gcloud run services describe sole-api"));
    assert_eq!(
        commands[2],
        format!(
            "gcloud run jobs update sole-db-migrate --project=sole-486122 --region=us-central1 '--image=<image of the service>' --service-account={RUNTIME_SA} --env-vars-file=config.prod.yaml --set-secrets={SECRETS} --command=sole --args=migrate --quiet"
        )
    );
    assert!(commands[3].contains("sole-db-seed") && commands[3].ends_with("--args=seed --quiet"));
    assert!(
        commands[4].starts_with("gcloud run jobs deploy sole-pbgc-refresh ")
            && commands[4].contains("--args=pbgc,refresh"),
        "{}",
        commands[4]
    );
    assert_eq!(
        commands[5],
        "gcloud run jobs execute sole-db-migrate --project=sole-486122 --region=us-central1 --wait"
    );

    // Only references: a value in the secret list is refused before anything is printed.
    let out = ws.run(
        &["--dry-run", "--secrets", "SECRET_KEY=hunter2 hunter2"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("is not a Secret Manager name"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
}

#[test]
fn on_a_terminal_each_step_gets_a_spinner_and_gcloud_output_still_streams() {
    let ws = Workspace::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args(["release", "migrate"])
        .current_dir(ws.path())
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", ws.path().join("bin").display()),
        )
        .env("TERM", "xterm")
        .env("PROJECT_ID", "sole-486122")
        .env("FAKE_GCLOUD_LOG", ws.log());
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    let mut p = rexpect::session::spawn_with_options(cmd, options).unwrap();
    let output = p.exp_eof().unwrap();
    // The spinner line carries the step and what it does; CI's "==>" start line is absent.
    assert!(
        output.contains("[1/1] migrate: execute sole-db-migrate and wait"),
        "{output}"
    );
    assert!(!output.contains("==> [1/1]"), "{output}");
    assert!(output.contains("Execution [sole-db-migrate-abcde] has successfully completed."));
    assert!(output.contains("<== [1/1] migrate: ok"), "{output}");
    assert_eq!(ws.calls(), vec![auth_list(), execute("sole-db-migrate")]);
}

#[test]
fn a_missing_project_id_is_an_error_that_says_where_to_set_it() {
    let ws = Workspace::new();
    // An empty PROJECT_ID counts as unset; sole never falls back to a real project id.
    let out = ws.run(&["--dry-run"], &[("PROJECT_ID", "")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("preflight: PROJECT_ID is required: pass --project=<id> or set PROJECT_ID"),
        "{all}"
    );
    assert!(!all.contains("sole-486122"), "{all}");
    assert!(ws.calls().is_empty());
}

#[test]
fn one_bad_secret_entry_is_one_message() {
    let ws = Workspace::new();
    let list = SECRETS.replace("SECRET_KEY=SECRET_KEY:latest", "SECRET_KEY=hunter2 hunter2");
    let out = ws.run(&["--dry-run", "--secrets", &list], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("preflight: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("is not a Secret Manager name"));
    assert!(!stderr.contains("hunter2 hunter2"));
}

#[test]
fn port_in_the_cloud_run_env_file_is_refused() {
    let ws = Workspace::new();
    let yaml = std::fs::read_to_string(ws.path().join("config.prod.yaml")).unwrap()
        + "PORT: \"8080\"\nLOG_LEVLE: \"INFO\"\n";
    std::fs::write(ws.path().join("config.prod.yaml"), yaml).unwrap();
    let out = ws.run(&["--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(
        all.contains("preflight: config.prod.yaml: PORT must not be set: Cloud Run sets PORT"),
        "{all}"
    );
    // An unknown key is a warning naming the probable intended one.
    assert!(all.contains("LOG_LEVLE"), "{all}");
    assert!(all.contains("a typo of LOG_LEVEL?"), "{all}");
}

#[test]
fn migrate_first_builds_points_the_jobs_at_the_new_image_migrates_then_deploys() {
    let ws = Workspace::new();
    let out = ws.run(&["--migrate-first"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = ws.calls();
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert_eq!(calls[0], auth_list());
    // 1. build and push only.
    assert_eq!(
        &calls[1][..3],
        &v(&["builds", "submit", "--project=sole-486122"])[..]
    );
    let tag = calls[1]
        .iter()
        .find_map(|a| a.strip_prefix("--tag="))
        .unwrap()
        .to_owned();
    assert!(
        tag.starts_with("us-central1-docker.pkg.dev/sole-486122/sole-docker/sole-api:release-"),
        "{tag}"
    );
    // 2. the jobs get that image and the runtime service account; nothing reads the service.
    for (call, (verb, job)) in calls[2..5].iter().zip([
        ("update", "sole-db-migrate"),
        ("update", "sole-db-seed"),
        ("deploy", "sole-pbgc-refresh"),
    ]) {
        assert_eq!(&call[..4], &v(&["run", "jobs", verb, job])[..]);
        assert!(call.contains(&format!("--image={tag}")));
        assert!(call.contains(&format!("--service-account={RUNTIME_SA}")));
    }
    // 3. migrate, 4. deploy the same image with the probes and sizing.
    assert_eq!(calls[5], execute("sole-db-migrate"));
    let deploy = &calls[6];
    assert_eq!(&deploy[..3], &v(&["run", "deploy", "sole-api"])[..]);
    assert!(deploy.contains(&format!("--image={tag}")));
    assert!(deploy.contains(&format!("--service-account={RUNTIME_SA}")));
    assert!(
        deploy
            .iter()
            .any(|a| a.starts_with("--liveness-probe=httpGet.path=/api/v1/health/live"))
    );
    assert!(
        deploy
            .iter()
            .any(|a| a.starts_with("--startup-probe=httpGet.path=/api/v1/health/live"))
    );
    for flag in ["--concurrency=", "--cpu=", "--memory=", "--min-instances="] {
        assert!(
            deploy.iter().any(|a| a.starts_with(flag)),
            "{flag}: {deploy:?}"
        );
    }
    let all = text(&out);
    assert!(all.contains("[4/4] deploy"), "{all}");
    // The dry run says when each order is safe.
    let out = ws.run(&["--dry-run"], &[]);
    assert!(text(&out).contains("safe when the new code still works on the old schema"));
    let out = ws.run(&["--dry-run", "--migrate-first"], &[]);
    assert!(text(&out).contains("safe when the migrations are additive"));
}

#[test]
fn bootstrap_creates_what_is_missing_and_skips_what_exists() {
    let ws = Workspace::new();
    let out = ws.run(&["bootstrap", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(ws.calls().is_empty());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "gcloud services enable run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com secretmanager.googleapis.com cloudscheduler.googleapis.com --project=sole-486122",
        "gcloud artifacts repositories create sole-docker --project=sole-486122 --location=us-central1 --repository-format=docker",
        "gcloud iam service-accounts create sole-runner --project=sole-486122",
        "roles/secretmanager.secretAccessor",
        "gcloud secrets create FERNET_KDF_SALT --project=sole-486122 --replication-policy=automatic",
        "gcloud run jobs create sole-db-migrate --project=sole-486122 --region=us-central1",
        "gcloud run jobs create sole-pbgc-refresh --project=sole-486122 --region=us-central1",
        "--args=pbgc,refresh",
        // The monthly trigger runs the job as the runtime account, which may invoke it.
        &format!(
            "gcloud run jobs add-iam-policy-binding sole-pbgc-refresh --project=sole-486122 --region=us-central1 --member=serviceAccount:{RUNTIME_SA} --role=roles/run.invoker --quiet"
        ),
        "gcloud scheduler jobs describe sole-pbgc-refresh --project=sole-486122 --location=us-central1",
        &format!(
            "gcloud scheduler jobs create http sole-pbgc-refresh --project=sole-486122 --location=us-central1 '--schedule=59 1 28 * *' --time-zone=Etc/UTC --uri=https://run.googleapis.com/v2/projects/sole-486122/locations/us-central1/jobs/sole-pbgc-refresh:run --http-method=POST --oauth-service-account-email={RUNTIME_SA}"
        ),
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }

    // Against the fake: every `describe` succeeds (everything exists), so only the idempotent
    // calls run.
    let out = ws.run(&["bootstrap"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = ws.calls();
    assert!(
        calls.iter().all(|c| !c.contains(&"create".to_owned())),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c[..2] == v(&["services", "enable"])[..])
    );
    assert!(text(&out).contains("exists, skipped: gcloud secrets create SECRET_KEY"));

    // Missing secrets are created.
    let ws = Workspace::new();
    let out = ws.run(
        &["bootstrap"],
        &[("FAKE_GCLOUD_FAIL_ON", "secrets describe")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        ws.calls()
            .iter()
            .any(|c| c[..3] == v(&["secrets", "create", "SECRET_KEY"])[..])
    );
}

/// cloudbuild.yaml rendered with Cloud Build's substitution rules, as a manual `gcloud builds
/// submit` and as `sole release deploy` submit it.
#[test]
fn cloudbuild_substitutions_follow_cloud_builds_rules_and_render_completely() {
    let yaml = std::fs::read_to_string(Path::new(ROOT).join("cloudbuild.yaml")).unwrap();
    let doc: serde_json::Value = yaml_serde::from_str(&yaml).unwrap();
    let user: Vec<(String, String)> = doc["substitutions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    // User substitutions: `_` then upper case, digits and `_`.
    for (k, _) in &user {
        assert!(
            k.starts_with('_')
                && k[1..]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{k}"
        );
    }
    // A user value that refers to another substitution needs dynamicSubstitutions.
    let dynamic = doc["options"]["dynamicSubstitutions"].as_bool() == Some(true);
    for (k, v) in &user {
        assert!(
            dynamic || !v.contains('$'),
            "{k} refers to {v} without dynamicSubstitutions"
        );
    }
    let builtins = [
        ("PROJECT_ID", "my-project"),
        ("BUILD_ID", "b-123"),
        ("PROJECT_NUMBER", "42"),
        ("LOCATION", "global"),
    ];
    let render = |overrides: &[(&str, &str)]| -> String {
        let mut values: Vec<(String, String)> = builtins
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in &user {
            let v = overrides
                .iter()
                .find(|(o, _)| o == k)
                .map_or_else(|| v.clone(), |(_, o)| (*o).to_owned());
            values.push((k.clone(), v));
        }
        // Dynamic substitutions: values may refer to built-ins.
        let expand = |s: &str, values: &[(String, String)]| {
            let mut out = s.to_owned();
            for (k, v) in values {
                out = out.replace(&format!("${{{k}}}"), v);
            }
            out
        };
        let resolved: Vec<(String, String)> = values
            .iter()
            .map(|(k, v)| (k.clone(), expand(v, &values)))
            .collect();
        let steps = serde_json::to_string(&doc["steps"]).unwrap()
            + &serde_json::to_string(&doc["images"]).unwrap();
        expand(&steps, &resolved)
    };
    // A manual submit: the defaults apply and everything expands.
    let manual = render(&[]);
    assert!(!manual.contains('$'), "unexpanded substitution in {manual}");
    assert!(manual.contains("--service-account=sole-runner@my-project.iam.gserviceaccount.com"));
    assert!(manual.contains("us-central1-docker.pkg.dev/my-project/sole-docker/sole-api:b-123"));

    // As `sole release` submits it: every substitution it passes exists in the file.
    let ws = Workspace::new();
    let out = ws.run(&["deploy"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let submitted = ws.calls()[1]
        .iter()
        .find_map(|a| a.strip_prefix("--substitutions=^|^"))
        .unwrap()
        .to_owned();
    let passed: Vec<(&str, &str)> = submitted
        .split('|')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    for (k, _) in &passed {
        assert!(
            user.iter().any(|(u, _)| u == k),
            "{k} is not declared in cloudbuild.yaml"
        );
    }
    let released = render(&passed);
    assert!(!released.contains('$'));
    assert!(released.contains(&format!("--service-account={RUNTIME_SA}")));

    // The deploy step's sizing and probes are the ones `--migrate-first` passes itself.
    let deploy_args: Vec<String> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "deploy")
        .unwrap()["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let ws = Workspace::new();
    ws.run(&["--migrate-first"], &[]);
    let direct = ws.calls().last().unwrap().clone();
    for flag in direct.iter().filter(|a| {
        [
            "--concurrency",
            "--cpu",
            "--memory",
            "--min-instances",
            "--max-instances",
            "--timeout",
            "--startup-probe",
            "--liveness-probe",
        ]
        .iter()
        .any(|f| a.starts_with(f))
    }) {
        assert!(
            deploy_args.contains(flag),
            "{flag} differs between cloudbuild.yaml and sole release"
        );
    }
    assert_eq!(
        deploy_args
            .iter()
            .filter(|a| a.contains("probe")
                || a.starts_with("--c")
                || a.starts_with("--m")
                || a.starts_with("--timeout"))
            .count(),
        8,
        "{deploy_args:?}"
    );
}
