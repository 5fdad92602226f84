//! Quotes from the database (§2.1, §4): the member, their ACTIVE grants and held
//! reservations, the stock rules, the loan policy of `org_settings` and the newest PBGC rate
//! go into the pure quote engine (`domain::loans::quote`).

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{LoanFailure, pbgc};
use crate::domain::loans::quote::{LoanPolicy, Quote, QuoteInputs, QuoteRequest, quote};
use crate::domain::loans::terms::{InterestType, RepaymentMethod};
use crate::domain::org::OrgId;
use crate::domain::stock::eligibility::{MemberFacts, evaluate};
use crate::domain::stock::vesting::vesting_totals;
use crate::services::org_settings::{self, OrgSettings};
use crate::services::stock::{grants, policy, reservations};

/// The caller's membership in the org as the quote reads it.
#[derive(Clone, Debug)]
pub struct Applicant {
    pub membership_id: Uuid,
    pub facts: MemberFacts,
}

/// The `/me` subject: the membership of (org, user), or `None` (404 `Membership not found`).
pub async fn applicant(
    conn: &mut PgConnection,
    org_id: &OrgId,
    user_id: Uuid,
) -> sqlx::Result<Option<Applicant>> {
    Ok(
        crate::services::stock::members::of_user(conn, org_id.as_str(), user_id)
            .await?
            .map(|(membership_id, facts)| Applicant {
                membership_id,
                facts,
            }),
    )
}

/// The org's settings row, or the defaults it would be created with (a quote writes nothing).
pub async fn settings_or_defaults(
    conn: &mut PgConnection,
    org_id: &OrgId,
) -> sqlx::Result<OrgSettings> {
    Ok(org_settings::find(conn, org_id.as_str())
        .await?
        .unwrap_or_else(|| org_settings::defaults(org_id.as_str())))
}

fn decimal(text: Option<&str>) -> Option<Decimal> {
    text.and_then(|t| Decimal::from_str(t).ok())
}

fn list<T>(value: &Value, parse: fn(&str) -> Option<T>) -> Vec<T> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(parse)
                .collect()
        })
        .unwrap_or_default()
}

/// The loan policy fields of the settings row, typed (stored order kept).
pub fn loan_policy(settings: &OrgSettings) -> LoanPolicy {
    LoanPolicy {
        allowed_interest_types: list(&settings.allowed_interest_types.0, InterestType::parse),
        allowed_repayment_methods: list(
            &settings.allowed_repayment_methods.0,
            RepaymentMethod::parse,
        ),
        min_loan_term_months: Some(settings.min_loan_term_months),
        max_loan_term_months: Some(settings.max_loan_term_months),
        fixed_interest_rate_annual_percent: decimal(Some(
            &settings.fixed_interest_rate_annual_percent,
        )),
        variable_margin_annual_percent: decimal(settings.variable_margin_annual_percent.as_deref()),
        require_down_payment: settings.require_down_payment,
        down_payment_percent: decimal(settings.down_payment_percent.as_deref()),
    }
}

/// A quote and the PBGC rate it used (the applications store it in their settings snapshot).
#[derive(Clone, Debug)]
pub struct Quoted {
    pub quote: Quote,
    pub pbgc_annual_rate_percent: Option<Decimal>,
}

/// Quotes `request` for the applicant under `settings` (§4): available shares are the vested
/// shares at the request date minus the member's held reservations.
pub async fn quote_for(
    conn: &mut PgConnection,
    org_id: &OrgId,
    applicant: &Applicant,
    settings: &OrgSettings,
    request: &QuoteRequest,
) -> Result<Quoted, LoanFailure> {
    let org = org_id.as_str();
    let stock_policy = policy::stock_policy(conn, org).await?;
    let grants = grants::active_grants_of_member(conn, org, applicant.membership_id).await?;
    let ids: Vec<Uuid> = grants.iter().map(|g| g.id).collect();
    let reserved = reservations::reserved_by_grant(conn, org, &ids).await?;
    let as_of = request.as_of_date;
    let eligibility = evaluate(
        &applicant.facts,
        &stock_policy,
        &vesting_totals(&grants, as_of),
        as_of,
    );
    let pbgc = pbgc::latest_annual_rate(conn).await?;
    let policy = loan_policy(settings);
    let quote = quote(QuoteInputs {
        request,
        policy: &policy,
        grants: &grants,
        reserved_by_grant: &reserved,
        eligibility: &eligibility,
        pbgc_annual_rate_percent: pbgc,
    })?;
    Ok(Quoted {
        quote,
        pbgc_annual_rate_percent: pbgc,
    })
}
