//! `sole lint-commits`: services must not commit.

use crate::cli::LintCommitsArgs;

pub fn run(_args: &LintCommitsArgs) -> anyhow::Result<()> {
    anyhow::bail!("lint-commits is not implemented yet")
}
