//! Puts the git commit into `netbalance --version` (NETBALANCE_GIT_COMMIT);
//! builds outside a git checkout (a crate tarball) say "no git commit".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    // The commit only (no "-dirty"): watching the index for that would
    // rebuild the crate on every `git add`.
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) => {
            let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_default();
            format!("{hash} {date}")
        }
        None => "no git commit".to_string(),
    };
    println!("cargo:rustc-env=NETBALANCE_GIT_COMMIT={}", commit.trim());
    // Rebuild when HEAD moves (a commit, a checkout); in a worktree these
    // paths live in the common git dir.
    if let Some(p) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &r]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
