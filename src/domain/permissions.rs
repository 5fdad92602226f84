//! The permission catalogue, the SENSITIVE set, the system roles and the MFA action names
//! (contract §6, §3 org settings). The frontend hardcodes the same codes, and role rows store
//! them as JSON arrays, so the strings are the contract.

/// Declares the catalogue once: the [`Permission`] enum, the string table [`ALL`] and one marker
/// type per code in [`perm`] (same name as the variant) for the `Can<…>` extractor.
macro_rules! catalogue {
    ($($(#[$note:meta])* $variant:ident => $code:literal,)*) => {
        /// One permission of the catalogue. The string [`code`](Permission::code) is the wire and
        /// database form (role rows store codes as JSON arrays); the enum is how Rust names it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Permission {
            $($(#[$note])* #[doc = concat!("`", stringify!($code), "`")] $variant,)*
        }

        impl Permission {
            /// Every permission, in the legacy catalogue order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            /// The stored code, e.g. `"department.view"`.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Permission::$variant => $code,)*
                }
            }

            /// The permission a stored code names, if it is in the catalogue.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Permission::$variant),)*
                    _ => None,
                }
            }
        }

        /// All 64 permission codes, in the legacy catalogue order.
        pub const ALL: &[&str] = &[$($code,)*];

        /// One zero-sized marker per permission, named like its [`Permission`] variant, for
        /// handler signatures: `user: Can<perm::DepartmentView>` or, when a route needs two,
        /// `Can<(perm::DepartmentManage, perm::UserManage)>` (checked in that order).
        pub mod perm {
            use super::{One, Permission, Required};
            $(
                #[doc = concat!("Requires `", $code, "`.")]
                #[derive(Debug)]
                pub struct $variant;
                impl Required for $variant {
                    const PERMISSIONS: &'static [Permission] = &[Permission::$variant];
                }
                impl One for $variant {
                    const PERMISSION: Permission = Permission::$variant;
                }
            )*
        }
    };
}

catalogue! {
    // core
    SystemAdmin => "system.admin",
    OrgDashboardView => "org.dashboard.view",
    OrgSettingsView => "org.settings.view",
    OrgSettingsManage => "org.settings.manage",
    AuditLogView => "audit_log.view",
    ImpersonationPerform => "impersonation.perform",
    UserView => "user.view",
    UserManage => "user.manage",
    UserOnboard => "user.onboard",
    UserMfaReset => "user.mfa.reset",
    RoleView => "role.view",
    RoleManage => "role.manage",
    DepartmentView => "department.view",
    DepartmentManage => "department.manage",
    PermissionCatalogView => "permission_catalog.view",
    AclManage => "acl.manage",
    // domain
    OrgDocumentView => "org.document.view",
    OrgDocumentManage => "org.document.manage",
    AnnouncementView => "announcement.view",
    AnnouncementManage => "announcement.manage",
    StockView => "stock.view",
    StockManage => "stock.manage",
    StockProgramView => "stock.program.view",
    StockProgramManage => "stock.program.manage",
    StockGrantView => "stock.grant.view",
    StockGrantManage => "stock.grant.manage",
    StockVestingView => "stock.vesting.view",
    StockEligibilityView => "stock.eligibility.view",
    StockDashboardView => "stock.dashboard.view",
    StockSelfView => "stock.self.view",
    LoanApply => "loan.apply",
    LoanViewOwn => "loan.view_own",
    LoanCancelOwn => "loan.cancel_own",
    LoanViewAll => "loan.view_all",
    LoanManage => "loan.manage",
    LoanDashboardView => "loan.dashboard.view",
    LoanQueueHrView => "loan.queue.hr.view",
    LoanWorkflowHrManage => "loan.workflow.hr.manage",
    LoanQueueFinanceView => "loan.queue.finance.view",
    LoanWorkflowFinanceManage => "loan.workflow.finance.manage",
    LoanQueueLegalView => "loan.queue.legal.view",
    LoanWorkflowLegalManage => "loan.workflow.legal.manage",
    LoanWorkflowAssignAny => "loan.workflow.assign.any",
    LoanWorkflowPostIssuanceManage => "loan.workflow.post_issuance.manage",
    LoanWorkflow83bManage => "loan.workflow.83b.manage",
    LoanDocumentView => "loan.document.view",
    LoanDocumentManageHr => "loan.document.manage_hr",
    LoanDocumentManageFinance => "loan.document.manage_finance",
    LoanDocumentManageLegal => "loan.document.manage_legal",
    LoanDocumentSelfView => "loan.document.self_view",
    LoanDocumentSelfUpload83b => "loan.document.self_upload_83b",
    LoanScheduleView => "loan.schedule.view",
    LoanScheduleSelfView => "loan.schedule.self.view",
    LoanPaymentView => "loan.payment.view",
    LoanPaymentSelfView => "loan.payment.self.view",
    LoanPaymentRecord => "loan.payment.record",
    LoanPaymentRefund => "loan.payment.refund",
    LoanWhatIfSimulate => "loan.what_if.simulate",
    LoanWhatIfSelfSimulate => "loan.what_if.self.simulate",
    LoanExportSchedule => "loan.export.schedule",
    LoanExportSelf => "loan.export.self",
    ReportStockExport => "report.stock.export",
    ReportLoanExport => "report.loan.export",
    ReportAuditExport => "report.audit.export",
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// What a route requires: one [`perm`] marker, or a tuple of them (all required, checked in
/// order, so the first missing one is the one the 403 names).
pub trait Required: Send + Sync + 'static {
    const PERMISSIONS: &'static [Permission];
}

/// A single-permission marker (every [`perm`] type); tuples of these are [`Required`] too.
pub trait One: Required {
    const PERMISSION: Permission;
}

impl<A: One, B: One> Required for (A, B) {
    const PERMISSIONS: &'static [Permission] = &[A::PERMISSION, B::PERMISSION];
}

impl<A: One, B: One, C: One> Required for (A, B, C) {
    const PERMISSIONS: &'static [Permission] = &[A::PERMISSION, B::PERMISSION, C::PERMISSION];
}

/// Having any of these forces MFA enrolment at login.
pub const SENSITIVE: &[Permission] = &[
    Permission::SystemAdmin,
    Permission::OrgSettingsManage,
    Permission::UserManage,
    Permission::UserMfaReset,
    Permission::RoleManage,
    Permission::DepartmentManage,
    Permission::AclManage,
    Permission::OrgDocumentManage,
    Permission::AnnouncementManage,
    Permission::StockManage,
    Permission::StockProgramManage,
    Permission::StockGrantManage,
    Permission::LoanManage,
    Permission::LoanWorkflowHrManage,
    Permission::LoanWorkflowFinanceManage,
    Permission::LoanWorkflowLegalManage,
    Permission::LoanWorkflowPostIssuanceManage,
    Permission::LoanWorkflow83bManage,
    Permission::LoanDocumentManageHr,
    Permission::LoanDocumentManageFinance,
    Permission::LoanDocumentManageLegal,
    Permission::LoanPaymentRecord,
    Permission::LoanPaymentRefund,
];

impl Permission {
    /// Sensitive permissions force MFA enrolment at login.
    pub fn is_sensitive(self) -> bool {
        SENSITIVE.contains(&self)
    }
}

pub fn is_known(code: &str) -> bool {
    Permission::from_code(code).is_some()
}

pub fn is_sensitive(code: &str) -> bool {
    Permission::from_code(code).is_some_and(Permission::is_sensitive)
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

/// When a step-up action needs a fresh second factor (contract §4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepUpWhen {
    /// Only when the org requires two-factor and lists the action (most actions).
    OrgPolicy,
    /// Whenever the org lists the action, whatever `require_two_factor` says (admin MFA reset).
    Listed,
    /// Always (recovery-code regeneration, self MFA reset).
    Always,
}

/// Declares the step-up actions once: the [`MfaAction`] enum, the [`MFA_ACTIONS`] an org may
/// list, and one marker per action in [`step`] for the `StepUp<…>` extractor.
macro_rules! mfa_actions {
    (
        listable { $($variant:ident = $code:ident, $when:ident;)* }
        always { $($avariant:ident = $acode:ident;)* }
    ) => {
        /// A step-up action; the string [`code`](MfaAction::code) is what org settings list and
        /// step-up tokens carry.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum MfaAction {
            $(#[doc = concat!("`", stringify!($code), "`")] $variant,)*
            $(#[doc = concat!("`", stringify!($acode), "` (always required)")] $avariant,)*
        }

        impl MfaAction {
            pub const fn code(self) -> &'static str {
                match self {
                    $(MfaAction::$variant => stringify!($code),)*
                    $(MfaAction::$avariant => stringify!($acode),)*
                }
            }

            /// When this action needs step-up.
            pub const fn when(self) -> StepUpWhen {
                match self {
                    $(MfaAction::$variant => StepUpWhen::$when,)*
                    $(MfaAction::$avariant => StepUpWhen::Always,)*
                }
            }
        }

        /// `mfa_required_actions` values an org can require step-up for.
        pub const MFA_ACTIONS: &[&str] = &[$(stringify!($code),)*];

        /// Step-up actions by name (the string codes, for code that still compares strings).
        pub mod action {
            $(pub const $code: &str = stringify!($code);)*
            $(
                /// Always required, whatever the org settings say.
                pub const $acode: &str = stringify!($acode);
            )*
        }

        /// One marker per step-up action, named like its [`MfaAction`] variant, for handler
        /// signatures: `_: StepUp<step::RoleAssignment>`.
        pub mod step {
            use super::{MfaAction, StepUpAction};
            $(
                #[doc = concat!("Step-up for `", stringify!($code), "`.")]
                #[derive(Debug)]
                pub struct $variant;
                impl StepUpAction for $variant {
                    const ACTION: MfaAction = MfaAction::$variant;
                }
            )*
            $(
                #[doc = concat!("Step-up for `", stringify!($acode), "` (always required).")]
                #[derive(Debug)]
                pub struct $avariant;
                impl StepUpAction for $avariant {
                    const ACTION: MfaAction = MfaAction::$avariant;
                }
            )*
        }
    };
}

/// A [`step`] marker: the action a `StepUp<…>` extractor checks.
pub trait StepUpAction: Send + Sync + 'static {
    const ACTION: MfaAction;
}

mfa_actions! {
    listable {
        Login = LOGIN, OrgPolicy;
        LoanSubmission = LOAN_SUBMISSION, OrgPolicy;
        StockGrantAssignment = STOCK_GRANT_ASSIGNMENT, OrgPolicy;
        StockStatusChange = STOCK_STATUS_CHANGE, OrgPolicy;
        LoanPaymentRecord = LOAN_PAYMENT_RECORD, OrgPolicy;
        WorkflowComplete = WORKFLOW_COMPLETE, OrgPolicy;
        OrgSettingsChange = ORG_SETTINGS_CHANGE, OrgPolicy;
        UserProfileEdit = USER_PROFILE_EDIT, OrgPolicy;
        RoleAssignment = ROLE_ASSIGNMENT, OrgPolicy;
        UserMfaReset = USER_MFA_RESET, Listed;
        AclAssignment = ACL_ASSIGNMENT, OrgPolicy;
        UserImpersonate = USER_IMPERSONATE, OrgPolicy;
    }
    always {
        RecoveryCodesRegenerate = RECOVERY_CODES_REGENERATE;
        SelfMfaReset = SELF_MFA_RESET;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_sizes_match_the_contract() {
        assert_eq!(ALL.len(), 64);
        assert_eq!(SENSITIVE.len(), 23);
        assert_eq!(Permission::ALL.len(), 64);
        for (p, code) in Permission::ALL.iter().zip(ALL) {
            assert_eq!(p.code(), *code);
            assert_eq!(Permission::from_code(code), Some(*p));
        }
        assert!(is_sensitive("role.manage") && !is_sensitive("role.view"));
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
