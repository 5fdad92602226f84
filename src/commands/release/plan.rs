//! Pure part of `sole release`: settings → gcloud argument vectors. Nothing here runs anything.

use std::path::Path;

use crate::cli::ReleaseSettings;

/// One secret reference: the env var the container sees and the Secret Manager version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    pub var: String,
    pub secret: String,
    pub version: String,
}

impl SecretRef {
    /// `VAR=SECRET:VERSION`, the form of `--set-secrets`.
    pub fn mapping(&self) -> String {
        format!("{}={}:{}", self.var, self.secret, self.version)
    }
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_secret_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses the secret list: `NAME` (= `NAME=NAME:latest`), `VAR=SECRET` (latest) or
/// `VAR=SECRET:VERSION`, separated by commas. Every malformed entry is reported.
pub fn parse_secrets(list: &str) -> Result<Vec<SecretRef>, Vec<String>> {
    let mut out: Vec<SecretRef> = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let (var, reference) = match item.split_once('=') {
            Some((var, reference)) => (var.trim(), reference.trim()),
            None => (item, item),
        };
        let (secret, version) = match reference.split_once(':') {
            Some((secret, version)) => (secret, version),
            None => (reference, "latest"),
        };
        // Messages name the variable, never the rest of the entry: a pasted value must not be
        // echoed.
        if !is_env_name(var) {
            problems.push(format!(
                "secret entry #{}: the part before '=' is not a variable name",
                index + 1
            ));
            continue;
        }
        if !is_secret_id(secret) {
            problems.push(format!(
                "secret entry for {var}: the part after '=' is not a Secret Manager name (values never go here, only names)"
            ));
            continue;
        }
        if version != "latest" && version.parse::<u32>().is_err() {
            problems.push(format!(
                "secret entry for {var}: version must be latest or a number"
            ));
            continue;
        }
        if out.iter().any(|s| s.var == var) {
            problems.push(format!("secret entry for {var}: {var} is listed twice"));
            continue;
        }
        out.push(SecretRef {
            var: var.to_owned(),
            secret: secret.to_owned(),
            version: version.to_owned(),
        });
    }
    if out.is_empty() && problems.is_empty() {
        problems.push("the secret list is empty".to_owned());
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The variable names the entries of a secret list mention, malformed entries included.
pub fn mentioned_vars(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| item.split_once('=').map_or(item, |(var, _)| var).trim())
        .filter(|var| is_env_name(var))
        .map(str::to_owned)
        .collect()
}

/// The `--set-secrets` value shared by the service and both jobs.
pub fn secrets_flag(secrets: &[SecretRef]) -> String {
    secrets
        .iter()
        .map(SecretRef::mapping)
        .collect::<Vec<_>>()
        .join(",")
}

/// The Artifact Registry host of a region.
pub fn ar_host(region: &str) -> String {
    format!("{region}-docker.pkg.dev")
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Where a command's output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Streamed to the user as it comes.
    Stream,
    /// Captured: the step needs the value (the service's image).
    Capture,
}

/// One gcloud invocation (argv without the program name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcloudCall {
    pub args: Vec<String>,
    pub output: Output,
}

impl GcloudCall {
    fn stream(args: Vec<String>) -> Self {
        Self {
            args,
            output: Output::Stream,
        }
    }

    /// The command line as printed by `--dry-run` (POSIX-quoted where needed).
    pub fn display(&self) -> String {
        std::iter::once("gcloud".to_owned())
            .chain(self.args.iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes an argument for display so that it can be pasted into a POSIX shell.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '@' | '+')
        });
    if safe {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Placeholder for the image read from the service, in dry runs.
pub const IMAGE_PLACEHOLDER: &str = "<image of the service>";

/// The Artifact Registry repository and image name of cloudbuild.yaml's defaults.
pub const AR_REPOSITORY: &str = "sole-docker";
pub const IMAGE_NAME: &str = "sole-api";

/// The arguments of the PBGC job's container (`sole pbgc refresh`), in gcloud's list form.
pub const PBGC_JOB_ARGS: &str = "pbgc,refresh";

/// Whether `schedule` is five unix-cron fields (what Cloud Scheduler accepts); the check is
/// shallow on purpose: Cloud Scheduler reports a bad range itself, this catches a missing or
/// pasted-together field before anything runs.
pub fn is_cron(schedule: &str) -> bool {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/'))
        })
}

/// The runtime service account's default name (`<name>@<project>.iam.gserviceaccount.com`).
pub const RUNTIME_SA_NAME: &str = "sole-runner";

/// The service's explicit sizing and probes: cloudbuild.yaml's deploy step passes the same
/// flags (tests/cli/release.rs keeps the two equal). Liveness and startup use `/health/live`, which
/// never touches PostgreSQL or Redis, so an outage of either does not restart every instance.
pub const SERVICE_FLAGS: &[&str] = &[
    "--concurrency=80",
    "--cpu=1",
    "--memory=512Mi",
    "--min-instances=0",
    "--max-instances=10",
    "--timeout=300",
    "--startup-probe=httpGet.path=/api/v1/health/live,periodSeconds=2,timeoutSeconds=1,failureThreshold=30",
    "--liveness-probe=httpGet.path=/api/v1/health/live,periodSeconds=30,timeoutSeconds=3,failureThreshold=3",
];

/// Everything a plan needs, validated.
#[derive(Clone, Debug)]
pub struct Plan {
    pub project: String,
    pub region: String,
    pub service: String,
    pub migrate_job: String,
    pub seed_job: String,
    pub pbgc_job: String,
    /// Unix-cron schedule (UTC) of the PBGC job's Cloud Scheduler trigger.
    pub pbgc_schedule: String,
    pub env_file: String,
    pub build_config: String,
    pub secrets: Vec<SecretRef>,
    /// The service account the service and the jobs run as (and the PBGC trigger calls as).
    pub runtime_sa: String,
    /// With `--migrate-first`: the image this release builds (known before anything runs).
    pub image: Option<String>,
}

impl Plan {
    pub fn new(s: &ReleaseSettings, project: &str, secrets: Vec<SecretRef>, tag: &str) -> Self {
        let runtime_sa = s
            .service_account
            .clone()
            .unwrap_or_else(|| format!("{RUNTIME_SA_NAME}@{project}.iam.gserviceaccount.com"));
        let image = s.migrate_first.then(|| {
            format!(
                "{}/{project}/{AR_REPOSITORY}/{IMAGE_NAME}:{tag}",
                ar_host(&s.region)
            )
        });
        Self {
            project: project.to_owned(),
            region: s.region.clone(),
            service: s.service.clone(),
            migrate_job: s.migrate_job.clone(),
            seed_job: s.seed_job.clone(),
            pbgc_job: s.pbgc_job.clone(),
            pbgc_schedule: s
                .pbgc_schedule
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            env_file: path_arg(&s.env_file),
            build_config: path_arg(&s.build_config),
            secrets,
            runtime_sa,
            image,
        }
    }

    fn scope(&self) -> [String; 2] {
        [
            format!("--project={}", self.project),
            format!("--region={}", self.region),
        ]
    }

    /// `make deploy`: Cloud Build builds, pushes and deploys. The service name, region, env file
    /// and secret list go in as substitutions, so the service gets exactly the list the jobs
    /// get (`^|^` switches gcloud's list delimiter because the secret list contains commas).
    pub fn deploy(&self) -> GcloudCall {
        let substitutions = format!(
            "^|^_SERVICE={}|_REGION={}|_AR_HOST={}|_RUNTIME_SA={}|_ENV_VARS_FILE={}|_SECRETS={}",
            self.service,
            self.region,
            ar_host(&self.region),
            self.runtime_sa,
            self.env_file,
            secrets_flag(&self.secrets)
        );
        GcloudCall::stream(vec![
            "builds".into(),
            "submit".into(),
            format!("--project={}", self.project),
            format!("--config={}", self.build_config),
            format!("--substitutions={substitutions}"),
            ".".into(),
        ])
    }

    /// `--migrate-first`, step 1: Cloud Build builds the Dockerfile and pushes the image; the
    /// service is not touched.
    pub fn build_image(&self, image: &str) -> GcloudCall {
        GcloudCall::stream(vec![
            "builds".into(),
            "submit".into(),
            format!("--project={}", self.project),
            format!("--tag={image}"),
            "--timeout=3600s".into(),
            "--machine-type=e2-highcpu-8".into(),
            ".".into(),
        ])
    }

    /// `--migrate-first`, last step: deploy the built image with cloudbuild.yaml's flags.
    pub fn deploy_image(&self, image: &str) -> GcloudCall {
        let [project, region] = self.scope();
        let mut args: Vec<String> = vec![
            "run".into(),
            "deploy".into(),
            self.service.clone(),
            project,
            region,
            format!("--image={image}"),
            "--platform=managed".into(),
            format!("--service-account={}", self.runtime_sa),
            "--allow-unauthenticated".into(),
            format!("--env-vars-file={}", self.env_file),
            format!("--set-secrets={}", secrets_flag(&self.secrets)),
        ];
        args.extend(SERVICE_FLAGS.iter().map(|f| (*f).to_owned()));
        args.push("--quiet".into());
        GcloudCall::stream(args)
    }

    /// Reads the image the service currently runs.
    pub fn describe_image(&self) -> GcloudCall {
        let [project, region] = self.scope();
        GcloudCall {
            args: vec![
                "run".into(),
                "services".into(),
                "describe".into(),
                self.service.clone(),
                project,
                region,
                "--format=value(spec.template.spec.containers[0].image)".into(),
            ],
            output: Output::Capture,
        }
    }

    /// `make prod-update-jobs` for one job: image, env file, secrets and command.
    pub fn update_job(&self, job: &str, command: &str, image: &str) -> GcloudCall {
        let [project, region] = self.scope();
        GcloudCall::stream(vec![
            "run".into(),
            "jobs".into(),
            "update".into(),
            job.to_owned(),
            project,
            region,
            format!("--image={image}"),
            format!("--service-account={}", self.runtime_sa),
            format!("--env-vars-file={}", self.env_file),
            format!("--set-secrets={}", secrets_flag(&self.secrets)),
            "--command=sole".into(),
            format!("--args={command}"),
            "--quiet".into(),
        ])
    }

    /// The PBGC job gets what the other jobs get, through `jobs deploy` (create or update) rather
    /// than `jobs update`: projects bootstrapped before the job existed gain it on their next
    /// release instead of failing there.
    pub fn deploy_pbgc_job(&self, image: &str) -> GcloudCall {
        let [project, region] = self.scope();
        GcloudCall::stream(vec![
            "run".into(),
            "jobs".into(),
            "deploy".into(),
            self.pbgc_job.clone(),
            project,
            region,
            format!("--image={image}"),
            format!("--service-account={}", self.runtime_sa),
            format!("--env-vars-file={}", self.env_file),
            format!("--set-secrets={}", secrets_flag(&self.secrets)),
            "--command=sole".into(),
            format!("--args={PBGC_JOB_ARGS}"),
            // A failed fetch leaves the stored rates untouched; the next month retries.
            "--max-retries=1".into(),
            "--task-timeout=300s".into(),
            "--quiet".into(),
        ])
    }

    /// The Cloud Run Admin API address Cloud Scheduler POSTs to in order to run the PBGC job.
    pub fn pbgc_run_uri(&self) -> String {
        format!(
            "https://run.googleapis.com/v2/projects/{}/locations/{}/jobs/{}:run",
            self.project, self.region, self.pbgc_job
        )
    }

    /// `make prod-migrate` / `make prod-seed`.
    pub fn execute_job(&self, job: &str) -> GcloudCall {
        let [project, region] = self.scope();
        GcloudCall::stream(vec![
            "run".into(),
            "jobs".into(),
            "execute".into(),
            job.to_owned(),
            project,
            region,
            "--wait".into(),
        ])
    }

    /// `make prod-logs`: recent ERROR entries of the service and the jobs.
    pub fn logs(&self, limit: u32) -> GcloudCall {
        let filter = format!(
            "severity>=ERROR AND ((resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"{}\") OR (resource.type=\"cloud_run_job\" AND (resource.labels.job_name=\"{}\" OR resource.labels.job_name=\"{}\" OR resource.labels.job_name=\"{}\")))",
            self.service, self.migrate_job, self.seed_job, self.pbgc_job
        );
        GcloudCall::stream(vec![
            "logging".into(),
            "read".into(),
            filter,
            format!("--project={}", self.project),
            format!("--limit={limit}"),
            "--freshness=1d".into(),
        ])
    }

    /// The one-time project setup, as (check, create) pairs: the check is a `describe` whose
    /// success means the resource exists and the creation is skipped; `None` means the call is
    /// idempotent and always runs.
    pub fn bootstrap(&self) -> Vec<(Option<GcloudCall>, GcloudCall)> {
        let project = format!("--project={}", self.project);
        let capture = |args: Vec<String>| GcloudCall {
            args,
            output: Output::Capture,
        };
        let s = |x: &str| x.to_owned();
        let mut out = vec![(
            None,
            GcloudCall::stream(vec![
                s("services"),
                s("enable"),
                s("run.googleapis.com"),
                s("cloudbuild.googleapis.com"),
                s("artifactregistry.googleapis.com"),
                s("secretmanager.googleapis.com"),
                s("cloudscheduler.googleapis.com"),
                project.clone(),
            ]),
        )];
        out.push((
            Some(capture(vec![
                s("artifacts"),
                s("repositories"),
                s("describe"),
                s(AR_REPOSITORY),
                project.clone(),
                format!("--location={}", self.region),
            ])),
            GcloudCall::stream(vec![
                s("artifacts"),
                s("repositories"),
                s("create"),
                s(AR_REPOSITORY),
                project.clone(),
                format!("--location={}", self.region),
                s("--repository-format=docker"),
            ]),
        ));
        let account_id = self
            .runtime_sa
            .split('@')
            .next()
            .unwrap_or(RUNTIME_SA_NAME)
            .to_owned();
        out.push((
            Some(capture(vec![
                s("iam"),
                s("service-accounts"),
                s("describe"),
                self.runtime_sa.clone(),
                project.clone(),
            ])),
            GcloudCall::stream(vec![
                s("iam"),
                s("service-accounts"),
                s("create"),
                account_id,
                project.clone(),
                s("--display-name=sole runtime (service and jobs)"),
            ]),
        ));
        out.push((
            None,
            GcloudCall::stream(vec![
                s("projects"),
                s("add-iam-policy-binding"),
                self.project.clone(),
                format!("--member=serviceAccount:{}", self.runtime_sa),
                s("--role=roles/secretmanager.secretAccessor"),
                s("--condition=None"),
                s("--quiet"),
            ]),
        ));
        let mut secrets: Vec<&str> = self.secrets.iter().map(|r| r.secret.as_str()).collect();
        secrets.dedup();
        for secret in secrets {
            out.push((
                Some(capture(vec![
                    s("secrets"),
                    s("describe"),
                    s(secret),
                    project.clone(),
                ])),
                GcloudCall::stream(vec![
                    s("secrets"),
                    s("create"),
                    s(secret),
                    project.clone(),
                    s("--replication-policy=automatic"),
                ]),
            ));
        }
        // The jobs start on a placeholder image; `sole release update-jobs` points them at the
        // service's image, env file and secrets.
        for (job, command) in [
            (&self.migrate_job, "migrate"),
            (&self.seed_job, "seed"),
            (&self.pbgc_job, PBGC_JOB_ARGS),
        ] {
            let [project, region] = self.scope();
            out.push((
                Some(capture(vec![
                    s("run"),
                    s("jobs"),
                    s("describe"),
                    job.clone(),
                    project.clone(),
                    region.clone(),
                ])),
                GcloudCall::stream(vec![
                    s("run"),
                    s("jobs"),
                    s("create"),
                    job.clone(),
                    project,
                    region,
                    s("--image=us-docker.pkg.dev/cloudrun/container/job:latest"),
                    format!("--service-account={}", self.runtime_sa),
                    s("--max-retries=0"),
                    s("--task-timeout=1800s"),
                    format!("--args={command}"),
                ]),
            ));
        }
        // Cloud Scheduler runs the PBGC job monthly, calling the Run Admin API as the runtime
        // service account, which therefore may invoke that one job.
        let [scope_project, region] = self.scope();
        out.push((
            None,
            GcloudCall::stream(vec![
                s("run"),
                s("jobs"),
                s("add-iam-policy-binding"),
                self.pbgc_job.clone(),
                scope_project,
                region,
                format!("--member=serviceAccount:{}", self.runtime_sa),
                s("--role=roles/run.invoker"),
                s("--quiet"),
            ]),
        ));
        let location = format!("--location={}", self.region);
        out.push((
            Some(capture(vec![
                s("scheduler"),
                s("jobs"),
                s("describe"),
                self.pbgc_job.clone(),
                project.clone(),
                location.clone(),
            ])),
            GcloudCall::stream(vec![
                s("scheduler"),
                s("jobs"),
                s("create"),
                s("http"),
                self.pbgc_job.clone(),
                project,
                location,
                format!("--schedule={}", self.pbgc_schedule),
                s("--time-zone=Etc/UTC"),
                format!("--uri={}", self.pbgc_run_uri()),
                s("--http-method=POST"),
                format!("--oauth-service-account-email={}", self.runtime_sa),
                s("--description=sole pbgc refresh: store the PBGC mid-term rates"),
            ]),
        ));
        out
    }

    /// Who gcloud is logged in as (empty output: nobody).
    pub fn auth_check() -> GcloudCall {
        GcloudCall {
            args: vec![
                "auth".into(),
                "list".into(),
                "--filter=status:ACTIVE".into(),
                "--format=value(account)".into(),
            ],
            output: Output::Capture,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_entries_accept_names_and_makefile_mappings() {
        let s =
            parse_secrets("SECRET_KEY, DATABASE_URL=DATABASE_URL:latest,X=other-name:3").unwrap();
        assert_eq!(
            secrets_flag(&s),
            "SECRET_KEY=SECRET_KEY:latest,DATABASE_URL=DATABASE_URL:latest,X=other-name:3"
        );
    }

    #[test]
    fn secret_values_are_refused() {
        let err = parse_secrets("SECRET_KEY=hunter2 hunter2,A,A,1X,B=b:old").unwrap_err();
        assert_eq!(err.len(), 4, "{err:?}");
        assert!(err[0].contains("not a Secret Manager name"));
        assert!(err[1].contains("listed twice"));
        assert!(parse_secrets(" , ").is_err());
    }

    #[test]
    fn display_quotes_only_what_needs_it() {
        assert_eq!(shell_quote("--wait"), "--wait");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("--format=value(x)"), "'--format=value(x)'");
    }
}
