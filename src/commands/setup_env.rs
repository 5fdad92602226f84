//! `sole setup-env`: writes `.env` (dev) or `.env.prod` (prod).
//!
//! Replaces `setup.sh` and `scripts/setup/*.sh` (contract §9.6) with the DESIGN.md §4 fixes:
//! valid `.env` syntax (keys as file paths), `ENVIRONMENT` and `FERNET_KDF_SALT` always written,
//! RS256 only. The same questions drive the interactive wizard (dialoguer, when stdin and stdout
//! are terminals) and the non-interactive mode (`--set`, then the file's current values, then
//! defaults); rendering the answers into the file is the pure function [`render::render`].

mod fields;
pub mod render;
mod wizard;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{Profile, SetupEnvArgs};
use crate::commands::{Reported, secrets};

use fields::{FIELDS, ORG_FIELDS, S_ENV, S_KEYS, S_OTHER, S_PROXY, S_TENANCY};
pub use fields::{Field, Kind};
use render::{Answers, EnvFile};

/// How the questions get answered.
pub trait Ask {
    /// A validated value for `field`; `current` is the file's value (suggested first).
    fn value(
        &mut self,
        field: &Field,
        current: Option<&str>,
        min_password: usize,
    ) -> anyhow::Result<Option<String>>;
    /// A yes/no question.
    fn confirm(&mut self, prompt: &str, default: bool) -> anyhow::Result<bool>;
    /// Picks one of `items`.
    fn select(&mut self, prompt: &str, items: &[&str], default: usize) -> anyhow::Result<usize>;
    /// An explicit override (`--set`) for a key that is normally generated or derived.
    fn preset(&self, _key: &str) -> Option<String> {
        None
    }
    fn interactive(&self) -> bool;
}

/// What to do about the JWT key pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAction {
    /// Use the files the paths already name.
    Keep,
    /// Generate a new pair into the paths.
    Generate,
    /// Move the legacy inline PEMs of the old file into the paths.
    FromInline {
        private_pem: String,
        public_pem: String,
    },
}

/// Everything decided, before anything is written.
#[derive(Debug)]
pub struct Decisions {
    pub answers: Answers,
    pub keys: KeyAction,
    pub private_path: PathBuf,
    pub public_path: PathBuf,
}

const WEAK_SECRET_PREFIXES: &[&str] = &["dev-secret", "replace-with", "changeme", "dev-only"];

fn strong_secret_key(v: &str) -> bool {
    let lower = v.trim().to_ascii_lowercase();
    v.trim().chars().count() >= 32 && !WEAK_SECRET_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Runs through every question. Pure apart from `ask` and the existence checks of key files.
pub fn decide(
    profile: Profile,
    existing: &EnvFile,
    secrets_dir: &Path,
    ask: &mut dyn Ask,
) -> anyhow::Result<Decisions> {
    let mut a = Answers::default();
    let current = |k: &str| {
        existing
            .get(k)
            .map(str::to_owned)
            .filter(|v| !v.trim().is_empty())
    };

    // Environment.
    let environment = match profile {
        Profile::Prod => "production".to_owned(),
        Profile::Dev => {
            let options = ["development", "staging", "production"];
            let cur = current("ENVIRONMENT").map(|v| v.to_ascii_lowercase());
            match ask.preset("ENVIRONMENT") {
                Some(v) => v,
                None => {
                    let default = cur
                        .as_deref()
                        .and_then(|c| options.iter().position(|o| *o == c))
                        .unwrap_or(0);
                    options[ask.select("ENVIRONMENT", &options, default)?].to_owned()
                }
            }
        }
    };
    a.set(S_ENV, "ENVIRONMENT", environment);

    let mut min_password = 12usize;
    let mut ask_field =
        |a: &mut Answers, field: &Field, min_password: usize| -> anyhow::Result<()> {
            if !field.applies(profile) {
                return Ok(());
            }
            if let Some(v) = ask.value(field, current(field.key).as_deref(), min_password)? {
                a.set(field.section, field.key, v);
            }
            Ok(())
        };

    for field in FIELDS
        .iter()
        .take_while(|f| f.key != "SESSION_TIMEOUT_MINUTES")
    {
        ask_field(&mut a, field, min_password)?;
    }

    // Tenancy.
    let tenancy_field = Field {
        key: "TENANCY_MODE",
        section: S_TENANCY,
        prompt: "Tenancy mode (single or multi)",
        kind: Kind::Choice(&["single", "multi"]),
        dev_default: Some("multi"),
        prod_default: Some("multi"),
        dev: true,
        prod: true,
    };
    ask_field(&mut a, &tenancy_field, min_password)?;
    if a.get("TENANCY_MODE") == Some("single") {
        for field in ORG_FIELDS {
            ask_field(&mut a, field, min_password)?;
        }
    } else {
        // Multi-tenant mode still names the seed's primary org (legacy: the sole-llc defaults).
        for field in ORG_FIELDS {
            let value =
                current(field.key).or_else(|| field.default_for(profile).map(str::to_owned));
            if let Some(v) = value {
                a.set(field.section, field.key, v);
            }
        }
    }

    for field in FIELDS
        .iter()
        .skip_while(|f| f.key != "SESSION_TIMEOUT_MINUTES")
    {
        ask_field(&mut a, field, min_password)?;
        if field.key == "DEFAULT_PASSWORD_MIN_LENGTH" {
            min_password = a.get(field.key).and_then(|v| v.parse().ok()).unwrap_or(12);
        }
    }

    // Proxies: only when asked (interactive) or set.
    if let Some(v) = ask.preset("PROXIES_COUNT") {
        a.set(S_PROXY, "PROXIES_COUNT", v);
    } else if ask.interactive()
        && ask.confirm("Change proxy trust settings (PROXIES_COUNT)?", false)?
    {
        let items = [
            "Cloud Run / PaaS load balancer (1)",
            "Direct, no proxy (0)",
            "Cloudflare + load balancer (2)",
            "Custom",
        ];
        let count = match ask.select("Who is in front of sole?", &items, 0)? {
            0 => "1".to_owned(),
            1 => "0".to_owned(),
            2 => "2".to_owned(),
            _ => {
                let field = Field {
                    key: "PROXIES_COUNT",
                    section: S_PROXY,
                    prompt: "Trusted proxies in front",
                    kind: Kind::Number { min: 0, max: 10 },
                    dev_default: Some("1"),
                    prod_default: Some("1"),
                    dev: true,
                    prod: true,
                };
                ask.value(&field, current("PROXIES_COUNT").as_deref(), min_password)?
                    .unwrap_or_else(|| "1".to_owned())
            }
        };
        a.set(S_PROXY, "PROXIES_COUNT", count);
    }

    // SECRET_KEY: keep a strong current one, else generate (or take a --set / pasted value).
    let secret_key = match ask.preset("SECRET_KEY") {
        Some(v) => v,
        None => match current("SECRET_KEY").filter(|v| strong_secret_key(v)) {
            Some(v)
                if ask.confirm(
                    "Keep the current SECRET_KEY? (a new one makes stored MFA secrets unreadable)",
                    true,
                )? =>
            {
                v
            }
            _ => secrets::secret_key(),
        },
    };
    a.set(S_KEYS, "SECRET_KEY", secret_key);
    let salt = match ask.preset("FERNET_KDF_SALT") {
        Some(v) => v,
        None => match current("FERNET_KDF_SALT").filter(|v| v.trim().chars().count() >= 16) {
            Some(v)
                if ask.confirm(
                    "Keep the current FERNET_KDF_SALT? (a new one makes stored MFA secrets unreadable)",
                    true,
                )? =>
            {
                v
            }
            _ => secrets::kdf_salt(),
        },
    };
    a.set(S_KEYS, "FERNET_KDF_SALT", salt);

    // RS256 key pair as files.
    a.set(S_KEYS, "JWT_ALGORITHM", "RS256");
    let default_private = secrets_dir.join("jwt_private.pem");
    let default_public = secrets_dir.join("jwt_public.pem");
    let existing_paths = current("JWT_PRIVATE_KEY_PATH")
        .zip(current("JWT_PUBLIC_KEY_PATH"))
        .map(|(p, q)| (PathBuf::from(p), PathBuf::from(q)))
        .filter(|(p, q)| p.is_file() && q.is_file());
    let (private_path, public_path, keys) = match existing_paths {
        Some((p, q)) => {
            if ask.confirm(
                &format!("Keep the key pair in {} and {}?", p.display(), q.display()),
                true,
            )? {
                (p, q, KeyAction::Keep)
            } else {
                (default_private, default_public, KeyAction::Generate)
            }
        }
        None if default_private.is_file() && default_public.is_file() => {
            if ask.confirm(
                &format!("Keep the key pair in {}?", secrets_dir.display()),
                true,
            )? {
                (default_private, default_public, KeyAction::Keep)
            } else {
                (default_private, default_public, KeyAction::Generate)
            }
        }
        None => match current("JWT_PRIVATE_KEY").zip(current("JWT_PUBLIC_KEY")) {
            Some((private_pem, public_pem))
                if private_pem.contains("-----BEGIN") && public_pem.contains("-----BEGIN") =>
            {
                (
                    default_private,
                    default_public,
                    KeyAction::FromInline {
                        private_pem: private_pem.replace("\\n", "\n"),
                        public_pem: public_pem.replace("\\n", "\n"),
                    },
                )
            }
            _ => (default_private, default_public, KeyAction::Generate),
        },
    };
    a.set(
        S_KEYS,
        "JWT_PRIVATE_KEY_PATH",
        private_path.to_string_lossy(),
    );
    a.set(S_KEYS, "JWT_PUBLIC_KEY_PATH", public_path.to_string_lossy());
    // Inline keys win over paths in the settings: drop them so the files are what counts.
    a.remove.insert("JWT_PRIVATE_KEY".into());
    a.remove.insert("JWT_PUBLIC_KEY".into());

    Ok(Decisions {
        answers: a,
        keys,
        private_path,
        public_path,
    })
}

/// Answers from `--set`, the file and the defaults; collects every missing or invalid value.
pub struct NonInteractive {
    pub profile: Profile,
    pub set: BTreeMap<String, String>,
    pub problems: Vec<String>,
    /// Defaults found on this machine (the local PostgreSQL), ahead of the fields' own.
    pub defaults: BTreeMap<String, String>,
}

impl Ask for NonInteractive {
    fn value(
        &mut self,
        field: &Field,
        current: Option<&str>,
        min_password: usize,
    ) -> anyhow::Result<Option<String>> {
        let default = self
            .defaults
            .get(field.key)
            .map(String::as_str)
            .or(field.default_for(self.profile));
        let (raw, from) = match (self.set.get(field.key), current, default) {
            (Some(v), _, _) => (v.clone(), "--set"),
            (None, Some(v), _) => (v.to_owned(), "the current file"),
            (None, None, Some(v)) => (v.to_owned(), "the default"),
            (None, None, None) => {
                self.problems.push(format!(
                    "{}: required ({}); pass --set {}=…",
                    field.key, field.prompt, field.key
                ));
                return Ok(None);
            }
        };
        match fields::validate(field.kind, self.profile, min_password, &raw) {
            Ok(v) => Ok(Some(v)),
            Err(reason) => {
                self.problems
                    .push(format!("{} (from {from}): {reason}", field.key));
                Ok(None)
            }
        }
    }

    fn confirm(&mut self, _prompt: &str, default: bool) -> anyhow::Result<bool> {
        Ok(default)
    }

    fn select(&mut self, _prompt: &str, _items: &[&str], default: usize) -> anyhow::Result<usize> {
        Ok(default)
    }

    fn preset(&self, key: &str) -> Option<String> {
        self.set.get(key).cloned()
    }

    fn interactive(&self) -> bool {
        false
    }
}

fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for item in sets {
        match item.split_once('=') {
            Some((k, v))
                if !k.trim().is_empty()
                    && k.trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.insert(k.trim().to_ascii_uppercase(), v.to_owned());
            }
            _ => problems.push(format!(
                "--set {:?}: expected KEY=VALUE",
                item.split('=').next().unwrap_or("")
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Checks the values given with `--set` for keys that are not asked as fields.
fn check_presets(profile: Profile, set: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    if let Some(v) = set.get("SECRET_KEY")
        && !strong_secret_key(v)
    {
        problems
            .push("SECRET_KEY (from --set): at least 32 characters and not a placeholder".into());
    }
    if let Some(v) = set.get("FERNET_KDF_SALT")
        && v.trim().chars().count() < 16
    {
        problems.push("FERNET_KDF_SALT (from --set): at least 16 characters".into());
    }
    if let Some(v) = set.get("ENVIRONMENT")
        && !matches!(v.as_str(), "development" | "staging" | "production")
    {
        problems.push("ENVIRONMENT (from --set): development, staging or production".into());
    }
    if profile == Profile::Prod && set.get("ENVIRONMENT").is_some_and(|v| v != "production") {
        problems.push("ENVIRONMENT: the prod profile always writes production".into());
    }
    if let Some(v) = set.get("JWT_ALGORITHM")
        && v != "RS256"
    {
        problems.push("JWT_ALGORITHM (from --set): only RS256 is supported".into());
    }
    if let Some(v) = set.get("PROXIES_COUNT")
        && v.parse::<u8>().is_err()
    {
        problems.push("PROXIES_COUNT (from --set): a whole number".into());
    }
}

/// The keys fully handled by [`decide`]; any other `--set` key is written as given.
fn handled(key: &str) -> bool {
    FIELDS.iter().chain(ORG_FIELDS).any(|f| f.key == key)
        || matches!(
            key,
            "ENVIRONMENT"
                | "TENANCY_MODE"
                | "SECRET_KEY"
                | "FERNET_KDF_SALT"
                | "JWT_ALGORITHM"
                | "PROXIES_COUNT"
                | "JWT_PRIVATE_KEY_PATH"
                | "JWT_PUBLIC_KEY_PATH"
        )
}

fn header(profile: Profile) -> String {
    let what = match profile {
        Profile::Dev => "local development",
        Profile::Prod => "production values for Secret Manager (never deployed as a file)",
    };
    format!(
        "Written by `sole setup-env --profile {}`: {what}.\nRe-run it to change values; keys it does not know are kept.\n",
        match profile {
            Profile::Dev => "dev",
            Profile::Prod => "prod",
        }
    )
}

pub fn run(args: &SetupEnvArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let interactive = !args.non_interactive;
    if interactive && !terminal {
        return Err(Reported::new(
            2,
            "setup-env needs a terminal for its questions; use --profile dev|prod --non-interactive [--set KEY=VALUE ...]",
        )
        .into());
    }
    if !interactive && args.profile.is_none() {
        return Err(
            Reported::new(2, "--non-interactive needs --profile dev or --profile prod").into(),
        );
    }
    if ![2048, 3072, 4096].contains(&args.key_bits) {
        return Err(Reported::new(2, "--key-bits must be 2048, 3072 or 4096").into());
    }
    let set = parse_sets(&args.set).map_err(|p| Reported::new(2, p.join("\n")))?;

    let mut wizard = wizard::Wizard::new();
    let profile = match args.profile {
        Some(p) => p,
        None => wizard.choose_profile()?,
    };
    let output = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(match profile {
            Profile::Dev => ".env",
            Profile::Prod => ".env.prod",
        })
    });
    let old_text = match std::fs::read_to_string(&output) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot read {}", output.display())));
        }
    };
    let existing = EnvFile::parse(old_text.as_deref().unwrap_or(""));
    let defaults = machine_defaults(profile, &existing, &set);
    warn_unknown_sets(&set);

    let mut decisions = if interactive {
        wizard.profile = profile;
        wizard.defaults = defaults;
        wizard.intro(&output);
        decide(profile, &existing, &args.secrets_dir, &mut wizard)?
    } else {
        let mut ni = NonInteractive {
            profile,
            set: set.clone(),
            problems: Vec::new(),
            defaults,
        };
        check_presets(profile, &set, &mut ni.problems);
        let decisions = decide(profile, &existing, &args.secrets_dir, &mut ni)?;
        if !ni.problems.is_empty() {
            let mut message = format!(
                "cannot write {}: {} problem(s)",
                output.display(),
                ni.problems.len()
            );
            for p in &ni.problems {
                message.push_str(&format!("\n  - {p}"));
            }
            return Err(Reported::new(2, message).into());
        }
        decisions
    };
    for (k, v) in &set {
        if !handled(k) {
            decisions.answers.set(S_OTHER, k, v.clone());
        }
    }

    let new_text = render::render(&existing, &decisions.answers, &header(profile))
        .map_err(|e| Reported::new(2, e))?;
    let new_file = EnvFile::parse(&new_text);
    let changes = render::diff(&existing, &new_file);
    let keys_change = decisions.keys != KeyAction::Keep;

    if old_text.is_some() && (changes.is_empty() && !keys_change) {
        secrets::set_private(&output)?;
        println!("{} is up to date; nothing changed", output.display());
    } else {
        if let Some(old) = &old_text {
            println!("Changes to {}:", output.display());
            for line in render::describe_changes(&changes, &existing, &new_file, fields::is_secret)
            {
                println!("{line}");
            }
            if keys_change {
                println!("  * new key pair in {}", decisions.private_path.display());
            }
            if interactive {
                if !wizard.confirm(
                    &format!("Write these changes to {}?", output.display()),
                    true,
                )? {
                    println!("nothing written");
                    return Ok(());
                }
            } else {
                let backup = backup_path(&output);
                secrets::write_private(&backup, old)?;
                println!("previous version kept as {}", backup.display());
            }
        }
        write_keys(&decisions, args.key_bits)?;
        secrets::write_private(&output, &new_text)?;
        println!("wrote {} (mode 0600)", output.display());
    }

    match profile {
        Profile::Dev => {
            let sole = sole_command();
            println!(
                "next: {sole} migrate && {sole} seed && {sole} serve   ({sole} config check shows what the server will see)"
            );
        }
        Profile::Prod => print_secret_commands(&output, &new_file, &decisions),
    }
    Ok(())
}

/// How to run `sole` from here: `sole` when it is on PATH, else the `cargo run --` form.
fn sole_command() -> &'static str {
    if crate::commands::release::find_on_path("sole").is_some() {
        "sole"
    } else {
        "cargo run --"
    }
}

/// Defaults that depend on this machine. The dev profile's DATABASE_URL is what `sole serve
/// --dev` would pick (the first local PostgreSQL login that works), unless the file or `--set`
/// already has one.
fn machine_defaults(
    profile: Profile,
    existing: &EnvFile,
    set: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let has =
        |k: &str| set.contains_key(k) || existing.get(k).is_some_and(|v| !v.trim().is_empty());
    if profile == Profile::Dev && !has("DATABASE_URL") {
        match crate::commands::dev::probe_local_database() {
            Some(url) => {
                println!(
                    "found a local PostgreSQL: DATABASE_URL={url} (what `sole serve --dev` uses)"
                );
                out.insert("DATABASE_URL".to_owned(), url);
            }
            None => println!(
                "no local PostgreSQL accepted a login (tried localhost:5432 as the current user and as \
                 postgres): DATABASE_URL gets a guess; fix it, or use `sole serve --dev`, which can \
                 start a private cluster"
            ),
        }
    }
    out
}

/// `--set` keys no part of sole reads are written as given, with a warning: probably typos.
fn warn_unknown_sets(set: &BTreeMap<String, String>) {
    let known = crate::config::known_keys();
    for key in set.keys().filter(|k| !known.contains(*k)) {
        match crate::config::closest(key, &known) {
            Some(s) => eprintln!(
                "warning: --set {key}: not a setting sole reads; a typo of {s}? (written as given)"
            ),
            None => eprintln!("warning: --set {key}: not a setting sole reads (written as given)"),
        }
    }
}

fn backup_path(output: &Path) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "backup".to_owned());
    let mut name = output
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".bak-{stamp}"));
    let candidate = output.with_file_name(&name);
    if !candidate.exists() {
        return candidate;
    }
    name.push(format!("-{}", std::process::id()));
    output.with_file_name(name)
}

fn write_keys(d: &Decisions, bits: u32) -> anyhow::Result<()> {
    let (private_pem, public_pem) = match &d.keys {
        KeyAction::Keep => return Ok(()),
        KeyAction::Generate => {
            println!("generating an RSA-{bits} key pair…");
            let pair = secrets::rsa_key_pair(bits)?;
            (
                secrecy::ExposeSecret::expose_secret(&pair.private_pem).to_owned(),
                pair.public_pem,
            )
        }
        KeyAction::FromInline {
            private_pem,
            public_pem,
        } => {
            println!("moving the inline JWT keys of the old file into key files");
            (ensure_newline(private_pem), ensure_newline(public_pem))
        }
    };
    for path in [&d.private_path, &d.public_path] {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            secrets::private_dir(dir)?;
        }
        if path.exists() {
            let backup = backup_path(path);
            std::fs::rename(path, &backup)
                .with_context(|| format!("cannot back up {}", path.display()))?;
            println!("previous {} kept as {}", path.display(), backup.display());
        }
    }
    secrets::write_private(&d.private_path, &private_pem)?;
    secrets::write_private(&d.public_path, &public_pem)?;
    println!(
        "wrote {} and {} (mode 0600)",
        d.private_path.display(),
        d.public_path.display()
    );
    Ok(())
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}

/// The Secret Manager names of the README (the release's default secret list).
pub const SECRET_MANAGER_NAMES: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_URL_DIRECT",
    "REDIS_URL",
    "SECRET_KEY",
    "JWT_PRIVATE_KEY",
    "JWT_PUBLIC_KEY",
    "SEED_ADMIN_PASSWORD",
    "SEED_ADMIN_EMAIL",
    "FERNET_KDF_SALT",
];

/// Commands that upload the values without ever showing them: values are read from the file
/// (sourced into the shell) or from the key files.
pub fn secret_commands(
    env_file: &Path,
    file: &EnvFile,
    private: &Path,
    public: &Path,
) -> Vec<String> {
    let project = "\"$PROJECT_ID\"";
    let mut out = vec![
        ": \"${PROJECT_ID:?set PROJECT_ID to your Google Cloud project id first}\"".to_owned(),
        format!("set -a; . ./{}; set +a", env_file.display()),
    ];
    for name in SECRET_MANAGER_NAMES {
        let source = match *name {
            "JWT_PRIVATE_KEY" => format!("--data-file={}", private.display()),
            "JWT_PUBLIC_KEY" => format!("--data-file={}", public.display()),
            other if file.get(other).is_some() => "--data-file=-".to_owned(),
            _ => continue,
        };
        out.push(format!(
            "gcloud secrets create {name} --project={project} --replication-policy=automatic 2>/dev/null || true"
        ));
        if source == "--data-file=-" {
            out.push(format!(
                "printf '%s' \"${name}\" | gcloud secrets versions add {name} --project={project} {source}"
            ));
        } else {
            out.push(format!(
                "gcloud secrets versions add {name} --project={project} {source}"
            ));
        }
    }
    out
}

fn print_secret_commands(output: &Path, file: &EnvFile, d: &Decisions) {
    println!();
    println!(
        "Production reads these from Secret Manager (see README, Production). To upload them,"
    );
    println!("run in this directory (values are read from the files, never printed):");
    println!();
    for line in secret_commands(output, file, &d.private_path, &d.public_path) {
        println!("  {line}");
    }
    println!();
    println!("Non-secret settings belong in config.prod.yaml; check both before a release with:");
    println!("  sole release --dry-run");
}
