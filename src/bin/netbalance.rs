//! Thin main: parse, run, map the outcome to an exit code (SPEC §7).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            if let Some(e) = err.downcast_ref::<netbalance::Error>() {
                if e.is_broken_pipe() {
                    return ExitCode::SUCCESS;
                }
                // The library's message already ends with its I/O cause;
                // `{:#}` would print that cause a second time.
                eprintln!("netbalance: error: {e}");
                return ExitCode::from(e.exit_code());
            }
            eprintln!("netbalance: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = netbalance::cli::Cli::parse();
    let status = netbalance::commands::dispatch(cli)?;
    Ok(ExitCode::from(status.exit_code()))
}
