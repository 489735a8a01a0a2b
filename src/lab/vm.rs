//! One lab VM: a QEMU process started inside the lab's namespace
//! (`ip netns exec`), daemonised with a pid file, booting the cached image's
//! kernel and initrd from a qcow2 overlay of its root file system. Name and
//! address go on the kernel command line, the SSH host key and the
//! authorized key through `-fw_cfg` (see [`super::image`]).
//!
//! Acceleration: KVM where it really boots a stock kernel (probed once per
//! host kernel, QEMU and guest kernel, with a timeout, result cached), else
//! TCG with `-cpu max` on every VM (CRIU compares CPU features on restore).

use super::image::{cache_root, Image};
use super::state::{LabState, VmState};
use crate::error::{Error, Result};
use crate::testbed::{Cmd, Executor};
use std::path::Path;
use std::time::{Duration, Instant};

/// KVM or TCG, with the `-accel`/`-cpu` arguments that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
    pub fn parse(s: &str) -> Option<Accel> {
        match s {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }
    fn qemu_args(self) -> [&'static str; 4] {
        match self {
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
            // A 128 MB translation cache: faster boots than the default for ~100 MB RSS more.
            Accel::Tcg => ["-accel", "tcg,tb-size=128", "-cpu", "max"],
        }
    }
}

/// How long a KVM guest may take to reach the root mount in the probe.
const KVM_PROBE_TIMEOUT_S: u32 = 20;

/// Choose the accelerator: `$NETBALANCE_LAB_ACCEL` (`kvm` or `tcg`) if set,
/// TCG without a usable `/dev/kvm`, else the cached or fresh result of
/// [`probe_kvm`]. Returns the choice and the reason, for stderr.
pub fn choose_accel(ex: &mut dyn Executor, image: &Image) -> Result<(Accel, String)> {
    if let Some(v) = std::env::var_os("NETBALANCE_LAB_ACCEL").filter(|v| !v.is_empty()) {
        let v = v.to_string_lossy();
        let a =
            Accel::parse(&v).ok_or_else(|| Error::usage(format!("NETBALANCE_LAB_ACCEL={v}: expected kvm or tcg")))?;
        return Ok((a, "from NETBALANCE_LAB_ACCEL".into()));
    }
    let kvm_usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !kvm_usable {
        return Ok((Accel::Tcg, "no usable /dev/kvm".into()));
    }
    let host_kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let qemu = ex.run(&Cmd::new("qemu-system-x86_64").arg("--version"))?;
    let key = crate::testbed::provision::sha256_hex(
        format!(
            "{}\0{}\0{}",
            host_kernel.trim(),
            qemu.lines().next().unwrap_or(""),
            image.dir.display()
        )
        .as_bytes(),
    );
    let cache = cache_root().join(format!("kvm-probe-{}", &key[..16]));
    if let Ok(saved) = std::fs::read_to_string(&cache) {
        if let Some(a) = Accel::parse(saved.trim()) {
            return Ok((a, format!("KVM probe cached in {}", cache.display())));
        }
    }
    let t0 = Instant::now();
    let works = probe_kvm(ex, image)?;
    let a = if works { Accel::Kvm } else { Accel::Tcg };
    let _ = std::fs::write(&cache, a.name());
    let secs = t0.elapsed().as_secs_f64();
    let why = if works {
        format!("KVM boots the guest kernel (probe {secs:.1} s)")
    } else {
        format!(
            "/dev/kvm is there but the guest kernel did not boot under KVM (probe ended after {secs:.1} s, \
             limit {KVM_PROBE_TIMEOUT_S} s; nested or paravirtual KVM?); result cached in {}",
            cache.display()
        )
    };
    Ok((a, why))
}

/// Boot the guest kernel under KVM without a root file system and wait (with
/// a timeout) for it to get as far as mounting root: a stuck or aborting
/// KVM (e.g. nested PVM) never gets there.
pub fn probe_kvm(ex: &mut dyn Executor, image: &Image) -> Result<bool> {
    let dir = tempfile_dir()?;
    let log = dir.join("console.log");
    let out = ex.output(
        &Cmd::new("timeout")
            .args(["-s", "KILL", &KVM_PROBE_TIMEOUT_S.to_string(), "qemu-system-x86_64"])
            .args(Accel::Kvm.qemu_args())
            .args([
                "-m",
                "256",
                "-display",
                "none",
                "-monitor",
                "none",
                "-no-reboot",
                "-nodefaults",
            ])
            .arg("-kernel")
            .arg(image.kernel().display().to_string())
            .args(["-append", "console=ttyS0 panic=-1 root=/dev/nonexistent"])
            .arg("-serial")
            .arg(format!("file:{}", log.display())),
    )?;
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = out;
    Ok(["VFS:", "Kernel panic", "Run /init"]
        .iter()
        .any(|m| console.contains(m)))
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("netbalance-kvm-probe-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display().to_string(), e))?;
    Ok(d)
}

/// Create VM `vm`'s overlay and host key, start its QEMU in the lab's
/// namespace (daemonised) and return its pid.
pub fn start(ex: &mut dyn Executor, lab: &LabState, vm: &VmState, image: &Image, accel: Accel) -> Result<u32> {
    let dir = lab.vm_dir(&vm.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let disk = dir.join("disk.qcow2");
    ex.run(
        &Cmd::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(image.disk().display().to_string())
            .arg(disk.display().to_string()),
    )?;
    let hostkey = dir.join("ssh_host_ed25519_key");
    if !hostkey.exists() {
        ex.run(
            &Cmd::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", &vm.name, "-f"])
                .arg(hostkey.display().to_string()),
        )?;
    }
    let authorized = lab.dir.join(super::state::IDENTITY_FILE).with_extension("pub");
    let pidfile = dir.join("qemu.pid");
    let _ = std::fs::remove_file(&pidfile);
    let hosts: Vec<String> = lab.vms.iter().map(|v| format!("{}:{}", v.name, v.ip)).collect();
    let append = format!(
        "root=LABEL=nbroot rw console=ttyS0 net.ifnames=0 nb.name={} nb.ip={}/24 nb.hosts={}",
        vm.name,
        vm.ip,
        hosts.join(",")
    );
    let d = |p: &Path| p.display().to_string();
    let cmd = Cmd::new("ip")
        .args(["netns", "exec", &lab.netns, "qemu-system-x86_64"])
        .args(["-name", &vm.name])
        .args(accel.qemu_args())
        .args(["-smp", "1", "-m", &lab.memory_mb.to_string()])
        .args(["-nodefaults", "-display", "none", "-monitor", "none"])
        .args(["-kernel", &d(&image.kernel()), "-initrd", &d(&image.initrd())])
        .args(["-append", &append])
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=qcow2,cache=unsafe", d(&disk)))
        .arg("-netdev")
        .arg(format!("tap,id=n0,ifname={},script=no,downscript=no", vm.tap))
        .arg("-device")
        .arg(format!("virtio-net-pci,netdev=n0,mac={}", vm.mac))
        .args(["-device", "virtio-rng-pci"])
        .arg("-fw_cfg")
        .arg(format!("name=opt/netbalance/ssh_host_ed25519_key,file={}", d(&hostkey)))
        .arg("-fw_cfg")
        .arg(format!("name=opt/netbalance/authorized_keys,file={}", d(&authorized)))
        .arg("-serial")
        .arg(format!("file:{}", d(&dir.join("console.log"))))
        .args(["-daemonize", "-pidfile", &d(&pidfile)]);
    ex.run(&cmd)?;
    let pid = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Error::Host(format!("{}: QEMU started but wrote no pid to {}", vm.name, d(&pidfile))))?;
    Ok(pid)
}

/// True if `pid` is a QEMU of this lab (its command line names the lab's
/// directory): never signal a pid reused by another process.
pub fn is_lab_qemu(pid: u32, lab_dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    text.contains("qemu-system") && text.contains(&lab_dir.display().to_string())
}

/// Stop a process: SIGTERM, up to `grace` to exit, then SIGKILL (and wait
/// for it to be gone).
pub fn stop(pid: u32, grace: Duration) {
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let t0 = Instant::now();
    while alive() && t0.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive() {
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        let t1 = Instant::now();
        while alive() && t1.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Wait until `ip:22` accepts TCP connections from here (the root end of
/// the veth), or fail (with the console's last lines) after `timeout` or as
/// soon as the VM's QEMU (`pid`, of the lab in `lab_dir`) is gone.
pub fn wait_port(name: &str, ip: &str, pid: u32, lab_dir: &Path, timeout: Duration, console: &Path) -> Result<()> {
    let addr: std::net::SocketAddr = format!("{ip}:22")
        .parse()
        .map_err(|e| Error::host_op(name, format!("bad address {ip}"), e))?;
    let t0 = Instant::now();
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
            return Ok(());
        }
        let gone = !is_lab_qemu(pid, lab_dir);
        if gone || t0.elapsed() > timeout {
            let tail: String = std::fs::read_to_string(console)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ");
            let why = if gone {
                format!("QEMU (pid {pid}) exited after {:.0} s", t0.elapsed().as_secs_f64())
            } else {
                format!("no SSH on {ip}:22 after {:.0} s", timeout.as_secs_f64())
            };
            return Err(Error::Host(format!(
                "{name}: {why} (console {}: {tail})",
                console.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
