//! The fork both small daemons of the VMs start with (`netbalance keeper`,
//! [`super::keeper`]; `netbalance pages`, [`super::pages`]): a pipe from
//! the daemon back to the front process (the one the executor started),
//! which waits on it and exits with what the daemon reported, and the
//! daemon's release of the caller's stdio.

use std::fs::File;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::process::ExitStatus;

/// One side of [`fork_reporting`].
pub(crate) enum Forked {
    /// The caller: the read end of the daemon's report pipe.
    Front(File),
    /// The new process: the write end.
    Daemon(File),
}

/// pipe(2) then fork(2); `Err` says which failed (for the caller's
/// stderr). Call it only from a process with a single thread.
pub(crate) fn fork_reporting() -> Result<Forked, String> {
    let mut fds = [0i32; 2];
    // SAFETY: plain pipe(2) into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: the caller is single-threaded, so the child may use anything.
    match unsafe { libc::fork() } {
        -1 => {
            let e = std::io::Error::last_os_error();
            // SAFETY: both ends are ours and open.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            Err(format!("fork: {e}"))
        }
        0 => {
            // SAFETY: closing our copy of the read end; the write end is ours.
            unsafe { libc::close(read_end) };
            Ok(Forked::Daemon(unsafe { File::from_raw_fd(write_end) }))
        }
        _ => {
            // SAFETY: closing our copy of the write end; the read end is ours.
            unsafe { libc::close(write_end) };
            Ok(Forked::Front(unsafe { File::from_raw_fd(read_end) }))
        }
    }
}

/// A child's exit status as a shell reports it: its code, or 128 + signal.
pub(crate) fn status_code(st: ExitStatus) -> i32 {
    st.code()
        .unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&st).unwrap_or(0))
}

/// Point stdin, stdout and stderr at /dev/null and leave the caller's cwd.
pub(crate) fn release_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let fd = null.into_raw_fd();
        // SAFETY: dup2 onto the standard descriptors, then close the spare.
        unsafe {
            for target in 0..3 {
                libc::dup2(fd, target);
            }
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    let _ = std::env::set_current_dir("/");
}
