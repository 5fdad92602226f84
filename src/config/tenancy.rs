//! Tenancy: `TENANCY_MODE`, the hosts a tenant may be named by (`ALLOWED_TENANT_HOSTS`), the
//! default organisation (`DEFAULT_ORG_*`) and the extra organisations `sole seed` creates.

use crate::domain::org::OrgId;

use super::reader::{Reader, parse_list};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenancyMode {
    Single,
    Multi,
}

impl TenancyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Multi => "multi",
        }
    }
}

/// `TENANCY_MODE`.
pub(super) fn mode(r: &mut Reader<'_>) -> TenancyMode {
    match r
        .string("TENANCY_MODE", "single")
        .to_ascii_lowercase()
        .as_str()
    {
        "single" => TenancyMode::Single,
        "multi" => TenancyMode::Multi,
        other => {
            r.problem(
                "TENANCY_MODE",
                format!("must be 'single' or 'multi', got {other:?}"),
            );
            TenancyMode::Single
        }
    }
}

/// `ALLOWED_TENANT_HOSTS`, lower-cased.
pub(super) fn allowed_hosts(r: &mut Reader<'_>) -> Vec<String> {
    match parse_list(&r.string("ALLOWED_TENANT_HOSTS", "")) {
        Ok(hosts) => hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
        Err(e) => {
            r.problem("ALLOWED_TENANT_HOSTS", e);
            Vec::new()
        }
    }
}

/// `DEFAULT_ORG_ID`; a refused value falls back to `default`.
pub(super) fn default_org_id(r: &mut Reader<'_>) -> OrgId {
    let default_org_raw = r.string("DEFAULT_ORG_ID", "default");
    match OrgId::parse(&default_org_raw) {
        Ok(id) => id,
        Err(e) => {
            r.problem("DEFAULT_ORG_ID", e.to_string());
            OrgId::from_trusted("default".into())
        }
    }
}

/// `EXTRA_SEED_ORG_IDS`: comma-separated, blanks dropped.
pub(super) fn extra_seed_org_ids(r: &Reader<'_>) -> Vec<String> {
    r.string("EXTRA_SEED_ORG_IDS", "")
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}
