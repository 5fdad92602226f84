//! Random secrets, RSA key pairs, and files written with mode 0600.

use std::io::Write as _;
use std::path::Path;

use rand::RngExt as _;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random alphanumeric characters from the OS generator.
pub fn alphanumeric(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
        .collect()
}

/// A SECRET_KEY: 64 alphanumeric characters.
pub fn secret_key() -> String {
    alphanumeric(64)
}

/// A FERNET_KDF_SALT: 32 alphanumeric characters.
pub fn kdf_salt() -> String {
    alphanumeric(32)
}

/// An RSA key pair as PKCS#8 / SPKI PEM.
pub struct KeyPair {
    pub private_pem: String,
    pub public_pem: String,
}

pub fn rsa_key_pair(bits: u32) -> anyhow::Result<KeyPair> {
    use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;

    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        other => anyhow::bail!("--key-bits must be 2048, 3072 or 4096, not {other}"),
    };
    let pair =
        RsaKeyPair::generate(size).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let private_der: Pkcs8V1Der<'static> = pair
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the private key"))?;
    let public_der: PublicKeyX509Der<'static> = pair
        .public_key()
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the public key"))?;
    let lf = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(KeyPair {
        private_pem: pem::encode_config(&pem::Pem::new("PRIVATE KEY", private_der.as_ref()), lf),
        public_pem: pem::encode_config(&pem::Pem::new("PUBLIC KEY", public_der.as_ref()), lf),
    })
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
        let pair = rsa_key_pair(2048).unwrap();
        let keys = crate::auth::jwt::JwtKeys::from_pems(&pair.private_pem, &pair.public_pem);
        assert!(keys.is_ok());
        assert!(rsa_key_pair(1024).is_err());
    }
}
