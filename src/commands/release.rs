//! `sole release`: the Makefile's Cloud Run targets, driving `gcloud` with argument vectors
//! (never through a shell).
//!
//! Bare `sole release` = deploy → update-jobs → migrate (the old `make prod-release`; seeding
//! stays a separate, deliberate step). Preflight checks run before anything touches the cloud
//! and report every problem, one line each; the first failing gcloud call stops the release
//! with the step name and gcloud's exit status. Secrets only ever appear as Secret Manager
//! references (`NAME=NAME:latest`).

mod exec;
pub mod plan;

use std::path::{Path, PathBuf};

use crate::cli::{ReleaseArgs, ReleaseSettings, ReleaseStep};
use crate::commands::Reported;
use crate::config::{EnvMap, Settings, read_env_vars_file};

use exec::{Progress, Runner, StepError};
use plan::{GcloudCall, IMAGE_PLACEHOLDER, Plan, SecretRef};

/// One step of a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Cloud Build: build, push and deploy the service (cloudbuild.yaml).
    Deploy,
    /// `--migrate-first`: build and push the image only.
    Build,
    /// `--migrate-first`: deploy the built image.
    DeployImage,
    Bootstrap,
    UpdateJobs,
    Migrate,
    Seed,
    PbgcRefresh,
    Logs(u32),
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Build => "build",
            Self::DeployImage => "deploy",
            Self::Bootstrap => "bootstrap",
            Self::UpdateJobs => "update-jobs",
            Self::Migrate => "migrate",
            Self::Seed => "seed",
            Self::PbgcRefresh => "pbgc-refresh",
            Self::Logs(_) => "logs",
        }
    }

    fn describe(self, plan: &Plan) -> String {
        match self {
            Self::Deploy => format!("build and deploy {} with Cloud Build", plan.service),
            Self::Build => {
                "build and push the image with Cloud Build (the service is not touched)".to_owned()
            }
            Self::DeployImage => format!("deploy {} with the new image", plan.service),
            Self::Bootstrap => format!(
                "one-time setup of project {} (skips what exists)",
                plan.project
            ),
            Self::UpdateJobs => format!(
                "point {}, {} and {} at the service's image, env file and secrets",
                plan.migrate_job, plan.seed_job, plan.pbgc_job
            ),
            Self::Migrate => format!("execute {} and wait", plan.migrate_job),
            Self::Seed => format!("execute {} and wait", plan.seed_job),
            Self::PbgcRefresh => format!("execute {} and wait", plan.pbgc_job),
            Self::Logs(_) => "recent ERROR log entries".to_owned(),
        }
    }

    /// Whether the step ships configuration (and so needs the env file to be valid).
    fn needs_config(self) -> bool {
        !matches!(self, Self::Logs(_) | Self::Bootstrap)
    }
}

pub fn steps_for(step: Option<&ReleaseStep>, migrate_first: bool) -> Vec<Step> {
    match step {
        None if migrate_first => vec![
            Step::Build,
            Step::UpdateJobs,
            Step::Migrate,
            Step::DeployImage,
        ],
        None => vec![Step::Deploy, Step::UpdateJobs, Step::Migrate],
        Some(ReleaseStep::Bootstrap) => vec![Step::Bootstrap],
        Some(ReleaseStep::Deploy) => vec![Step::Deploy],
        Some(ReleaseStep::UpdateJobs) => vec![Step::UpdateJobs],
        Some(ReleaseStep::Migrate) => vec![Step::Migrate],
        Some(ReleaseStep::Seed) => vec![Step::Seed],
        Some(ReleaseStep::PbgcRefresh) => vec![Step::PbgcRefresh],
        Some(ReleaseStep::Logs { limit }) => vec![Step::Logs(*limit)],
    }
}

pub fn run(args: &ReleaseArgs) -> anyhow::Result<()> {
    let settings = &args.settings;
    let steps = steps_for(args.step.as_ref(), settings.migrate_first);
    let mut problems = Vec::new();
    let project = match settings.project.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => {
            problems.push(
                "PROJECT_ID is required: pass --project=<id> or set PROJECT_ID in the environment \
                 (`gcloud config get-value project` shows gcloud's default; sole never guesses one)"
                    .to_owned(),
            );
            "<PROJECT_ID>".to_owned()
        }
    };
    if settings.migrate_first && args.step.is_some() {
        problems.push(
            "--migrate-first orders the full release; it does nothing with a single step"
                .to_owned(),
        );
    }
    if steps.contains(&Step::Bootstrap) && !plan::is_cron(&settings.pbgc_schedule) {
        problems.push(format!(
            "PBGC_SCHEDULE / --pbgc-schedule must be five unix-cron fields in UTC, like \"59 1 28 * *\" (found {:?})",
            settings.pbgc_schedule
        ));
    }
    let secrets = match plan::parse_secrets(&settings.secrets) {
        Ok(s) => s,
        Err(list) => {
            problems.extend(list);
            Vec::new()
        }
    };
    if steps.iter().any(|s| s.needs_config()) {
        // Variables named by a malformed entry count as listed, so one bad entry is one
        // message, not one more "is required" for its variable.
        let mentioned = plan::mentioned_vars(&settings.secrets);
        problems.extend(check_env_file(&settings.env_file, &secrets, &mentioned));
    }
    if steps.contains(&Step::Deploy) && !settings.build_config.is_file() {
        problems.push(format!(
            "{} not found (run sole release from the repository root, or pass --build-config)",
            settings.build_config.display()
        ));
    }
    let plan = Plan::new(settings, &project, secrets, &release_tag());

    if settings.dry_run {
        if !problems.is_empty() {
            return Err(preflight_failed(&problems));
        }
        println!("# release: {}", describe_target(settings, &project));
        println!(
            "# {}",
            order_note(settings.migrate_first, args.step.is_some())
        );
        print_dry_run(&plan, &steps);
        return Ok(());
    }

    let gcloud = find_on_path("gcloud");
    match &gcloud {
        None => problems.push(
            "gcloud is not on PATH (install the Google Cloud CLI, then `gcloud auth login`)"
                .to_owned(),
        ),
        Some(path) => {
            let runner = Runner::new(path.clone(), Progress::detect());
            match runner.capture(&Plan::auth_check()) {
                Ok(accounts) if accounts.trim().is_empty() => problems.push(
                    "gcloud has no active account (run `gcloud auth login`, or activate a service account)"
                        .to_owned(),
                ),
                Ok(_) => {}
                Err(e) => problems.push(format!("gcloud auth list failed: {e}")),
            }
        }
    }
    if !problems.is_empty() {
        return Err(preflight_failed(&problems));
    }
    let Some(gcloud) = gcloud else {
        return Err(preflight_failed(&problems));
    };

    let runner = Runner::new(gcloud, Progress::detect());
    println!("release: {}", describe_target(settings, &project));
    let total = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let label = format!("[{}/{}] {}", i + 1, total, step.name());
        let result = runner.step(&label, &step.describe(&plan), || {
            run_step(&runner, &plan, *step)
        });
        if let Err(err) = result {
            let rest: Vec<&str> = steps[i + 1..].iter().map(|s| s.name()).collect();
            let mut message = format!("release stopped at step {}: {}", step.name(), err.reason);
            if let Some(cmd) = &err.command {
                message.push_str(&format!("\n  command: {cmd}"));
            }
            if !rest.is_empty() {
                message.push_str(&format!("\n  not run: {}", rest.join(", ")));
            }
            return Err(Reported::new(1, message).into());
        }
    }
    if total > 1 {
        runner.note("release finished: every step succeeded");
    }
    Ok(())
}

fn preflight_failed(problems: &[String]) -> anyhow::Error {
    for p in problems {
        eprintln!("preflight: {p}");
    }
    Reported::new(
        2,
        format!(
            "release stopped before running anything ({} preflight problem(s))",
            problems.len()
        ),
    )
    .into()
}

/// What the chosen order is safe for, in one line.
fn order_note(migrate_first: bool, single_step: bool) -> &'static str {
    if single_step {
        "one step only"
    } else if migrate_first {
        "order: build, update-jobs, migrate, deploy (--migrate-first): safe when the migrations are additive, since the running code meets the new schema first"
    } else {
        "order: deploy, update-jobs, migrate: safe when the new code still works on the old schema until migrate finishes; use --migrate-first for additive migrations the new code needs"
    }
}

/// The image tag of a `--migrate-first` release: UTC time, so tags sort.
fn release_tag() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "release-[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_else(|_| "release".to_owned())
}

fn run_step(runner: &Runner, plan: &Plan, step: Step) -> Result<(), StepError> {
    match step {
        Step::Deploy => runner.stream(&plan.deploy()),
        Step::Build => runner.stream(&plan.build_image(plan.image.as_deref().unwrap_or_default())),
        Step::DeployImage => {
            runner.stream(&plan.deploy_image(plan.image.as_deref().unwrap_or_default()))
        }
        Step::Bootstrap => {
            for (check, create) in plan.bootstrap() {
                if let Some(check) = check
                    && runner.capture_quietly(&check).is_ok()
                {
                    runner.note(&format!("exists, skipped: {}", create.display()));
                    continue;
                }
                runner.stream(&create)?;
            }
            runner.note(
                "left to do by hand: add the secret values (sole setup-env --profile prod prints the commands) \
                 and let Cloud Build's service account deploy (roles/run.admin and roles/iam.serviceAccountUser \
                 on the runtime service account); see README, Release",
            );
            Ok(())
        }
        Step::UpdateJobs => {
            let described;
            let image = match &plan.image {
                Some(image) => image.as_str(),
                None => {
                    let describe = plan.describe_image();
                    described = runner
                        .capture(&describe)
                        .map_err(|e| StepError::from_gcloud(e, &describe))?;
                    described.trim()
                }
            };
            if image.is_empty() {
                return Err(StepError {
                    reason: format!(
                        "service {} reports no image (deploy it first: sole release deploy)",
                        plan.service
                    ),
                    command: Some(plan.describe_image().display()),
                });
            }
            runner.note(&format!("image: {image}"));
            runner.stream(&plan.update_job(&plan.migrate_job, "migrate", image))?;
            runner.stream(&plan.update_job(&plan.seed_job, "seed", image))?;
            runner.stream(&plan.deploy_pbgc_job(image))
        }
        Step::Migrate => runner.stream(&plan.execute_job(&plan.migrate_job)),
        Step::Seed => runner.stream(&plan.execute_job(&plan.seed_job)),
        Step::PbgcRefresh => runner.stream(&plan.execute_job(&plan.pbgc_job)),
        Step::Logs(limit) => runner.stream(&plan.logs(limit)),
    }
}

/// The gcloud calls of each step, for `--dry-run`.
pub fn dry_run_calls(plan: &Plan, step: Step) -> Vec<GcloudCall> {
    let image = plan.image.as_deref().unwrap_or(IMAGE_PLACEHOLDER);
    match step {
        Step::Deploy => vec![plan.deploy()],
        Step::Build => vec![plan.build_image(image)],
        Step::DeployImage => vec![plan.deploy_image(image)],
        Step::Bootstrap => plan
            .bootstrap()
            .into_iter()
            .flat_map(|(check, create)| check.into_iter().chain([create]))
            .collect(),
        Step::UpdateJobs => {
            let describe = plan.image.is_none().then(|| plan.describe_image());
            describe
                .into_iter()
                .chain([
                    plan.update_job(&plan.migrate_job, "migrate", image),
                    plan.update_job(&plan.seed_job, "seed", image),
                    plan.deploy_pbgc_job(image),
                ])
                .collect()
        }
        Step::Migrate => vec![plan.execute_job(&plan.migrate_job)],
        Step::Seed => vec![plan.execute_job(&plan.seed_job)],
        Step::PbgcRefresh => vec![plan.execute_job(&plan.pbgc_job)],
        Step::Logs(limit) => vec![plan.logs(limit)],
    }
}

fn print_dry_run(plan: &Plan, steps: &[Step]) {
    println!("# dry run: nothing is executed; secrets appear as Secret Manager references only");
    for step in steps {
        println!("# step {}: {}", step.name(), step.describe(plan));
        for call in dry_run_calls(plan, *step) {
            println!("{}", call.display());
        }
    }
}

/// Placeholder values standing in for Secret Manager secrets during the offline check: strong
/// enough to pass production validation, so only what is missing or wrong in the env file (or
/// missing from the secret list) is reported.
fn placeholder_for(var: &str) -> &'static str {
    match var {
        "DATABASE_URL" | "DATABASE_URL_DIRECT" => "postgres://secret-manager.invalid/placeholder",
        "REDIS_URL" => "redis://secret-manager.invalid:6379/0",
        "SEED_ADMIN_EMAIL" => "admin@secret-manager.invalid",
        "JWT_PRIVATE_KEY" | "JWT_PUBLIC_KEY" => "-----BEGIN SECRET MANAGER PLACEHOLDER-----",
        _ => "Secret-Manager-Placeholder-7f3a9c1e5b2d8f4a6c0e!",
    }
}

/// `sole config check` on the env file plus the secret names, as the service and the jobs will
/// see them.
pub fn check_env_file(path: &Path, secrets: &[SecretRef], mentioned: &[String]) -> Vec<String> {
    let name = path.display().to_string();
    let file = match read_env_vars_file(path) {
        Ok(f) => f,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = Vec::new();
    match file.get("ENVIRONMENT").map(str::trim) {
        Some(env) if matches!(env.to_ascii_lowercase().as_str(), "production" | "prod") => {}
        other => problems.push(format!(
            "{name}: ENVIRONMENT must be production (found {})",
            other.map_or_else(|| "nothing".to_owned(), |v| format!("{v:?}"))
        )),
    }
    if file.get("PORT").is_some() {
        problems.push(format!(
            "{name}: PORT must not be set: Cloud Run sets PORT itself and refuses a deploy whose env file sets it"
        ));
    }
    for unknown in crate::config::unknown_keys(&file) {
        eprintln!("warning: {unknown}");
    }
    for s in secrets {
        if file.get(&s.var).is_some() {
            problems.push(format!(
                "{name}: {} is also in the secret list; Cloud Run refuses a variable that is both (keep secrets out of the env file)",
                s.var
            ));
        }
    }
    let mut env: EnvMap = file;
    let listed: Vec<&str> = secrets
        .iter()
        .map(|s| s.var.as_str())
        .chain(mentioned.iter().map(String::as_str))
        .collect();
    for var in &listed {
        if env.get(var).is_none() {
            env.set(var, placeholder_for(var));
        }
    }
    let (_, config_problems) = Settings::check(&env);
    for p in config_problems {
        if mentioned.iter().any(|m| m == p.var) && !secrets.iter().any(|s| s.var == p.var) {
            // Already reported as a malformed secret entry.
            continue;
        }
        let hint = if listed.contains(&p.var) {
            ""
        } else {
            " (set it in the env file, or add the secret to the list)"
        };
        problems.push(format!("{name} + secrets: {p}{hint}"));
    }
    problems
}

/// The first executable called `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// One line naming where the release goes.
pub fn describe_target(s: &ReleaseSettings, project: &str) -> String {
    format!(
        "project {}, region {}, service {}, jobs {}, {} and {}, env file {}",
        project,
        s.region,
        s.service,
        s.migrate_job,
        s.seed_job,
        s.pbgc_job,
        s.env_file.display()
    )
}
