//! The org policy the auth flows read from `org_settings` (defaults when the row does not
//! exist yet: the legacy service created it lazily).

use crate::domain::org_policy::{Decimal, LoanCandidate, loan_rule_errors, stock_rule_errors};
use sqlx::PgConnection;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuthPolicy {
    pub require_two_factor: bool,
    pub mfa_required_actions: sqlx::types::Json<Vec<String>>,
    pub remember_device_days: i32,
    pub allow_impersonation: bool,
    pub session_timeout_minutes: i32,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            require_two_factor: false,
            mfa_required_actions: sqlx::types::Json(Vec::new()),
            remember_device_days: 30,
            allow_impersonation: false,
            session_timeout_minutes: 5,
        }
    }
}

impl AuthPolicy {
    pub fn requires_action(&self, action: &str) -> bool {
        self.mfa_required_actions.0.iter().any(|a| a == action)
    }

    /// Login MFA is forced (remember-device does not skip it) when two-factor is required and
    /// LOGIN is a required action.
    pub fn forces_login_mfa(&self) -> bool {
        self.require_two_factor && self.requires_action("LOGIN")
    }
}

pub async fn auth_policy(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<AuthPolicy> {
    let row: Option<AuthPolicy> = sqlx::query_as(
        "SELECT require_two_factor, mfa_required_actions, remember_device_days, allow_impersonation, \
         session_timeout_minutes FROM org_settings WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// The whole settings row (`GET/PUT /org/settings`, `GET /self/policy`).
// ---------------------------------------------------------------------------------------------

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::timefmt;

/// One `org_settings` row. Numerics are kept as PostgreSQL's own text (`numeric::text`), so
/// they carry the column scale ("0.0000", "0.50") and are never rounded through a float.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct OrgSettings {
    pub org_id: String,
    pub allow_user_data_export: bool,
    pub allow_profile_edit: bool,
    pub allow_impersonation: bool,
    pub require_two_factor: bool,
    pub mfa_required_actions: sqlx::types::Json<Value>,
    pub remember_device_days: i32,
    pub session_timeout_minutes: i32,
    pub audit_log_retention_days: i32,
    pub inactive_user_retention_days: i32,
    pub enforce_service_duration_rule: bool,
    pub min_service_duration_years: Option<String>,
    pub enforce_min_vested_to_exercise: bool,
    pub min_vested_shares_to_exercise: Option<i64>,
    pub allowed_repayment_methods: sqlx::types::Json<Value>,
    pub min_loan_term_months: i32,
    pub max_loan_term_months: i32,
    pub allowed_interest_types: sqlx::types::Json<Value>,
    pub fixed_interest_rate_annual_percent: String,
    pub variable_base_rate_annual_percent: Option<String>,
    pub variable_margin_annual_percent: Option<String>,
    pub require_down_payment: bool,
    pub down_payment_percent: Option<String>,
    pub policy_version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "org_id, allow_user_data_export, allow_profile_edit, allow_impersonation, \
    require_two_factor, mfa_required_actions, remember_device_days, session_timeout_minutes, \
    audit_log_retention_days, inactive_user_retention_days, enforce_service_duration_rule, \
    min_service_duration_years::text AS min_service_duration_years, enforce_min_vested_to_exercise, \
    min_vested_shares_to_exercise, allowed_repayment_methods, min_loan_term_months, max_loan_term_months, \
    allowed_interest_types, fixed_interest_rate_annual_percent::text AS fixed_interest_rate_annual_percent, \
    variable_base_rate_annual_percent::text AS variable_base_rate_annual_percent, \
    variable_margin_annual_percent::text AS variable_margin_annual_percent, require_down_payment, \
    down_payment_percent::text AS down_payment_percent, policy_version, created_at, updated_at";

/// The row, if the org has one.
pub async fn find(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<Option<OrgSettings>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM org_settings WHERE org_id = $1"
    )))
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// The row, created with the column defaults when missing (the legacy lazy default row). The
/// insert belongs to the caller's transaction: it persists only if that commits.
pub async fn get_or_create(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<OrgSettings> {
    sqlx::query("INSERT INTO org_settings (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING")
        .bind(org_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM org_settings WHERE org_id = $1 FOR UPDATE"
    )))
    .bind(org_id)
    .fetch_one(conn)
    .await
}

/// Inserts the default row of a new org (POST /orgs).
pub async fn create_default(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO org_settings (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING")
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The defaults the row would get, for reads that must not write (`GET /self/policy`).
pub fn defaults(org_id: &str) -> OrgSettings {
    let now = OffsetDateTime::now_utc();
    OrgSettings {
        org_id: org_id.to_owned(),
        allow_user_data_export: true,
        allow_profile_edit: true,
        allow_impersonation: false,
        require_two_factor: false,
        mfa_required_actions: sqlx::types::Json(json!([])),
        remember_device_days: 30,
        session_timeout_minutes: 5,
        audit_log_retention_days: 180,
        inactive_user_retention_days: 180,
        enforce_service_duration_rule: false,
        min_service_duration_years: None,
        enforce_min_vested_to_exercise: false,
        min_vested_shares_to_exercise: None,
        allowed_repayment_methods: sqlx::types::Json(json!(["BALLOON", "PRINCIPAL_AND_INTEREST"])),
        min_loan_term_months: 6,
        max_loan_term_months: 60,
        allowed_interest_types: sqlx::types::Json(json!(["FIXED", "VARIABLE"])),
        fixed_interest_rate_annual_percent: "0.0000".to_owned(),
        variable_base_rate_annual_percent: None,
        variable_margin_annual_percent: None,
        require_down_payment: false,
        down_payment_percent: None,
        policy_version: 1,
        created_at: now,
        updated_at: now,
    }
}

impl OrgSettings {
    /// The stock and loan policy fields, in the legacy order.
    fn policy_fields(&self, out: &mut Map<String, Value>) {
        out.insert(
            "enforce_service_duration_rule".into(),
            json!(self.enforce_service_duration_rule),
        );
        out.insert(
            "min_service_duration_years".into(),
            json!(self.min_service_duration_years),
        );
        out.insert(
            "enforce_min_vested_to_exercise".into(),
            json!(self.enforce_min_vested_to_exercise),
        );
        out.insert(
            "min_vested_shares_to_exercise".into(),
            json!(self.min_vested_shares_to_exercise),
        );
        out.insert(
            "allowed_repayment_methods".into(),
            self.allowed_repayment_methods.0.clone(),
        );
        out.insert(
            "min_loan_term_months".into(),
            json!(self.min_loan_term_months),
        );
        out.insert(
            "max_loan_term_months".into(),
            json!(self.max_loan_term_months),
        );
        out.insert(
            "allowed_interest_types".into(),
            self.allowed_interest_types.0.clone(),
        );
        out.insert(
            "fixed_interest_rate_annual_percent".into(),
            json!(self.fixed_interest_rate_annual_percent),
        );
        // The views show the newest PBGC annual rate here (`services::loans::pbgc::shown_settings`).
        out.insert(
            "variable_base_rate_annual_percent".into(),
            json!(self.variable_base_rate_annual_percent),
        );
        out.insert(
            "variable_margin_annual_percent".into(),
            json!(self.variable_margin_annual_percent),
        );
        out.insert(
            "require_down_payment".into(),
            json!(self.require_down_payment),
        );
        out.insert(
            "down_payment_percent".into(),
            json!(self.down_payment_percent),
        );
    }

    /// The core fields shared by every view, in the legacy order.
    fn core_fields(&self, out: &mut Map<String, Value>, with_retention: bool) {
        out.insert(
            "allow_user_data_export".into(),
            json!(self.allow_user_data_export),
        );
        out.insert("allow_profile_edit".into(), json!(self.allow_profile_edit));
        out.insert(
            "allow_impersonation".into(),
            json!(self.allow_impersonation),
        );
        out.insert("require_two_factor".into(), json!(self.require_two_factor));
        out.insert(
            "mfa_required_actions".into(),
            self.mfa_required_actions.0.clone(),
        );
        out.insert(
            "remember_device_days".into(),
            json!(self.remember_device_days),
        );
        out.insert(
            "session_timeout_minutes".into(),
            json!(self.session_timeout_minutes),
        );
        if with_retention {
            out.insert(
                "audit_log_retention_days".into(),
                json!(self.audit_log_retention_days),
            );
            out.insert(
                "inactive_user_retention_days".into(),
                json!(self.inactive_user_retention_days),
            );
        }
    }

    /// `OrgSettingsResponse` (GET/PUT /org/settings).
    pub fn response(&self) -> Value {
        let mut out = Map::new();
        self.core_fields(&mut out, true);
        self.policy_fields(&mut out);
        out.insert("org_id".into(), json!(self.org_id));
        out.insert("policy_version".into(), json!(self.policy_version));
        out.insert("created_at".into(), json!(timefmt::iso_z(self.created_at)));
        out.insert("updated_at".into(), json!(timefmt::iso_z(self.updated_at)));
        Value::Object(out)
    }

    /// `OrgPolicyResponse` (GET /self/policy): no retention fields, no timestamps.
    pub fn policy(&self) -> Value {
        let mut out = Map::new();
        out.insert("org_id".into(), json!(self.org_id));
        out.insert("policy_version".into(), json!(self.policy_version));
        self.core_fields(&mut out, false);
        self.policy_fields(&mut out);
        Value::Object(out)
    }

    /// The audit snapshot: every column except the timestamps, `policy_version` last. No
    /// secrets live in this table.
    pub fn snapshot(&self) -> Value {
        let mut out = Map::new();
        out.insert("org_id".into(), json!(self.org_id));
        self.core_fields(&mut out, true);
        self.policy_fields(&mut out);
        out.insert("policy_version".into(), json!(self.policy_version));
        Value::Object(out)
    }

    /// The stock and loan policy values, for the `policy_version` rule.
    fn policy_values(&self) -> Value {
        let mut out = Map::new();
        self.policy_fields(&mut out);
        Value::Object(out)
    }
}

/// A field of a partial update: absent, explicitly null, or a value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T: Clone> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// The candidate value: the patch when present, else the current value.
    fn over(&self, current: Option<T>) -> Option<T> {
        match self {
            Self::Absent => current,
            Self::Null => None,
            Self::Set(v) => Some(v.clone()),
        }
    }
}

/// A validated `PUT /org/settings` payload (types, enums and ranges already checked). Decimals
/// are exact plain decimal strings ("12.5"); PostgreSQL rounds them to the column scale.
#[derive(Clone, Debug, Default)]
pub struct SettingsUpdate {
    pub allow_user_data_export: Patch<bool>,
    pub allow_profile_edit: Patch<bool>,
    pub allow_impersonation: Patch<bool>,
    pub require_two_factor: Patch<bool>,
    pub mfa_required_actions: Patch<Vec<String>>,
    pub remember_device_days: Patch<i32>,
    pub session_timeout_minutes: Patch<i32>,
    pub audit_log_retention_days: Patch<i32>,
    pub inactive_user_retention_days: Patch<i32>,
    pub enforce_service_duration_rule: Patch<bool>,
    pub min_service_duration_years: Patch<Decimal>,
    pub enforce_min_vested_to_exercise: Patch<bool>,
    pub min_vested_shares_to_exercise: Patch<i64>,
    pub allowed_repayment_methods: Patch<Vec<String>>,
    pub min_loan_term_months: Patch<i32>,
    pub max_loan_term_months: Patch<i32>,
    pub allowed_interest_types: Patch<Vec<String>>,
    pub fixed_interest_rate_annual_percent: Patch<Decimal>,
    pub variable_base_rate_annual_percent: Patch<Decimal>,
    pub variable_margin_annual_percent: Patch<Decimal>,
    pub require_down_payment: Patch<bool>,
    pub down_payment_percent: Patch<Decimal>,
}

/// What `update` did.
#[derive(Debug)]
pub struct Updated {
    pub old: OrgSettings,
    pub new: OrgSettings,
    /// Remembered devices deleted because `remember_device_days` dropped to 0.
    pub devices_forgotten: u64,
}

/// Why an update was refused: the legacy 400 texts, "; "-joined within one rule group.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{0}")]
    Rules(String),
    /// A value PostgreSQL cannot store in its column (numeric overflow).
    #[error("{field}: value out of range")]
    OutOfRange { field: &'static str },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn dec(text: &Option<String>) -> Option<Decimal> {
    text.as_deref().and_then(Decimal::parse)
}

/// Applies a partial update with the legacy rules: `require_two_factor: false` clears the MFA
/// actions; turning a stock/down-payment flag off without sending its value nulls the value;
/// the stock rules are checked first and reported alone, then the loan rules; `policy_version`
/// goes up by one when any stock or loan field changes; `updated_at` moves only when something
/// changed; remembered devices of the org are deleted when `remember_device_days` drops from
/// above 0 to 0. Explicit nulls for columns that cannot be null are ignored. Never commits.
pub async fn update(
    conn: &mut PgConnection,
    org_id: &str,
    patch: &SettingsUpdate,
) -> Result<Updated, UpdateError> {
    let old = get_or_create(conn, org_id).await?;
    let mut p = patch.clone();

    if p.require_two_factor == Patch::Set(false) {
        p.mfa_required_actions = Patch::Set(Vec::new());
    }
    if p.enforce_service_duration_rule == Patch::Set(false)
        && p.min_service_duration_years.is_absent()
    {
        p.min_service_duration_years = Patch::Null;
    }
    if p.enforce_min_vested_to_exercise == Patch::Set(false)
        && p.min_vested_shares_to_exercise.is_absent()
    {
        p.min_vested_shares_to_exercise = Patch::Null;
    }
    if p.require_down_payment == Patch::Set(false) && p.down_payment_percent.is_absent() {
        p.down_payment_percent = Patch::Null;
    }

    let b = |patch: &Patch<bool>, current: bool| patch.over(Some(current)).unwrap_or(current);
    let i = |patch: &Patch<i32>, current: i32| patch.over(Some(current)).unwrap_or(current);

    // Stock rules.
    let enforce_service = b(
        &p.enforce_service_duration_rule,
        old.enforce_service_duration_rule,
    );
    let years = p
        .min_service_duration_years
        .over(dec(&old.min_service_duration_years));
    let enforce_vested = b(
        &p.enforce_min_vested_to_exercise,
        old.enforce_min_vested_to_exercise,
    );
    let shares = p
        .min_vested_shares_to_exercise
        .over(old.min_vested_shares_to_exercise);
    let errors = stock_rule_errors(enforce_service, years.as_ref(), enforce_vested, shares);
    if !errors.is_empty() {
        return Err(UpdateError::Rules(errors.join("; ")));
    }

    // Loan rules.
    let repayment = p
        .allowed_repayment_methods
        .over(Some(strings(&old.allowed_repayment_methods.0)));
    let interest = p
        .allowed_interest_types
        .over(Some(strings(&old.allowed_interest_types.0)));
    let min_term = p.min_loan_term_months.over(Some(old.min_loan_term_months));
    let max_term = p.max_loan_term_months.over(Some(old.max_loan_term_months));
    let fixed = p
        .fixed_interest_rate_annual_percent
        .over(Decimal::parse(&old.fixed_interest_rate_annual_percent));
    let variable_base = p
        .variable_base_rate_annual_percent
        .over(dec(&old.variable_base_rate_annual_percent));
    let variable_margin = p
        .variable_margin_annual_percent
        .over(dec(&old.variable_margin_annual_percent));
    let require_down = b(&p.require_down_payment, old.require_down_payment);
    let down = p.down_payment_percent.over(dec(&old.down_payment_percent));
    let errors = loan_rule_errors(&LoanCandidate {
        repayment_methods: repayment.as_deref(),
        min_term,
        max_term,
        interest_types: interest.as_deref(),
        fixed: fixed.as_ref(),
        variable_base: variable_base.as_ref(),
        variable_margin: variable_margin.as_ref(),
        require_down_payment: require_down,
        down_payment: down.as_ref(),
    });
    if !errors.is_empty() {
        return Err(UpdateError::Rules(errors.join("; ")));
    }
    // The rules above guarantee these.
    let (Some(repayment), Some(interest), Some(min_term), Some(max_term), Some(fixed)) =
        (repayment, interest, min_term, max_term, fixed)
    else {
        return Err(UpdateError::Rules("invalid loan policy".to_owned()));
    };
    let mfa_actions = p
        .mfa_required_actions
        .over(Some(strings(&old.mfa_required_actions.0)))
        .unwrap_or_default();
    let plain = |d: &Option<Decimal>| d.as_ref().map(Decimal::to_plain);

    let written = sqlx::query(
        "UPDATE org_settings SET allow_user_data_export = $2, allow_profile_edit = $3, \
         allow_impersonation = $4, require_two_factor = $5, mfa_required_actions = $6, \
         remember_device_days = $7, session_timeout_minutes = $8, audit_log_retention_days = $9, \
         inactive_user_retention_days = $10, enforce_service_duration_rule = $11, \
         min_service_duration_years = $12::numeric, enforce_min_vested_to_exercise = $13, \
         min_vested_shares_to_exercise = $14, allowed_repayment_methods = $15, \
         min_loan_term_months = $16, max_loan_term_months = $17, allowed_interest_types = $18, \
         fixed_interest_rate_annual_percent = $19::numeric, \
         variable_base_rate_annual_percent = $20::numeric, \
         variable_margin_annual_percent = $21::numeric, require_down_payment = $22, \
         down_payment_percent = $23::numeric WHERE org_id = $1",
    )
    .bind(org_id)
    .bind(b(&p.allow_user_data_export, old.allow_user_data_export))
    .bind(b(&p.allow_profile_edit, old.allow_profile_edit))
    .bind(b(&p.allow_impersonation, old.allow_impersonation))
    .bind(b(&p.require_two_factor, old.require_two_factor))
    .bind(sqlx::types::Json(json!(mfa_actions)))
    .bind(i(&p.remember_device_days, old.remember_device_days))
    .bind(i(&p.session_timeout_minutes, old.session_timeout_minutes))
    .bind(i(&p.audit_log_retention_days, old.audit_log_retention_days))
    .bind(i(
        &p.inactive_user_retention_days,
        old.inactive_user_retention_days,
    ))
    .bind(enforce_service)
    .bind(plain(&years))
    .bind(enforce_vested)
    .bind(shares)
    .bind(sqlx::types::Json(json!(repayment)))
    .bind(min_term)
    .bind(max_term)
    .bind(sqlx::types::Json(json!(interest)))
    .bind(fixed.to_plain())
    .bind(plain(&variable_base))
    .bind(plain(&variable_margin))
    .bind(require_down)
    .bind(plain(&down))
    .execute(&mut *conn)
    .await;
    if let Err(sqlx::Error::Database(db)) = &written
        && db.code().as_deref() == Some("22003")
    {
        // Only numeric(6,2) can overflow: every other numeric is bounded by 100.
        return Err(UpdateError::OutOfRange {
            field: "min_service_duration_years",
        });
    }
    written?;

    let mut new = find(conn, org_id).await?.ok_or(sqlx::Error::RowNotFound)?;
    let policy_changed = new.policy_values() != old.policy_values();
    if new.snapshot() != old.snapshot() {
        let (version, updated_at): (i32, OffsetDateTime) = sqlx::query_as(
            "UPDATE org_settings SET policy_version = policy_version + $2, updated_at = now() \
             WHERE org_id = $1 RETURNING policy_version, updated_at",
        )
        .bind(org_id)
        .bind(i32::from(policy_changed))
        .fetch_one(&mut *conn)
        .await?;
        new.policy_version = version;
        new.updated_at = updated_at;
    }
    let devices_forgotten = if old.remember_device_days > 0 && new.remember_device_days == 0 {
        super::mfa::forget_org_devices(conn, org_id).await?
    } else {
        0
    };
    Ok(Updated {
        old,
        new,
        devices_forgotten,
    })
}
