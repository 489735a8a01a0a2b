//! What the testbed driver measured of each move: the wall time of every
//! step it did, kept per vnode (the vnode's last move) and per VM (suspend
//! and resume act on a whole VM), put together as one
//! [`MigrationTimes`] per move. `calibrate` fits the cost model's constants
//! to these figures, and the testbed tests check them: both measure the one
//! protocol `netbalance migrate` runs.
//!
//! Complexity: O(log n) per record for n vnodes; memory O(n + V).

use crate::testbed::transfer::Copied;
use crate::testbed::MigrationTimes;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Book {
    /// Per VM, how long its last suspend (freeze) took, s.
    suspend: BTreeMap<String, f64>,
    /// Per VM, how long its last resume (thaw) took, s.
    resume: BTreeMap<String, f64>,
    /// Per VM, when its last suspend started and its last resume ended.
    frozen_at: BTreeMap<String, Instant>,
    thawed_at: BTreeMap<String, Instant>,
    /// Per vnode, its last move.
    moves: BTreeMap<String, MigrationTimes>,
    /// Per vnode, the pre-copy rounds ahead of its next checkpoint.
    pre: BTreeMap<String, PreCopied>,
}

/// Pre-copy rounds sent ahead of a move.
#[derive(Debug, Default)]
struct PreCopied {
    /// Their wall time in all (s).
    s: f64,
    /// Each round's bytes.
    sizes: Vec<u64>,
    /// Each round's wall time (s).
    round_s: Vec<f64>,
    /// The CPU they took (s per CPU of the busier VM), if measured.
    cpu_s: Option<f64>,
}

/// The driver's measurements (shared by the steps running at once).
#[derive(Debug, Default)]
pub struct Timings(Mutex<Book>);

impl Timings {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn suspended(&self, vm: &str, s: f64) {
        let mut book = self.book();
        book.suspend.insert(vm.to_string(), s);
        let start = Instant::now().checked_sub(Duration::from_secs_f64(s.max(0.0)));
        book.frozen_at
            .insert(vm.to_string(), start.unwrap_or_else(Instant::now));
    }

    pub fn resumed(&self, vm: &str, s: f64) {
        let mut book = self.book();
        book.resume.insert(vm.to_string(), s);
        book.thawed_at.insert(vm.to_string(), Instant::now());
    }

    /// A move of `vnode` starts at `from` with its checkpoint: a fresh record.
    /// `root` is its dumped root pid (none: a vnode without a process).
    pub fn checkpointed(
        &self,
        vnode: &str,
        from: &str,
        root: Option<u32>,
        snapshot_s: f64,
        reap_s: f64,
        image_bytes: u64,
    ) {
        let mut book = self.book();
        let pre = book.pre.remove(vnode).unwrap_or_default();
        let t = MigrationTimes {
            vnode: vnode.to_string(),
            from: from.to_string(),
            checkpointed: root.is_some(),
            pid: root,
            snapshot_s,
            reap_s,
            image_bytes,
            pre_copy_s: pre.s,
            pre_copy_rounds: pre.sizes,
            pre_copy_round_s: pre.round_s,
            pre_copy_cpu_s: pre.cpu_s,
            ..MigrationTimes::default()
        };
        book.moves.insert(vnode.to_string(), t);
    }

    /// Pre-copy rounds of `sizes` bytes sent ahead of `vnode`'s move, each
    /// in its `round_s` seconds, `s` in all, taking `cpu_s` CPU seconds per
    /// CPU from the busier VM, if measured (the move's record starts at its
    /// checkpoint).
    pub fn pre_copied(&self, vnode: &str, s: f64, sizes: &[u64], round_s: &[f64], cpu_s: Option<f64>) {
        self.book().pre.insert(
            vnode.to_string(),
            PreCopied {
                s,
                sizes: sizes.to_vec(),
                round_s: round_s.to_vec(),
                cpu_s,
            },
        );
    }

    pub fn transferred(&self, vnode: &str, s: f64, copied: Copied) {
        if let Some(t) = self.book().moves.get_mut(vnode) {
            t.transfer_s = s;
            (t.wire_bytes, t.transfer_via) = (copied.bytes, copied.via);
        }
    }

    /// Restored at `to` (root pid there, if it has a process); its links
    /// were made on the way (`reattach_s`).
    pub fn restored(&self, vnode: &str, to: &str, pid: Option<u32>, reattach_s: f64, restore_s: f64) {
        if let Some(t) = self.book().moves.get_mut(vnode) {
            t.to = to.to_string();
            t.restored_pid = pid;
            (t.reattach_s, t.restore_s) = (reattach_s, restore_s);
        }
    }

    /// A post-copy move's pages all arrived, `p.s` after the move's cleanup
    /// began to wait for them; `p.faults` of its `p.pages` on demand.
    pub fn paged(&self, vnode: &str, p: crate::testbed::lazy::Paged) {
        if let Some(t) = self.book().moves.get_mut(vnode) {
            t.pages_s = p.s;
            t.lazy_pages = p.pages;
            t.faulted_pages = p.faults;
        }
    }

    /// Links re-made after the restore (those to peers that moved too).
    pub fn reattached(&self, vnode: &str, s: f64) {
        if let Some(t) = self.book().moves.get_mut(vnode) {
            t.reattach_s += s;
        }
    }

    /// The last move of every vnode that moved, with the suspend of its
    /// source VM and the resume of its destination; `total_s` is left to
    /// the caller (the plan's wall time).
    pub fn moves(&self) -> Vec<MigrationTimes> {
        let book = self.book();
        book.moves
            .values()
            .map(|t| MigrationTimes {
                suspend_s: book.suspend.get(&t.from).copied().unwrap_or(0.0),
                resume_s: book.resume.get(&t.to).copied().unwrap_or(0.0),
                pause_s: match (book.frozen_at.get(&t.from), book.thawed_at.get(&t.to)) {
                    (Some(a), Some(b)) => b.saturating_duration_since(*a).as_secs_f64(),
                    _ => 0.0,
                },
                ..t.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::transfer::Via;

    #[test]
    fn a_move_gathers_its_steps_and_its_vms_suspend_and_resume() {
        let t = Timings::default();
        t.suspended("a", 0.001);
        t.suspended("b", 0.5);
        t.checkpointed("x", "a", Some(42), 0.1, 0.01, 1 << 20);
        t.transferred(
            "x",
            0.2,
            Copied {
                bytes: 7,
                via: Via::Direct,
            },
        );
        t.restored("x", "b", Some(43), 0.03, 0.3);
        t.reattached("x", 0.02);
        t.resumed("b", 0.004);
        t.transferred("never-checkpointed", 1.0, Copied::default());
        let m = t.moves();
        assert_eq!(m.len(), 1);
        let m = &m[0];
        assert_eq!(
            (m.from.as_str(), m.to.as_str(), m.pid, m.restored_pid),
            ("a", "b", Some(42), Some(43))
        );
        assert!(m.checkpointed && m.image_bytes == 1 << 20 && m.wire_bytes == 7 && m.transfer_via == Via::Direct);
        assert_eq!((m.suspend_s, m.resume_s), (0.001, 0.004));
        assert!((m.reattach_s - 0.05).abs() < 1e-12 && m.restore_s == 0.3 && m.snapshot_s == 0.1);
    }
}
