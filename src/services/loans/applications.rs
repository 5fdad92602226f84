//! The borrower's applications (§2.2–§2.7, §7): create a DRAFT from a quote, list, update,
//! submit (share reservations and the core stages, in the caller's transaction) and cancel.
//!
//! Every write checks and bumps the optimistic `version` (§7.7) and writes its audit row in
//! the same transaction; nothing here commits.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::LoanFailure;
use super::quote::{Applicant, Quoted, quote_for};
use super::record::{COLUMNS, LoanRecord, RawLoanRow, load};
use crate::domain::decimal::{PyDec, Rounding, serde_py_str};
use crate::domain::loans::LoanError;
use crate::domain::loans::quote::{
    QuoteRequest, derived_selection_value, shown_variable_base_rate,
};
use crate::domain::loans::terms::{InterestType, RepaymentMethod};
use crate::domain::loans::wire;
use crate::domain::loans::workflow::{
    LoanAction, LoanEffect, LoanStatus, StageSnapshot, StageStatus, StageType, current_stage,
    transition,
};
use crate::domain::org::OrgId;
use crate::domain::people;
use crate::domain::stock::reservations::Allocation;
use crate::services::audit::{self, Actor};
use crate::services::org_settings::OrgSettings;
use crate::services::stock::reservations::{self, ReserveError};
use crate::timefmt;

const RESOURCE: &str = "loan_application";

/// The marital and spouse fields of a create or PATCH body, validated by the HTTP layer.
/// `None` leaves the stored value (a field cannot be cleared, quirk 27).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpouseFields {
    pub marital_status_snapshot: Option<String>,
    pub spouse_first_name: Option<String>,
    pub spouse_middle_name: Option<String>,
    pub spouse_last_name: Option<String>,
    pub spouse_email: Option<String>,
    pub spouse_phone: Option<String>,
    pub spouse_address: Option<String>,
}

/// The quote fields of a PATCH body; any of them present means "recalculate".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotePatch {
    pub selection_mode: Option<crate::domain::loans::terms::SelectionMode>,
    pub selection_value: Option<PyDec>,
    pub as_of_date: Option<Date>,
    pub desired_interest_type: Option<InterestType>,
    pub desired_repayment_method: Option<RepaymentMethod>,
    pub desired_term_months: Option<i32>,
}

impl QuotePatch {
    fn recalculates(&self) -> bool {
        self.selection_mode.is_some()
            || self.selection_value.is_some()
            || self.as_of_date.is_some()
            || self.desired_interest_type.is_some()
            || self.desired_repayment_method.is_some()
            || self.desired_term_months.is_some()
    }
}

fn not_found() -> LoanFailure {
    LoanFailure::NotFound
}

/// The caller's own application, or "not found" (another member's or org's id).
async fn own(
    conn: &mut PgConnection,
    org_id: &OrgId,
    applicant: &Applicant,
    id: Uuid,
) -> Result<LoanRecord, LoanFailure> {
    load(conn, org_id, id)
        .await?
        .filter(|l| l.org_membership_id == applicant.membership_id)
        .ok_or_else(not_found)
}

/// The values a quote writes into an application (§7.2).
pub(crate) struct QuoteColumns {
    as_of_date: Date,
    selection_mode: &'static str,
    selection_value_snapshot: Decimal,
    shares_to_exercise: i64,
    total_exercisable_shares_snapshot: i64,
    purchase_price: Decimal,
    down_payment_amount: Decimal,
    loan_principal: Decimal,
    policy_version_snapshot: i32,
    interest_type: &'static str,
    repayment_method: &'static str,
    term_months: i32,
    nominal_annual_rate_percent: Decimal,
    estimated_monthly_payment: Decimal,
    total_payable_amount: Decimal,
    total_interest_amount: Decimal,
    quote_inputs_snapshot: Value,
    quote_option_snapshot: Value,
    allocation_snapshot: Value,
    org_settings_snapshot: Value,
    eligibility_result_snapshot: Value,
    pub(crate) allocations: Vec<Allocation>,
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, LoanFailure> {
    serde_json::to_value(value).map_err(|e| LoanFailure::Db(sqlx::Error::Encode(Box::new(e))))
}

/// The settings snapshot: every column but the timestamps, the variable base rate shown as
/// the PBGC rate when there is one.
fn settings_snapshot(settings: &OrgSettings, pbgc: Option<Decimal>) -> Value {
    let mut snapshot = settings.snapshot();
    if let (Some(rate), Some(map)) = (
        shown_variable_base_rate(None, pbgc),
        snapshot.as_object_mut(),
    ) {
        map.insert(
            "variable_base_rate_annual_percent".into(),
            json!(crate::domain::decimal::py_str(&rate)),
        );
    }
    snapshot
}

pub(crate) fn columns(
    quoted: &Quoted,
    request: &QuoteRequest,
    as_of_sent: Option<Date>,
    settings: &OrgSettings,
) -> Result<QuoteColumns, LoanFailure> {
    let quote = &quoted.quote;
    let option = quote.options.first().ok_or_else(|| {
        LoanError::bare(
            "no_quote_options",
            "No loan quote options could be generated",
        )
    })?;
    option.check_storable()?;
    let selection_value_snapshot = request
        .selection_value
        .quantize(6, Rounding::HalfUp)
        .to_decimal()
        .ok_or_else(|| LoanError::bare("invalid_quote", "Quote amounts are out of range"))?;
    Ok(QuoteColumns {
        as_of_date: quote.as_of_date,
        selection_mode: request.selection_mode.as_str(),
        selection_value_snapshot,
        shares_to_exercise: quote.shares_to_exercise,
        total_exercisable_shares_snapshot: quote.total_exercisable_shares,
        purchase_price: quote.purchase_price,
        down_payment_amount: quote.down_payment_amount,
        loan_principal: quote.loan_principal,
        policy_version_snapshot: settings.policy_version,
        interest_type: option.interest_type.as_str(),
        repayment_method: option.repayment_method.as_str(),
        term_months: option.term_months,
        nominal_annual_rate_percent: option.nominal_annual_rate,
        estimated_monthly_payment: option.estimated_monthly_payment,
        total_payable_amount: option.total_payable,
        total_interest_amount: option.total_interest,
        quote_inputs_snapshot: json!({
            "selection_mode": request.selection_mode.as_str(),
            "selection_value": request.selection_value.to_string(),
            "as_of_date": as_of_sent.map(wire::iso_date),
            "desired_interest_type": request.desired_interest_type.map(InterestType::as_str),
            "desired_repayment_method": request.desired_repayment_method.map(RepaymentMethod::as_str),
            "desired_term_months": request.desired_term_months,
        }),
        quote_option_snapshot: to_json(option)?,
        allocation_snapshot: to_json(&quote.allocation)?,
        org_settings_snapshot: settings_snapshot(settings, quoted.pbgc_annual_rate_percent),
        eligibility_result_snapshot: to_json(&quote.eligibility_result)?,
        allocations: quote
            .allocation
            .iter()
            .map(|a| Allocation {
                grant_id: a.grant_id,
                shares: a.shares,
            })
            .collect(),
    })
}

/// The existing application of this member created with `key`, if any.
async fn by_create_key(
    conn: &mut PgConnection,
    org_id: &OrgId,
    membership_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<LoanRecord>> {
    let row: Option<RawLoanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM loan_applications WHERE org_id = $1 AND org_membership_id = $2 \
         AND create_idempotency_key = $3"
    )))
    .bind(org_id.as_str())
    .bind(membership_id)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.map(LoanRecord::try_from).transpose()
}

/// A new DRAFT (§2.4). With an `Idempotency-Key` already used by this member, that
/// application is returned unchanged (the body is not compared); two concurrent creates with
/// one key insert one row (unique index), the loser returns the winner.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    conn: &mut PgConnection,
    org_id: &OrgId,
    actor: Actor<'_>,
    applicant: &Applicant,
    settings: &OrgSettings,
    request: &QuoteRequest,
    as_of_sent: Option<Date>,
    spouse: &SpouseFields,
    key: Option<&str>,
) -> Result<LoanRecord, LoanFailure> {
    if let Some(key) = key
        && let Some(existing) = by_create_key(conn, org_id, applicant.membership_id, key).await?
    {
        return Ok(existing);
    }
    let quoted = quote_for(conn, org_id, applicant, settings, request).await?;
    let c = columns(&quoted, request, as_of_sent, settings)?;
    let row: Option<RawLoanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO loan_applications (id, org_id, org_membership_id, status, version, \
         create_idempotency_key, as_of_date, selection_mode, selection_value_snapshot, \
         shares_to_exercise, total_exercisable_shares_snapshot, purchase_price, \
         down_payment_amount, loan_principal, policy_version_snapshot, interest_type, \
         repayment_method, term_months, nominal_annual_rate_percent, estimated_monthly_payment, \
         total_payable_amount, total_interest_amount, quote_inputs_snapshot, \
         quote_option_snapshot, allocation_strategy, allocation_snapshot, org_settings_snapshot, \
         eligibility_result_snapshot, marital_status_snapshot, spouse_first_name, \
         spouse_middle_name, spouse_last_name, spouse_email, spouse_phone, spouse_address) \
         VALUES ($1, $2, $3, 'DRAFT', 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, $20, $21, $22, 'OLDEST_VESTED_FIRST', $23, $24, $25, $26, $27, \
         $28, $29, $30, $31, $32) \
         ON CONFLICT (org_id, org_membership_id, create_idempotency_key) \
         WHERE create_idempotency_key IS NOT NULL DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(org_id.as_str())
    .bind(applicant.membership_id)
    .bind(key)
    .bind(c.as_of_date)
    .bind(c.selection_mode)
    .bind(c.selection_value_snapshot)
    .bind(c.shares_to_exercise)
    .bind(c.total_exercisable_shares_snapshot)
    .bind(c.purchase_price)
    .bind(c.down_payment_amount)
    .bind(c.loan_principal)
    .bind(c.policy_version_snapshot)
    .bind(c.interest_type)
    .bind(c.repayment_method)
    .bind(c.term_months)
    .bind(c.nominal_annual_rate_percent)
    .bind(c.estimated_monthly_payment)
    .bind(c.total_payable_amount)
    .bind(c.total_interest_amount)
    .bind(&c.quote_inputs_snapshot)
    .bind(&c.quote_option_snapshot)
    .bind(&c.allocation_snapshot)
    .bind(&c.org_settings_snapshot)
    .bind(&c.eligibility_result_snapshot)
    .bind(&spouse.marital_status_snapshot)
    .bind(&spouse.spouse_first_name)
    .bind(&spouse.spouse_middle_name)
    .bind(&spouse.spouse_last_name)
    .bind(&spouse.spouse_email)
    .bind(&spouse.spouse_phone)
    .bind(&spouse.spouse_address)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        // A concurrent create with the same key won; answer with its application.
        let key = key.unwrap_or_default();
        return by_create_key(conn, org_id, applicant.membership_id, key)
            .await?
            .ok_or(LoanFailure::Conflict);
    };
    let loan = LoanRecord::try_from(row)?;
    audit::record(
        conn,
        actor.entry(
            "loan_application.created",
            RESOURCE,
            loan.id,
            None,
            Some(loan.audit_snapshot()),
        ),
    )
    .await?;
    Ok(loan)
}

/// Writes a new quote, the status, the submit key and the marital/spouse fields of `loan`
/// under the optimistic version check (409 `concurrent_update` when another request updated
/// it first).
pub(crate) async fn write(
    conn: &mut PgConnection,
    loan: &LoanRecord,
    status: LoanStatus,
    quote: Option<&QuoteColumns>,
    submit_key: Option<&str>,
    spouse: &SpouseFields,
) -> Result<LoanRecord, LoanFailure> {
    let q = quote;
    let row: Option<RawLoanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE loan_applications SET status = $3, version = version + 1, updated_at = now(), \
         submit_idempotency_key = COALESCE($4, submit_idempotency_key), \
         marital_status_snapshot = COALESCE($5, marital_status_snapshot), \
         spouse_first_name = COALESCE($6, spouse_first_name), \
         spouse_middle_name = COALESCE($7, spouse_middle_name), \
         spouse_last_name = COALESCE($8, spouse_last_name), \
         spouse_email = COALESCE($9, spouse_email), \
         spouse_phone = COALESCE($10, spouse_phone), \
         spouse_address = COALESCE($11, spouse_address), \
         as_of_date = COALESCE($12, as_of_date), \
         selection_mode = COALESCE($13, selection_mode), \
         selection_value_snapshot = COALESCE($14, selection_value_snapshot), \
         shares_to_exercise = COALESCE($15, shares_to_exercise), \
         total_exercisable_shares_snapshot = COALESCE($16, total_exercisable_shares_snapshot), \
         purchase_price = COALESCE($17, purchase_price), \
         down_payment_amount = COALESCE($18, down_payment_amount), \
         loan_principal = COALESCE($19, loan_principal), \
         policy_version_snapshot = COALESCE($20, policy_version_snapshot), \
         interest_type = COALESCE($21, interest_type), \
         repayment_method = COALESCE($22, repayment_method), \
         term_months = COALESCE($23, term_months), \
         nominal_annual_rate_percent = COALESCE($24, nominal_annual_rate_percent), \
         estimated_monthly_payment = COALESCE($25, estimated_monthly_payment), \
         total_payable_amount = COALESCE($26, total_payable_amount), \
         total_interest_amount = COALESCE($27, total_interest_amount), \
         quote_inputs_snapshot = COALESCE($28, quote_inputs_snapshot), \
         quote_option_snapshot = COALESCE($29, quote_option_snapshot), \
         allocation_snapshot = COALESCE($30, allocation_snapshot), \
         org_settings_snapshot = COALESCE($31, org_settings_snapshot), \
         eligibility_result_snapshot = COALESCE($32, eligibility_result_snapshot) \
         WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
    )))
    .bind(loan.id)
    .bind(loan.version)
    .bind(status.as_str())
    .bind(submit_key)
    .bind(&spouse.marital_status_snapshot)
    .bind(&spouse.spouse_first_name)
    .bind(&spouse.spouse_middle_name)
    .bind(&spouse.spouse_last_name)
    .bind(&spouse.spouse_email)
    .bind(&spouse.spouse_phone)
    .bind(&spouse.spouse_address)
    .bind(q.map(|c| c.as_of_date))
    .bind(q.map(|c| c.selection_mode))
    .bind(q.map(|c| c.selection_value_snapshot))
    .bind(q.map(|c| c.shares_to_exercise))
    .bind(q.map(|c| c.total_exercisable_shares_snapshot))
    .bind(q.map(|c| c.purchase_price))
    .bind(q.map(|c| c.down_payment_amount))
    .bind(q.map(|c| c.loan_principal))
    .bind(q.map(|c| c.policy_version_snapshot))
    .bind(q.map(|c| c.interest_type))
    .bind(q.map(|c| c.repayment_method))
    .bind(q.map(|c| c.term_months))
    .bind(q.map(|c| c.nominal_annual_rate_percent))
    .bind(q.map(|c| c.estimated_monthly_payment))
    .bind(q.map(|c| c.total_payable_amount))
    .bind(q.map(|c| c.total_interest_amount))
    .bind(q.map(|c| &c.quote_inputs_snapshot))
    .bind(q.map(|c| &c.quote_option_snapshot))
    .bind(q.map(|c| &c.allocation_snapshot))
    .bind(q.map(|c| &c.org_settings_snapshot))
    .bind(q.map(|c| &c.eligibility_result_snapshot))
    .fetch_optional(conn)
    .await?;
    row.map(LoanRecord::try_from)
        .transpose()?
        .ok_or(LoanFailure::Conflict)
}

pub(crate) fn policy_out_of_date(
    message: &'static str,
    settings: &OrgSettings,
    loan: &LoanRecord,
) -> LoanError {
    LoanError::new(
        "policy_out_of_date",
        message,
        json!({
            "policy_version": settings.policy_version,
            "policy_version_snapshot": loan.policy_version_snapshot,
        }),
    )
}

/// The stored quote as a request: mode, value derived from the stored shares, stored date,
/// the stored option's terms; `patch` values win.
pub(crate) fn merged_request(
    loan: &LoanRecord,
    patch: &QuotePatch,
) -> Result<QuoteRequest, LoanError> {
    let selection_mode = patch.selection_mode.unwrap_or(loan.selection_mode);
    let selection_value = match patch.selection_value {
        Some(v) => v,
        None => derived_selection_value(
            selection_mode,
            loan.shares_to_exercise,
            loan.total_exercisable_shares_snapshot,
        )?,
    };
    Ok(QuoteRequest {
        selection_mode,
        selection_value,
        as_of_date: patch.as_of_date.unwrap_or(loan.as_of_date),
        desired_interest_type: Some(patch.desired_interest_type.unwrap_or(loan.interest_type)),
        desired_repayment_method: Some(
            patch
                .desired_repayment_method
                .unwrap_or(loan.repayment_method),
        ),
        desired_term_months: Some(patch.desired_term_months.unwrap_or(loan.term_months)),
    })
}

/// PATCH of a DRAFT (§2.5): recalculated when a quote field is sent, else refused while the
/// policy changed since the last quote; the marital/spouse fields sent are written.
#[allow(clippy::too_many_arguments)]
pub async fn update_draft(
    conn: &mut PgConnection,
    org_id: &OrgId,
    actor: Actor<'_>,
    applicant: &Applicant,
    settings: &OrgSettings,
    id: Uuid,
    patch: &QuotePatch,
    spouse: &SpouseFields,
) -> Result<LoanRecord, LoanFailure> {
    let loan = own(conn, org_id, applicant, id).await?;
    transition(loan.status, LoanAction::UpdateDraft)?;
    let quote = if patch.recalculates() {
        let request = merged_request(&loan, patch)?;
        let quoted = quote_for(conn, org_id, applicant, settings, &request).await?;
        Some(columns(
            &quoted,
            &request,
            Some(request.as_of_date),
            settings,
        )?)
    } else {
        if loan.policy_version_snapshot != Some(settings.policy_version) {
            return Err(policy_out_of_date(
                "Loan policy changed. Please refresh your quote before continuing.",
                settings,
                &loan,
            )
            .into());
        }
        None
    };
    let updated = write(conn, &loan, LoanStatus::Draft, quote.as_ref(), None, spouse).await?;
    audit::record(
        conn,
        actor.entry(
            "loan_application.updated",
            RESOURCE,
            loan.id,
            Some(loan.audit_snapshot()),
            Some(updated.audit_snapshot()),
        ),
    )
    .await?;
    Ok(updated)
}

/// The profile marital status of a membership, as stored.
async fn profile_marital_status(
    conn: &mut PgConnection,
    org_id: &OrgId,
    membership_id: Uuid,
) -> sqlx::Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT marital_status FROM org_user_profiles WHERE org_id = $1 AND membership_id = $2",
    )
    .bind(org_id.as_str())
    .bind(membership_id)
    .fetch_optional(conn)
    .await?
    .flatten())
}

fn normalized(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    Some(people::marital_status(raw).map_or_else(|| raw.to_uppercase(), str::to_owned))
}

/// Steps 4–5 of §2.6: the snapshot must agree with the profile (an empty snapshot takes the
/// profile's value) and married or partnered applicants must give their spouse's details.
/// Returns the snapshot to store when it was taken from the profile.
fn check_marital(loan: &LoanRecord, profile: Option<&str>) -> Result<Option<String>, LoanError> {
    let current = normalized(profile);
    let submitted = normalized(loan.marital_status_snapshot.as_deref());
    let mut taken = None;
    let effective = match (&current, &submitted) {
        (Some(c), Some(s)) if c != s => {
            return Err(LoanError::new(
                "marital_status_mismatch",
                "Marital status does not match our records. Please contact HR to update your \
                 marital status before submitting.",
                json!({
                    "current_status": profile,
                    "submitted_status": loan.marital_status_snapshot,
                }),
            ));
        }
        (Some(c), None) => {
            taken = profile.map(str::to_owned);
            Some(c.clone())
        }
        (_, s) => s.clone(),
    };
    if matches!(effective.as_deref(), Some("MARRIED" | "DOMESTIC_PARTNER")) {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        let missing: Vec<&str> = [
            ("spouse_first_name", &loan.spouse_first_name),
            ("spouse_last_name", &loan.spouse_last_name),
            ("spouse_email", &loan.spouse_email),
            ("spouse_phone", &loan.spouse_phone),
            ("spouse_address", &loan.spouse_address),
        ]
        .into_iter()
        .filter(|(_, v)| blank(v))
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            return Err(LoanError::new(
                "spouse_info_required",
                "Spouse information is required for married or domestic partner statuses",
                json!({ "missing_fields": missing }),
            ));
        }
    }
    Ok(taken)
}

/// Creates the missing core stages (HR, finance, legal) PENDING.
async fn ensure_core_stages(
    conn: &mut PgConnection,
    org_id: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<()> {
    for stage in StageType::CORE {
        sqlx::query(
            "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, \
             status, assigned_role_hint) SELECT $1, $2, $3, $4, 'PENDING', $5 \
             WHERE NOT EXISTS (SELECT 1 FROM loan_workflow_stages WHERE org_id = $2 \
             AND loan_application_id = $3 AND stage_type = $4)",
        )
        .bind(Uuid::new_v4())
        .bind(org_id.as_str())
        .bind(loan_id)
        .bind(stage.as_str())
        .bind(stage.role_hint())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn has_reservations(
    conn: &mut PgConnection,
    org_id: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM stock_grant_reservations WHERE org_id = $1 \
         AND loan_application_id = $2)",
    )
    .bind(org_id.as_str())
    .bind(loan_id)
    .fetch_one(conn)
    .await
}

/// Submission (§2.6). A replay with the key that submitted the loan answers it as it is.
/// Otherwise the loan is re-quoted, its shares reserved under the grant locks (checked against
/// today's vesting), the core stages created, all in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn submit(
    conn: &mut PgConnection,
    org_id: &OrgId,
    actor: Actor<'_>,
    applicant: &Applicant,
    settings: &OrgSettings,
    id: Uuid,
    key: Option<&str>,
    today: Date,
) -> Result<LoanRecord, LoanFailure> {
    let loan = own(conn, org_id, applicant, id).await?;
    let step = transition(
        loan.status,
        LoanAction::Submit {
            sent_key: key,
            stored_key: loan.submit_idempotency_key.as_deref(),
        },
    )?;
    if !step.changes_status() {
        ensure_core_stages(conn, org_id, loan.id).await?;
        return Ok(loan);
    }
    let profile = profile_marital_status(conn, org_id, applicant.membership_id).await?;
    let taken = check_marital(&loan, profile.as_deref())?;
    if loan.policy_version_snapshot != Some(settings.policy_version) {
        return Err(policy_out_of_date(
            "Loan policy changed. Please refresh your quote before submitting.",
            settings,
            &loan,
        )
        .into());
    }
    let request = merged_request(&loan, &QuotePatch::default())?;
    let quoted = quote_for(conn, org_id, applicant, settings, &request).await?;
    let c = columns(&quoted, &request, Some(request.as_of_date), settings)?;
    let spouse = SpouseFields {
        marital_status_snapshot: taken,
        ..SpouseFields::default()
    };
    let submit_key = step
        .effects
        .contains(&LoanEffect::StoreSubmitKey)
        .then_some(key)
        .flatten();
    let updated = write(conn, &loan, step.to, Some(&c), submit_key, &spouse).await?;
    if !has_reservations(conn, org_id, loan.id).await? {
        reservations::reserve(
            conn,
            org_id.as_str(),
            applicant.membership_id,
            loan.id,
            &c.allocations,
            LoanStatus::Submitted.as_str(),
            today,
        )
        .await
        .map_err(reserve_failure)?;
    }
    ensure_core_stages(conn, org_id, loan.id).await?;
    audit::record(
        conn,
        actor.entry(
            "loan_application.submitted",
            RESOURCE,
            loan.id,
            Some(loan.audit_snapshot()),
            Some(updated.audit_snapshot()),
        ),
    )
    .await?;
    Ok(updated)
}

/// A refused reservation as its legacy 400 (`grant_not_found`, `insufficient_available_shares`).
pub(crate) fn reserve_failure(e: ReserveError) -> LoanFailure {
    match e {
        ReserveError::GrantNotFound(grant_id) => LoanFailure::Domain(LoanError::new(
            "grant_not_found",
            "Grant not found for reservation",
            json!({ "grant_id": grant_id.to_string() }),
        )),
        ReserveError::Insufficient(short) => LoanFailure::Domain(LoanError::new(
            "insufficient_available_shares",
            "Not enough available vested shares to reserve",
            json!({
                "grant_id": short.grant_id.to_string(),
                "available_vested_shares": short.available_vested_shares,
                "requested_shares": short.requested_shares,
            }),
        )),
        ReserveError::Db(e) => LoanFailure::Db(e),
    }
}

/// Cancels a DRAFT (§2.7); drafts hold no reservation, so nothing else changes.
pub async fn cancel(
    conn: &mut PgConnection,
    org_id: &OrgId,
    actor: Actor<'_>,
    applicant: &Applicant,
    id: Uuid,
) -> Result<LoanRecord, LoanFailure> {
    let loan = own(conn, org_id, applicant, id).await?;
    let step = transition(loan.status, LoanAction::Cancel)?;
    let updated = write(conn, &loan, step.to, None, None, &SpouseFields::default()).await?;
    audit::record(
        conn,
        actor.entry(
            "loan_application.cancelled",
            RESOURCE,
            loan.id,
            Some(loan.audit_snapshot()),
            Some(updated.audit_snapshot()),
        ),
    )
    .await?;
    Ok(updated)
}

/// The caller's own application (detail route).
pub async fn get_own(
    conn: &mut PgConnection,
    org_id: &OrgId,
    applicant: &Applicant,
    id: Uuid,
) -> Result<LoanRecord, LoanFailure> {
    own(conn, org_id, applicant, id).await
}

/// The list filters of §2.2.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub statuses: Vec<LoanStatus>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub limit: i64,
    pub offset: i64,
}

/// `SelfLoanSummary` (§2.2), keys in wire order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelfLoanSummary {
    pub id: Uuid,
    pub status: LoanStatus,
    #[serde(with = "wire::date")]
    pub as_of_date: Date,
    pub shares_to_exercise: i64,
    #[serde(with = "serde_py_str")]
    pub loan_principal: Decimal,
    #[serde(with = "serde_py_str")]
    pub estimated_monthly_payment: Decimal,
    #[serde(with = "serde_py_str")]
    pub total_payable_amount: Decimal,
    pub interest_type: InterestType,
    pub repayment_method: RepaymentMethod,
    pub term_months: i32,
    pub current_stage_type: Option<StageType>,
    pub current_stage_status: Option<StageStatus>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub updated_at: OffsetDateTime,
}

/// `{items, total}` of the list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelfLoanList {
    pub items: Vec<SelfLoanSummary>,
    pub total: i64,
}

/// One row of the list: the application, the count of all matching rows (a window over the
/// filter, before the page is cut) and its workflow stages as three aligned arrays.
#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    loan: RawLoanRow,
    total: i64,
    stage_types: Vec<String>,
    stage_statuses: Vec<String>,
    stage_created_at: Vec<OffsetDateTime>,
}

/// The member's applications, newest first, with the count of all matching rows: one
/// statement (page, total and stages together); a page past the end costs a second one for
/// its total.
pub async fn list_own(
    conn: &mut PgConnection,
    org_id: &OrgId,
    membership_id: Uuid,
    filter: &ListFilter,
) -> sqlx::Result<SelfLoanList> {
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    const WHERE: &str = "WHERE org_id = $1 AND org_membership_id = $2 \
        AND (cardinality($3::text[]) = 0 OR status = ANY($3)) \
        AND ($4::timestamptz IS NULL OR created_at >= $4) \
        AND ($5::timestamptz IS NULL OR created_at <= $5)";
    // One lateral read of the page's stages, aggregated into three aligned arrays.
    let rows: Vec<ListRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, count(*) OVER () AS total, \
         st.stage_types, st.stage_statuses, st.stage_created_at \
         FROM loan_applications l \
         CROSS JOIN LATERAL ( \
             SELECT coalesce(array_agg(s.stage_type::text ORDER BY s.created_at, s.id), '{{}}') AS stage_types, \
                    coalesce(array_agg(s.status::text ORDER BY s.created_at, s.id), '{{}}') AS stage_statuses, \
                    coalesce(array_agg(s.created_at ORDER BY s.created_at, s.id), '{{}}') AS stage_created_at \
             FROM loan_workflow_stages s \
             WHERE s.org_id = l.org_id AND s.loan_application_id = l.id) st \
         {WHERE} \
         ORDER BY created_at DESC, id LIMIT $6 OFFSET $7"
    )))
    .bind(org_id.as_str())
    .bind(membership_id)
    .bind(&statuses)
    .bind(filter.created_from)
    .bind(filter.created_to)
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = match rows.first() {
        Some(row) => row.total,
        None if filter.offset == 0 => 0,
        None => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM loan_applications {WHERE}"
            )))
            .bind(org_id.as_str())
            .bind(membership_id)
            .bind(&statuses)
            .bind(filter.created_from)
            .bind(filter.created_to)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let mut loans = Vec::with_capacity(rows.len());
    for row in rows {
        let stages: Vec<StageSnapshot<OffsetDateTime>> = row
            .stage_types
            .iter()
            .zip(&row.stage_statuses)
            .zip(&row.stage_created_at)
            .filter_map(|((t, s), at)| {
                Some(StageSnapshot {
                    stage_type: StageType::parse(t)?,
                    status: StageStatus::parse(s)?,
                    created_at: *at,
                })
            })
            .collect();
        loans.push((LoanRecord::try_from(row.loan)?, stages));
    }
    let items = loans
        .into_iter()
        .map(|(loan, stages)| {
            let current = current_stage(&stages);
            SelfLoanSummary {
                id: loan.id,
                status: loan.status,
                as_of_date: loan.as_of_date,
                shares_to_exercise: loan.shares_to_exercise,
                loan_principal: loan.loan_principal,
                estimated_monthly_payment: loan.estimated_monthly_payment,
                total_payable_amount: loan.total_payable_amount,
                interest_type: loan.interest_type,
                repayment_method: loan.repayment_method,
                term_months: loan.term_months,
                current_stage_type: current.map(|s| s.stage_type),
                current_stage_status: current.map(|s| s.status),
                created_at: loan.created_at,
                updated_at: loan.updated_at,
            }
        })
        .collect();
    Ok(SelfLoanList { items, total })
}
