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

#[cfg(test)]
mod tests {
    use super::*;

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
