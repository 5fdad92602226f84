//! The wire shape of `GET /me/dashboard/summary` (§9.2), the workspace landing page: the
//! stock parts come from [`super::dashboard::self_stock`], the attention, profile and loan
//! parts are assembled here from loaded rows.

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;
use uuid::Uuid;

use super::dashboard::{
    GrantMix, ProfileCompletion, SelfGrantSummary, SelfReservations, SelfStock, SelfStockTotals,
    SelfTimeline,
};
use super::eligibility::Eligibility;
use super::policy::StockPolicy;
use super::wire;
use crate::domain::decimal::{PyDec, serde_py_str_opt};

/// One pending action: a workflow stage assigned to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PendingAction {
    pub action_type: &'static str,
    pub label: String,
    pub due_date: Option<String>,
    pub related_id: Uuid,
}

impl PendingAction {
    /// `Review loan <loan uuid> (<STAGE_TYPE>)`, no due date (Q25, kept).
    pub fn loan_workflow(loan_id: Uuid, stage_type: &str) -> Self {
        Self {
            action_type: "loan_workflow",
            label: format!("Review loan {loan_id} ({stage_type})"),
            due_date: None,
            related_id: loan_id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attention {
    pub unread_announcements_count: i64,
    pub pending_actions_count: i64,
    pub pending_actions: Vec<PendingAction>,
}

/// `loan_summary`, keys in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LoanSummary {
    pub total_loan_applications: i64,
    pub active_loans_count: i64,
    pub completed_loans_count: i64,
    pub pending_loans_count: i64,
    pub active_loan_id: Option<Uuid>,
    pub status: Option<String>,
    #[serde(with = "serde_py_str_opt")]
    pub principal: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub estimated_monthly_payment: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub total_payable: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub total_paid: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub total_interest_paid: Option<Decimal>,
    pub remaining_balance: Option<PyDec>,
    pub principal_remaining: Option<PyDec>,
    pub interest_remaining: Option<PyDec>,
    pub total_remaining: Option<PyDec>,
    #[serde(with = "wire::date::option")]
    pub next_payment_date: Option<Date>,
    pub next_payment_amount: Option<PyDec>,
    pub missed_payment_count: Option<usize>,
    pub missed_payment_amount_total: Option<PyDec>,
    #[serde(serialize_with = "dates")]
    pub missed_payment_dates: Vec<Date>,
    pub current_stage_type: Option<String>,
    pub current_stage_status: Option<String>,
    pub has_share_certificate: Option<bool>,
    pub has_83b_election: Option<bool>,
    pub days_until_83b_due: Option<i64>,
}

fn dates<S: serde::Serializer>(ds: &[Date], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ds.iter().map(|d| wire::iso_date(*d)))
}

/// `{payment_date, amount}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepaymentEntry {
    #[serde(with = "wire::date")]
    pub payment_date: Date,
    #[serde(with = "crate::domain::decimal::serde_py_str")]
    pub amount: Decimal,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RepaymentActivity {
    #[serde(with = "wire::date::option")]
    pub last_payment_date: Option<Date>,
    #[serde(with = "serde_py_str_opt")]
    pub last_payment_amount: Option<Decimal>,
    pub repayment_history: Vec<RepaymentEntry>,
}

impl RepaymentActivity {
    /// From the latest repayments, newest first.
    pub fn from_latest(history: Vec<RepaymentEntry>) -> Self {
        Self {
            last_payment_date: history.first().map(|r| r.payment_date),
            last_payment_amount: history.first().map(|r| r.amount),
            repayment_history: history,
        }
    }
}

/// `SelfDashboard`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SelfDashboard {
    #[serde(with = "wire::date")]
    pub as_of_date: Date,
    pub attention: Attention,
    pub profile_completion: ProfileCompletion,
    pub stock_totals: SelfStockTotals,
    pub stock_eligibility: Eligibility,
    pub vesting_timeline: SelfTimeline,
    pub grant_mix: GrantMix,
    pub reservations: SelfReservations,
    pub grants: Vec<SelfGrantSummary>,
    pub grants_total: i64,
    pub policy_snapshot: StockPolicy,
    pub loan_summary: LoanSummary,
    pub repayment_activity: RepaymentActivity,
}

impl SelfDashboard {
    pub fn new(
        as_of: Date,
        attention: Attention,
        profile_completion: ProfileCompletion,
        stock: SelfStock,
        policy: StockPolicy,
        loan_summary: LoanSummary,
        repayment_activity: RepaymentActivity,
    ) -> Self {
        Self {
            as_of_date: as_of,
            attention,
            profile_completion,
            stock_totals: stock.stock_totals,
            stock_eligibility: stock.stock_eligibility,
            vesting_timeline: stock.vesting_timeline,
            grant_mix: stock.grant_mix,
            reservations: stock.reservations,
            grants: stock.grants,
            grants_total: stock.grants_total,
            policy_snapshot: policy,
            loan_summary,
            repayment_activity,
        }
    }
}
