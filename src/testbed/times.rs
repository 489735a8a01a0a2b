//! What the testbed driver measures of one move ([`MigrationTimes`]): the
//! wall time of each phase, the sizes moved, and what a mode adds
//! (pre-copy's rounds, post-copy's pages), with the two workload figures
//! model §3.1 takes from them: the dirty rate and the fault fraction.

use super::transfer::Via;
use crate::model::PhaseTimes;
use serde::Serialize;

/// Wall time of each phase of one vnode's migration (seconds) and the sizes moved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MigrationTimes {
    pub vnode: String,
    pub from: String,
    pub to: String,
    /// False for a vnode without a process: only its links moved.
    pub checkpointed: bool,
    pub suspend_s: f64,
    pub snapshot_s: f64,
    /// Waiting for the dumped tasks to be reaped (by their parent, often pid 1).
    pub reap_s: f64,
    pub transfer_s: f64,
    pub reattach_s: f64,
    pub restore_s: f64,
    pub resume_s: f64,
    pub total_s: f64,
    /// The experiment's pause for this move: from the start of its source
    /// VM's suspend to the end of its destination VM's resume.
    pub pause_s: f64,
    /// Post-copy only: how long the move's cleanup waited, after the
    /// resume, for the last pages to arrive (0 for stop-copy).
    pub pages_s: f64,
    /// Post-copy only: the pages the destination's daemon brought, and how
    /// many of them a fault of the restored tree waited for (pulled on
    /// demand; the rest came in the background). Their ratio is the move's
    /// measured fault fraction ([`MigrationTimes::fault_fraction`]).
    pub lazy_pages: u64,
    pub faulted_pages: u64,
    /// Pre-copy only: the rounds sent while the experiment ran, before
    /// the pause (their wall time, and each round's bytes; empty otherwise).
    pub pre_copy_s: f64,
    pub pre_copy_rounds: Vec<u64>,
    /// Each round's wall time (its pre-dump and its copy), seconds.
    pub pre_copy_round_s: Vec<f64>,
    /// CPU seconds per CPU that work outside the vnodes (criu, the copy)
    /// took on the busier of the two VMs while the rounds ran
    /// ([`crate::testbed::cpu`]); `None` if not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_copy_cpu_s: Option<f64>,
    /// Size of the CRIU images (pre-copy: of the last dirty set only).
    pub image_bytes: u64,
    /// Bytes sent between machines (0 when source and destination share one).
    pub wire_bytes: u64,
    /// How the images went: `none`, `local`, `ssh` or `direct` ([`super::transfer::copy`]).
    pub transfer_via: Via,
    /// The vnode's root pid on the source VM. The vnode is pid 1 of its own
    /// pid namespace; on the destination it may get another pid.
    pub pid: Option<u32>,
    /// The root's pid on the destination VM after the restore.
    pub restored_pid: Option<u32>,
}

impl MigrationTimes {
    /// Post-copy: the share of the pages that the vnode waited for, pulled
    /// on demand (model §3.1's `fault_fraction`, as measured on this move);
    /// `None` without lazy pages.
    pub fn fault_fraction(&self) -> Option<f64> {
        (self.lazy_pages > 0).then(|| (self.faulted_pages as f64 / self.lazy_pages as f64).min(1.0))
    }

    /// Pre-copy: the rate at which the vnode dirtied its memory while its
    /// rounds ran (MB/s, MB = 2^20 bytes), as model §3.1's `dirty_mb_s`
    /// means it: each round after the first sends what was dirtied since
    /// the one before began, so d = Σ_{i≥1} D_i / Σ_{i<k−1} t_i over k
    /// rounds of D_i bytes and t_i seconds. `None` under two rounds.
    pub fn dirty_mb_s(&self) -> Option<f64> {
        let k = self.pre_copy_rounds.len().min(self.pre_copy_round_s.len());
        if k < 2 {
            return None;
        }
        let dirtied: u64 = self.pre_copy_rounds[1..k].iter().sum();
        let during: f64 = self.pre_copy_round_s[..k - 1].iter().sum();
        (during > 0.0).then(|| dirtied as f64 / (1024.0 * 1024.0) / during)
    }

    /// Pre-copy: the share of its VM's CPU the rounds took from the
    /// experiment while they ran (model §3.1's `round_fraction`, as
    /// measured on this move: [`MigrationTimes::pre_copy_cpu_s`] over the
    /// rounds' wall time, at most 1); `None` without rounds or the figure.
    pub fn round_fraction(&self) -> Option<f64> {
        let cpu = self.pre_copy_cpu_s?;
        (self.pre_copy_s > 0.0).then(|| (cpu / self.pre_copy_s).min(1.0))
    }

    /// One line for people: the move, its pause and phases, and what the
    /// mode adds (pre-copy's rounds, post-copy's pages).
    pub fn summary(&self) -> String {
        let ms = |s: f64| format!("{:.0} ms", s * 1e3);
        if !self.checkpointed {
            return format!(
                "moved {} {} -> {}: links only, pause {}",
                self.vnode,
                self.from,
                self.to,
                ms(self.pause_s)
            );
        }
        let mut line = format!(
            "moved {} {} -> {}: pause {} (snapshot {}, transfer {}, restore {}), images {:.1} MB via {}",
            self.vnode,
            self.from,
            self.to,
            ms(self.pause_s),
            ms(self.snapshot_s + self.reap_s),
            ms(self.transfer_s),
            ms(self.restore_s),
            self.image_bytes as f64 / 1e6,
            self.transfer_via.name()
        );
        if !self.pre_copy_rounds.is_empty() {
            let mb: u64 = self.pre_copy_rounds.iter().sum();
            line += &format!(
                "; {} pre-copy round(s) ahead, {:.1} MB in {:.1} s",
                self.pre_copy_rounds.len(),
                mb as f64 / 1e6,
                self.pre_copy_s
            );
            if let Some(d) = self.dirty_mb_s() {
                line += &format!(", the vnode dirtying {d:.2} MB/s");
            }
            if let Some(f) = self.round_fraction() {
                line += &format!(", taking {:.0} % of a VM's CPU (round fraction {f:.3})", f * 100.0);
            }
        }
        if let Some(f) = self.fault_fraction() {
            line += &format!(
                "; pages all arrived {:.2} s later, {} of {} on demand (fault fraction {f:.4})",
                self.pages_s, self.faulted_pages, self.lazy_pages
            );
        }
        line
    }

    /// The model's phases (model §3). Reaping is counted in the snapshot: the
    /// pid is not free for the restore before it.
    pub fn phases(&self) -> PhaseTimes {
        PhaseTimes {
            suspend_s: self.suspend_s,
            snapshot_s: self.snapshot_s + self.reap_s,
            transfer_s: self.transfer_s,
            restore_s: self.restore_s,
            reattach_s: self.reattach_s,
            resume_s: self.resume_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_rate_is_what_later_rounds_sent_over_the_rounds_before() {
        let mib = 1024 * 1024;
        let mut t = MigrationTimes {
            checkpointed: true,
            pre_copy_rounds: vec![64 * mib, 4 * mib, 2 * mib],
            pre_copy_round_s: vec![8.0, 2.0, 1.0],
            ..MigrationTimes::default()
        };
        // (4 + 2) MB dirtied while the first two rounds ran (10 s).
        assert!((t.dirty_mb_s().unwrap() - 0.6).abs() < 1e-12);
        assert!(t.summary().contains("3 pre-copy round(s) ahead"), "{}", t.summary());
        assert!(t.summary().contains("the vnode dirtying 0.60 MB/s"), "{}", t.summary());
        t.pre_copy_rounds.truncate(1);
        assert_eq!(t.dirty_mb_s(), None, "one round says nothing of the rate");
        assert!(!t.summary().contains("dirtying"));
    }

    #[test]
    fn round_fraction_is_the_cpu_the_rounds_took_over_their_time() {
        let mut t = MigrationTimes {
            checkpointed: true,
            pre_copy_rounds: vec![64 << 20, 1 << 20],
            pre_copy_round_s: vec![3.0, 1.0],
            pre_copy_s: 4.0,
            pre_copy_cpu_s: Some(1.0),
            ..MigrationTimes::default()
        };
        assert_eq!(t.round_fraction(), Some(0.25));
        assert!(
            t.summary().contains("taking 25 % of a VM's CPU (round fraction 0.250)"),
            "{}",
            t.summary()
        );
        t.pre_copy_cpu_s = Some(9.0);
        assert_eq!(t.round_fraction(), Some(1.0), "never more than the whole CPU");
        t.pre_copy_cpu_s = None;
        assert_eq!(t.round_fraction(), None);
        assert!(!t.summary().contains("round fraction"));
    }

    #[test]
    fn fault_fraction_is_the_share_of_lazy_pages_pulled_on_demand() {
        let mut t = MigrationTimes {
            checkpointed: true,
            lazy_pages: 780,
            faulted_pages: 18,
            pages_s: 0.42,
            ..MigrationTimes::default()
        };
        assert!((t.fault_fraction().unwrap() - 18.0 / 780.0).abs() < 1e-12);
        assert!(
            t.summary().ends_with("18 of 780 on demand (fault fraction 0.0231)"),
            "{}",
            t.summary()
        );
        t.lazy_pages = 0;
        assert_eq!(t.fault_fraction(), None, "stop-copy: no lazy pages");
        assert!(!t.summary().contains("on demand"));
    }
}
