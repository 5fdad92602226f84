//! `sole migrate`, `sole migrate status`, `sole migrate revision "msg"`.

use crate::cli::MigrateArgs;
use crate::config::Settings;

pub fn run(_settings: Settings, _args: &MigrateArgs) -> anyhow::Result<()> {
    anyhow::bail!("migrate is not implemented yet")
}
