//! Content rules of every upload path (contract §6.2) and the download headers (§5.10), as pure
//! functions: file names and extensions with Python's `pathlib` semantics, the allow-lists, the
//! magic-byte sniffing, the size messages and `Content-Disposition`.

use std::fmt::Write as _;

/// One MiB, the unit of `MAX_UPLOAD_SIZE_MB`.
pub const MIB: u64 = 1_048_576;

/// Template extensions (#6, #7, #8), in the order the error message lists them.
pub const TEMPLATE_EXTENSIONS: &[&str] = &[".docx", ".jpeg", ".jpg", ".pdf", ".png"];

/// Loan document and repayment evidence extensions (§7), in message order.
pub const LOAN_EXTENSIONS: &[&str] = &[".gif", ".jpeg", ".jpg", ".pdf", ".png", ".webp"];

/// The content types repayment evidence may declare (§6.2).
pub const EVIDENCE_CONTENT_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
];

/// Extensions refused because a browser could execute them (unreachable behind both
/// allow-lists, kept as a second line of defence).
pub const DANGEROUS_EXTENSIONS: &[&str] =
    &[".html", ".htm", ".svg", ".xhtml", ".js", ".mjs", ".xml"];

/// How many leading bytes [`check_magic`] needs to decide (the longest signature checked).
pub const SNIFF_BYTES: usize = 12;

/// The file name stored when a multipart part names none.
pub const FALLBACK_FILE_NAME: &str = "upload.bin";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The legacy 400 string detail; the list is the allow-list in its sorted order.
    #[error("File type not allowed. Allowed extensions: {}", .allowed.join(", "))]
    TypeNotAllowed { allowed: &'static [&'static str] },
    #[error("File type '{ext}' is not allowed because it may contain executable content")]
    Dangerous { ext: String },
    #[error("File content does not match the expected format for '{ext}'")]
    Mismatch { ext: String },
    /// The multipart saves' 400 text; `PUT /assets/local-content` answers 413 with
    /// [`upload_too_large_message`] instead.
    #[error("File exceeds maximum allowed size of {max_mb} MB")]
    TooLarge { max_mb: u64 },
}

/// Python's `PurePosixPath(name).name`: the last `/`-separated part, ignoring empty and `.`
/// parts (`a/./b/` → `b`, `../../etc/Policy.pdf` → `Policy.pdf`, `..` stays `..`). `None`
/// when nothing is left.
pub fn basename(name: &str) -> Option<&str> {
    name.split('/')
        .rfind(|part| !part.is_empty() && *part != ".")
}

/// The stored file name: [`basename`], or `upload.bin` when there is none.
pub fn file_name_or_fallback(name: Option<&str>) -> &str {
    name.and_then(basename).unwrap_or(FALLBACK_FILE_NAME)
}

/// Python's `PurePosixPath(name).suffix`, case kept: from the last `.` of the base name, when
/// that dot is neither its first nor its last character (`.pdf` and `a.` have none).
pub fn suffix(name: &str) -> &str {
    let base = basename(name).unwrap_or_default();
    match base.rfind('.') {
        Some(i) if i > 0 && i + 1 < base.len() => base.split_at(i).1,
        _ => "",
    }
}

/// The lower-cased suffix every producer uses for keys and checks (`Policy.PDF` → `.pdf`).
pub fn extension(name: &str) -> String {
    suffix(name).to_lowercase()
}

/// The allow-list check of #6, #7, #8 and the multipart loan routes (an empty extension is
/// refused). The loan upload-URL routes, which accept a name without an extension, skip this
/// call for an empty extension.
pub fn check_extension(ext: &str, allowed: &'static [&'static str]) -> Result<(), ContentError> {
    if allowed.contains(&ext) {
        Ok(())
    } else {
        Err(ContentError::TypeNotAllowed { allowed })
    }
}

/// The magic-byte check of the multipart saves, on the first bytes of the file (at least
/// [`SNIFF_BYTES`] of them unless the file is shorter). An empty file is not checked, as in the
/// legacy; `.webp` must be `RIFF….WEBP` (the legacy checked only `RIFF`, §12 quirk 20).
/// Extensions without a signature are not checked.
pub fn check_magic(ext: &str, head: &[u8]) -> Result<(), ContentError> {
    if DANGEROUS_EXTENSIONS.contains(&ext) {
        return Err(ContentError::Dangerous {
            ext: ext.to_owned(),
        });
    }
    if head.is_empty() {
        return Ok(());
    }
    let ok = match ext {
        ".pdf" => head.starts_with(b"%PDF"),
        ".png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        ".jpg" | ".jpeg" => head.starts_with(b"\xff\xd8\xff"),
        ".gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        ".webp" => head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP".as_slice()),
        ".docx" | ".xlsx" | ".zip" => {
            head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ContentError::Mismatch {
            ext: ext.to_owned(),
        })
    }
}

/// The size rule of every upload path: equal to the cap is allowed.
pub fn check_size(size: u64, max_bytes: u64) -> Result<(), ContentError> {
    if size > max_bytes {
        Err(ContentError::TooLarge {
            max_mb: max_bytes / MIB,
        })
    } else {
        Ok(())
    }
}

/// The 413 detail of `PUT /assets/local-content`.
pub fn upload_too_large_message(max_bytes: u64) -> String {
    format!("Upload exceeds maximum size of {} MB", max_bytes / MIB)
}

/// Whether repayment evidence may carry this content type (exact match, as the legacy).
pub fn is_evidence_content_type(content_type: &str) -> bool {
    EVIDENCE_CONTENT_TYPES.contains(&content_type)
}

/// Python's `urllib.parse.quote(s)` (safe `/`): UTF-8, upper-case `%XX`, and
/// `A–Z a–z 0–9 _ . - ~ /` kept.
pub fn python_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `Content-Disposition` of the template and loan document downloads (Starlette's
/// `FileResponse`): `attachment; filename="<name>"` when quoting leaves the name unchanged,
/// else `attachment; filename*=utf-8''<quoted>`. The result is always a valid header value:
/// anything outside the safe set, quotes and control characters included, is encoded.
pub fn content_disposition(file_name: &str) -> String {
    let quoted = python_quote(file_name);
    if quoted == file_name {
        format!("attachment; filename=\"{file_name}\"")
    } else {
        format!("attachment; filename*=utf-8''{quoted}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basename_and_extension_follow_pathlib() {
        assert_eq!(basename("../../etc/Policy.pdf"), Some("Policy.pdf"));
        assert_eq!(basename("a/./b/"), Some("b"));
        assert_eq!(basename("dir/."), Some("dir"));
        assert_eq!(basename(".."), Some(".."));
        assert_eq!(basename(""), None);
        assert_eq!(basename("/"), None);
        assert_eq!(file_name_or_fallback(Some("")), "upload.bin");
        assert_eq!(file_name_or_fallback(None), "upload.bin");
        assert_eq!(file_name_or_fallback(Some("x/Offer.docx")), "Offer.docx");

        assert_eq!(extension("Policy.PDF"), ".pdf");
        assert_eq!(extension("a.tar.GZ"), ".gz");
        assert_eq!(extension(".pdf"), "");
        assert_eq!(extension("a."), "");
        assert_eq!(extension("noext"), "");
        assert_eq!(extension("dir.d/noext"), "");
        assert_eq!(extension(".."), "");
        assert_eq!(suffix("me.JPG"), ".JPG");
        assert_eq!(extension("Résumé.PDF"), ".pdf");
    }

    #[test]
    fn allow_lists_give_the_legacy_messages() {
        assert!(check_extension(".pdf", TEMPLATE_EXTENSIONS).is_ok());
        assert_eq!(
            check_extension(".exe", TEMPLATE_EXTENSIONS)
                .unwrap_err()
                .to_string(),
            "File type not allowed. Allowed extensions: .docx, .jpeg, .jpg, .pdf, .png"
        );
        assert!(check_extension("", TEMPLATE_EXTENSIONS).is_err());
        assert!(check_extension(".txt", TEMPLATE_EXTENSIONS).is_err());
        assert_eq!(
            check_extension(".docx", LOAN_EXTENSIONS)
                .unwrap_err()
                .to_string(),
            "File type not allowed. Allowed extensions: .gif, .jpeg, .jpg, .pdf, .png, .webp"
        );
        assert!(check_extension(".webp", LOAN_EXTENSIONS).is_ok());
        assert!(is_evidence_content_type("image/webp"));
        assert!(!is_evidence_content_type("image/svg+xml"));
        assert!(!is_evidence_content_type("Application/PDF"));
    }

    #[test]
    fn magic_bytes_are_checked_per_extension() {
        assert!(check_magic(".pdf", b"%PDF-1.7\n").is_ok());
        assert_eq!(
            check_magic(".pdf", b"hello").unwrap_err().to_string(),
            "File content does not match the expected format for '.pdf'"
        );
        assert!(check_magic(".png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").is_ok());
        assert!(check_magic(".png", b"\x89PNG\r\n").is_err());
        assert!(check_magic(".jpg", b"\xff\xd8\xff\xe0").is_ok());
        assert!(check_magic(".jpeg", b"\xff\xd8\xff\xe1").is_ok());
        assert!(check_magic(".jpeg", b"\xff\xd8").is_err());
        assert!(check_magic(".gif", b"GIF89a....").is_ok());
        assert!(check_magic(".gif", b"GIF87a....").is_ok());
        assert!(check_magic(".gif", b"GIF90a....").is_err());
        assert!(check_magic(".docx", b"PK\x03\x04rest").is_ok());
        assert!(check_magic(".docx", b"PK\x05\x06rest").is_ok());
        assert!(check_magic(".docx", b"%PDF").is_err());
        assert!(check_magic(".webp", b"RIFF\x24\0\0\0WEBPVP8 ").is_ok());
        // A RIFF file that is not WebP (a WAV) no longer passes as `.webp`.
        assert!(check_magic(".webp", b"RIFF\x24\0\0\0WAVEfmt ").is_err());
        assert!(check_magic(".webp", b"RIFF").is_err());
        // Empty files and unknown extensions are not checked (legacy behaviour).
        assert!(check_magic(".pdf", b"").is_ok());
        assert!(check_magic(".bin", b"anything").is_ok());
        assert_eq!(
            check_magic(".svg", b"<svg/>").unwrap_err().to_string(),
            "File type '.svg' is not allowed because it may contain executable content"
        );
    }

    #[test]
    fn size_cap_allows_equal_and_names_whole_megabytes() {
        assert!(check_size(MIB, MIB).is_ok());
        assert_eq!(
            check_size(MIB + 1, MIB).unwrap_err().to_string(),
            "File exceeds maximum allowed size of 1 MB"
        );
        assert_eq!(
            check_size(51 * MIB, 50 * MIB).unwrap_err().to_string(),
            "File exceeds maximum allowed size of 50 MB"
        );
        assert_eq!(
            upload_too_large_message(MIB),
            "Upload exceeds maximum size of 1 MB"
        );
        // The MB figure is the integer quotient.
        assert_eq!(
            upload_too_large_message(MIB + MIB / 2),
            "Upload exceeds maximum size of 1 MB"
        );
    }

    #[test]
    fn content_disposition_matches_starlette() {
        assert_eq!(
            content_disposition("Policy.pdf"),
            "attachment; filename=\"Policy.pdf\""
        );
        // The recorded sample.
        assert_eq!(
            content_disposition("Offer Letter – ñ.docx"),
            "attachment; filename*=utf-8''Offer%20Letter%20%E2%80%93%20%C3%B1.docx"
        );
        assert_eq!(
            content_disposition("a~b_c-d.e"),
            "attachment; filename=\"a~b_c-d.e\""
        );
        // `/` is in quote's safe set, so it does not force the encoded form.
        assert_eq!(
            content_disposition("a/b.pdf"),
            "attachment; filename=\"a/b.pdf\""
        );
        // Quotes, semicolons and control characters cannot break out of the header.
        assert_eq!(
            content_disposition("x\"; filename=evil.html\r\n.pdf"),
            "attachment; filename*=utf-8''x%22%3B%20filename%3Devil.html%0D%0A.pdf"
        );
        assert_eq!(python_quote("a+b&c=d"), "a%2Bb%26c%3Dd");
    }
}
