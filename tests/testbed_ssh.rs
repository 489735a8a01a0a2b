//! SshExecutor against a private sshd on 127.0.0.1: host-key policy, key
//! authentication, argument quoting on the remote side, files and copies.

mod testbed_support;

use netbalance::model::testbed::parse_ssh_target;
use netbalance::testbed::{copy_dir, Cmd, Executor, SshExecutor, SshOptions};
use testbed_support::*;

fn opts(sshd: &Sshd, known_hosts: &std::path::Path, accept_new: bool) -> SshOptions {
    let mut o = SshOptions::new(known_hosts);
    o.accept_new = accept_new;
    o.identity = Some(sshd.user_key.clone());
    o
}

#[test]
fn ssh_host_keys_auth_quoting_and_copies() {
    if !require(&["sshd", "ssh-keygen"]) {
        return;
    }
    let sshd = Sshd::start("127.0.0.1", free_port(), None);
    let target = parse_ssh_target(&format!("root@127.0.0.1:{}", sshd.port)).unwrap();
    let kh = sshd.dir.path().join("known_hosts");

    // Unknown host, no accept-new: refused, with the fingerprint in the message.
    let err = netbalance::error::one_line(
        &SshExecutor::connect(&target, &opts(&sshd, &kh, false))
            .err()
            .expect("unknown host accepted"),
    );
    assert!(err.contains("unknown host key"), "{err}");
    assert!(err.contains(&sshd.fingerprint()), "{err} lacks {}", sshd.fingerprint());
    assert!(!kh.exists());

    // accept-new: accepted and recorded as [127.0.0.1]:PORT.
    let mut ex = SshExecutor::connect(&target, &opts(&sshd, &kh, true)).unwrap();
    assert_eq!(ex.fingerprint(), sshd.fingerprint());
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(recorded.contains(&format!("[127.0.0.1]:{}", sshd.port)), "{recorded}");

    // Known now: accepted without accept-new.
    let mut ex2 = SshExecutor::connect(&target, &opts(&sshd, &kh, false)).unwrap();
    assert_eq!(ex2.run(&Cmd::new("id").arg("-u")).unwrap().trim(), "0");

    let t = std::time::Instant::now();
    for _ in 0..20 {
        ex2.run(&Cmd::new("true")).unwrap();
    }
    eprintln!(
        "ssh exec round trip on 127.0.0.1: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 20.0
    );

    // Hostile arguments arrive byte for byte, nothing is executed.
    let marker = sshd.dir.path().join("pwned");
    let m = marker.to_str().unwrap();
    let hostile = [
        "a;rm -rf /".to_string(),
        "$(reboot)".into(),
        "`reboot`".into(),
        format!("$(touch {m})"),
        format!("x'; touch {m}; echo '"),
        format!("x\ntouch {m}"),
        "\"double\" 'single' \\back".into(),
        "line1\nline2".into(),
        "*".into(),
        "~".into(),
        "".into(),
        " spaced  out ".into(),
    ];
    let out = ex
        .output(&Cmd::new("printf").arg("<%s>\\n").args(hostile.iter().cloned()))
        .unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    let expect: String = hostile.iter().map(|h| format!("<{h}>\n")).collect();
    assert_eq!(out.stdout_str(), expect);
    assert!(!marker.exists(), "a hostile argument was executed");

    // Exit status and stderr come back.
    let out = ex.output(&Cmd::new("sh").args(["-c", "echo err >&2; exit 7"])).unwrap();
    assert_eq!(out.status, 7);
    assert_eq!(out.stderr_str(), "err\n");
    let e = ex.run(&Cmd::new("false")).unwrap_err().to_string();
    assert!(e.contains("exited with 1"), "{e}");

    // stdin, files.
    let big = vec![b'z'; 3 << 20];
    assert_eq!(
        ex.run(&Cmd::new("wc").arg("-c").stdin(big.clone())).unwrap().trim(),
        (3u64 << 20).to_string()
    );
    let f = sshd.dir.path().join("a file; with $pecial chars");
    ex.write_file(&f, b"payload\n").unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"payload\n");
    assert_eq!(ex.read_file(&f).unwrap(), b"payload\n");
    assert!(ex.read_file(&sshd.dir.path().join("missing")).is_err());

    // A directory copied between two sessions to one endpoint: a remote `cp -a`.
    let src = sshd.dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/img"), &big).unwrap();
    let dst = sshd.dir.path().join("dst");
    assert_eq!(copy_dir(&mut ex, &src, &mut ex2, &dst).unwrap(), 0);
    assert_eq!(std::fs::read(dst.join("sub/img")).unwrap(), big);
    // Local -> remote: a tar stream through this process.
    let dst2 = sshd.dir.path().join("dst2");
    let n = copy_dir(&mut netbalance::testbed::LocalExecutor, &src, &mut ex, &dst2).unwrap();
    assert!(n >= big.len() as u64, "{n}");
    assert_eq!(std::fs::read(dst2.join("sub/img")).unwrap(), big);

    // Wrong key: authentication fails.
    let mut bad = opts(&sshd, &kh, false);
    let other = sshd.dir.path().join("other_key");
    sh_ok(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        other.to_str().unwrap(),
    ]);
    bad.identity = Some(other);
    let e = netbalance::error::one_line(&SshExecutor::connect(&target, &bad).err().expect("wrong key accepted"));
    assert!(e.contains("authentication failed"), "{e}");
}

#[test]
fn ssh_changed_host_key_is_refused_even_with_accept_new() {
    if !require(&["sshd", "ssh-keygen"]) {
        return;
    }
    let port = free_port();
    let mut first = Sshd::start("127.0.0.1", port, None);
    let target = parse_ssh_target(&format!("root@127.0.0.1:{port}")).unwrap();
    let kh_dir = tempfile::tempdir().unwrap();
    let kh = kh_dir.path().join("known_hosts");
    SshExecutor::connect(&target, &opts(&first, &kh, true)).unwrap();
    first.stop();
    // Same address and port, new host key.
    let second = Sshd::start("127.0.0.1", port, None);
    let e = netbalance::error::one_line(
        &SshExecutor::connect(&target, &opts(&second, &kh, true))
            .err()
            .expect("changed key accepted"),
    );
    assert!(e.contains("HOST KEY CHANGED"), "{e}");
    assert!(e.contains(&second.fingerprint()), "{e}");
}
