//! How fast a vnode dirties its memory (model §3.1's `dirty_mb_s`), read
//! from the kernel's soft-dirty bits as `monitor --dirty` samples it: on
//! the VM, for each process of the vnode's group, count the pages whose
//! soft-dirty bit is set in `/proc/PID/pagemap` (bit 55: written since the
//! last clear), then clear them (`4` into `/proc/PID/clear_refs`). The
//! pages counted at one sample over the time since the one before are the
//! rate. The VM side runs in the netbalance binary there (the hidden
//! `dirty` subcommand): a pagemap is binary, one 8-byte entry per page.
//!
//! Pre-copy reads the same bits: each of its rounds copies what was
//! dirtied since the round before, and the pause the rest. A clear between
//! two rounds would hide pages from the next, and the vnode would be
//! restored with stale memory. So a vnode whose pre-copy rounds exist
//! (`<state root>/<cgroup>.pre`) is not counted ("busy"), and both sides
//! decide under one lock per VM (`<state root>/.dirty.lock`, flock(2)):
//! pre-copy creates the rounds' directory holding it
//! ([`super::precopy::pre_dump`]), so a count either ran and cleared before
//! the first round, which copies everything anyway, or sees the directory.
//!
//! Needs a kernel with soft-dirty tracking, as pre-copy does (where it is
//! missing the bits stay clear and every count would be 0: the monitor
//! asks `criu check` first and leaves such VMs out).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file of a VM's state root that pre-copy and the count share.
pub const LOCK_FILE: &str = ".dirty.lock";

/// One vnode to count on this VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its group's `cgroup.procs` (the processes to count).
    pub procs: PathBuf,
    /// Its pre-copy rounds' directory: while it exists, nothing is cleared.
    pub pre: PathBuf,
}

/// What one vnode's count found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Pages written since the last count (of this size in bytes).
    Pages { pages: u64, page_size: u64 },
    /// Its pre-copy rounds run: not counted, not cleared.
    Busy,
    /// No process in its group (a vnode without `run`, or gone).
    Empty,
}

impl Count {
    /// One line of the subcommand's output.
    pub fn line(&self) -> String {
        match self {
            Count::Pages { pages, page_size } => format!("pages {pages} {page_size}"),
            Count::Busy => "busy".into(),
            Count::Empty => "empty".into(),
        }
    }

    /// The inverse of [`Count::line`].
    ///
    /// ```
    /// use netbalance::testbed::dirty::Count;
    /// let c = Count::Pages { pages: 12, page_size: 4096 };
    /// assert_eq!(Count::parse(&c.line()), Some(c));
    /// assert_eq!(Count::parse("busy"), Some(Count::Busy));
    /// assert_eq!(Count::parse("pages x 4096"), None);
    /// ```
    pub fn parse(line: &str) -> Option<Count> {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[..] {
            ["pages", p, s] => Some(Count::Pages {
                pages: p.parse().ok()?,
                page_size: s.parse().ok()?,
            }),
            ["busy"] => Some(Count::Busy),
            ["empty"] => Some(Count::Empty),
            _ => None,
        }
    }
}

/// Count and clear every target under the VM's lock (in `lock_dir`), one
/// [`Count`] each. O(mapped pages of the targets' processes).
pub fn count_and_clear(lock_dir: &Path, targets: &[Target]) -> std::io::Result<Vec<Count>> {
    std::fs::create_dir_all(lock_dir)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_dir.join(LOCK_FILE))?;
    flock_exclusive(&lock)?;
    let page_size = page_size();
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        if t.pre.exists() {
            out.push(Count::Busy);
            continue;
        }
        let pids = match std::fs::read_to_string(&t.procs) {
            Ok(text) => text
                .lines()
                .filter_map(|l| l.trim().parse::<u32>().ok())
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        if pids.is_empty() {
            out.push(Count::Empty);
            continue;
        }
        let mut pages = 0;
        for pid in pids {
            // A process that exits between the list and its files counts nothing.
            match count_pid(pid, page_size) {
                Ok(n) => pages += n,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            match std::fs::write(format!("/proc/{pid}/clear_refs"), b"4") {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.push(Count::Pages { pages, page_size });
    }
    Ok(out)
}

/// flock(2) the file exclusively (released when it closes), as flock(1) does.
fn flock_exclusive(f: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows open.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Soft-dirty pages of one process, over all its mappings.
fn count_pid(pid: u32, page_size: u64) -> std::io::Result<u64> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mut pagemap = File::open(format!("/proc/{pid}/pagemap"))?;
    let mut buf = vec![0u8; 8 * 4096];
    let mut n = 0;
    for (start, end) in map_ranges(&maps) {
        let (mut page, last) = (start / page_size, end / page_size);
        while page < last {
            let want = ((last - page) as usize).min(buf.len() / 8);
            pagemap.seek(SeekFrom::Start(page * 8))?;
            let got = read_full(&mut pagemap, &mut buf[..want * 8])?;
            n += soft_dirty_pages(&buf[..got - got % 8]);
            if got < want * 8 {
                break;
            }
            page += want as u64;
        }
    }
    Ok(n)
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got)
}

/// The address ranges of a `/proc/PID/maps` text, without `[vsyscall]`
/// (outside the user address space: its pagemap cannot be read).
///
/// ```
/// let maps = "55d0c000-55d0e000 r--p 00000000 08:01 42 /usr/bin/cat\n\
///             ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";
/// assert_eq!(netbalance::testbed::dirty::map_ranges(maps), [(0x55d0c000, 0x55d0e000)]);
/// ```
pub fn map_ranges(maps: &str) -> Vec<(u64, u64)> {
    maps.lines()
        .filter(|l| !l.ends_with("[vsyscall]"))
        .filter_map(|l| {
            let (a, b) = l.split_whitespace().next()?.split_once('-')?;
            Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
        })
        .filter(|(a, b)| a < b)
        .collect()
}

/// Pagemap entries (8 bytes each, native order) with the soft-dirty bit
/// (55) set on a page that is present (bit 63) or swapped (bit 62).
///
/// ```
/// let e = |v: u64| v.to_ne_bytes();
/// let entries = [e(1 << 63 | 1 << 55), e(1 << 63), e(1 << 55), e(1 << 62 | 1 << 55)].concat();
/// assert_eq!(netbalance::testbed::dirty::soft_dirty_pages(&entries), 2);
/// ```
pub fn soft_dirty_pages(entries: &[u8]) -> u64 {
    entries
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .filter(|e| e >> 55 & 1 == 1 && e >> 62 != 0)
        .count() as u64
}

/// The page size (bytes) of this machine.
fn page_size() -> u64 {
    // SAFETY: sysconf reads a constant of the system.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as u64,
        _ => 4096,
    }
}

/// The subcommand's output: one [`Count::line`] per target, in order.
pub fn write_counts(out: &mut dyn Write, counts: &[Count]) -> std::io::Result<()> {
    for c in counts {
        writeln!(out, "{}", c.line())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_counted_and_a_busy_or_empty_vnode_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let procs = dir.path().join("cgroup.procs");
        std::fs::write(&procs, format!("{}\n", std::process::id())).unwrap();
        let none = dir.path().join("none.procs");
        let pre = dir.path().join("x.pre");
        let targets = [
            Target {
                procs: procs.clone(),
                pre: pre.clone(),
            },
            Target {
                procs: none,
                pre: dir.path().join("y.pre"),
            },
        ];
        let counts = count_and_clear(dir.path(), &targets).unwrap();
        assert!(
            matches!(counts[0], Count::Pages { page_size, .. } if page_size >= 4096),
            "{counts:?}"
        );
        assert_eq!(counts[1], Count::Empty);
        assert!(dir.path().join(LOCK_FILE).exists());
        std::fs::create_dir(&pre).unwrap();
        assert_eq!(count_and_clear(dir.path(), &targets[..1]).unwrap(), [Count::Busy]);
    }
}
