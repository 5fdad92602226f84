use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sole::cli::Cli::parse();
    sole::commands::run(cli)
}
