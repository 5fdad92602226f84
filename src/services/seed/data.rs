//! The seed data of `seeds/*.yaml`: typed, strict (unknown keys are errors that name the file
//! and the key), validated before anything touches the database.
//!
//! Every `*.yaml` file of the directory is read in name order and may hold any of the three
//! sections (`orgs`, `departments`, `demo_users`); the sections of all files are concatenated.
//! System roles are not seed data: they come from the permission catalogue in code.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::org::OrgId;
use crate::domain::permissions::SystemRole;
use crate::domain::profile::{Field, Problem, Profile};

/// The repository's `seeds/` files, compiled in: used when no seeds directory exists (e.g.
/// `sole serve --dev` started from an empty directory, or the container image).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "departments.yaml",
        include_str!("../../../seeds/departments.yaml"),
    ),
    (
        "demo_users.yaml",
        include_str!("../../../seeds/demo_users.yaml"),
    ),
    ("orgs.yaml", include_str!("../../../seeds/orgs.yaml")),
];

/// The placeholder replaced by the org id in demo e-mails and employee ids.
pub const ORG_PLACEHOLDER: &str = "{org}";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    orgs: Vec<OrgSeed>,
    #[serde(default)]
    departments: Vec<DepartmentSeed>,
    #[serde(default)]
    demo_users: Vec<DemoUserSeed>,
}

/// An org declared in YAML (beyond the ones named by the environment and flags).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OrgSeed {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSeed {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DemoUserSeed {
    /// May contain `{org}`.
    pub email: String,
    /// May contain `{org}`.
    pub employee_id: String,
    /// Stored system role names.
    pub roles: Vec<String>,
    /// A department code.
    #[serde(default)]
    pub department: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub employment_start_date: Option<String>,
    pub profile: ProfileSeed,
    /// Demo stock grants (the legacy seed's list, contract `domain-stock.md` §10).
    #[serde(default)]
    pub stock_grants: Vec<GrantSeed>,
}

/// A demo stock grant as written in YAML.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GrantSeed {
    /// `YYYY-MM-DD`.
    pub grant_date: String,
    pub total_shares: i64,
    /// A decimal text (`"6.5"`).
    pub exercise_price: String,
    /// `IMMEDIATE` or `SCHEDULED`.
    pub vesting_strategy: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// `[[YYYY-MM-DD, shares], …]`.
    #[serde(default)]
    pub vesting_events: Vec<(String, i64)>,
}

/// A validated demo grant: its schedule passed the create rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoGrant {
    pub schedule: crate::domain::stock::vesting::Schedule,
    pub exercise_price: crate::domain::decimal::DecimalInput,
    pub notes: Option<String>,
}

fn seed_date(raw: &str) -> Option<time::Date> {
    time::Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

impl GrantSeed {
    fn validate(&self) -> Result<DemoGrant, String> {
        use crate::domain::stock::{schedule, values::VestingStrategy, vesting::VestingEvent};
        let grant_date = seed_date(&self.grant_date)
            .ok_or_else(|| format!("grant_date: {:?} is not a YYYY-MM-DD date", self.grant_date))?;
        let strategy = VestingStrategy::parse(&self.vesting_strategy)
            .ok_or_else(|| format!("vesting_strategy: {}", VestingStrategy::EXPECTED))?;
        let exercise_price = crate::domain::decimal::DecimalInput::parse(&self.exercise_price)
            .map_err(|e| format!("exercise_price: {}", e.message()))?;
        schedule::check_exercise_price(&exercise_price)
            .map_err(|e| format!("exercise_price: {}", e.message()))?;
        if self.total_shares < 0 {
            return Err("total_shares: must be >= 0".into());
        }
        let mut events = Vec::new();
        for (raw, shares) in &self.vesting_events {
            let vest_date = seed_date(raw)
                .ok_or_else(|| format!("vesting_events: {raw:?} is not a YYYY-MM-DD date"))?;
            if *shares < 0 {
                return Err("vesting_events: shares must be >= 0".into());
            }
            events.push(VestingEvent {
                vest_date,
                shares: *shares,
            });
        }
        let schedule = schedule::build_schedule(strategy, grant_date, self.total_shares, events)
            .map_err(|e| format!("vesting_events: {e}"))?;
        Ok(DemoGrant {
            schedule,
            exercise_price,
            notes: self.notes.clone(),
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileSeed {
    pub first_name: String,
    #[serde(default)]
    pub middle_name: Option<String>,
    pub last_name: String,
    /// Defaults to "first last".
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub preferred_name: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub marital_status: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub address_line1: Option<String>,
    #[serde(default)]
    pub address_line2: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
}

impl ProfileSeed {
    /// The profile as stored: country, state and postal code upper-cased.
    pub fn profile(&self) -> Profile {
        let upper = |v: &Option<String>| v.as_ref().map(|s| s.to_ascii_uppercase());
        Profile {
            first_name: Some(self.first_name.clone()),
            middle_name: self.middle_name.clone(),
            last_name: Some(self.last_name.clone()),
            preferred_name: self.preferred_name.clone(),
            timezone: self.timezone.clone(),
            phone_number: self.phone_number.clone(),
            marital_status: self.marital_status.clone(),
            country: upper(&self.country),
            state: upper(&self.state),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            postal_code: upper(&self.postal_code),
        }
    }

    pub fn full_name(&self) -> String {
        self.full_name.clone().unwrap_or_else(|| {
            format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_owned()
        })
    }
}

/// A validated demo user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    pub email: String,
    pub employee_id: String,
    pub roles: Vec<SystemRole>,
    pub department: Option<String>,
    pub employment_start_date: Option<time::Date>,
    pub profile: ProfileSeed,
    pub stock_grants: Vec<DemoGrant>,
}

impl DemoUser {
    pub fn email_for(&self, org: &str) -> String {
        self.email.replace(ORG_PLACEHOLDER, org)
    }

    pub fn employee_id_for(&self, org: &str) -> String {
        self.employee_id.replace(ORG_PLACEHOLDER, org)
    }
}

/// All seed data, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedData {
    /// Where it came from, for messages (`seeds/` or "built-in").
    pub source: String,
    pub orgs: Vec<(OrgId, OrgSeed)>,
    pub departments: Vec<DepartmentSeed>,
    pub demo_users: Vec<DemoUser>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedDataError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
}

impl SeedData {
    /// Reads every `*.yaml`/`*.yml` file of `dir` in name order.
    pub fn load_dir(dir: &Path) -> Result<Self, SeedDataError> {
        let read_err = |reason: String| SeedDataError::Read {
            path: dir.to_owned(),
            reason,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read_err(e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml")
                    })
            })
            .collect();
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| SeedDataError::Read {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            files.push((path.display().to_string(), text));
        }
        Self::parse(&dir.display().to_string(), &files)
    }

    /// The compiled-in copy of the repository's `seeds/`.
    pub fn embedded() -> Result<Self, SeedDataError> {
        let files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(name, text)| (format!("(built-in) seeds/{name}"), (*text).to_owned()))
            .collect();
        Self::parse("built-in seeds/", &files)
    }

    /// Parses and validates `(file name, YAML text)` pairs.
    pub fn parse(source: &str, files: &[(String, String)]) -> Result<Self, SeedDataError> {
        let mut data = SeedData {
            source: source.to_owned(),
            ..SeedData::default()
        };
        let mut org_ids = HashSet::new();
        let mut dept_codes = HashSet::new();
        let mut dept_names = HashSet::new();
        let mut emails = HashSet::new();
        let mut employee_ids = HashSet::new();
        // Departments are checked against every file's departments, so collect users first.
        let mut pending_users: Vec<(String, usize, DemoUserSeed)> = Vec::new();
        for (file, text) in files {
            let invalid = |reason: String| SeedDataError::Invalid {
                file: file.clone(),
                reason,
            };
            let parsed: Option<SeedFile> = if text.trim().is_empty() {
                None
            } else {
                let de = yaml_serde::Deserializer::from_str(text);
                Some(serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    if path.is_empty() || path == "." {
                        invalid(inner.to_string())
                    } else {
                        invalid(format!("{path}: {inner}"))
                    }
                })?)
            };
            let Some(parsed) = parsed else { continue };
            for (i, org) in parsed.orgs.into_iter().enumerate() {
                let id = OrgId::parse(&org.id)
                    .map_err(|e| invalid(format!("orgs[{i}].id {:?}: {e}", org.id)))?;
                if org.name.trim().is_empty() {
                    return Err(invalid(format!("orgs[{i}].name: must not be empty")));
                }
                if org.slug.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    return Err(invalid(format!("orgs[{i}].slug: must not be empty")));
                }
                if !org_ids.insert(id.clone()) {
                    return Err(invalid(format!("orgs[{i}].id: {id} is listed twice")));
                }
                data.orgs.push((id, org));
            }
            for (i, dept) in parsed.departments.into_iter().enumerate() {
                if dept.code.trim().is_empty() || dept.code.len() > 50 {
                    return Err(invalid(format!(
                        "departments[{i}].code: must be 1-50 characters"
                    )));
                }
                if dept.name.trim().is_empty() || dept.name.len() > 255 {
                    return Err(invalid(format!(
                        "departments[{i}].name: must be 1-255 characters"
                    )));
                }
                if !dept_codes.insert(dept.code.clone()) {
                    return Err(invalid(format!(
                        "departments[{i}].code: {} is listed twice",
                        dept.code
                    )));
                }
                if !dept_names.insert(dept.name.clone()) {
                    return Err(invalid(format!(
                        "departments[{i}].name: {} is listed twice",
                        dept.name
                    )));
                }
                data.departments.push(dept);
            }
            for (i, user) in parsed.demo_users.into_iter().enumerate() {
                pending_users.push((file.clone(), i, user));
            }
        }
        for (file, i, user) in pending_users {
            let invalid = |reason: String| SeedDataError::Invalid {
                file: file.clone(),
                reason: format!("demo_users[{i}].{reason}"),
            };
            let sample = user.email.replace(ORG_PLACEHOLDER, "org");
            crate::domain::email::normalize(&sample)
                .map_err(|e| invalid(format!("email {:?}: {e}", user.email)))?;
            if !emails.insert(user.email.to_lowercase()) {
                return Err(invalid(format!("email: {} is listed twice", user.email)));
            }
            if user.employee_id.trim().is_empty() {
                return Err(invalid("employee_id: must not be empty".into()));
            }
            if !employee_ids.insert(user.employee_id.clone()) {
                return Err(invalid(format!(
                    "employee_id: {} is listed twice",
                    user.employee_id
                )));
            }
            if user.roles.is_empty() {
                return Err(invalid("roles: list at least one role".into()));
            }
            let mut roles = Vec::new();
            for name in &user.roles {
                let role = SystemRole::from_stored_name(name).ok_or_else(|| {
                    let known: Vec<_> = SystemRole::ALL.iter().map(|r| r.stored_name()).collect();
                    invalid(format!(
                        "roles: unknown role {name:?} (system roles: {})",
                        known.join(", ")
                    ))
                })?;
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            if let Some(code) = &user.department
                && !dept_codes.contains(code)
            {
                return Err(invalid(format!(
                    "department: no department with code {code:?} in the seed data"
                )));
            }
            let employment_start_date = match &user.employment_start_date {
                None => None,
                Some(raw) => Some(
                    time::Date::parse(
                        raw,
                        time::macros::format_description!("[year]-[month]-[day]"),
                    )
                    .map_err(|_| {
                        invalid(format!(
                            "employment_start_date: {raw:?} is not a YYYY-MM-DD date"
                        ))
                    })?,
                ),
            };
            let p = &user.profile;
            if p.first_name.trim().is_empty() {
                return Err(invalid("profile.first_name: must not be empty".into()));
            }
            if let Some(country) = &p.country
                && crate::domain::geo::country(country).is_none()
            {
                return Err(invalid(format!(
                    "profile.country: {country:?} is not an ISO 3166-1 alpha-2 code"
                )));
            }
            if let Some(tz) = &p.timezone
                && !crate::domain::geo::timezones().contains(&tz.as_str())
            {
                return Err(invalid(format!(
                    "profile.timezone: {tz:?} is not in the timezone list"
                )));
            }
            // Country and timezone were checked against their lists above.
            if let Some(Problem::TooLong { field, .. }) = p
                .profile()
                .too_long()
                .into_iter()
                .find(|t| !matches!(t.field(), Field::Country | Field::Timezone))
            {
                return Err(invalid(format!(
                    "profile.{}: longer than {} characters",
                    field.name(),
                    field.max_len()
                )));
            }
            let mut stock_grants = Vec::with_capacity(user.stock_grants.len());
            for (g, grant) in user.stock_grants.iter().enumerate() {
                stock_grants.push(
                    grant
                        .validate()
                        .map_err(|reason| invalid(format!("stock_grants[{g}].{reason}")))?,
                );
            }
            data.demo_users.push(DemoUser {
                email: user.email,
                employee_id: user.employee_id,
                roles,
                department: user.department,
                employment_start_date,
                profile: user.profile,
                stock_grants,
            });
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_seeds_parse() {
        let data = SeedData::embedded().unwrap();
        assert_eq!(data.departments.len(), 7);
        assert_eq!(data.demo_users.len(), 12);
        assert!(data.orgs.is_empty());
    }

    #[test]
    fn unknown_keys_name_the_file_and_the_key() {
        let err = SeedData::parse(
            "t",
            &[(
                "seeds/x.yaml".into(),
                "departments:\n  - { code: A, name: B, colour: red }\n".into(),
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("seeds/x.yaml: "), "{err}");
        assert!(err.contains("colour"), "{err}");
        let err = SeedData::parse("t", &[("seeds/y.yaml".into(), "people: []\n".into())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("seeds/y.yaml") && err.contains("people"),
            "{err}"
        );
    }

    #[test]
    fn roles_and_departments_are_checked() {
        let yaml = "departments: [{code: A, name: B}]\ndemo_users:\n  - email: a-{org}@x.test\n    employee_id: '{org}-1'\n    roles: [BOSS]\n    profile: {first_name: A, last_name: B}\n";
        let err = SeedData::parse("t", &[("f.yaml".into(), yaml.into())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("demo_users[0].roles") && err.contains("BOSS"),
            "{err}"
        );
        let yaml = yaml
            .replace("BOSS", "EMPLOYEE")
            .replace("profile", "department: Z\n    profile");
        let err = SeedData::parse("t", &[("f.yaml".into(), yaml)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("demo_users[0].department"), "{err}");
    }

    #[test]
    fn an_over_long_profile_field_names_the_field_and_its_limit() {
        let yaml = format!(
            "demo_users:\n  - email: a-{{org}}@x.test\n    employee_id: '{{org}}-1'\n    roles: [EMPLOYEE]\n    profile: {{first_name: A, last_name: B, state: {}, postal_code: {}}}\n",
            "S".repeat(11),
            "9".repeat(33)
        );
        let err = SeedData::parse("t", &[("f.yaml".into(), yaml)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("profile.state: longer than 10 characters"),
            "{err}"
        );
    }
}
