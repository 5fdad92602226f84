//! Pure crypto primitives: passwords, JWT, TOTP, Fernet, recovery codes (no I/O).
