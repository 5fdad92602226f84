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
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || !lookalike_free(value) {
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

/// Invisible formatting characters: bidi controls and isolates, zero-width characters, the
/// byte order mark and the soft hyphen.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// No character that NFKC would change (full-width letters, ligatures, compatibility forms)
/// and no invisible formatting character: such addresses look like another person's, so
/// they are refused rather than silently rewritten (login matches the stored string exactly).
fn lookalike_free(value: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    !value.chars().any(is_invisible_format) && value.nfkc().eq(value.chars())
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
        // Look-alikes: full-width letters, bidi controls, zero-width characters.
        assert!(normalize("\u{FF41}dmin@x.io").is_err());
        assert!(normalize("admin@\u{FF58}.io").is_err());
        assert!(normalize("ad\u{202E}min@x.io").is_err());
        assert!(normalize("ad\u{200B}min@x.io").is_err());
        assert!(normalize("jos\u{E9}@x.io").is_ok());
    }
}
