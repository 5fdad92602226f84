//! Object keys (contract §8.2, §5.12, §7): the builders for every producer, and the parser that
//! every key coming back from a client or a row goes through before it touches a backend.
//!
//! A key is the relative path of the object under the local root, and the object name in the
//! bucket, so the formats must stay exactly the legacy ones. Keys are never joined from user
//! input unchecked: a builder only accepts validated segments, and [`ObjectKey::parse`] refuses
//! anything that could step out of its place (`\`, a leading `/`, `.`/`..`/empty segments,
//! control characters), which is what makes `orgs/<my org>/../<other org>/…` (§12 quirk 3) fail.

use std::fmt;

use uuid::Uuid;

use crate::domain::org::OrgId;

/// The longest key the tables can hold (`storage_object_key varchar(1024)`), and GCS's own
/// limit on object names (1024 bytes of UTF-8).
pub const MAX_KEY_BYTES: usize = 1024;

/// A validated object key: `orgs/<org>/<at least one more segment>`, each segment non-empty,
/// not `.` or `..`, free of `/`, `\` and control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a key was refused. The texts are the ones the register routes answer with (contract
/// §5.8, code `invalid_storage_key`); the local-content routes answer `Invalid object key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Starts with `http` (case-sensitive, as the legacy check).
    #[error("storage_key must be an object key, not a URL")]
    Url,
    /// Its org segment is not the caller's org.
    #[error("storage_key is not scoped to org")]
    NotScoped,
    /// Not a safe relative key (see [`ObjectKey`]).
    #[error("storage_key is not a valid object key")]
    Invalid,
}

/// One segment of a key is safe on every backend and on the local filesystem.
pub fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

impl ObjectKey {
    /// Validates a key of any org (rows read back from the database, signed URLs).
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        if raw.starts_with("http") {
            return Err(KeyError::Url);
        }
        if raw.len() > MAX_KEY_BYTES {
            return Err(KeyError::Invalid);
        }
        let mut segments = raw.split('/');
        if segments.next() != Some("orgs") {
            return Err(KeyError::Invalid);
        }
        let mut count = 1;
        for segment in segments {
            if !is_safe_segment(segment) {
                return Err(KeyError::Invalid);
            }
            count += 1;
        }
        // `orgs/<org>/<something>`: a key naming only the org is no object.
        if count < 3 {
            return Err(KeyError::Invalid);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Validates a key a client sent for the caller's org, with the legacy checks in their
    /// order (URL, then the `orgs/<org>/` prefix) and then the segment rules. The org segment
    /// must equal `org` exactly, so `orgs/<org>/../<other>/…` fails on its `..` segment and
    /// `orgs/<other>/…` on its prefix.
    pub fn parse_for_org(raw: &str, org: &str) -> Result<Self, KeyError> {
        if raw.starts_with("http") {
            return Err(KeyError::Url);
        }
        let scoped = raw
            .strip_prefix("orgs/")
            .and_then(|rest| rest.strip_prefix(org))
            .is_some_and(|rest| rest.starts_with('/'));
        if !scoped {
            return Err(KeyError::NotScoped);
        }
        let key = Self::parse(raw)?;
        if key.org() != org {
            return Err(KeyError::NotScoped);
        }
        Ok(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The org segment (`orgs/<org>/…`), from which a token-free signed upload derives its
    /// tenant.
    pub fn org(&self) -> &str {
        self.0.split('/').nth(1).unwrap_or_default()
    }

    /// The segments, `orgs` first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Which producer's format the key has, checked strictly (only what the server mints).
    pub fn kind(&self) -> KeyKind {
        classify(self)
    }
}

/// The formats the server mints (contract §8.2 and §5.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `orgs/<org>/templates/<folder uuid | unassigned>/<32 hex><ext>`
    Template { folder_id: Option<Uuid> },
    /// `orgs/<org>/loans/<loan uuid>/documents/<32 hex><ext>`
    LoanDocument { loan_id: Uuid },
    /// `orgs/<org>/loans/<loan uuid>/repayments/<32 hex><ext>`
    RepaymentEvidence { loan_id: Uuid },
    /// One of the asset-session formats of §5.12.
    Asset(AssetKind),
    /// Valid, but not a format the server mints (legacy rows, hand-made keys).
    Other,
}

/// `<32 lower-case hex><ext>` where `<ext>` is empty or `.` plus lower-case letters/digits:
/// the object names of [`template`], [`loan_document`] and [`repayment_evidence`].
fn is_minted_name(name: &str) -> bool {
    let (stem, ext) = match name.split_once('.') {
        Some((stem, ext)) => (stem, Some(ext)),
        None => (name, None),
    };
    let stem_ok = stem.len() == 32
        && stem
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let ext_ok = ext.is_none_or(|ext| {
        !ext.is_empty()
            && ext
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    stem_ok && ext_ok
}

fn hyphenated_uuid(segment: &str) -> Option<Uuid> {
    // Only the canonical lower-case hyphenated form, as `str(uuid)` writes it.
    let id = Uuid::try_parse(segment).ok()?;
    (id.hyphenated().to_string() == segment).then_some(id)
}

fn classify(key: &ObjectKey) -> KeyKind {
    let parts: Vec<&str> = key.segments().collect();
    match parts.as_slice() {
        ["orgs", _, "templates", folder, name] if is_minted_name(name) => {
            if *folder == "unassigned" {
                KeyKind::Template { folder_id: None }
            } else if let Some(id) = hyphenated_uuid(folder) {
                KeyKind::Template {
                    folder_id: Some(id),
                }
            } else {
                KeyKind::Other
            }
        }
        ["orgs", _, "loans", loan, "documents", name] if is_minted_name(name) => {
            hyphenated_uuid(loan)
                .map_or(KeyKind::Other, |loan_id| KeyKind::LoanDocument { loan_id })
        }
        ["orgs", _, "loans", loan, "repayments", name] if is_minted_name(name) => {
            hyphenated_uuid(loan).map_or(KeyKind::Other, |loan_id| KeyKind::RepaymentEvidence {
                loan_id,
            })
        }
        ["orgs", _, "organization-templates", _, "original", _] => {
            KeyKind::Asset(AssetKind::OrgTemplate)
        }
        ["orgs", _, "users", _, "display-image", asset, variant]
            if hyphenated_uuid(asset).is_some() =>
        {
            let stem = variant.split('.').next().unwrap_or_default();
            match stem {
                "thumb" => KeyKind::Asset(AssetKind::DisplayImage(ImageVariant::Thumb)),
                "medium" => KeyKind::Asset(AssetKind::DisplayImage(ImageVariant::Medium)),
                "original" => KeyKind::Asset(AssetKind::DisplayImage(ImageVariant::Original)),
                _ => KeyKind::Other,
            }
        }
        [
            "orgs",
            _,
            "users",
            _,
            "loans",
            _,
            "loan-documents",
            asset,
            _,
        ] if hyphenated_uuid(asset).is_some() => KeyKind::Asset(AssetKind::LoanDocument),
        [
            "orgs",
            _,
            "users",
            _,
            "loans",
            _,
            "repayments",
            _,
            "receipts",
            asset,
            _,
        ] if hyphenated_uuid(asset).is_some() => KeyKind::Asset(AssetKind::RepaymentReceipt),
        _ => KeyKind::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// Builders for the keys of §8.2 (templates and the loan domain).

fn minted(prefix: String, object_id: Uuid, ext: &str) -> Result<ObjectKey, KeyError> {
    // `ext` comes from a client's file name (lower-cased suffix, or empty). It ends up inside one
    // segment, so it must be a safe suffix and nothing more.
    if !(ext.is_empty() || (ext.starts_with('.') && is_safe_segment(ext))) {
        return Err(KeyError::Invalid);
    }
    ObjectKey::parse(&format!("{prefix}/{}{ext}", object_id.simple()))
}

/// `orgs/<org>/templates/<folder uuid | unassigned>/<32 hex><ext>` (#6, #7) with a fresh id.
pub fn template(org: &OrgId, folder_id: Option<Uuid>, ext: &str) -> Result<ObjectKey, KeyError> {
    template_with_id(org, folder_id, Uuid::new_v4(), ext)
}

pub fn template_with_id(
    org: &OrgId,
    folder_id: Option<Uuid>,
    object_id: Uuid,
    ext: &str,
) -> Result<ObjectKey, KeyError> {
    let folder = folder_id.map_or_else(|| "unassigned".to_owned(), |id| id.to_string());
    minted(
        format!("orgs/{}/templates/{folder}", org.as_str()),
        object_id,
        ext,
    )
}

/// `orgs/<org>/loans/<loan uuid>/documents/<32 hex><ext>` (loan documents, §7).
pub fn loan_document(org: &OrgId, loan_id: Uuid, ext: &str) -> Result<ObjectKey, KeyError> {
    loan_document_with_id(org, loan_id, Uuid::new_v4(), ext)
}

pub fn loan_document_with_id(
    org: &OrgId,
    loan_id: Uuid,
    object_id: Uuid,
    ext: &str,
) -> Result<ObjectKey, KeyError> {
    minted(
        format!("orgs/{}/loans/{loan_id}/documents", org.as_str()),
        object_id,
        ext,
    )
}

/// `orgs/<org>/loans/<loan uuid>/repayments/<32 hex><ext>` (repayment evidence, §7).
pub fn repayment_evidence(org: &OrgId, loan_id: Uuid, ext: &str) -> Result<ObjectKey, KeyError> {
    repayment_evidence_with_id(org, loan_id, Uuid::new_v4(), ext)
}

pub fn repayment_evidence_with_id(
    org: &OrgId,
    loan_id: Uuid,
    object_id: Uuid,
    ext: &str,
) -> Result<ObjectKey, KeyError> {
    minted(
        format!("orgs/{}/loans/{loan_id}/repayments", org.as_str()),
        object_id,
        ext,
    )
}

// ---------------------------------------------------------------------------------------------
// Asset-session keys (§5.12, `key_generator.py`).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageVariant {
    Original,
    Thumb,
    Medium,
}

impl ImageVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Thumb => "thumb",
            Self::Medium => "medium",
        }
    }
}

/// The `kind` of an upload session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetKind {
    OrgTemplate,
    /// Any kind starting with `display_image`; `_thumb` and `_medium` pick the variant.
    DisplayImage(ImageVariant),
    LoanDocument,
    RepaymentReceipt,
}

/// Why an asset key could not be built; the texts are the legacy 400 details.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssetKeyError {
    #[error("Unknown asset kind: {0}")]
    UnknownKind(String),
    #[error("template_id required for org_template")]
    MissingTemplateId,
    #[error("user_id required for display_image")]
    MissingUserId,
    #[error("user_id and loan_id required for loan_document")]
    MissingLoanRefs,
    #[error("user_id, loan_id, repayment_id required for repayment_receipt")]
    MissingRepaymentRefs,
    /// A reference or the file name would make an unsafe segment (`..`, `a/b`, …). The legacy
    /// put such values into the key verbatim and failed later with this text.
    #[error("Invalid object key")]
    InvalidKey,
}

impl AssetKind {
    pub fn parse(kind: &str) -> Result<Self, AssetKeyError> {
        Ok(match kind {
            "org_template" => Self::OrgTemplate,
            "display_image_thumb" => Self::DisplayImage(ImageVariant::Thumb),
            "display_image_medium" => Self::DisplayImage(ImageVariant::Medium),
            k if k.starts_with("display_image") => Self::DisplayImage(ImageVariant::Original),
            "loan_document" => Self::LoanDocument,
            "repayment_receipt" => Self::RepaymentReceipt,
            other => return Err(AssetKeyError::UnknownKind(other.to_owned())),
        })
    }
}

/// The legacy `_safe_filename`: every character outside `[A-Za-z0-9_.-]` becomes `_`.
pub fn safe_filename(filename: &str) -> String {
    filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The key of an upload session. `refs` looks up `owner_refs` by name; empty values count as
/// missing, as in the legacy (`not value`).
pub fn asset<'a>(
    org: &OrgId,
    kind: AssetKind,
    asset_id: Uuid,
    filename: &str,
    refs: impl Fn(&str) -> Option<&'a str>,
) -> Result<ObjectKey, AssetKeyError> {
    let get = |name: &str| refs(name).filter(|v| !v.is_empty());
    let checked = |value: &'a str| {
        if is_safe_segment(value) {
            Ok(value)
        } else {
            Err(AssetKeyError::InvalidKey)
        }
    };
    let safe = safe_filename(filename);
    let org = org.as_str();
    let raw = match kind {
        AssetKind::OrgTemplate => {
            let template_id = checked(get("template_id").ok_or(AssetKeyError::MissingTemplateId)?)?;
            format!("orgs/{org}/organization-templates/{template_id}/original/{safe}")
        }
        AssetKind::DisplayImage(variant) => {
            let user_id = checked(get("user_id").ok_or(AssetKeyError::MissingUserId)?)?;
            let ext = super::content::suffix(&safe);
            format!(
                "orgs/{org}/users/{user_id}/display-image/{asset_id}/{}{ext}",
                variant.as_str()
            )
        }
        AssetKind::LoanDocument => {
            let (Some(user_id), Some(loan_id)) = (get("user_id"), get("loan_id")) else {
                return Err(AssetKeyError::MissingLoanRefs);
            };
            let (user_id, loan_id) = (checked(user_id)?, checked(loan_id)?);
            format!("orgs/{org}/users/{user_id}/loans/{loan_id}/loan-documents/{asset_id}/{safe}")
        }
        AssetKind::RepaymentReceipt => {
            let (Some(user_id), Some(loan_id), Some(repayment_id)) =
                (get("user_id"), get("loan_id"), get("repayment_id"))
            else {
                return Err(AssetKeyError::MissingRepaymentRefs);
            };
            let (user_id, loan_id, repayment_id) =
                (checked(user_id)?, checked(loan_id)?, checked(repayment_id)?);
            format!(
                "orgs/{org}/users/{user_id}/loans/{loan_id}/repayments/{repayment_id}/receipts/{asset_id}/{safe}"
            )
        }
    };
    ObjectKey::parse(&raw).map_err(|_| AssetKeyError::InvalidKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).unwrap()
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn object_id() -> Uuid {
        Uuid::parse_str(HEX).unwrap()
    }

    #[test]
    fn template_keys_have_the_legacy_format() {
        let folder = Uuid::parse_str("6f31a7b4-176e-400f-94f7-cb8e2e92d8f1").unwrap();
        let key = template_with_id(&org("sole-llc"), Some(folder), object_id(), ".pdf").unwrap();
        assert_eq!(
            key.as_str(),
            format!("orgs/sole-llc/templates/6f31a7b4-176e-400f-94f7-cb8e2e92d8f1/{HEX}.pdf")
        );
        assert_eq!(
            key.kind(),
            KeyKind::Template {
                folder_id: Some(folder)
            }
        );
        let key = template_with_id(&org("sole-llc"), None, object_id(), ".docx").unwrap();
        assert_eq!(
            key.as_str(),
            format!("orgs/sole-llc/templates/unassigned/{HEX}.docx")
        );
        assert_eq!(key.kind(), KeyKind::Template { folder_id: None });
        assert_eq!(key.org(), "sole-llc");
        // A fresh key is 32 hex digits plus the extension, different each time.
        let a = template(&org("sole-llc"), None, ".pdf").unwrap();
        let b = template(&org("sole-llc"), None, ".pdf").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.kind(), KeyKind::Template { folder_id: None });
    }

    #[test]
    fn loan_keys_have_the_legacy_format_and_may_lack_an_extension() {
        let loan = Uuid::parse_str("11111111-2222-4333-8444-555555555555").unwrap();
        let key = loan_document_with_id(&org("acme"), loan, object_id(), "").unwrap();
        assert_eq!(
            key.as_str(),
            format!("orgs/acme/loans/{loan}/documents/{HEX}")
        );
        assert_eq!(key.kind(), KeyKind::LoanDocument { loan_id: loan });
        let key = repayment_evidence_with_id(&org("acme"), loan, object_id(), ".webp").unwrap();
        assert_eq!(
            key.as_str(),
            format!("orgs/acme/loans/{loan}/repayments/{HEX}.webp")
        );
        assert_eq!(key.kind(), KeyKind::RepaymentEvidence { loan_id: loan });
    }

    #[test]
    fn builders_refuse_an_extension_that_would_leave_its_segment() {
        for ext in ["./x", ".a\\b", "pdf", ".", ".\n"] {
            assert_eq!(
                template_with_id(&org("acme"), None, object_id(), ext),
                Err(KeyError::Invalid),
                "{ext:?}"
            );
        }
    }

    #[test]
    fn asset_keys_match_the_contract_examples() {
        let asset_id = Uuid::parse_str("242eac0f-3596-46d5-bf6b-9d493a564124").unwrap();
        let refs = |name: &str| match name {
            "user_id" => Some("6f31a7b4-176e-400f-94f7-cb8e2e92d8f1"),
            "loan_id" => Some("l-1"),
            "repayment_id" => Some("r-1"),
            "template_id" => Some("t-1"),
            _ => None,
        };
        let key = asset(
            &org("sole-llc"),
            AssetKind::parse("loan_document").unwrap(),
            asset_id,
            "Signed Note (final).pdf",
            refs,
        )
        .unwrap();
        assert_eq!(
            key.as_str(),
            "orgs/sole-llc/users/6f31a7b4-176e-400f-94f7-cb8e2e92d8f1/loans/l-1/loan-documents/242eac0f-3596-46d5-bf6b-9d493a564124/Signed_Note__final_.pdf"
        );
        assert_eq!(key.kind(), KeyKind::Asset(AssetKind::LoanDocument));

        let key = asset(
            &org("sole-llc"),
            AssetKind::parse("org_template").unwrap(),
            asset_id,
            "Offer Letter ñ.docx",
            refs,
        )
        .unwrap();
        assert_eq!(
            key.as_str(),
            "orgs/sole-llc/organization-templates/t-1/original/Offer_Letter__.docx"
        );

        let key = asset(
            &org("sole-llc"),
            AssetKind::parse("display_image_thumb").unwrap(),
            asset_id,
            "me.JPG",
            refs,
        )
        .unwrap();
        assert_eq!(
            key.as_str(),
            "orgs/sole-llc/users/6f31a7b4-176e-400f-94f7-cb8e2e92d8f1/display-image/242eac0f-3596-46d5-bf6b-9d493a564124/thumb.JPG"
        );
        assert_eq!(
            AssetKind::parse("display_image_whatever"),
            Ok(AssetKind::DisplayImage(ImageVariant::Original))
        );

        let key = asset(
            &org("sole-llc"),
            AssetKind::RepaymentReceipt,
            asset_id,
            "r.png",
            refs,
        )
        .unwrap();
        assert_eq!(
            key.as_str(),
            "orgs/sole-llc/users/6f31a7b4-176e-400f-94f7-cb8e2e92d8f1/loans/l-1/repayments/r-1/receipts/242eac0f-3596-46d5-bf6b-9d493a564124/r.png"
        );
    }

    #[test]
    fn asset_keys_give_the_legacy_errors_and_refuse_traversal() {
        let id = Uuid::nil();
        let o = org("sole-llc");
        assert_eq!(
            AssetKind::parse("avatar").unwrap_err().to_string(),
            "Unknown asset kind: avatar"
        );
        let err = asset(&o, AssetKind::LoanDocument, id, "a.pdf", |n| {
            (n == "user_id").then_some("u")
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "user_id and loan_id required for loan_document"
        );
        let err = asset(&o, AssetKind::RepaymentReceipt, id, "a.pdf", |n| {
            (n != "repayment_id").then_some("x")
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "user_id, loan_id, repayment_id required for repayment_receipt"
        );
        let err = asset(&o, AssetKind::OrgTemplate, id, "a.pdf", |_| Some(""))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "template_id required for org_template");
        let err = asset(
            &o,
            AssetKind::DisplayImage(ImageVariant::Original),
            id,
            "a",
            |_| None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "user_id required for display_image");
        // The recorded `..` owner ref (samples) and a ref with a slash are refused up front.
        for bad in ["..", "a/b", ".", "a\\b"] {
            let err = asset(&o, AssetKind::LoanDocument, id, "a.pdf", |_| Some(bad)).unwrap_err();
            assert_eq!(err, AssetKeyError::InvalidKey, "{bad:?}");
        }
        // A file name that sanitises to `..` cannot become a segment either.
        let err = asset(&o, AssetKind::LoanDocument, id, "..", |_| Some("x")).unwrap_err();
        assert_eq!(err, AssetKeyError::InvalidKey);
    }

    #[test]
    fn parse_accepts_minted_keys_and_refuses_unsafe_ones() {
        let good = format!("orgs/sole-llc/templates/unassigned/{HEX}.pdf");
        assert_eq!(ObjectKey::parse(&good).unwrap().as_str(), good);
        for bad in [
            "",
            "orgs",
            "orgs/sole-llc",
            "orgs/sole-llc/",
            "/orgs/sole-llc/a.pdf",
            "orgs//a.pdf",
            "orgs/sole-llc/../golden-docs-b/templates/unassigned/a.pdf",
            "orgs/sole-llc/./a.pdf",
            "orgs/sole-llc/a/../../b.pdf",
            "orgs/sole-llc/a\\..\\b.pdf",
            "orgs/sole-llc/a.pdf/",
            "orgs/sole-llc/a\0.pdf",
            "orgs/sole-llc/a\n.pdf",
            "templates/unassigned/a.pdf",
            "./orgs/sole-llc/a.pdf",
        ] {
            assert_eq!(ObjectKey::parse(bad), Err(KeyError::Invalid), "{bad:?}");
        }
        let long = format!("orgs/a/{}", "x".repeat(MAX_KEY_BYTES));
        assert_eq!(ObjectKey::parse(&long), Err(KeyError::Invalid));
        assert_eq!(
            ObjectKey::parse("https://storage.googleapis.com/b/o"),
            Err(KeyError::Url)
        );
    }

    #[test]
    fn parse_for_org_refuses_other_orgs_and_the_recorded_traversal() {
        let mine = format!("orgs/sole-llc/templates/unassigned/{HEX}.pdf");
        assert!(ObjectKey::parse_for_org(&mine, "sole-llc").is_ok());
        // The attack of §12 quirk 3: the prefix is right, the `..` segment is not.
        let attack = format!("orgs/sole-llc/../golden-docs-b/templates/unassigned/{HEX}.pdf");
        assert_eq!(
            ObjectKey::parse_for_org(&attack, "sole-llc"),
            Err(KeyError::Invalid)
        );
        let other = format!("orgs/golden-docs-b/templates/unassigned/{HEX}.pdf");
        assert_eq!(
            ObjectKey::parse_for_org(&other, "sole-llc"),
            Err(KeyError::NotScoped)
        );
        // A prefix of the org id is not the org (`orgs/sole-llc-2/…` for `sole-llc`).
        let longer = format!("orgs/sole-llc-2/templates/unassigned/{HEX}.pdf");
        assert_eq!(
            ObjectKey::parse_for_org(&longer, "sole-llc"),
            Err(KeyError::NotScoped)
        );
        assert_eq!(
            ObjectKey::parse_for_org("http://x/orgs/sole-llc/a", "sole-llc"),
            Err(KeyError::Url)
        );
        assert_eq!(
            ObjectKey::parse_for_org("orgs/sole-llc/", "sole-llc"),
            Err(KeyError::Invalid)
        );
        assert_eq!(
            KeyError::NotScoped.to_string(),
            "storage_key is not scoped to org"
        );
        assert_eq!(
            KeyError::Url.to_string(),
            "storage_key must be an object key, not a URL"
        );
    }

    #[test]
    fn kind_is_strict_about_minted_formats() {
        let parse = |s: &str| ObjectKey::parse(s).unwrap().kind();
        // The non-minted key of the recorded gcs sample is valid but not a template key.
        assert_eq!(
            parse("orgs/sole-llc/templates/unassigned/a.pdf"),
            KeyKind::Other
        );
        assert_eq!(
            parse(&format!("orgs/sole-llc/templates/not-a-uuid/{HEX}.pdf")),
            KeyKind::Other
        );
        assert_eq!(
            parse(&format!(
                "orgs/sole-llc/templates/unassigned/{}.pdf",
                HEX.to_uppercase()
            )),
            KeyKind::Other
        );
        assert_eq!(
            parse(&format!("orgs/sole-llc/templates/unassigned/{HEX}.PDF")),
            KeyKind::Other
        );
        assert_eq!(
            parse(&format!("orgs/sole-llc/templates/unassigned/x/{HEX}.pdf")),
            KeyKind::Other
        );
        assert_eq!(
            parse(&format!(
                "orgs/sole-llc/templates/6F31A7B4-176E-400F-94F7-CB8E2E92D8F1/{HEX}.pdf"
            )),
            KeyKind::Other
        );
    }
}
