//! Thin main: parse, run, map the outcome to an exit code (model §7).
//! Every error is one line on stderr ([`netbalance::error::one_line`]).

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
                eprintln!("netbalance: error: {}", chain(&err));
                return ExitCode::from(e.exit_code());
            }
            eprintln!("netbalance: error: {}", chain(&err));
            ExitCode::from(2)
        }
    }
}

/// The error with its causes, one line.
fn chain(err: &anyhow::Error) -> String {
    netbalance::error::one_line(err.as_ref())
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match netbalance::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Ok(usage_error(e)),
    };
    if !stdout_writable() {
        // Rust's stdout silently drops writes to a closed fd 1 (EBADF): the
        // output would be lost with exit 0.
        eprintln!("netbalance: error: <stdout>: closed or not open for writing (the output would be lost)");
        return Ok(ExitCode::from(2));
    }
    let status = netbalance::commands::dispatch(cli)?;
    Ok(ExitCode::from(status.exit_code()))
}

/// True if fd 1 is open for writing. A closed fd 1 is reopened by Rust's
/// runtime on `/dev/null` read-write before `main`; a shell's `> /dev/null`
/// opens it write-only, so /dev/null open read-write counts as closed.
fn stdout_writable() -> bool {
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    if flags == -1 || !matches!(flags & libc::O_ACCMODE, libc::O_WRONLY | libc::O_RDWR) {
        return false;
    }
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let is_null = unsafe { libc::fstat(1, &mut st) } == 0
        && st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && st.st_rdev == libc::makedev(1, 3);
    !(is_null && flags & libc::O_ACCMODE == libc::O_RDWR)
}

/// Help and version go to stdout as clap prints them; a usage error is one
/// line on stderr (its first line, pointing to --help) and exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid usage");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("netbalance: error: {} (see --help)", netbalance::error::escape(first));
            ExitCode::from(2)
        }
    }
}
