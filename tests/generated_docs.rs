//! `completions/` and `man/` are generated from the `Cli`
//! (`netbalance::manual`); this test fails when they are stale. Regenerate
//! with `NETBALANCE_REGENERATE=1 cargo test --test generated_docs`.

use assert_cmd::Command;
use std::path::Path;

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = netbalance::manual::generated();
    if std::env::var_os("NETBALANCE_REGENERATE").is_some() {
        for dir in ["completions", "man"] {
            let _ = std::fs::remove_dir_all(root.join(dir));
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for (path, bytes) in &files {
            std::fs::write(root.join(path), bytes).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (path, bytes) in &files {
        if std::fs::read(root.join(path)).ok().as_ref() != Some(bytes) {
            stale.push(path.clone());
        }
    }
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten().flatten() {
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if !files.contains_key(&rel) {
                stale.push(format!("{rel} (no longer generated)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run NETBALANCE_REGENERATE=1 cargo test --test generated_docs"
    );
}

/// `netbalance completions SHELL` prints what `completions/` holds.
#[test]
fn completions_subcommand_prints_the_committed_scripts() {
    let files = netbalance::manual::generated();
    for (shell, file) in [
        ("bash", "netbalance.bash"),
        ("zsh", "_netbalance"),
        ("fish", "netbalance.fish"),
    ] {
        let out = Command::cargo_bin("netbalance")
            .unwrap()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, files[&format!("completions/{file}")], "{shell}");
    }
}

/// `--version` names the commit it was built from (or says there was none).
#[test]
fn version_names_the_git_commit() {
    let out = Command::cargo_bin("netbalance")
        .unwrap()
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("netbalance {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let inside = text
        .trim_end()
        .trim_end_matches(')')
        .rsplit_once('(')
        .unwrap()
        .1
        .to_string();
    let first = inside.split(['-', ' ']).next().unwrap();
    assert!(
        inside == "no git commit" || (first.len() == 12 && first.chars().all(|c| c.is_ascii_hexdigit())),
        "{text}"
    );
}
