//! The loan terms value sets (`loan_applications` CHECK constraints and the quote request).

string_enum! {
    /// `interest_type` (CHECK `ck_loan_app_interest_type`), in the policy default order.
    pub enum InterestType {
        Fixed => "FIXED",
        Variable => "VARIABLE",
    }
}

string_enum! {
    /// `repayment_method` (CHECK `ck_loan_app_repayment_method`). `INTEREST_ONLY` is gone from
    /// the legacy enum and answers 422.
    pub enum RepaymentMethod {
        Balloon => "BALLOON",
        PrincipalAndInterest => "PRINCIPAL_AND_INTEREST",
    }
}

string_enum! {
    /// How `selection_value` is read: a percent of the available shares or a share count.
    pub enum SelectionMode {
        Percent => "PERCENT",
        Shares => "SHARES",
    }
}

/// The only allocation strategy (CHECK `ck_loan_app_allocation_strategy`).
pub const ALLOCATION_STRATEGY: &str = "OLDEST_VESTED_FIRST";
