//! `completions/` and `man/` are generated from the `Cli`; this test fails
//! when they are stale. Regenerate with `NETBALANCE_REGENERATE=1 cargo test --test generated_docs`.

use clap::CommandFactory;
use clap_complete::Shell;
use netbalance::cli::Cli;
use std::collections::BTreeMap;
use std::path::Path;

fn generated() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (shell, name) in [
        (Shell::Bash, "netbalance.bash"),
        (Shell::Zsh, "_netbalance"),
        (Shell::Fish, "netbalance.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "netbalance", &mut buf);
        files.insert(format!("completions/{name}"), buf);
    }
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf).unwrap();
    files.insert("man/netbalance.1".to_string(), buf);
    for sub in cmd.get_subcommands() {
        let name = format!("netbalance-{}", sub.get_name());
        let sub = sub.clone().name(Box::leak(name.clone().into_boxed_str()) as &str);
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).render(&mut buf).unwrap();
        files.insert(format!("man/{name}.1"), buf);
    }
    files
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = generated();
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
