//! The CSV exports of a loan schedule (loans contract §8, loan-admin §5.11): the borrower's
//! loan export with the loan and schedule header repeated on every row, and the admin's
//! schedule export. Python's `csv.writer` default dialect: comma, `\r\n` after every record,
//! quotes only around fields with a comma, a quote or a line break, UTF-8 without BOM.
//!
//! The rows are produced one at a time ([`loan_export_rows`], [`encode_record`]) so a handler
//! can stream them; [`write_loan_export`] writes a whole export.

use std::io::Write;

use uuid::Uuid;

use super::schedule::{Schedule, ScheduleEntry};
use super::wire::iso_date;
use super::workflow::LoanStatus;

/// Header of `GET /me/loans/{id}/export`.
pub const LOAN_EXPORT_HEADER: [&str; 15] = [
    "loan_id",
    "status",
    "decision_reason",
    "as_of_date",
    "principal",
    "annual_rate_percent",
    "repayment_method",
    "term_months",
    "estimated_monthly_payment",
    "period",
    "due_date",
    "payment",
    "principal_payment",
    "interest_payment",
    "remaining_balance",
];

/// Header of `GET /org/loans/{id}/schedule/export`.
pub const SCHEDULE_EXPORT_HEADER: [&str; 6] = [
    "period",
    "due_date",
    "payment",
    "principal",
    "interest",
    "remaining_balance",
];

/// The loan columns of the borrower export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportLoan<'a> {
    pub loan_id: Uuid,
    pub status: LoanStatus,
    /// Empty when null.
    pub decision_reason: Option<&'a str>,
}

/// `Content-Disposition` of the borrower export.
pub fn loan_export_filename(loan_id: Uuid) -> String {
    format!("loan_export_{loan_id}.csv")
}

/// `Content-Disposition` of the admin schedule export.
pub fn schedule_export_filename(loan_id: Uuid) -> String {
    format!("loan_schedule_{loan_id}.csv")
}

fn entry_fields(entry: &ScheduleEntry) -> [String; 6] {
    [
        entry.period.to_string(),
        iso_date(entry.due_date),
        entry.payment.to_string(),
        entry.principal.to_string(),
        entry.interest.to_string(),
        entry.remaining_balance.to_string(),
    ]
}

/// The borrower export's data rows: the loan and schedule header values, then the entry's
/// six values, with the decimals in their Python `str()` form (the schedule's scales).
pub fn loan_export_rows<'a>(
    loan: ExportLoan<'a>,
    schedule: &'a Schedule,
) -> impl Iterator<Item = [String; 15]> + 'a {
    let head = [
        loan.loan_id.to_string(),
        loan.status.as_str().to_owned(),
        loan.decision_reason.unwrap_or_default().to_owned(),
        iso_date(schedule.as_of_date),
        schedule.principal.to_string(),
        schedule.annual_rate_percent.to_string(),
        schedule.repayment_method.as_str().to_owned(),
        schedule.term_months.to_string(),
        schedule.estimated_monthly_payment.to_string(),
    ];
    schedule.entries.iter().map(move |entry| {
        let [period, due, payment, principal, interest, balance] = entry_fields(entry);
        let [a, b, c, d, e, f, g, h, i] = head.clone();
        [
            a, b, c, d, e, f, g, h, i, period, due, payment, principal, interest, balance,
        ]
    })
}

/// The admin schedule export's data rows.
pub fn schedule_export_rows(schedule: &Schedule) -> impl Iterator<Item = [String; 6]> + '_ {
    schedule.entries.iter().map(entry_fields)
}

fn python_dialect<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out)
}

/// One record as CSV bytes, `\r\n` included (for streaming bodies).
pub fn encode_record<I, T>(fields: I) -> Result<Vec<u8>, csv::Error>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut writer = python_dialect(Vec::new());
    writer.write_record(fields)?;
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// The whole borrower export (header only for a fully paid loan).
pub fn write_loan_export<W: Write>(
    out: W,
    loan: ExportLoan<'_>,
    schedule: &Schedule,
) -> Result<W, csv::Error> {
    let mut writer = python_dialect(out);
    writer.write_record(LOAN_EXPORT_HEADER)?;
    for row in loan_export_rows(loan, schedule) {
        writer.write_record(&row)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// The whole admin schedule export.
pub fn write_schedule_export<W: Write>(out: W, schedule: &Schedule) -> Result<W, csv::Error> {
    let mut writer = python_dialect(out);
    writer.write_record(SCHEDULE_EXPORT_HEADER)?;
    for row in schedule_export_rows(schedule) {
        writer.write_record(&row)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::loans::schedule::remaining_schedule;
    use crate::domain::loans::schedule::tests::{
        admin_loan, admin_repayments, balloon_loan, l1, l1_repayments, recorded,
    };
    use time::macros::date;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_recorded_borrower_export() {
        let loan = l1();
        let schedule =
            remaining_schedule(&loan, &l1_repayments(), date!(2026 - 12 - 07), false).unwrap();
        let csv = write_loan_export(
            Vec::new(),
            ExportLoan {
                loan_id: loan.loan_id,
                status: LoanStatus::Active,
                decision_reason: None,
            },
            &schedule,
        )
        .unwrap();
        assert_eq!(
            text(csv),
            recorded("export 200 CSV")["response"].as_str().unwrap()
        );
        assert_eq!(
            loan_export_filename(loan.loan_id),
            "loan_export_2bbf2c20-8763-434a-a6c9-9ae3b088addf.csv"
        );
    }

    #[test]
    fn a_fully_paid_loan_exports_the_header_only() {
        let loan = admin_loan();
        let schedule =
            remaining_schedule(&loan, &admin_repayments(), date!(2027 - 03 - 07), false).unwrap();
        let csv = write_loan_export(
            Vec::new(),
            ExportLoan {
                loan_id: loan.loan_id,
                status: LoanStatus::Completed,
                decision_reason: None,
            },
            &schedule,
        )
        .unwrap();
        assert_eq!(
            text(csv),
            recorded("export 200 fully paid (header only)")["response"]
                .as_str()
                .unwrap()
        );
    }

    #[test]
    fn the_recorded_admin_schedule_exports() {
        let schedule =
            remaining_schedule(&balloon_loan(), &[], date!(2026 - 12 - 07), false).unwrap();
        let csv = write_schedule_export(Vec::new(), &schedule).unwrap();
        assert_eq!(
            text(csv),
            recorded("schedule export CSV")["response"]
                .as_str()
                .unwrap()
        );
        let schedule = remaining_schedule(
            &admin_loan(),
            &admin_repayments(),
            date!(2026 - 12 - 07),
            true,
        )
        .unwrap();
        let csv = write_schedule_export(Vec::new(), &schedule).unwrap();
        assert_eq!(
            text(csv),
            recorded("schedule export CSV include_paid for paid-off loan")["response"]
                .as_str()
                .unwrap()
        );
    }

    #[test]
    fn decision_reasons_are_quoted_like_python_csv() {
        let loan = l1();
        let schedule = remaining_schedule(&loan, &[], date!(2026 - 12 - 07), false).unwrap();
        let reason = "Too early, \"sorry\"\nsee notes";
        let row = loan_export_rows(
            ExportLoan {
                loan_id: loan.loan_id,
                status: LoanStatus::Rejected,
                decision_reason: Some(reason),
            },
            &schedule,
        )
        .next()
        .unwrap();
        let line = text(encode_record(&row).unwrap());
        assert_eq!(
            line,
            "2bbf2c20-8763-434a-a6c9-9ae3b088addf,REJECTED,\"Too early, \"\"sorry\"\"\nsee notes\",\
             2026-12-07,2500.00,6.5000,PRINCIPAL_AND_INTEREST,12,215.74,1,2027-01-07,215.74,\
             202.20,13.54,2297.80\r\n"
        );
        // Streaming the rows one by one gives the same bytes as the whole export.
        let mut streamed = text(encode_record(LOAN_EXPORT_HEADER).unwrap());
        let export = ExportLoan {
            loan_id: loan.loan_id,
            status: LoanStatus::Active,
            decision_reason: Some("ok; fine"),
        };
        for row in loan_export_rows(export, &schedule) {
            streamed.push_str(&text(encode_record(&row).unwrap()));
        }
        assert_eq!(
            streamed,
            text(write_loan_export(Vec::new(), export, &schedule).unwrap())
        );
        assert_eq!(streamed.matches("\r\n").count(), 13);
    }
}
