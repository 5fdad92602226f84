//! `GET /me/dashboard/summary` (§9.2) from the database: announcements, assigned workflow
//! stages, the profile, the member's stock and its loans.

use rust_decimal::Decimal;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::loans::repayments::payment_status;
use crate::domain::loans::schedule::{Repayment, StoredLoan};
use crate::domain::loans::terms::RepaymentMethod;
use crate::domain::org::OrgId;
use crate::domain::stock::dashboard::{
    ProfileFields, SelfStock, days_until_83b_due, profile_completion, self_stock,
};
use crate::domain::stock::eligibility::MemberFacts;
use crate::domain::stock::landing::{
    Attention, LoanSummary, PendingAction, RepaymentActivity, RepaymentEntry, SelfDashboard,
};
use crate::domain::stock::summary::MemberStock;

use super::{grants, members, policy, reservations};

/// How many assigned stages and repayments the landing page lists.
const PENDING_ACTIONS: i64 = 5;
const REPAYMENT_HISTORY: i64 = 5;

/// The dashboard of `user_id` in the org at `as_of` (`today` only for what the legacy
/// service never dated by `as_of`: nothing at present, see Q17).
pub async fn self_dashboard(
    conn: &mut PgConnection,
    org: &OrgId,
    user_id: Uuid,
    as_of: Date,
) -> sqlx::Result<SelfDashboard> {
    let attention = attention(conn, org, user_id).await?;
    let org_id = org.as_str();
    let policy = policy::stock_policy(conn, org_id).await?;
    let Some((membership_id, member)) = members::of_user(conn, org_id, user_id).await? else {
        // A superuser acting in an org where it has no membership (Q22, kept).
        return Ok(SelfDashboard::new(
            as_of,
            attention,
            profile_completion(None, has_subdivisions),
            SelfStock::without_membership(),
            policy,
            LoanSummary::default(),
            RepaymentActivity::default(),
        ));
    };
    let profile = profile_of(conn, org_id, membership_id).await?;
    let stock = stock_of(conn, org_id, membership_id, &member, &policy, as_of).await?;
    let (loan_summary, repayment_activity) = loans_of(conn, org_id, membership_id, as_of).await?;
    Ok(SelfDashboard::new(
        as_of,
        attention,
        profile_completion(profile.as_ref(), has_subdivisions),
        stock,
        policy,
        loan_summary,
        repayment_activity,
    ))
}

fn has_subdivisions(country: &str) -> bool {
    !crate::domain::geo::subdivisions(country).is_empty()
}

async fn attention(conn: &mut PgConnection, org: &OrgId, user_id: Uuid) -> sqlx::Result<Attention> {
    // PUBLISHED announcements only, like `/announcements/unread/count` (the legacy landing
    // page also counted drafts and archived ones, Q13).
    let unread = crate::services::announcements::unread_count(conn, org, user_id).await?;
    let org_id = org.as_str();
    let pending_count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM loan_workflow_stages WHERE org_id = $1 AND assigned_to_user_id = $2 \
         AND status <> 'COMPLETED'",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    let stages: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT loan_application_id, stage_type FROM loan_workflow_stages WHERE org_id = $1 \
         AND assigned_to_user_id = $2 AND status <> 'COMPLETED' ORDER BY created_at DESC, id LIMIT $3",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(PENDING_ACTIONS)
    .fetch_all(conn)
    .await?;
    Ok(Attention {
        unread_announcements_count: unread,
        pending_actions_count: pending_count,
        pending_actions: stages
            .into_iter()
            .map(|(loan_id, stage)| PendingAction::loan_workflow(loan_id, &stage))
            .collect(),
    })
}

type ProfileRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn profile_of(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<ProfileFields>> {
    let row: Option<ProfileRow> = sqlx::query_as(
        "SELECT phone_number, timezone, marital_status, country, state, address_line1, postal_code \
         FROM org_user_profiles WHERE org_id = $1 AND membership_id = $2",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(phone_number, timezone, marital_status, country, state, address_line1, postal_code)| {
            ProfileFields {
                phone_number,
                timezone,
                marital_status,
                country,
                state,
                address_line1,
                postal_code,
            }
        },
    ))
}

async fn stock_of(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    member: &MemberFacts,
    policy: &crate::domain::stock::policy::StockPolicy,
    as_of: Date,
) -> sqlx::Result<SelfStock> {
    let grants = grants::active_grants_of_member(conn, org_id, membership_id).await?;
    let reservations = if grants.is_empty() {
        Vec::new()
    } else {
        reservations::holding_of_member(conn, org_id, membership_id).await?
    };
    Ok(self_stock(&MemberStock {
        membership_id,
        member,
        policy,
        grants: &grants,
        reservations: &reservations,
        as_of,
    }))
}

type ActiveLoanRow = (
    Uuid,
    String,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    i32,
    String,
    Option<OffsetDateTime>,
    Date,
    Option<Date>,
);

/// `loan_summary` and `repayment_activity` of the membership.
async fn loans_of(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    as_of: Date,
) -> sqlx::Result<(LoanSummary, RepaymentActivity)> {
    let (total, active, completed, pending): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status = 'ACTIVE'), \
         count(*) FILTER (WHERE status = 'COMPLETED'), \
         count(*) FILTER (WHERE status IN ('SUBMITTED', 'IN_REVIEW')) \
         FROM loan_applications WHERE org_id = $1 AND org_membership_id = $2",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_one(&mut *conn)
    .await?;
    let history: Vec<(Date, Decimal)> = sqlx::query_as(
        "SELECT r.payment_date, r.amount FROM loan_repayments r JOIN loan_applications a \
         ON a.id = r.loan_application_id WHERE a.org_id = $1 AND a.org_membership_id = $2 \
         ORDER BY r.payment_date DESC, r.created_at DESC, r.id LIMIT $3",
    )
    .bind(org_id)
    .bind(membership_id)
    .bind(REPAYMENT_HISTORY)
    .fetch_all(&mut *conn)
    .await?;
    let activity = RepaymentActivity::from_latest(
        history
            .into_iter()
            .map(|(payment_date, amount)| RepaymentEntry {
                payment_date,
                amount,
            })
            .collect(),
    );
    let mut summary = LoanSummary {
        total_loan_applications: total,
        active_loans_count: active,
        completed_loans_count: completed,
        pending_loans_count: pending,
        ..LoanSummary::default()
    };
    let loan: Option<ActiveLoanRow> = sqlx::query_as(
        "SELECT id, status, loan_principal, estimated_monthly_payment, total_payable_amount, \
         nominal_annual_rate_percent, term_months, repayment_method, activation_date, as_of_date, \
         election_83b_due_date FROM loan_applications WHERE org_id = $1 AND org_membership_id = $2 \
         AND status = 'ACTIVE' ORDER BY activation_date DESC NULLS LAST, created_at DESC, id LIMIT 1",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((
        loan_id,
        status,
        principal,
        monthly,
        payable,
        rate,
        term_months,
        method,
        activation_date,
        quote_date,
        due_83b,
    )) = loan
    else {
        return Ok((summary, activity));
    };
    let repayments: Vec<(Date, OffsetDateTime, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "SELECT payment_date, created_at, amount, principal_amount, interest_amount \
         FROM loan_repayments WHERE org_id = $1 AND loan_application_id = $2 \
         ORDER BY payment_date, created_at, id",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(&mut *conn)
    .await?;
    let repayments: Vec<Repayment> = repayments
        .into_iter()
        .map(
            |(payment_date, created_at, amount, principal_amount, interest_amount)| Repayment {
                payment_date,
                created_at,
                amount,
                principal_amount,
                interest_amount,
            },
        )
        .collect();
    let (paid, interest_paid): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
        "SELECT sum(amount), sum(interest_amount) FROM loan_repayments \
         WHERE org_id = $1 AND loan_application_id = $2",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_one(&mut *conn)
    .await?;
    let paid = paid.unwrap_or(Decimal::ZERO);
    summary.active_loan_id = Some(loan_id);
    summary.status = Some(status);
    summary.principal = Some(principal);
    summary.estimated_monthly_payment = Some(monthly);
    summary.total_payable = Some(payable);
    summary.total_paid = Some(paid);
    summary.total_interest_paid = Some(interest_paid.unwrap_or(Decimal::ZERO));
    let status_at = RepaymentMethod::parse(&method).and_then(|repayment_method| {
        payment_status(
            &StoredLoan {
                loan_id,
                loan_principal: principal,
                nominal_annual_rate_percent: rate,
                term_months,
                repayment_method,
                activation_date,
                as_of_date: quote_date,
            },
            &repayments,
            as_of,
        )
        .ok()
    });
    match status_at {
        Some(s) => {
            summary.remaining_balance = Some(s.total_remaining);
            summary.principal_remaining = Some(s.principal_remaining);
            summary.interest_remaining = Some(s.interest_remaining);
            summary.total_remaining = Some(s.total_remaining);
            summary.next_payment_date = s.next_payment_date;
            summary.next_payment_amount = s.next_payment_amount;
            summary.missed_payment_count = Some(s.missed_payment_count);
            summary.missed_payment_amount_total = Some(s.missed_payment_amount_total);
            summary.missed_payment_dates = s.missed_payment_dates;
        }
        None => {
            // No schedule could be built: what is left of the total payable.
            let left = (payable - paid).max(Decimal::ZERO);
            summary.remaining_balance = Some(crate::domain::decimal::PyDec::from_decimal(left));
        }
    }
    let stage: Option<(String, String)> = sqlx::query_as(
        "SELECT stage_type, status FROM loan_workflow_stages WHERE org_id = $1 \
         AND loan_application_id = $2 AND status <> 'COMPLETED' ORDER BY created_at, \
         array_position(ARRAY['HR_REVIEW', 'FINANCE_PROCESSING', 'LEGAL_EXECUTION', \
         'LEGAL_POST_ISSUANCE', 'BORROWER_83B_ELECTION']::varchar[], stage_type), id LIMIT 1",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((stage_type, stage_status)) = stage {
        summary.current_stage_type = Some(stage_type);
        summary.current_stage_status = Some(stage_status);
    }
    if let (Some(_), Some(due)) = (activation_date, due_83b) {
        let (certificate, election): (bool, bool) = sqlx::query_as(
            "SELECT bool_or(document_type = 'SHARE_CERTIFICATE') IS TRUE, \
             bool_or(document_type = 'SECTION_83B_ELECTION') IS TRUE FROM loan_documents \
             WHERE org_id = $1 AND loan_application_id = $2",
        )
        .bind(org_id)
        .bind(loan_id)
        .fetch_one(&mut *conn)
        .await?;
        summary.has_share_certificate = Some(certificate);
        summary.has_83b_election = Some(election);
        summary.days_until_83b_due = Some(days_until_83b_due(due, as_of));
    }
    Ok((summary, activity))
}
