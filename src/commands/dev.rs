//! placeholder
pub fn run(_c: &crate::cli::Cli, _a: &crate::cli::ServeArgs) -> anyhow::Result<()> {
    Ok(())
}
