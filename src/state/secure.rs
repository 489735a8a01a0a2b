//! File operations confined to one checked directory, for the state dir.
//!
//! netbalance often runs as root (it drives hosts), so a state dir must not
//! be a way to make it write or read elsewhere. As ssh refuses a lax
//! `~/.ssh`, [`SecureDir::open`] refuses a directory that is a symbolic link,
//! is not owned by the effective user, or is writable by others; every file
//! operation then goes through the directory's file descriptor (`openat`,
//! `renameat`, `linkat`, `unlinkat`), so nothing is resolved through a path
//! that could change underneath. Files are opened with `O_NOFOLLOW` (a
//! planted symlink is refused, never followed), must be regular files owned
//! by the user and not writable by others, and are size-checked before they
//! are read (a FIFO or `/dev/zero` planted there is refused at once).
//! Temporary files are created with `O_CREAT|O_EXCL|O_NOFOLLOW` under a fresh
//! name and renamed within the directory.

use crate::error::{Error, Location, Result};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An open, checked directory.
#[derive(Debug)]
pub struct SecureDir {
    path: PathBuf,
    fd: OwnedFd,
}

/// What a file in a [`SecureDir`] is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read only; the file must exist.
    Read,
    /// Write only, appending, created (mode 0644) if missing.
    Append,
    /// Read and write, created if missing, not truncated (for `flock`).
    Guard,
    /// Write only, the file must exist (to truncate it).
    Write,
}

fn cstr(name: &str) -> std::io::Result<CString> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ));
    }
    CString::new(name).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a file name"))
}

fn check(ret: libc::c_int) -> std::io::Result<libc::c_int> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn fstat(fd: libc::c_int) -> std::io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// Why `st` may not be trusted by this user, if it may not.
fn lax(st: &libc::stat, want_dir: bool) -> Option<String> {
    let kind = st.st_mode & libc::S_IFMT;
    let euid = unsafe { libc::geteuid() };
    if want_dir && kind != libc::S_IFDIR {
        return Some("not a directory".into());
    }
    if !want_dir && kind != libc::S_IFREG {
        return Some("not a regular file".into());
    }
    if st.st_uid != euid {
        return Some(format!(
            "owned by uid {}, not by the user running netbalance (uid {euid})",
            st.st_uid
        ));
    }
    if st.st_mode & 0o002 != 0 {
        return Some(format!(
            "writable by others (mode {:o}; chmod o-w)",
            st.st_mode & 0o7777
        ));
    }
    None
}

/// Temporary file names are unique per process and call.
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl SecureDir {
    /// Open the directory at `path` (creating it, mode 0755, if `create` and
    /// it is missing; its parents are created as usual). `Ok(None)` if it
    /// does not exist and `create` is false.
    pub fn open(path: &Path, create: bool) -> Result<Option<SecureDir>> {
        let name = path.display().to_string();
        let io_err = |e: std::io::Error| Error::io(&name, e);
        if create {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(io_err)?;
            }
            let c = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path")))?;
            match check(unsafe { libc::mkdir(c.as_ptr(), 0o755) }) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path")))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd = match check(unsafe { libc::open(c.as_ptr(), flags) }) {
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(refused(&name, "a symbolic link or not a directory"))
            }
            Err(e) => return Err(io_err(e)),
        };
        let st = fstat(fd.as_raw_fd()).map_err(io_err)?;
        if let Some(why) = lax(&st, true) {
            return Err(refused(&name, &why));
        }
        Ok(Some(SecureDir {
            path: path.to_path_buf(),
            fd,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn display(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }

    /// Open the file `name` in this directory (never through a symlink),
    /// checked to be a regular file this user owns and others cannot write.
    /// `Ok(None)` if it does not exist (for [`Access::Read`] and [`Access::Write`]).
    pub fn open_file(&self, name: &str, access: Access) -> Result<Option<File>> {
        let shown = self.display(name);
        let io_err = |e: std::io::Error| Error::io(&shown, e);
        let c = cstr(name).map_err(io_err)?;
        let base = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
        let flags = base
            | match access {
                Access::Read => libc::O_RDONLY,
                Access::Append => libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT,
                Access::Guard => libc::O_RDWR | libc::O_CREAT,
                Access::Write => libc::O_WRONLY,
            };
        let fd = match check(unsafe { libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags, 0o644 as libc::c_uint) }) {
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(refused(&shown, "a symbolic link"));
            }
            Err(e) => return Err(io_err(e)),
        };
        let st = fstat(fd.as_raw_fd()).map_err(io_err)?;
        if let Some(why) = lax(&st, false) {
            return Err(refused(&shown, &why));
        }
        // Back to blocking IO (O_NONBLOCK only kept a FIFO from blocking the open).
        let fl = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }).map_err(io_err)?;
        check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) }).map_err(io_err)?;
        Ok(Some(File::from(fd)))
    }

    /// Read the file `name` whole, refusing it (before reading) if larger
    /// than [`crate::io::max_input_bytes`]. `Ok(None)` if it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(file) = self.open_file(name, Access::Read)? else {
            return Ok(None);
        };
        let shown = self.display(name);
        read_capped(file, &shown).map(Some)
    }

    /// Replace the file `name` atomically: a fresh temporary file
    /// (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0644), fsync, `renameat` within the
    /// directory, fsync of the directory. A symlink at `name` is replaced,
    /// never followed.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let shown = self.display(name);
        let io_err = |e: std::io::Error| Error::io(&shown, e);
        let target = cstr(name).map_err(io_err)?;
        let (tmp, mut file) = self.create_temp(name).map_err(io_err)?;
        let res = (|| {
            file.write_all(bytes)?;
            file.sync_all()?;
            check(unsafe { libc::renameat(self.fd.as_raw_fd(), tmp.as_ptr(), self.fd.as_raw_fd(), target.as_ptr()) })?;
            self.sync();
            Ok(())
        })();
        res.map_err(|e| {
            unsafe { libc::unlinkat(self.fd.as_raw_fd(), tmp.as_ptr(), 0) };
            io_err(e)
        })
    }

    /// A new temporary file beside `name`, created exclusively; its name and the open file.
    pub fn create_temp(&self, name: &str) -> std::io::Result<(CString, File)> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let tmp = cstr(&format!(".{name}.tmp.{}.{n}.{nanos}", std::process::id()))?;
            match check(unsafe { libc::openat(self.fd.as_raw_fd(), tmp.as_ptr(), flags, 0o644 as libc::c_uint) }) {
                Ok(fd) => return Ok((tmp, File::from(unsafe { OwnedFd::from_raw_fd(fd) }))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "no free temporary file name",
        ))
    }

    /// Hard-link `from` (a name in this directory) to `to`; fails with
    /// `AlreadyExists` if `to` exists (symlinks are never followed).
    pub fn link(&self, from: &CString, to: &str) -> std::io::Result<()> {
        let to = cstr(to)?;
        check(unsafe { libc::linkat(self.fd.as_raw_fd(), from.as_ptr(), self.fd.as_raw_fd(), to.as_ptr(), 0) })
            .map(|_| ())
    }

    /// Rename `from` to `to` within the directory.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let shown = self.display(from);
        let io_err = |e: std::io::Error| Error::io(&shown, e);
        let (f, t) = (cstr(from).map_err(io_err)?, cstr(to).map_err(io_err)?);
        check(unsafe { libc::renameat(self.fd.as_raw_fd(), f.as_ptr(), self.fd.as_raw_fd(), t.as_ptr()) })
            .map_err(io_err)?;
        self.sync();
        Ok(())
    }

    /// Remove `name` (a missing file is fine).
    pub fn remove(&self, name: &str) -> Result<()> {
        let shown = self.display(name);
        let c = cstr(name).map_err(|e| Error::io(&shown, e))?;
        self.remove_c(&c).map_err(|e| Error::io(&shown, e))
    }

    /// Remove a file named by a C string (a missing file is fine).
    pub fn remove_c(&self, name: &CString) -> std::io::Result<()> {
        match check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) }) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// fsync the directory (after a rename or link), best effort.
    pub fn sync(&self) {
        unsafe { libc::fsync(self.fd.as_raw_fd()) };
    }
}

/// Read an open file whole, refusing it before reading if it is larger
/// than [`crate::io::max_input_bytes`] (and stopping there if it grows).
pub fn read_capped(mut file: File, shown: &str) -> Result<Vec<u8>> {
    let limit = crate::io::max_input_bytes();
    let len = file.metadata().map_err(|e| Error::io(shown, e))?.len();
    if len > limit {
        return Err(too_large(shown, limit));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    (&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(shown, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(shown, limit));
    }
    Ok(bytes)
}

fn too_large(shown: &str, limit: u64) -> Error {
    Error::input(
        Location::file(shown),
        format!("input larger than {limit} bytes (set NETBALANCE_MAX_INPUT_BYTES to raise the limit)"),
    )
}

fn refused(shown: &str, why: &str) -> Error {
    Error::usage(format!(
        "{shown:?}: refused as a state dir or state file: {why} (netbalance trusts only a state dir it owns that others cannot write)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn dir() -> (tempfile::TempDir, SecureDir) {
        let t = tempfile::tempdir().unwrap();
        let d = SecureDir::open(&t.path().join("s"), true).unwrap().unwrap();
        (t, d)
    }

    #[test]
    fn a_symlinked_or_world_writable_dir_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        symlink(t.path().join("real"), t.path().join("link")).unwrap();
        let err = SecureDir::open(&t.path().join("link"), true).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        std::fs::set_permissions(t.path().join("real"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = SecureDir::open(&t.path().join("real"), false).unwrap_err().to_string();
        assert!(err.contains("writable by others"), "{err}");
        assert!(SecureDir::open(&t.path().join("missing"), false).unwrap().is_none());
    }

    #[test]
    fn a_planted_symlink_is_replaced_never_followed() {
        let (t, d) = dir();
        let victim = t.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        symlink(&victim, d.path().join("f.json")).unwrap();
        let err = d.read("f.json").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        d.write_atomic("f.json", b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(d.path().join("f.json")).unwrap().is_symlink());
        assert_eq!(d.read("f.json").unwrap().unwrap(), b"new");
        symlink(&victim, d.path().join("journal")).unwrap();
        assert!(d.open_file("journal", Access::Append).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn fifos_devices_and_lax_files_are_refused_without_blocking() {
        let (_t, d) = dir();
        let fifo = CString::new(d.path().join("p").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let err = d.read("p").unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        std::fs::write(d.path().join("w"), "x").unwrap();
        std::fs::set_permissions(d.path().join("w"), std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = d.read("w").unwrap_err().to_string();
        assert!(err.contains("writable by others"), "{err}");
        assert!(d.read("../w").is_err() && d.read("").is_err());
    }
}
