//! E-mail addresses as the legacy service's `EmailStr` accepted them: the domain is lower-cased,
//! the local part is kept as typed. Messages follow `email-validator`, because the 422 texts
//! are part of the recorded wire.

/// Validates and normalises; `Err` carries the reason after "value is not a valid email
/// address: ".
pub fn normalize(raw: &str) -> Result<String, &'static str> {
    let value = raw.trim();
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Err("An email address must have an @-sign.");
    };
    if local.is_empty() {
        return Err("There must be something before the @-sign.");
    }
    if domain.is_empty() {
        return Err("There must be something after the @-sign.");
    }
    if local.contains('@') {
        return Err("The email address is not valid. It must have exactly one @-sign.");
    }
    if local.len() > 64 {
        return Err("The email address is too long before the @-sign.");
    }
    if value.len() > 254 {
        return Err("The email address is too long.");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("The email address contains invalid characters.");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("The email address contains a period in an invalid position.");
    }
    let domain = domain.to_lowercase();
    if !domain.contains('.') {
        return Err("The part after the @-sign is not valid. It should have a period.");
    }
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if !labels_ok {
        return Err("The part after the @-sign contains invalid characters or an invalid label.");
    }
    Ok(format!("{local}@{domain}"))
}

/// The full pydantic message for a rejected address.
pub fn error_message(reason: &str) -> String {
    format!("value is not a valid email address: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lower_cased_and_local_parts_kept() {
        assert_eq!(
            normalize(" Priya.Sharma@Sole-LLC.Example.COM ").unwrap(),
            "Priya.Sharma@sole-llc.example.com"
        );
    }

    #[test]
    fn invalid_addresses_use_email_validator_messages() {
        assert_eq!(
            normalize("not-an-email").unwrap_err(),
            "An email address must have an @-sign."
        );
        assert!(normalize("a@localhost").is_err());
        assert!(normalize("@x.io").is_err());
        assert!(normalize("a b@x.io").is_err());
        assert!(normalize("a@-x.io").is_err());
    }
}
