//! The permission catalogue, the SENSITIVE set, the system roles and the MFA action names
//! (contract §6, §3 org settings). The frontend hardcodes the same codes, and role rows store
//! them as JSON arrays, so the strings are the contract.

/// All 64 permission codes, in the legacy catalogue order.
pub const ALL: &[&str] = &[
    // core
    "system.admin",
    "org.dashboard.view",
    "org.settings.view",
    "org.settings.manage",
    "audit_log.view",
    "impersonation.perform",
    "user.view",
    "user.manage",
    "user.onboard",
    "user.mfa.reset",
    "role.view",
    "role.manage",
    "department.view",
    "department.manage",
    "permission_catalog.view",
    "acl.manage",
    // domain
    "org.document.view",
    "org.document.manage",
    "announcement.view",
    "announcement.manage",
    "stock.view",
    "stock.manage",
    "stock.program.view",
    "stock.program.manage",
    "stock.grant.view",
    "stock.grant.manage",
    "stock.vesting.view",
    "stock.eligibility.view",
    "stock.dashboard.view",
    "stock.self.view",
    "loan.apply",
    "loan.view_own",
    "loan.cancel_own",
    "loan.view_all",
    "loan.manage",
    "loan.dashboard.view",
    "loan.queue.hr.view",
    "loan.workflow.hr.manage",
    "loan.queue.finance.view",
    "loan.workflow.finance.manage",
    "loan.queue.legal.view",
    "loan.workflow.legal.manage",
    "loan.workflow.assign.any",
    "loan.workflow.post_issuance.manage",
    "loan.workflow.83b.manage",
    "loan.document.view",
    "loan.document.manage_hr",
    "loan.document.manage_finance",
    "loan.document.manage_legal",
    "loan.document.self_view",
    "loan.document.self_upload_83b",
    "loan.schedule.view",
    "loan.schedule.self.view",
    "loan.payment.view",
    "loan.payment.self.view",
    "loan.payment.record",
    "loan.payment.refund",
    "loan.what_if.simulate",
    "loan.what_if.self.simulate",
    "loan.export.schedule",
    "loan.export.self",
    "report.stock.export",
    "report.loan.export",
    "report.audit.export",
];

/// Having any of these forces MFA enrolment at login.
pub const SENSITIVE: &[&str] = &[
    "system.admin",
    "org.settings.manage",
    "user.manage",
    "user.mfa.reset",
    "role.manage",
    "department.manage",
    "acl.manage",
    "org.document.manage",
    "announcement.manage",
    "stock.manage",
    "stock.program.manage",
    "stock.grant.manage",
    "loan.manage",
    "loan.workflow.hr.manage",
    "loan.workflow.finance.manage",
    "loan.workflow.legal.manage",
    "loan.workflow.post_issuance.manage",
    "loan.workflow.83b.manage",
    "loan.document.manage_hr",
    "loan.document.manage_finance",
    "loan.document.manage_legal",
    "loan.payment.record",
    "loan.payment.refund",
];

pub fn is_known(code: &str) -> bool {
    ALL.contains(&code)
}

pub fn is_sensitive(code: &str) -> bool {
    SENSITIVE.contains(&code)
}

/// The codes of `requested` that are not in the catalogue, in request order, de-duplicated.
pub fn unknown_codes<'a>(requested: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for code in requested {
        if !is_known(code) && !out.iter().any(|c| c == code) {
            out.push(code.to_owned());
        }
    }
    out
}

/// The internal keys of the system roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemRole {
    OrgAdmin,
    HumanResource,
    Finance,
    Legal,
    Employee,
}

const EMPLOYEE_CODES: &[&str] = &[
    "org.dashboard.view",
    "stock.self.view",
    "loan.apply",
    "loan.view_own",
    "loan.cancel_own",
    "loan.document.self_view",
    "loan.document.self_upload_83b",
    "loan.schedule.self.view",
    "loan.payment.self.view",
    "loan.what_if.self.simulate",
    "loan.export.self",
];

const HR_CODES: &[&str] = &[
    "user.view",
    "user.manage",
    "user.onboard",
    "role.view",
    "department.view",
    "department.manage",
    "stock.view",
    "stock.vesting.view",
    "stock.eligibility.view",
    "stock.dashboard.view",
    "announcement.view",
    "announcement.manage",
    "permission_catalog.view",
    "loan.queue.hr.view",
    "loan.workflow.hr.manage",
    "loan.document.view",
    "loan.document.manage_hr",
    "loan.manage",
    "loan.view_all",
    "loan.dashboard.view",
];

const FINANCE_CODES: &[&str] = &[
    "loan.view_all",
    "loan.manage",
    "loan.queue.finance.view",
    "loan.workflow.finance.manage",
    "loan.document.view",
    "loan.document.manage_finance",
    "loan.payment.view",
    "loan.payment.record",
    "loan.payment.refund",
    "loan.schedule.view",
    "loan.what_if.simulate",
    "loan.export.schedule",
    "loan.dashboard.view",
];

const LEGAL_CODES: &[&str] = &[
    "loan.view_all",
    "loan.queue.legal.view",
    "loan.workflow.legal.manage",
    "loan.workflow.post_issuance.manage",
    "loan.workflow.83b.manage",
    "loan.document.view",
    "loan.document.manage_legal",
    "loan.dashboard.view",
];

impl SystemRole {
    pub const ALL: [SystemRole; 5] = [
        SystemRole::OrgAdmin,
        SystemRole::HumanResource,
        SystemRole::Finance,
        SystemRole::Legal,
        SystemRole::Employee,
    ];

    /// The name stored in `roles.name`.
    pub fn stored_name(self) -> &'static str {
        match self {
            Self::OrgAdmin => "ORG ADMIN",
            Self::HumanResource => "Human Resource",
            Self::Finance => "FINANCE",
            Self::Legal => "LEGAL",
            Self::Employee => "EMPLOYEE",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::OrgAdmin => "Full control within the organization",
            Self::HumanResource => "HR role with user management and HR loan workflow permissions",
            Self::Finance => "Finance role for loan processing and payments",
            Self::Legal => "Legal role for loan execution and post-issuance steps",
            Self::Employee => "Base employee role with self-service access",
        }
    }

    /// The role's permission codes, in a stable order.
    pub fn permissions(self) -> Vec<&'static str> {
        match self {
            // Everything except the employee self-service codes: admins also get EMPLOYEE.
            Self::OrgAdmin => ALL
                .iter()
                .copied()
                .filter(|c| !EMPLOYEE_CODES.contains(c))
                .collect(),
            Self::HumanResource => HR_CODES.to_vec(),
            Self::Finance => FINANCE_CODES.to_vec(),
            Self::Legal => LEGAL_CODES.to_vec(),
            Self::Employee => EMPLOYEE_CODES.to_vec(),
        }
    }

    pub fn from_stored_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.stored_name() == name)
    }
}

/// `mfa_required_actions` values an org can require step-up for.
pub const MFA_ACTIONS: &[&str] = &[
    "LOGIN",
    "LOAN_SUBMISSION",
    "STOCK_GRANT_ASSIGNMENT",
    "STOCK_STATUS_CHANGE",
    "LOAN_PAYMENT_RECORD",
    "WORKFLOW_COMPLETE",
    "ORG_SETTINGS_CHANGE",
    "USER_PROFILE_EDIT",
    "ROLE_ASSIGNMENT",
    "USER_MFA_RESET",
    "ACL_ASSIGNMENT",
    "USER_IMPERSONATE",
];

/// Step-up actions of the core routes.
pub mod action {
    pub const LOGIN: &str = "LOGIN";
    pub const ORG_SETTINGS_CHANGE: &str = "ORG_SETTINGS_CHANGE";
    pub const ROLE_ASSIGNMENT: &str = "ROLE_ASSIGNMENT";
    pub const ACL_ASSIGNMENT: &str = "ACL_ASSIGNMENT";
    pub const USER_PROFILE_EDIT: &str = "USER_PROFILE_EDIT";
    pub const USER_IMPERSONATE: &str = "USER_IMPERSONATE";
    pub const USER_MFA_RESET: &str = "USER_MFA_RESET";
    /// Always required, whatever the org settings say.
    pub const RECOVERY_CODES_REGENERATE: &str = "RECOVERY_CODES_REGENERATE";
    /// Always required, whatever the org settings say.
    pub const SELF_MFA_RESET: &str = "SELF_MFA_RESET";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_sizes_match_the_contract() {
        assert_eq!(ALL.len(), 64);
        assert_eq!(SENSITIVE.len(), 23);
        assert!(SENSITIVE.iter().all(|c| is_known(c)));
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 64, "no duplicate codes");
    }

    #[test]
    fn system_roles_have_the_contract_permissions() {
        assert_eq!(SystemRole::OrgAdmin.permissions().len(), 53);
        assert_eq!(SystemRole::HumanResource.permissions().len(), 20);
        assert_eq!(SystemRole::Finance.permissions().len(), 13);
        assert_eq!(SystemRole::Legal.permissions().len(), 8);
        assert_eq!(SystemRole::Employee.permissions().len(), 11);
        for role in SystemRole::ALL {
            assert!(role.permissions().iter().all(|c| is_known(c)), "{role:?}");
            assert_eq!(SystemRole::from_stored_name(role.stored_name()), Some(role));
        }
    }

    #[test]
    fn unknown_codes_are_listed_once_in_order() {
        assert_eq!(
            unknown_codes(["user.view", "nope", "x.y", "nope"]),
            vec!["nope", "x.y"]
        );
    }
}
