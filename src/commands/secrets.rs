//! Generated secrets, RSA key pairs and private files: the one home `sole setup-env` and
//! `sole serve --dev` share, so both write the same formats with the same file modes.

use std::io::Write as _;
use std::path::Path;

use crate::auth::random;

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A SECRET_KEY: 64 alphanumeric characters.
pub fn secret_key() -> String {
    random::string_from(ALNUM, 64)
}

/// A FERNET_KDF_SALT: 32 alphanumeric characters.
pub fn kdf_salt() -> String {
    random::string_from(ALNUM, 32)
}

/// An RSA key pair of `bits` as PEM (`--key-bits` and `serve --dev`).
pub fn rsa_key_pair(bits: u32) -> anyhow::Result<crate::auth::jwt::GeneratedKeyPair> {
    crate::auth::jwt::generate_key_pair(bits).map_err(|e| match e {
        crate::auth::jwt::JwtKeyError::UnsupportedSize { bits } => {
            anyhow::anyhow!("--key-bits must be 2048, 3072 or 4096, not {bits}")
        }
        other => anyhow::anyhow!("{other}"),
    })
}

/// A development SEED_ADMIN_PASSWORD: five groups of six letters and digits joined by `-` (34
/// characters). Every class the password policy asks for (`-` is the special character), long
/// enough for any DEFAULT_PASSWORD_MIN_LENGTH up to 32, and nothing a shell would interpret, so
/// it can be pasted into a command unquoted. Look-alike characters (0/O, 1/l/I) are left out.
pub fn dev_password() -> String {
    const READABLE: &str = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    loop {
        let groups: Vec<String> = (0..5).map(|_| random::string_from(READABLE, 6)).collect();
        let password = groups.join("-");
        if password.chars().any(|c| c.is_ascii_lowercase())
            && password.chars().any(|c| c.is_ascii_uppercase())
            && password.chars().any(|c| c.is_ascii_digit())
        {
            return password;
        }
    }
}

/// Writes `contents` to `path` with mode 0600 (also when the file already existed), through a
/// temporary file renamed into place so a crash never leaves half a file.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(file);
    set_private(&tmp)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Opens `path` for appending, creating it with mode 0600 (a secrets file that grows one line
/// per generated value).
pub fn append_private(path: &Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context as _;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// chmod 0600.
pub fn set_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use anyhow::Context as _;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot chmod 600 {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// chmod 0700 for the secrets directory.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot chmod 700 {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_promised_shape() {
        let k = secret_key();
        assert_eq!(k.len(), 64);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(k, secret_key());
        assert_eq!(kdf_salt().len(), 32);
    }

    #[test]
    fn generated_keys_sign_and_verify_as_rs256() {
        use secrecy::ExposeSecret as _;
        let pair = rsa_key_pair(2048).unwrap();
        let private = pair.private_pem.expose_secret();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n") && !private.contains('\r'));
        let keys = crate::auth::jwt::JwtKeys::from_pems(private, &pair.public_pem);
        assert!(keys.is_ok());
        let err = rsa_key_pair(1024).unwrap_err().to_string();
        assert_eq!(err, "--key-bits must be 2048, 3072 or 4096, not 1024");
    }

    #[test]
    fn dev_passwords_pass_the_policy_and_need_no_shell_quoting() {
        for _ in 0..50 {
            let password = dev_password();
            assert_eq!(password.len(), 34);
            assert!(
                crate::auth::policy::PasswordPolicy::new(32)
                    .check(&password)
                    .is_ok(),
                "{password}"
            );
            assert!(
                password
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{password}"
            );
        }
    }
}
