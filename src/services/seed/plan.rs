//! The pure half of `sole seed`: which orgs, which admin and which demo people a run seeds,
//! derived from the settings and `seeds/*.yaml` before anything touches the database.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::password::PasswordHasher;
use crate::auth::policy::PasswordPolicy;
use crate::config::{Argon2Settings, Settings, WEAK_SEED_PASSWORDS};
use crate::domain::org::OrgId;

use super::data::SeedData;

/// One org to seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedOrg {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    /// Where the org was named (`DEFAULT_ORG_ID`, a YAML file, `EXTRA_SEED_ORG_IDS`,
    /// `--extra-orgs`).
    pub source: &'static str,
    /// Name and slug are kept in step (YAML orgs); otherwise only used on creation.
    pub converge_name: bool,
    pub is_default: bool,
}

/// The seed admin identity (`SEED_ADMIN_*`).
#[derive(Clone, Debug)]
pub struct AdminSeed {
    pub email: String,
    pub password: SecretString,
    pub full_name: String,
}

/// What one run will do, decided before connecting.
#[derive(Clone, Debug)]
pub struct SeedPlan {
    pub orgs: Vec<PlannedOrg>,
    pub admin: AdminSeed,
    /// Demo departments and users (not in production, not with `--no-demo`).
    pub demo: bool,
    pub data: SeedData,
}

/// "acme-west" -> "Acme West Organization" (the legacy seed's name for extra orgs).
pub fn derived_org_name(id: &str) -> String {
    let words: Vec<String> = id
        .replace('-', " ")
        .split_whitespace()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect();
    format!("{} Organization", words.join(" "))
}

impl SeedPlan {
    /// Validates the settings and the org lists; every problem is reported at once.
    pub fn build(
        settings: &Settings,
        extra_orgs_flag: &[String],
        no_demo: bool,
        data: SeedData,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();

        let email = match settings.seed_admin_email.as_deref() {
            None => {
                problems.push("SEED_ADMIN_EMAIL is required by sole seed".to_owned());
                String::new()
            }
            Some(raw) => match crate::domain::email::normalize(raw) {
                Ok(email) => email,
                Err(reason) => {
                    problems.push(format!(
                        "SEED_ADMIN_EMAIL is not a valid e-mail address: {reason}"
                    ));
                    String::new()
                }
            },
        };
        let password = match &settings.seed_admin_password {
            None => {
                problems.push("SEED_ADMIN_PASSWORD is required by sole seed".to_owned());
                SecretString::from(String::new())
            }
            Some(password) => {
                let policy = PasswordPolicy::new(settings.default_password_min_length);
                if let Err(violation) = policy.check(password.expose_secret()) {
                    problems.push(format!(
                        "SEED_ADMIN_PASSWORD does not pass the password policy: {violation}"
                    ));
                }
                if settings.environment.is_production()
                    && WEAK_SEED_PASSWORDS
                        .contains(&password.expose_secret().to_lowercase().as_str())
                {
                    problems.push(
                        "SEED_ADMIN_PASSWORD is a known weak value; production refuses it"
                            .to_owned(),
                    );
                }
                password.clone()
            }
        };

        let mut orgs: Vec<PlannedOrg> = Vec::new();
        let default_id = settings.default_org_id.clone();
        let default_slug = if settings.default_org_slug.trim().is_empty() {
            default_id.as_str().to_owned()
        } else {
            settings.default_org_slug.clone()
        };
        orgs.push(PlannedOrg {
            name: settings.default_org_name.clone(),
            slug: default_slug,
            id: default_id,
            source: "DEFAULT_ORG_ID",
            converge_name: false,
            is_default: true,
        });
        for (id, org) in &data.orgs {
            if orgs.iter().any(|o| &o.id == id) {
                continue;
            }
            orgs.push(PlannedOrg {
                id: id.clone(),
                name: org.name.trim().to_owned(),
                slug: org
                    .slug
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or(id.as_str())
                    .to_owned(),
                source: "seeds",
                converge_name: true,
                is_default: false,
            });
        }
        let extras = settings
            .extra_seed_org_ids
            .iter()
            .map(|raw| ("EXTRA_SEED_ORG_IDS", raw))
            .chain(extra_orgs_flag.iter().map(|raw| ("--extra-orgs", raw)));
        for (source, raw) in extras {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            match OrgId::parse(raw) {
                Err(e) => problems.push(format!("{source}: {raw:?}: {e}")),
                Ok(id) => {
                    if orgs.iter().any(|o| o.id == id) {
                        continue;
                    }
                    orgs.push(PlannedOrg {
                        name: derived_org_name(id.as_str()),
                        slug: id.as_str().to_owned(),
                        id,
                        source,
                        converge_name: false,
                        is_default: false,
                    });
                }
            }
        }
        let mut slugs: HashMap<&str, &OrgId> = HashMap::new();
        for org in &orgs {
            if let Some(other) = slugs.insert(org.slug.as_str(), &org.id) {
                problems.push(format!(
                    "orgs {other} and {} would both get the slug {:?}",
                    org.id, org.slug
                ));
            }
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(SeedPlan {
            orgs,
            admin: AdminSeed {
                email,
                password,
                full_name: settings.seed_admin_full_name.clone(),
            },
            demo: !settings.environment.is_production() && !no_demo,
            data,
        })
    }

    /// The logins the seed provides in `org` (admin first).
    pub fn logins(&self, org: &str) -> Vec<String> {
        let mut out = vec![self.admin.email.clone()];
        if self.demo {
            out.extend(self.data.demo_users.iter().map(|u| u.email_for(org)));
        }
        out
    }
}

/// Hashes each distinct password once per run, and builds the hasher only when a password is
/// actually needed (a run that creates no identity hashes nothing).
pub struct PasswordCache {
    argon2: Argon2Settings,
    hasher: Option<PasswordHasher>,
    hashes: Vec<(SecretString, String)>,
}

impl PasswordCache {
    pub fn new(argon2: &Argon2Settings) -> Self {
        Self {
            argon2: argon2.clone(),
            hasher: None,
            hashes: Vec::new(),
        }
    }

    /// Number of distinct passwords hashed so far.
    pub fn hashed(&self) -> usize {
        self.hashes.len()
    }

    pub async fn hash(&mut self, password: &SecretString) -> anyhow::Result<String> {
        if let Some((_, hash)) = self
            .hashes
            .iter()
            .find(|(p, _)| p.expose_secret() == password.expose_secret())
        {
            return Ok(hash.clone());
        }
        let hasher = match &self.hasher {
            Some(h) => h.clone(),
            None => {
                let settings = self.argon2.clone();
                let h =
                    tokio::task::spawn_blocking(move || PasswordHasher::new(&settings)).await??;
                self.hasher = Some(h.clone());
                h
            }
        };
        let hash = hasher.hash_async(password.expose_secret()).await?;
        self.hashes.push((password.clone(), hash.clone()));
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut env = EnvMap::from_pairs([
            ("SEED_ADMIN_EMAIL", "Admin@Example.COM"),
            ("SEED_ADMIN_PASSWORD", "Seed#Admin42pass"),
        ]);
        env.overlay(EnvMap::from_pairs(pairs.iter().copied()));
        Settings::from_env(&env).unwrap()
    }

    #[test]
    fn extra_org_names_follow_the_legacy_rule() {
        assert_eq!(derived_org_name("acme-west"), "Acme West Organization");
        assert_eq!(derived_org_name("beta"), "Beta Organization");
    }

    #[test]
    fn orgs_from_env_and_flag_are_normalised_and_deduplicated() {
        let s = settings(&[("EXTRA_SEED_ORG_IDS", " Acme ,beta,acme,default")]);
        let plan = SeedPlan::build(
            &s,
            &["BETA".into(), "gamma".into()],
            false,
            SeedData::default(),
        )
        .unwrap();
        let ids: Vec<_> = plan.orgs.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["default", "acme", "beta", "gamma"]);
        assert_eq!(plan.admin.email, "Admin@example.com");
        assert!(plan.demo);
    }

    #[test]
    fn every_problem_is_reported() {
        let s = settings(&[
            ("SEED_ADMIN_PASSWORD", "short"),
            ("EXTRA_SEED_ORG_IDS", "Not Valid!"),
        ]);
        let problems = SeedPlan::build(&s, &["x".into()], false, SeedData::default()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("SEED_ADMIN_PASSWORD does not pass"));
        assert!(problems[1].starts_with("EXTRA_SEED_ORG_IDS"));
        assert!(problems[2].starts_with("--extra-orgs"));
    }

    #[test]
    fn production_refuses_weak_passwords_and_skips_demo_data() {
        let s = settings(&[
            ("ENVIRONMENT", "production"),
            ("SEED_ADMIN_PASSWORD", "ChangeMe123!"),
        ]);
        let problems = SeedPlan::build(&s, &[], false, SeedData::default()).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("known weak value")),
            "{problems:?}"
        );
        let s = settings(&[("ENVIRONMENT", "production")]);
        assert!(
            !SeedPlan::build(&s, &[], false, SeedData::default())
                .unwrap()
                .demo
        );
        let s = settings(&[]);
        assert!(
            !SeedPlan::build(&s, &[], true, SeedData::default())
                .unwrap()
                .demo
        );
    }
}
