//! The state every handler and extractor shares, and the API prefix. Kept apart from the router
//! assembly in `http/mod.rs` so that guards and routes depend on this module, not on the module
//! that assembles them.

use std::sync::Arc;
use std::time::Instant;

use sqlx::PgPool;

use crate::auth::fernet::Crypto;
use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::cache::Cache;
use crate::config::Settings;
use crate::http::token;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: PgPool,
    pub cache: Cache,
    pub auth: Arc<AuthContext>,
    pub started: Instant,
    /// The announcement event hub (one Redis subscription per process) and the shutdown
    /// notification open streams observe.
    pub announcements: Arc<crate::pubsub::Hub>,
    /// Object storage (local files or GCS), with its clients built once at startup.
    pub storage: Arc<crate::storage::Storage>,
    /// "Today" for the figures the legacy service computed from the server's date.
    pub clock: crate::clock::Clock,
}

impl AppState {
    pub fn new(
        settings: Arc<Settings>,
        db: PgPool,
        cache: Cache,
        auth: Arc<AuthContext>,
        storage: Arc<crate::storage::Storage>,
    ) -> Self {
        let announcements = Arc::new(crate::pubsub::Hub::new(&settings, &cache));
        Self {
            settings,
            db,
            cache,
            auth,
            started: Instant::now(),
            announcements,
            storage,
            clock: crate::clock::Clock::system(),
        }
    }
}

/// The crypto the API needs, built once at startup: parsed JWT keys, the password hasher with
/// its dummy hash, and the derived Fernet key (PBKDF2 is far too slow to run per request).
pub struct AuthContext {
    pub jwt: JwtKeys,
    pub passwords: PasswordHasher,
    pub crypto: Crypto,
    pub verified: token::VerifiedTokens,
}

impl AuthContext {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            jwt: JwtKeys::from_settings(settings)?,
            passwords: PasswordHasher::new(&settings.argon2)?,
            crypto: Crypto::from_settings(settings)?,
            verified: token::VerifiedTokens::new(4096),
        })
    }
}

/// The prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";
