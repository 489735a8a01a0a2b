//! The lab's guest image: a stock Debian 12 (bookworm) root file system made
//! by `mmdebstrap`, with this machine's CRIU copied in, turned into a raw ext4
//! image by `mkfs.ext4 -d` (no loop mount), plus the kernel and initrd from
//! its /boot. Built once and cached under `~/.cache/netbalance/lab/`, keyed
//! by a digest of everything that goes into it (the recipe below and the
//! CRIU binary); VMs boot from per-VM qcow2 overlays of it.
//!
//! What is NOT changed from a normal install: systemd as init, cgroup v2 only
//! (the kernel's default), the distribution's kernel and sshd. What the image
//! adds: one oneshot unit that gives each VM its name, its address and its
//! own SSH host key at boot (from QEMU's command line and `-fw_cfg`), and an
//! sshd drop-in naming that one host key.

use crate::error::{Error, Result};
use crate::testbed::{Cmd, Executor};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bump when the recipe changes in a way the digest does not see.
const RECIPE_VERSION: &str = "netbalance-lab-image-1";
const SUITE: &str = "bookworm";
/// The guest's packages (besides mmdebstrap's `apt` variant) and CRIU's
/// runtime libraries as `ldd /usr/local/sbin/criu` lists them on bookworm.
const PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "systemd-sysv",
    "udev",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "iproute2",
    "nftables",
    "iptables",
    "procps",
    "psmisc",
    "iputils-ping",
    "kmod",
    "python3-minimal",
    // CRIU 4.1.1's libraries
    "libbsd0",
    "libgnutls30",
    "libnftables1",
    "libprotobuf-c1",
    "libnl-3-200",
    "libnet1",
    "libuuid1",
];
/// Size of the root file system (sparse: ~0.5 GB are used).
const IMAGE_SIZE: &str = "3G";
/// Where CRIU is taken from on this machine and put in the guest.
pub const CRIU: &str = "/usr/local/sbin/criu";

/// The boot-time script: name, address, /etc/hosts, SSH host key and
/// authorized key of this VM (kernel command line `nb.name=`, `nb.ip=`,
/// `nb.hosts=NAME:IP,...`; keys from QEMU's fw_cfg).
const INIT_SCRIPT: &str = r#"#!/bin/sh
# netbalance lab: give this VM its identity (see netbalance's src/lab/image.rs).
set -eu
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
name=$(arg nb.name)
addr=$(arg nb.ip)
hosts=$(arg nb.hosts)
if [ -n "$name" ]; then
  echo "$name" > /etc/hostname
  hostname "$name"
fi
ip link set lo up
dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
ip link set "$dev" up
[ -z "$addr" ] || ip addr replace "$addr" dev "$dev"
{
  echo "127.0.0.1 localhost"
  echo "127.0.1.1 $name"
  echo "$hosts" | tr ',' '\n' | awk -F: 'NF == 2 { print $2, $1 }'
} > /etc/hosts
modprobe qemu_fw_cfg 2>/dev/null || true
fw=/sys/firmware/qemu_fw_cfg/by_name/opt/netbalance
for i in $(seq 50); do [ -e "$fw/ssh_host_ed25519_key/raw" ] && break; sleep 0.1; done
umask 077
cat "$fw/ssh_host_ed25519_key/raw" > /etc/ssh/ssh_host_ed25519_key
ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key > /etc/ssh/ssh_host_ed25519_key.pub
chmod 644 /etc/ssh/ssh_host_ed25519_key.pub
mkdir -p /root/.ssh
cat "$fw/authorized_keys/raw" > /root/.ssh/authorized_keys
"#;

const INIT_UNIT: &str = "[Unit]
Description=netbalance lab: this VM's name, address and SSH keys (from QEMU)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Before=ssh.service network.target sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/netbalance-lab-init

[Install]
WantedBy=sysinit.target
";

const SSHD_DROPIN: &str = "# netbalance lab: one host key per VM, written at boot by netbalance-lab-init
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
UseDNS no
";

/// CRIU's kdat cache directory (CRIU is built with RUNDIR there, see .ci/install-deps.sh).
const TMPFILES: &str = "d /run/netbalance-criu 0700 root root -\n";

/// A built image in the cache.
#[derive(Debug, Clone)]
pub struct Image {
    pub dir: PathBuf,
}

impl Image {
    pub fn disk(&self) -> PathBuf {
        self.dir.join("root.img")
    }
    pub fn kernel(&self) -> PathBuf {
        self.dir.join("vmlinuz")
    }
    pub fn initrd(&self) -> PathBuf {
        self.dir.join("initrd.img")
    }
}

/// `$XDG_CACHE_HOME/netbalance/lab`, else `~/.cache/netbalance/lab`.
pub fn cache_root() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"))
                .join(".cache")
        });
    base.join("netbalance").join("lab")
}

/// The digest naming the image: the recipe and the CRIU binary (hex, 16 chars).
pub fn image_key(criu: &[u8]) -> String {
    let mut text = String::new();
    for part in [
        RECIPE_VERSION,
        SUITE,
        IMAGE_SIZE,
        INIT_SCRIPT,
        INIT_UNIT,
        SSHD_DROPIN,
        TMPFILES,
    ] {
        text.push_str(part);
        text.push('\0');
    }
    text.push_str(&PACKAGES.join(","));
    text.push('\0');
    text.push_str(&crate::testbed::provision::sha256_hex(criu));
    crate::testbed::provision::sha256_hex(text.as_bytes())[..16].to_string()
}

/// The cached image for this recipe, built first if missing (under a lock:
/// a second `lab up` at the same time waits and reuses it); `can_build`
/// checks the builder's prerequisites before a build.
pub fn ensure(
    ex: &mut dyn Executor,
    log: &mut dyn FnMut(&str),
    can_build: impl FnOnce() -> Result<()>,
) -> Result<Image> {
    let criu = std::fs::read(CRIU).map_err(|e| {
        Error::host_op(
            "local",
            format!("reading {CRIU} (the lab's guests get this machine's CRIU: install it with .ci/install-deps.sh)"),
            e,
        )
    })?;
    let root = cache_root();
    std::fs::create_dir_all(&root).map_err(|e| Error::io(root.display().to_string(), e))?;
    let image = Image {
        dir: root.join(format!("debian12-{}", image_key(&criu))),
    };
    let _lock = flock(&root.join("build.lock"))?;
    if image.initrd().is_file() {
        log(&format!("image: cached {}", image.dir.display()));
        return Ok(image);
    }
    can_build()?;
    let t0 = Instant::now();
    let tmp = root.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let rootfs = tmp.join("rootfs");
    let result = build(ex, &criu, &tmp, &rootfs, log);
    // The root file system is only an intermediate: ~0.5 GB.
    if rootfs.exists() {
        let _ = ex.output(&Cmd::new("rm").args(["-rf", "--one-file-system"]).arg(path(&rootfs)));
    }
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &image.dir).map_err(|e| Error::io(image.dir.display().to_string(), e))?;
    log(&format!(
        "image: built {} in {:.0} s",
        image.dir.display(),
        t0.elapsed().as_secs_f64()
    ));
    Ok(image)
}

/// An exclusive `flock` on `file`, released when the returned handle drops.
fn flock(file: &Path) -> Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(file)
        .map_err(|e| Error::io(path(file), e))?;
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(path(file), std::io::Error::last_os_error()));
    }
    Ok(f)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn build(ex: &mut dyn Executor, criu: &[u8], tmp: &Path, rootfs: &Path, log: &mut dyn FnMut(&str)) -> Result<()> {
    std::fs::create_dir_all(tmp).map_err(|e| Error::io(path(tmp), e))?;
    let t = Instant::now();
    log(&format!(
        "image: mmdebstrap {SUITE} ({} packages), about 1-2 min",
        PACKAGES.len()
    ));
    ex.run(
        &Cmd::new("mmdebstrap")
            .args([
                "--variant=apt",
                "--quiet",
                "--aptopt=Acquire::Check-Valid-Until \"false\"",
            ])
            .arg(format!("--include={}", PACKAGES.join(",")))
            .args([SUITE, &path(rootfs)]),
    )?;
    log(&format!(
        "image: root file system in {:.0} s",
        t.elapsed().as_secs_f64()
    ));
    customise(criu, rootfs)?;
    let boot = rootfs.join("boot");
    let pick = |prefix: &str| -> Result<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&boot)
            .map_err(|e| Error::io(path(&boot), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .collect();
        found.sort();
        found
            .pop()
            .ok_or_else(|| Error::Host(format!("no {prefix}* in the guest's /boot")))
    };
    let copy = |from: PathBuf, to: PathBuf| std::fs::copy(&from, &to).map_err(|e| Error::io(path(&from), e));
    copy(pick("vmlinuz-")?, tmp.join("vmlinuz"))?;
    let t = Instant::now();
    ex.run(
        &Cmd::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "nbroot", "-d"])
            .arg(path(rootfs))
            .arg(path(&tmp.join("root.img")))
            .arg(IMAGE_SIZE),
    )?;
    log(&format!("image: mkfs.ext4 -d in {:.0} s", t.elapsed().as_secs_f64()));
    // Last: its presence marks a complete image.
    copy(pick("initrd.img-")?, tmp.join("initrd.img"))?;
    Ok(())
}

/// Files added to the stock root: CRIU, the identity unit, the sshd drop-in;
/// the host keys the package generated are removed (each VM gets its own).
fn customise(criu: &[u8], root: &Path) -> Result<()> {
    let write = |rel: &str, data: &[u8], mode: u32| -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(path(d), e))?;
        }
        std::fs::write(&p, data).map_err(|e| Error::io(path(&p), e))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path(&p), e))
    };
    write("usr/local/sbin/criu", criu, 0o755)?;
    write("usr/local/sbin/netbalance-lab-init", INIT_SCRIPT.as_bytes(), 0o755)?;
    write(
        "etc/systemd/system/netbalance-lab-init.service",
        INIT_UNIT.as_bytes(),
        0o644,
    )?;
    let wants = root.join("etc/systemd/system/sysinit.target.wants");
    std::fs::create_dir_all(&wants).map_err(|e| Error::io(path(&wants), e))?;
    let link = wants.join("netbalance-lab-init.service");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/etc/systemd/system/netbalance-lab-init.service", &link)
        .map_err(|e| Error::io(path(&link), e))?;
    write(
        "etc/ssh/sshd_config.d/netbalance-lab.conf",
        SSHD_DROPIN.as_bytes(),
        0o644,
    )?;
    write("etc/tmpfiles.d/netbalance-criu.conf", TMPFILES.as_bytes(), 0o644)?;
    write(
        "etc/fstab",
        b"LABEL=nbroot / ext4 defaults,errors=remount-ro 0 1\n",
        0o644,
    )?;
    let ssh = root.join("etc/ssh");
    for entry in std::fs::read_dir(&ssh).map_err(|e| Error::io(path(&ssh), e))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(path(&entry.path()), e))?;
        }
    }
    // A machine id is made at first boot, per VM.
    write("etc/machine-id", b"", 0o444)?;
    let _ = std::fs::remove_file(root.join("var/lib/dbus/machine-id"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_criu_and_is_stable() {
        assert_eq!(image_key(b"a"), image_key(b"a"));
        assert_ne!(image_key(b"a"), image_key(b"b"));
        assert_eq!(image_key(b"a").len(), 16);
    }
}
