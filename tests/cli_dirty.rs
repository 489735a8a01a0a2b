//! `netbalance dirty` (hidden): on a VM, count and clear the soft-dirty
//! pages of vnodes' processes, one line per vnode; a vnode whose pre-copy
//! rounds exist is left alone ("busy"). On this machine's kernel the bits
//! are never set, so the counts say only that the processes were read.

use std::path::Path;
use std::process::{Command, Output};

fn dirty(lock_dir: &Path, pairs: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netbalance"))
        .arg("dirty")
        .arg("--lock-dir")
        .arg(lock_dir)
        .args(pairs)
        .output()
        .unwrap()
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn counts_a_process_and_leaves_busy_and_empty_vnodes_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let child = Kill(Command::new("sleep").arg("30").spawn().unwrap());
    std::fs::write(d.join("a.procs"), format!("{}\n", child.0.id())).unwrap();
    std::fs::write(d.join("b.procs"), format!("{}\n", child.0.id())).unwrap();
    std::fs::create_dir(d.join("b.pre")).unwrap();
    let (a, b, c) = (d.join("a.procs"), d.join("b.procs"), d.join("c.procs"));
    let out = dirty(d, &[&a, &d.join("a.pre"), &b, &d.join("b.pre"), &c, &d.join("c.pre")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let w: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!((w[0], w.len()), ("pages", 3), "{text}");
    assert!(
        w[1].parse::<u64>().is_ok() && w[2].parse::<u64>().unwrap() >= 4096,
        "{text}"
    );
    assert_eq!(&lines[1..], ["busy", "empty"]);
    assert!(d.join(".dirty.lock").exists(), "the lock pre-copy shares");
}

#[test]
fn pairs_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let out = dirty(dir.path(), &[&dir.path().join("x.procs")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in pairs"));
}
