//! Pure crypto primitives: passwords, JWT, TOTP, Fernet, recovery codes (no I/O).

pub mod fernet;
pub mod jwt;
pub mod password;
pub mod policy;
pub mod random;
pub mod recovery;
pub mod totp;
