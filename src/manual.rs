//! The manual pages and shell completions, generated from the [`Cli`]:
//! by `netbalance completions SHELL` and by the test that keeps `man/` and
//! `completions/` up to date. Hidden subcommands (`keeper`, `xfer`: run on
//! the VMs by migrations) get neither pages nor completions.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::collections::BTreeMap;

/// The command as users see it: hidden subcommands removed, and the
/// version without the git commit (so that generated files do not change
/// with every commit).
pub fn public_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new("netbalance").version(env!("CARGO_PKG_VERSION"));
    for setting in [full.get_about(), full.get_long_about(), full.get_after_help()]
        .into_iter()
        .enumerate()
    {
        if let (i, Some(text)) = setting {
            let text = text.clone();
            cmd = match i {
                0 => cmd.about(text),
                1 => cmd.long_about(text),
                _ => cmd.after_help(text),
            };
        }
    }
    cmd = cmd.subcommand_required(true).arg_required_else_help(true);
    for arg in full.get_arguments() {
        cmd = cmd.arg(arg.clone());
    }
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        cmd = cmd.subcommand(sub.clone());
    }
    cmd
}

/// The completion script for one shell.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut public_command(), "netbalance", &mut buf);
    buf
}

/// The environment variables netbalance reads (for ENVIRONMENT).
pub const ENVIRONMENT: [(&str, &str); 5] = [
    (
        "NETBALANCE_TESTBED",
        "The testbed file when --testbed is absent (before ./testbed.json and the placement's \"testbed\").",
    ),
    (
        "NETBALANCE_MAX_INPUT_BYTES",
        "The largest input read, in bytes (default 1073741824); larger inputs are refused with exit 2.",
    ),
    (
        "NETBALANCE_FONT",
        "A TrueType font for plot labels (default: DejaVu Sans or Liberation Sans where installed).",
    ),
    (
        "NETBALANCE_KEEPER",
        "The program that supervises vnode processes on a VM (default: this netbalance binary; empty: none).",
    ),
    (
        "NETBALANCE_TRACE_COMMANDS",
        "When set, every host command run locally is logged on stderr with its duration.",
    ),
];

const EXIT_STATUS: [(&str, &str); 4] = [
    ("0", "Done."),
    ("1", "A negative answer: no beneficial re-placement (chi >= 0), a check that failed."),
    (
        "2",
        "Bad input or usage: one line on stderr naming the file, the JSON path or line, and the fault.",
    ),
    (
        "3",
        "A failure on a host after which the testbed was put back into a consistent placement (the state dir names it).",
    ),
];

/// Every generated file: `completions/*` and `man/*.1`, by relative path.
pub fn generated() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (shell, name) in [
        (Shell::Bash, "netbalance.bash"),
        (Shell::Zsh, "_netbalance"),
        (Shell::Fish, "netbalance.fish"),
    ] {
        files.insert(format!("completions/{name}"), completion(shell));
    }
    // Pages for the `help` subcommands clap adds would only repeat `--help`.
    let mut cmd = without_help_subcommand(public_command());
    cmd.build();
    let mut pages = Vec::new();
    collect_pages(&cmd, "netbalance", "netbalance", &mut pages);
    let names: Vec<String> = pages.iter().map(|(name, _, _)| name.clone()).collect();
    for (name, bin, page) in &pages {
        files.insert(format!("man/{name}.1"), render_page(page, name, bin, &names));
    }
    files
}

fn without_help_subcommand(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    names.iter().fold(cmd.disable_help_subcommand(true), |c, n| {
        c.mut_subcommand(n, without_help_subcommand)
    })
}

/// This command and every visible subcommand below it, as (page name,
/// command line, command).
fn collect_pages(cmd: &clap::Command, name: &str, bin: &str, out: &mut Vec<(String, String, clap::Command)>) {
    out.push((name.to_string(), bin.to_string(), cmd.clone()));
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        collect_pages(
            sub,
            &format!("{name}-{}", sub.get_name()),
            &format!("{bin} {}", sub.get_name()),
            out,
        );
    }
}

/// One page: clap_mangen's sections with the real command line in
/// SYNOPSIS, then EXIT STATUS, ENVIRONMENT and SEE ALSO (pages that exist).
fn render_page(cmd: &clap::Command, name: &str, bin: &str, all: &[String]) -> Vec<u8> {
    let leaked = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let cmd = cmd
        .clone()
        .name(leaked(name))
        .display_name(leaked(name))
        .bin_name(leaked(bin))
        .version(env!("CARGO_PKG_VERSION"));
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_title(&mut buf).expect("writing to a Vec");
    man.render_name_section(&mut buf).expect("writing to a Vec");
    buf.extend_from_slice(synopsis(&cmd, bin).as_bytes());
    man.render_description_section(&mut buf).expect("writing to a Vec");
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf).expect("writing to a Vec");
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf).expect("writing to a Vec");
    }
    if cmd.get_after_help().is_some() {
        man.render_extra_section(&mut buf).expect("writing to a Vec");
    }
    let mut roff = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_STATUS {
        roff.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", escape(meaning)));
    }
    roff.push_str(".SH ENVIRONMENT\n");
    for (var, meaning) in ENVIRONMENT {
        roff.push_str(&format!(".TP\n\\fB{var}\\fR\n{}\n", escape(meaning)));
    }
    let parent = name.rsplit_once('-').map(|(p, _)| p.to_string());
    let mut see: Vec<&str> = all
        .iter()
        .filter(|p| {
            *p != name
                && (Some(p.as_str()) == parent.as_deref()
                    || p.rsplit_once('-').map(|(q, _)| q) == Some(name)
                    || (name == "netbalance" && p.matches('-').count() == 1))
        })
        .map(String::as_str)
        .collect();
    if see.is_empty() || name.matches('-').count() == 1 {
        see.extend(
            all.iter()
                .map(String::as_str)
                .filter(|p| *p == "netbalance" && *p != name),
        );
    }
    see.sort_unstable();
    see.dedup();
    if !see.is_empty() {
        roff.push_str(".SH \"SEE ALSO\"\n");
        let refs: Vec<String> = see.iter().map(|p| format!("\\fB{p}\\fR(1)")).collect();
        roff.push_str(&refs.join(", "));
        roff.push('\n');
    }
    buf.extend_from_slice(roff.as_bytes());
    man.render_version_section(&mut buf).expect("writing to a Vec");
    buf
}

/// SYNOPSIS as typed: the command line, each option with its value name,
/// positionals and the subcommand slot.
fn synopsis(cmd: &clap::Command, bin: &str) -> String {
    let mut parts = vec![format!("\\fB{}\\fR", escape(bin))];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let values: Vec<String> = arg
            .get_value_names()
            .map(|v| v.iter().map(|n| format!("\\fI{}\\fR", escape(n))).collect())
            .unwrap_or_else(|| {
                if arg.get_num_args().is_some_and(|n| n.takes_values()) && arg.get_long().is_none() {
                    vec![format!(
                        "\\fI{}\\fR",
                        escape(&arg.get_id().as_str().to_ascii_uppercase())
                    )]
                } else {
                    Vec::new()
                }
            });
        let takes = arg.get_action().takes_values();
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", escape(l)),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", escape(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, None) => String::new(),
        };
        let value = if takes {
            let upper = arg.get_id().as_str().to_ascii_uppercase().replace('_', "-");
            let names = if values.is_empty() {
                vec![format!("\\fI{}\\fR", escape(&upper))]
            } else {
                values
            };
            names.join(" ")
        } else {
            String::new()
        };
        let body = [flag, value]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let repeat = if matches!(arg.get_action(), clap::ArgAction::Count | clap::ArgAction::Append) {
            "..."
        } else {
            ""
        };
        if arg.is_required_set() {
            parts.push(format!("{body}{repeat}"));
        } else {
            parts.push(format!("[{body}]{repeat}"));
        }
    }
    if cmd.has_subcommands() {
        parts.push("\\fICOMMAND\\fR".into());
    }
    format!(".SH SYNOPSIS\n{}\n", parts.join(" "))
}

/// Text safe in a roff paragraph (a leading `.` or `'` would be a request).
fn escape(text: &str) -> String {
    let t = text.replace('\\', "\\\\").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_refer_only_to_pages_that_exist_and_hide_hidden_commands() {
        let files = generated();
        for (path, bytes) in &files {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("keeper") && !text.contains("xfer"),
                "{path} names a hidden command"
            );
            if path.starts_with("man/") {
                for section in ["SYNOPSIS", "\"EXIT STATUS\"", "ENVIRONMENT", "\"SEE ALSO\""] {
                    assert!(text.contains(&format!(".SH {section}")), "{path}: no {section}");
                }
                // every `name(1)` reference, plain (SUBCOMMANDS) or bold (SEE ALSO)
                for (i, _) in text.match_indices("(1)") {
                    let before = &text[..i];
                    let start = before
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '\\'))
                        .map_or(0, |s| s + 1);
                    let name = before[start..].trim_start_matches("\\fB").trim_end_matches("\\fR");
                    let name = name.replace("\\-", "-");
                    assert!(
                        files.contains_key(&format!("man/{name}.1")),
                        "{path} refers to {name}(1)"
                    );
                }
            }
        }
        let synopsis = String::from_utf8_lossy(&files["man/netbalance-topology-grid.1"]).to_string();
        assert!(synopsis.contains("\\fBnetbalance topology grid\\fR"), "{synopsis}");
    }
}
