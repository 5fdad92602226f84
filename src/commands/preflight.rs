//! The offline checks shared by `sole serve` (before it binds) and `sole config check`: the
//! parse problems, the production rules and everything building the server's state needs (a
//! PostgreSQL URL, JWT key files that are readable, valid and a matching pair, SECRET_KEY, a
//! Redis URL that parses, the argon2 parameters). Connects to nothing. One problem per
//! variable, so a bad value is not reported three times over.

use secrecy::ExposeSecret;

use crate::auth::jwt::JwtKeys;
use crate::config::{EnvMap, KeySource, Problem, Settings, describe_io};
use crate::db::DbUrl;

/// Everything `serve` would refuse, in one list.
pub fn check(env: &EnvMap) -> (Settings, Vec<Problem>) {
    let (settings, mut problems) = Settings::check(env);
    for p in state_problems(&settings) {
        push_once(&mut problems, p);
    }
    (settings, problems)
}

/// Adds `p` unless its variable already has a problem.
fn push_once(problems: &mut Vec<Problem>, p: Problem) {
    if !problems.iter().any(|q| q.var == p.var) {
        problems.push(p);
    }
}

/// What building the state would trip over, checked without connecting.
pub fn state_problems(settings: &Settings) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut push = |var: &'static str, message: String| out.push(Problem { var, message });

    match &settings.database.url {
        None => push(
            "DATABASE_URL",
            "is required (postgres://user:password@host:port/database)".into(),
        ),
        Some(url) => {
            if let Err(e) = DbUrl::parse("DATABASE_URL", url.expose_secret()) {
                push("DATABASE_URL", strip_var(&e.to_string(), "DATABASE_URL"));
            }
        }
    }
    if let Some(url) = &settings.database.url_direct
        && let Err(e) = DbUrl::parse("DATABASE_URL_DIRECT", url.expose_secret())
    {
        push(
            "DATABASE_URL_DIRECT",
            strip_var(&e.to_string(), "DATABASE_URL_DIRECT"),
        );
    }
    if let Some(url) = &settings.redis_url
        && redis::Client::open(url.expose_secret()).is_err()
    {
        push(
            "REDIS_URL",
            "is not a valid Redis URL (expected redis://host:port/db or rediss://…)".into(),
        );
    }
    if settings
        .secret_key
        .as_ref()
        .is_none_or(|k| k.expose_secret().is_empty())
    {
        push(
            "SECRET_KEY",
            "is required (it encrypts the stored MFA secrets)".into(),
        );
    }
    for (var, problem) in key_problems(settings) {
        push(var, problem);
    }
    if let Err(e) = crate::auth::password::PasswordHasher::new(&settings.argon2) {
        push(
            "ARGON2_MEMORY_KIB",
            format!("invalid argon2 parameters: {e}"),
        );
    }
    out
}

/// `{var} is …` → `is …` (the variable is printed in front already).
fn strip_var(message: &str, var: &str) -> String {
    message
        .strip_prefix(var)
        .map(|rest| rest.trim_start_matches(':').trim_start().to_owned())
        .unwrap_or_else(|| message.to_owned())
}

const PRIVATE: &str = "JWT_PRIVATE_KEY";
const PUBLIC: &str = "JWT_PUBLIC_KEY";

/// Reads one key: the PEM text, or the problem (naming the file and what is wrong with it).
fn read_key(source: Option<&KeySource>, var: &'static str) -> Result<String, String> {
    match source {
        None => Err(format!(
            "is required (inline PEM, or {var}_PATH naming a file)"
        )),
        Some(KeySource::Inline(pem)) => Ok(pem.expose_secret().to_owned()),
        Some(KeySource::File(path)) => std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the key file {} ({var}_PATH): {}",
                path.display(),
                describe_io(&e)
            )
        }),
    }
}

/// Missing, unreadable, malformed or mismatched JWT keys, one problem per variable.
fn key_problems(settings: &Settings) -> Vec<(&'static str, String)> {
    let private = read_key(settings.jwt_private_key.as_ref(), PRIVATE);
    let public = read_key(settings.jwt_public_key.as_ref(), PUBLIC);
    let (private, public) = match (private, public) {
        (Ok(p), Ok(q)) => (p, q),
        (p, q) => {
            return [(PRIVATE, p.err()), (PUBLIC, q.err())]
                .into_iter()
                .filter_map(|(var, e)| Some((var, e?)))
                .collect();
        }
    };
    let private = secrecy::SecretString::from(private);
    match JwtKeys::from_pems(private.expose_secret(), &public) {
        Ok(_) => Vec::new(),
        Err(crate::auth::jwt::JwtKeyError::Mismatch) => vec![(
            PUBLIC,
            "does not belong to JWT_PRIVATE_KEY (the two keys are not one pair)".into(),
        )],
        Err(crate::auth::jwt::JwtKeyError::Invalid { var, what }) => {
            let mut out = vec![(
                var,
                format!(
                    "not a valid RSA {what} key in PEM format{}",
                    where_from(settings, var)
                ),
            )];
            // The public key may be broken too: say so in the same run.
            if var == PRIVATE
                && (!public.contains("PUBLIC KEY")
                    || pem::parse(crate_normalize(&public).as_bytes()).is_err())
            {
                out.push((
                    PUBLIC,
                    format!(
                        "not a valid RSA public key in PEM format{}",
                        where_from(settings, PUBLIC)
                    ),
                ));
            }
            out
        }
        Err(e) => vec![(PRIVATE, e.to_string())],
    }
}

fn crate_normalize(raw: &str) -> String {
    raw.trim()
        .trim_matches('"')
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .trim()
        .to_owned()
}

fn where_from(settings: &Settings, var: &str) -> String {
    let source = if var == PRIVATE {
        settings.jwt_private_key.as_ref()
    } else {
        settings.jwt_public_key.as_ref()
    };
    match source {
        Some(KeySource::File(path)) => format!(" (file {})", path.display()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(pairs: &[(&str, &str)]) -> Vec<Problem> {
        check(&EnvMap::from_pairs(pairs.iter().copied())).1
    }

    #[test]
    fn a_bare_development_environment_lists_everything_serve_needs() {
        let vars: Vec<_> = problems(&[]).iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            vec![
                "DATABASE_URL",
                "SECRET_KEY",
                "JWT_PRIVATE_KEY",
                "JWT_PUBLIC_KEY"
            ]
        );
    }

    #[test]
    fn key_files_are_read_and_named() {
        let found = problems(&[
            ("JWT_PRIVATE_KEY_PATH", "/nonexistent/private.pem"),
            ("JWT_PUBLIC_KEY_PATH", "/nonexistent/public.pem"),
        ]);
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains("/nonexistent/private.pem")
                && t.contains("no such file")
                && !t.contains("os error")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("/nonexistent/public.pem")));
    }

    #[test]
    fn a_non_postgres_url_is_refused() {
        let found = problems(&[("DATABASE_URL", "mysql://db/app")]);
        assert!(
            found
                .iter()
                .any(|p| p.var == "DATABASE_URL" && p.message.contains("unsupported scheme")),
            "{found:?}"
        );
    }
}
