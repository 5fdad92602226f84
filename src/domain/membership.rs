//! Membership gates (contract §4.1): which membership states may authenticate.

/// Strict: platform ACTIVE and invitation ACCEPTED. PendingAllowed: platform ACTIVE or
/// INVITED, invitation PENDING or ACCEPTED (select-org, MFA verify/enrol, refresh and
/// change-password, so onboarded users can finish their first login).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Strict,
    PendingAllowed,
}

/// Compares upper-cased values; an empty employment status does not block.
pub fn allows(gate: Gate, employment: &str, platform: &str, invitation: &str) -> bool {
    let employment = employment.trim().to_ascii_uppercase();
    if !employment.is_empty() && employment != "ACTIVE" {
        return false;
    }
    let platform = platform.trim().to_ascii_uppercase();
    let invitation = invitation.trim().to_ascii_uppercase();
    match gate {
        Gate::Strict => platform == "ACTIVE" && invitation == "ACCEPTED",
        Gate::PendingAllowed => {
            matches!(platform.as_str(), "ACTIVE" | "INVITED")
                && matches!(invitation.as_str(), "PENDING" | "ACCEPTED")
        }
    }
}

/// Why a membership may not authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No membership row in the org (its statuses read as missing).
    NotMember,
    /// The statuses fail the gate.
    Inactive,
}

/// The one membership gate of every session check: the three statuses of a membership row
/// read through a LEFT JOIN (a missing one means no membership).
pub fn check(
    gate: Gate,
    employment: Option<&str>,
    platform: Option<&str>,
    invitation: Option<&str>,
) -> Result<(), Refusal> {
    let (Some(employment), Some(platform), Some(invitation)) = (employment, platform, invitation)
    else {
        return Err(Refusal::NotMember);
    };
    if allows(gate, employment, platform, invitation) {
        Ok(())
    } else {
        Err(Refusal::Inactive)
    }
}

/// Where an identity (the login shared by every org the person belongs to) has a foothold, as
/// seen from one org: what an identity-wide change needs to know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdentityReach {
    /// The identity has a `users` row or a membership in another org.
    pub other_orgs: bool,
    /// The identity has a membership in the acting org and every one there was accepted.
    pub accepted_here: bool,
    /// Any `users` row of the identity is a platform superuser.
    pub superuser: bool,
}

/// Whether an org may change the identity itself (MFA reset, forced password change, anything
/// that bumps `token_version` or writes the identity row): a superuser actor always may; an
/// org admin only when the person belongs to that org alone, accepted the membership, and is
/// not a superuser. Otherwise one org could lock a person out of every other org.
pub fn may_change_identity(actor_is_superuser: bool, target: IdentityReach) -> bool {
    actor_is_superuser || (!target.superuser && !target.other_orgs && target.accepted_here)
}

/// The 403 of a refused identity-wide change; it names no other org and does not say which
/// condition failed.
pub const IDENTITY_CHANGE_REFUSED: &str = "This change affects the person's sign-in everywhere; \
     only a platform administrator can make it for this user";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_changes_need_sole_accepted_reach_or_a_superuser() {
        let sole = IdentityReach {
            other_orgs: false,
            accepted_here: true,
            superuser: false,
        };
        assert!(may_change_identity(false, sole));
        assert!(!may_change_identity(
            false,
            IdentityReach {
                other_orgs: true,
                ..sole
            }
        ));
        assert!(!may_change_identity(
            false,
            IdentityReach {
                accepted_here: false,
                ..sole
            }
        ));
        let su = IdentityReach {
            superuser: true,
            ..sole
        };
        assert!(!may_change_identity(false, su));
        assert!(may_change_identity(true, su));
        assert!(may_change_identity(
            true,
            IdentityReach {
                other_orgs: true,
                accepted_here: false,
                superuser: false
            }
        ));
    }

    #[test]
    fn gates_follow_the_contract() {
        assert!(allows(Gate::Strict, "ACTIVE", "active", "ACCEPTED"));
        assert!(!allows(Gate::Strict, "ACTIVE", "INVITED", "PENDING"));
        assert!(allows(Gate::PendingAllowed, "ACTIVE", "INVITED", "PENDING"));
        assert!(allows(Gate::PendingAllowed, "", "ACTIVE", "ACCEPTED"));
        assert!(!allows(
            Gate::PendingAllowed,
            "ON_LEAVE",
            "ACTIVE",
            "ACCEPTED"
        ));
        assert!(!allows(
            Gate::PendingAllowed,
            "ACTIVE",
            "DISABLED",
            "ACCEPTED"
        ));
    }

    #[test]
    fn a_missing_status_means_no_membership() {
        assert_eq!(
            check(
                Gate::Strict,
                Some("ACTIVE"),
                Some("ACTIVE"),
                Some("ACCEPTED")
            ),
            Ok(())
        );
        assert_eq!(
            check(Gate::Strict, None, Some("ACTIVE"), Some("ACCEPTED")),
            Err(Refusal::NotMember)
        );
        assert_eq!(
            check(
                Gate::Strict,
                Some("ACTIVE"),
                Some("INVITED"),
                Some("PENDING")
            ),
            Err(Refusal::Inactive)
        );
    }
}
