//! `netbalance lab`: a testbed of real QEMU VMs on this machine (docs/lab.md).
//!
//! `up` builds (once, cached) a stock Debian 12 guest image ([`image`]),
//! makes a network namespace with a bridge and one tap per VM reached from
//! here by a veth ([`net`]), boots the VMs in it ([`vm`]), and writes into
//! the lab directory `testbed.json` (one host per VM, `ssh` targets,
//! `known_hosts` and `identity` as absolute paths), `known_hosts` (each
//! VM's own host key) and the key pair `id_ed25519`. What it made is
//! recorded in `lab/lab.json` as it goes ([`state`]); `down` removes exactly
//! that, also after an interrupted `up`.

pub mod image;
pub mod net;
pub mod state;
pub mod vm;

use crate::error::{Error, Result};
use crate::model::testbed::TransferMode;
use crate::model::{Host, Testbed, Vm};
use crate::testbed::{Cmd, Executor, LocalExecutor, SshExecutor, SshOptions};
use net::LabNet;
use serde::Serialize;
use state::{LabState, VmState, IDENTITY_FILE, KNOWN_HOSTS_FILE, STATE_DIR, TESTBED_FILE};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What `lab up` is asked for.
#[derive(Debug, Clone)]
pub struct UpSettings {
    pub dir: PathBuf,
    pub vms: usize,
    pub memory_mb: u32,
    /// How long each VM may take to answer SSH.
    pub boot_timeout: Duration,
    /// Copy this netbalance binary to the VMs during `up` (else on first use).
    pub provision: Option<String>,
}

/// The NIC bandwidth written for each lab host (a virtio NIC on a bridge).
const NIC_MBPS: f64 = 1000.0;

fn say(msg: &str) {
    crate::info!("netbalance lab: {msg}");
}

/// The lab directory made absolute (it need not exist yet).
pub fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    // Without `.` components (`cwd/./x` → `cwd/x`); `..` is kept.
    Ok(cwd
        .join(dir)
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect())
}

/// Programs `up` needs here, with what provides them.
fn check_tools(need_mmdebstrap: bool) -> Result<()> {
    let mut missing = Vec::new();
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root (namespaces, taps and QEMU)".to_string());
    }
    let mut tools = vec!["qemu-system-x86_64", "qemu-img", "ip", "ssh-keygen", "timeout"];
    if need_mmdebstrap {
        tools.extend(["mmdebstrap", "mkfs.ext4"]);
    }
    for t in tools {
        if !on_path(t) {
            missing.push(t.to_string());
        }
    }
    if !Path::new(image::CRIU).is_file() {
        missing.push(format!("CRIU at {}", image::CRIU));
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Host(format!(
        "lab up needs {} (install with: sudo bash .ci/install-deps.sh)",
        missing.join(", ")
    )))
}

fn on_path(prog: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .any(|d| Path::new(d).join(prog).is_file());
    found
}

/// Bring a lab up; returns its state. On failure everything made so far is
/// removed again.
pub fn up(s: &UpSettings) -> Result<LabState> {
    if s.vms == 0 || s.vms > 240 {
        return Err(Error::usage(format!("--vms {}: expected 1 to 240", s.vms)));
    }
    if s.memory_mb < 256 {
        return Err(Error::usage(format!("--memory-mb {}: at least 256", s.memory_mb)));
    }
    let dir = absolute(&s.dir)?;
    if let Some(old) = LabState::load(&dir)? {
        return Err(Error::usage(format!(
            "a lab is already up in {} ({} VMs): `netbalance lab down --dir {}` first",
            dir.display(),
            old.vms.len(),
            dir.display()
        )));
    }
    for f in [TESTBED_FILE, KNOWN_HOSTS_FILE, IDENTITY_FILE] {
        if dir.join(f).exists() {
            return Err(Error::usage(format!(
                "{}: exists and is not from a lab here; choose another --dir",
                dir.join(f).display()
            )));
        }
    }
    let ex: &mut dyn Executor = &mut LocalExecutor;
    let t_all = Instant::now();
    let t = Instant::now();
    check_tools(false)?;
    let image = image::ensure(ex, &mut |m| say(m), || check_tools(true))?;
    say(&format!("phase image: {:.1} s", t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let (accel, why) = vm::choose_accel(ex, &image)?;
    say(&format!(
        "accelerator: {} ({why}){}",
        accel.name(),
        if accel == vm::Accel::Tcg {
            "; TCG is software emulation: slow, for correctness not timing"
        } else {
            ""
        }
    ));
    say(&format!("phase accel: {:.1} s", t.elapsed().as_secs_f64()));

    let t = Instant::now();
    std::fs::create_dir_all(dir.join(STATE_DIR)).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let net = LabNet::claim(ex)?;
    let mut lab = LabState {
        dir: dir.clone(),
        netns: net.netns(),
        veth: net.veth(),
        subnet: net.subnet(),
        accel: accel.name().into(),
        image: image.dir.clone(),
        memory_mb: s.memory_mb,
        vms: (0..s.vms)
            .map(|i| VmState {
                name: format!("h{i}-v0"),
                ip: net.vm_ip(i),
                tap: LabNet::tap(i),
                mac: net.mac(i),
                pid: None,
            })
            .collect(),
    };
    // Recorded before anything else exists, so that `down` finds it all.
    if let Err(e) = lab.save() {
        let _ = LabNet::destroy(&lab.netns, &lab.veth, ex);
        return Err(e);
    }
    let result = (|| -> Result<()> {
        net.create(ex, s.vms)?;
        say(&format!(
            "phase network: {:.1} s (namespace {}, {} via {} {})",
            t.elapsed().as_secs_f64(),
            lab.netns,
            lab.subnet,
            lab.veth,
            net.gateway()
        ));
        let t = Instant::now();
        ex.run(
            &Cmd::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "netbalance-lab", "-f"])
                .arg(dir.join(IDENTITY_FILE).display().to_string()),
        )?;
        for i in 0..lab.vms.len() {
            let pid = vm::start(ex, &lab, &lab.vms[i], &image, accel)?;
            lab.vms[i].pid = Some(pid);
            lab.save()?;
        }
        write_known_hosts(&lab)?;
        write_testbed(&lab)?;
        say(&format!(
            "phase start: {:.1} s ({} QEMU, {} MB each)",
            t.elapsed().as_secs_f64(),
            lab.vms.len(),
            lab.memory_mb
        ));
        let t = Instant::now();
        let opts = ssh_options(&lab);
        for v in &lab.vms {
            let pid = v.pid.unwrap_or(0);
            let console = lab.vm_dir(&v.name).join("console.log");
            vm::wait_port(&v.name, &v.ip, pid, &lab.dir, s.boot_timeout, &console)?;
            let mut sx = connect_retrying(&v.ip, &opts, Duration::from_secs(60))?;
            let kernel = sx.run(&Cmd::new("uname").arg("-r"))?;
            say(&format!(
                "{} answers SSH at {} after {:.1} s (kernel {})",
                v.name,
                v.ip,
                t.elapsed().as_secs_f64(),
                kernel.trim()
            ));
        }
        say(&format!(
            "phase boot: {:.1} s (all VMs answer SSH)",
            t.elapsed().as_secs_f64()
        ));
        if let Some(bin) = &s.provision {
            // One thread per VM: the copies run in parallel.
            let t = Instant::now();
            std::thread::scope(|scope| {
                let copies: Vec<_> = lab
                    .vms
                    .iter()
                    .map(|v| {
                        let opts = &opts;
                        scope.spawn(move || -> Result<()> {
                            let mut sx = SshExecutor::connect(&target(&v.ip), opts)?;
                            let path = crate::testbed::provision::binary_on(&mut sx, bin)?;
                            say(&format!("{}: netbalance binary at {path}", v.name));
                            Ok(())
                        })
                    })
                    .collect();
                copies.into_iter().try_for_each(|c| {
                    c.join()
                        .unwrap_or_else(|_| Err(Error::Host("provisioning panicked".into())))
                })
            })?;
            say(&format!("phase provision: {:.1} s", t.elapsed().as_secs_f64()));
        }
        Ok(())
    })();
    if let Err(e) = result {
        say(&format!(
            "up failed: {e}; removing what was made",
            e = crate::error::one_line(&e)
        ));
        if let Err(e2) = down(&dir) {
            say(&format!(
                "cleanup after the failed up also failed: {e2}",
                e2 = crate::error::one_line(&e2)
            ));
        }
        return Err(e);
    }
    say(&format!(
        "up: {} VMs in {:.1} s; testbed {}",
        lab.vms.len(),
        t_all.elapsed().as_secs_f64(),
        dir.join(TESTBED_FILE).display()
    ));
    Ok(lab)
}

/// sshd may accept TCP a moment before its key is loaded (or while systemd
/// restarts it): retry the full SSH connection for up to `timeout`.
fn connect_retrying(ip: &str, opts: &SshOptions, timeout: Duration) -> Result<SshExecutor> {
    let t0 = Instant::now();
    loop {
        match SshExecutor::connect(&target(ip), opts) {
            Ok(sx) => return Ok(sx),
            Err(e) if t0.elapsed() > timeout => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn target(ip: &str) -> crate::model::testbed::SshTarget {
    crate::model::testbed::SshTarget {
        user: "root".into(),
        host: ip.into(),
        port: 22,
    }
}

/// SSH options for the lab's VMs: its known_hosts (strict) and key.
pub fn ssh_options(lab: &LabState) -> SshOptions {
    let mut o = SshOptions::new(lab.dir.join(KNOWN_HOSTS_FILE));
    o.identity = Some(lab.dir.join(IDENTITY_FILE));
    o
}

/// `IP ssh-ed25519 KEY` per VM, from the host keys `up` generated.
fn write_known_hosts(lab: &LabState) -> Result<()> {
    let mut text = String::new();
    for v in &lab.vms {
        let pubfile = lab.vm_dir(&v.name).join("ssh_host_ed25519_key.pub");
        let key = std::fs::read_to_string(&pubfile).map_err(|e| Error::io(pubfile.display().to_string(), e))?;
        let mut parts = key.split_whitespace();
        let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
            return Err(Error::Host(format!("{}: not a public key", pubfile.display())));
        };
        text.push_str(&format!("{} {kind} {b64}\n", v.ip));
    }
    let path = lab.dir.join(KNOWN_HOSTS_FILE);
    std::fs::write(&path, text).map_err(|e| Error::io(path.display().to_string(), e))
}

/// The testbed of a lab: one host per VM (`h<i>` with VM `h<i>-v0`).
pub fn testbed_of(lab: &LabState) -> Testbed {
    Testbed {
        hosts: lab
            .vms
            .iter()
            .enumerate()
            .map(|(i, v)| Host {
                name: format!("h{i}"),
                nic_mbps: NIC_MBPS,
                vms: vec![Vm {
                    name: v.name.clone(),
                    capacity: 1.0,
                    ssh: Some(format!("root@{}", v.ip)),
                }],
            })
            .collect(),
        costs: Default::default(),
        known_hosts: Some(lab.dir.join(KNOWN_HOSTS_FILE).display().to_string()),
        identity: Some(lab.dir.join(IDENTITY_FILE).display().to_string()),
        transfer: TransferMode::default(),
        migration: None,
    }
}

fn write_testbed(lab: &LabState) -> Result<()> {
    let path = lab.dir.join(TESTBED_FILE);
    let mut text = serde_json::to_string_pretty(&testbed_of(lab)).expect("testbed serialises");
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| Error::io(path.display().to_string(), e))
}

/// Stop every VM of the lab in `dir` and remove its network and files.
/// Returns false if there was no lab there.
pub fn down(dir: &Path) -> Result<bool> {
    let dir = absolute(dir)?;
    let Some(lab) = LabState::load(&dir)? else {
        return Ok(false);
    };
    let ex: &mut dyn Executor = &mut LocalExecutor;
    let t0 = Instant::now();
    for v in &lab.vms {
        let pid = v.pid.or_else(|| {
            std::fs::read_to_string(lab.vm_dir(&v.name).join("qemu.pid"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        });
        if let Some(pid) = pid.filter(|p| vm::is_lab_qemu(*p, &lab.dir)) {
            vm::stop(pid, Duration::from_secs(3));
        }
    }
    // Anything else still in the lab's own namespace was started there by the lab.
    for pid in LabNet::pids(&lab.netns, ex)? {
        vm::stop(pid, Duration::from_secs(3));
    }
    LabNet::destroy(&lab.netns, &lab.veth, ex)?;
    for f in [TESTBED_FILE, KNOWN_HOSTS_FILE, IDENTITY_FILE, "id_ed25519.pub"] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        }
    }
    let sd = dir.join(STATE_DIR);
    std::fs::remove_dir_all(&sd).map_err(|e| Error::io(sd.display().to_string(), e))?;
    say(&format!(
        "down: {} VMs stopped, namespace {} and veth {} removed, in {:.1} s",
        lab.vms.len(),
        lab.netns,
        lab.veth,
        t0.elapsed().as_secs_f64()
    ));
    Ok(true)
}

/// One VM in `lab status`.
#[derive(Debug, Clone, Serialize)]
pub struct VmStatus {
    pub name: String,
    pub ssh: String,
    pub pid: Option<u32>,
    pub running: bool,
}

/// `lab status`'s JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub dir: PathBuf,
    pub testbed: PathBuf,
    pub accel: String,
    pub netns: String,
    pub subnet: String,
    pub image: PathBuf,
    pub vms: Vec<VmStatus>,
}

/// The lab in `dir` and whether each QEMU runs; `None`: no lab there.
pub fn status(dir: &Path) -> Result<Option<Status>> {
    let dir = absolute(dir)?;
    let Some(lab) = LabState::load(&dir)? else {
        return Ok(None);
    };
    Ok(Some(Status {
        testbed: dir.join(TESTBED_FILE),
        dir,
        accel: lab.accel.clone(),
        netns: lab.netns.clone(),
        subnet: lab.subnet.clone(),
        image: lab.image.clone(),
        vms: lab
            .vms
            .iter()
            .map(|v| VmStatus {
                name: v.name.clone(),
                ssh: format!("root@{}", v.ip),
                pid: v.pid,
                running: v.pid.is_some_and(|p| vm::is_lab_qemu(p, &lab.dir)),
            })
            .collect(),
    }))
}

/// The `ssh` command line that opens a shell on VM `name` of the lab in
/// `dir` (no `command`), or runs `command` there (its words quoted for the
/// remote shell, so it runs as this argument vector).
pub fn ssh_command(dir: &Path, name: &str, command: &[String]) -> Result<Cmd> {
    let dir = absolute(dir)?;
    let lab = LabState::load(&dir)?.ok_or_else(|| Error::usage(format!("no lab in {}", dir.display())))?;
    let v = lab.vms.iter().find(|v| v.name == name).ok_or_else(|| {
        let names: Vec<&str> = lab.vms.iter().map(|v| v.name.as_str()).collect();
        Error::usage(format!("no VM {name:?} in the lab (VMs: {})", names.join(", ")))
    })?;
    let mut cmd = Cmd::new("ssh")
        .arg("-i")
        .arg(dir.join(IDENTITY_FILE).display().to_string())
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", dir.join(KNOWN_HOSTS_FILE).display()))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
        ]);
    if command.is_empty() {
        cmd = cmd.arg("-t");
    }
    cmd = cmd.arg(format!("root@{}", v.ip));
    if !command.is_empty() {
        let words: Vec<&str> = command.iter().map(String::as_str).collect();
        cmd = cmd.arg("--").arg(crate::testbed::quote::join(&words)?);
    }
    Ok(cmd)
}
