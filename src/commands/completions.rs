//! `netbalance completions SHELL`: the shell completion script on stdout
//! (the same text as `completions/` in the repository).

use super::Status;
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Install:\n  bash: netbalance completions bash > ~/.local/share/bash-completion/completions/netbalance\n  zsh:  netbalance completions zsh > ~/.zfunc/_netbalance   (with fpath+=~/.zfunc before compinit)\n  fish: netbalance completions fish > ~/.config/fish/completions/netbalance.fish"
)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<Status> {
    let script = crate::manual::completion(args.shell);
    crate::io::write_text_stdout(&String::from_utf8_lossy(&script))?;
    Ok(Status::Done)
}
