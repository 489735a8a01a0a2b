//! Where the time of an image transfer between two SSH "VMs" goes.
//! Not a test: `cargo test --test bench_transfer -- --ignored --nocapture`.

mod testbed_support;

use netbalance::model::testbed::parse_ssh_target;
use netbalance::testbed::transfer::{self, Route, TransferMode, Via};
use netbalance::testbed::{copy_dir, Executor, SshExecutor};
use ssh2::{MethodType, Session};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;
use testbed_support::*;

fn session(addr: &str, key: &Path, cipher: Option<&str>, mac: Option<&str>) -> Session {
    let tcp = TcpStream::connect((addr, 22)).unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut s = Session::new().unwrap();
    s.set_tcp_stream(tcp);
    if let Some(c) = cipher {
        s.method_pref(MethodType::CryptCs, c).unwrap();
        s.method_pref(MethodType::CryptSc, c).unwrap();
    }
    if let Some(m) = mac {
        s.method_pref(MethodType::MacCs, m).unwrap();
        s.method_pref(MethodType::MacSc, m).unwrap();
    }
    s.handshake().unwrap();
    s.userauth_pubkey_file("root", None, key, None).unwrap();
    s
}

fn read_rate(s: &Session, cmd: &str, buf: usize, window: Option<u32>) -> (u64, f64) {
    let t = Instant::now();
    let mut ch = match window {
        None => s.channel_session().unwrap(),
        Some(w) => s.channel_open("session", w, 32768, None).unwrap(),
    };
    ch.exec(cmd).unwrap();
    let mut b = vec![0u8; buf];
    let mut n = 0u64;
    loop {
        let k = ch.read(&mut b).unwrap();
        if k == 0 {
            break;
        }
        n += k as u64;
    }
    ch.wait_close().unwrap();
    (n, t.elapsed().as_secs_f64())
}

fn write_rate(s: &Session, bytes: u64, buf: usize) -> f64 {
    let t = Instant::now();
    let mut ch = s.channel_session().unwrap();
    ch.exec("cat > /dev/null").unwrap();
    let b = vec![7u8; buf];
    let mut n = 0;
    while n < bytes {
        ch.write_all(&b).unwrap();
        n += buf as u64;
    }
    ch.send_eof().unwrap();
    ch.wait_eof().unwrap();
    ch.wait_close().unwrap();
    t.elapsed().as_secs_f64()
}

fn ms_per_mb(bytes: u64, s: f64) -> f64 {
    s * 1000.0 / (bytes as f64 / 1048576.0)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The netbalance binary at both ends of the direct path: `$XFER_BIN`
/// (e.g. target/release/netbalance), else this build's.
fn xfer_bin() -> Option<String> {
    std::env::var("XFER_BIN").ok().or_else(keeper)
}

#[test]
#[ignore]
fn where_transfer_time_goes() {
    if !require(&["sshd", "ssh-keygen"]) {
        return;
    }
    let vms = two_ssh_vms(252, "b");
    let key = vms.sshds[0].user_key.clone();
    let sizes: Vec<u64> = std::env::var("SIZES")
        .ok()
        .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![10, 50, 100]);
    // Image-like files: urandom (incompressible) in VM 0's state dir.
    for &mb in &sizes {
        let d = vms.root.path().join(format!("vm0/img{mb}"));
        std::fs::create_dir_all(&d).unwrap();
        sh_ok(&[
            "sh",
            "-c",
            &format!("head -c {}M /dev/urandom > {}/pages-1.img", mb, d.display()),
        ]);
    }
    let s0 = session(&vms.addrs[0], &key, None, None);
    eprintln!(
        "negotiated default: {:?} / {:?}",
        s0.methods(MethodType::CryptSc),
        s0.methods(MethodType::MacSc)
    );
    let state = vms.state_root.display().to_string();
    {
        // The fixed part: an (almost) empty directory, copied 5 times each way.
        let opts = vms.ssh_options();
        let mut a =
            SshExecutor::connect(&parse_ssh_target(&format!("root@{}:22", vms.addrs[0])).unwrap(), &opts).unwrap();
        let mut b =
            SshExecutor::connect(&parse_ssh_target(&format!("root@{}:22", vms.addrs[1])).unwrap(), &opts).unwrap();
        std::fs::create_dir_all(vms.root.path().join("vm0/empty")).unwrap();
        std::fs::write(vms.root.path().join("vm0/empty/f"), b"x").unwrap();
        let dir = vms.state_root.join("empty");
        let route = Route {
            mode: TransferMode::Direct,
            dst_addr: Some(vms.addrs[1].parse().unwrap()),
            binary: xfer_bin(),
        };
        for _ in 0..5 {
            let t = Instant::now();
            b.run(&netbalance::testbed::Cmd::new("true")).unwrap();
            let t1 = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            copy_dir(&mut a, &dir, &mut b, &dir).unwrap();
            let t2 = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            transfer::copy(&mut a, &mut b, &dir, &route).unwrap();
            let t3 = t.elapsed().as_secs_f64() * 1e3;
            eprintln!(
                "fixed part: one ssh command {t1:.1} ms, copy_dir (ssh) {t2:.1} ms, direct {t3:.1} ms (load {})",
                load()
            );
        }
        if std::env::var_os("FIXED_ONLY").is_some() {
            return;
        }
    }
    for &mb in &sizes {
        let f = format!("{state}/img{mb}/pages-1.img");
        eprintln!("== {mb} MB (load {})", load());
        let matrix = std::env::var_os("CIPHERS").is_some();
        for (c, m) in if !matrix {
            vec![]
        } else {
            vec![
                (None, None),
                (Some("aes128-ctr"), Some("hmac-sha2-256")),
                (Some("aes128-gcm@openssh.com"), None),
                (Some("chacha20-poly1305@openssh.com"), None),
            ]
        } {
            let s = session(&vms.addrs[0], &key, c, m);
            let name = format!(
                "{:?}/{:?}",
                s.methods(MethodType::CryptSc),
                s.methods(MethodType::MacSc)
            );
            for buf in [32 << 10, 256 << 10, 1 << 20] {
                let (n, t) = read_rate(&s, &format!("cat {f}"), buf, None);
                eprintln!("read  {name:<45} buf {:>5}K: {:6.1} ms/MB", buf >> 10, ms_per_mb(n, t));
            }
            let (n, t) = read_rate(&s, &format!("cat {f}"), 256 << 10, Some(16 << 20));
            eprintln!("read  {name:<45} 16 MB window: {:6.1} ms/MB", ms_per_mb(n, t));
            let t = write_rate(&session(&vms.addrs[1], &key, c, m), mb << 20, 256 << 10);
            eprintln!("write {name:<45} buf  256K: {:6.1} ms/MB", ms_per_mb(mb << 20, t));
        }
        // The remote side alone: cat to /dev/null, tar to /dev/null (local, in VM 0's files).
        let t = Instant::now();
        sh_ok(&[
            "sh",
            "-c",
            &format!(
                "tar -C {}/vm0/img{mb} -cf - . | cat > /dev/null",
                vms.root.path().display()
            ),
        ]);
        eprintln!(
            "local tar -c | cat: {:6.1} ms/MB",
            ms_per_mb(mb << 20, t.elapsed().as_secs_f64())
        );
        // The current path: copy_dir between the two SshExecutors.
        let opts = vms.ssh_options();
        let mut a =
            SshExecutor::connect(&parse_ssh_target(&format!("root@{}:22", vms.addrs[0])).unwrap(), &opts).unwrap();
        let mut b =
            SshExecutor::connect(&parse_ssh_target(&format!("root@{}:22", vms.addrs[1])).unwrap(), &opts).unwrap();
        for _ in 0..3 {
            let dst = vms.state_root.join(format!("dst{mb}"));
            let t = Instant::now();
            let n = copy_dir(&mut a, &vms.state_root.join(format!("img{mb}")), &mut b, &dst).unwrap();
            eprintln!(
                "copy_dir (tar pipe): {:6.1} ms/MB  (load {})",
                ms_per_mb(n, t.elapsed().as_secs_f64()),
                load()
            );
            b.run(&netbalance::testbed::Cmd::new("rm").args(["-rf", dst.to_str().unwrap()]))
                .unwrap();
        }
        // The direct path as migrations take it: xfer recv / xfer send started over the sessions.
        let route = Route {
            mode: TransferMode::Direct,
            dst_addr: Some(vms.addrs[1].parse().unwrap()),
            binary: xfer_bin(),
        };
        for _ in 0..3 {
            let dir = vms.state_root.join(format!("img{mb}"));
            let t = Instant::now();
            let c = transfer::copy(&mut a, &mut b, &dir, &route).unwrap();
            assert_eq!(c.via, Via::Direct);
            eprintln!(
                "transfer::copy direct: {:6.1} ms/MB  (load {})",
                ms_per_mb(c.bytes, t.elapsed().as_secs_f64()),
                load()
            );
            b.run(&netbalance::testbed::Cmd::new("rm").args(["-rf", dir.to_str().unwrap()]))
                .unwrap();
        }
        // Direct TCP between the namespaces: tar -c | socket (VM 0) -> socket | tar -x (VM 1).
        for _ in 0..3 {
            let src = vms.root.path().join(format!("vm0/img{mb}"));
            let dst = vms.root.path().join(format!("vm1/dst{mb}"));
            std::fs::create_dir_all(&dst).unwrap();
            let addr: std::net::Ipv4Addr = vms.addrs[1].parse().unwrap();
            let l = in_netns(&vms.vm_ns[1], move || {
                std::net::TcpListener::bind((addr, 7411)).unwrap()
            });
            let t = Instant::now();
            let dst2 = dst.clone();
            let rx = std::thread::spawn(move || {
                let (mut c, _) = l.accept().unwrap();
                let mut tar = std::process::Command::new("tar")
                    .arg("-C")
                    .arg(&dst2)
                    .args(["-xf", "-"])
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                std::io::copy(&mut c, tar.stdin.as_mut().unwrap()).unwrap();
                drop(tar.stdin.take());
                assert!(tar.wait().unwrap().success());
            });
            in_netns(&vms.vm_ns[0], move || {
                let mut s = TcpStream::connect((addr, 7411)).unwrap();
                let mut tar = std::process::Command::new("tar")
                    .arg("-C")
                    .arg(&src)
                    .args(["-cf", "-", "."])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                std::io::copy(tar.stdout.as_mut().unwrap(), &mut s).unwrap();
                assert!(tar.wait().unwrap().success());
                s.flush().unwrap();
            });
            rx.join().unwrap();
            eprintln!(
                "direct TCP tar|tar: {:6.1} ms/MB  (load {})",
                ms_per_mb(mb << 20, t.elapsed().as_secs_f64()),
                load()
            );
            std::fs::remove_dir_all(&dst).unwrap();
        }
    }
}
