//! Per-move scratch of the [`super::evaluator::Evaluator`].

use super::evaluator::Move;

/// Sparse per-move deltas over `0..len` indices (VMs or hosts): dense values
/// marked with the scratch's stamp so nothing is cleared between moves, and
/// the list of indices touched. The list is a fixed array with a count, not
/// a `Vec`: a push that may grow is a call, and around it the evaluator's
/// running sums would live on the stack instead of in registers.
#[derive(Debug, Clone)]
pub(super) struct Sparse {
    stamp: Vec<u32>,
    pub(super) delta: Vec<f64>,
    list: Box<[u32]>,
    len: usize,
}

impl Sparse {
    fn new(len: usize) -> Sparse {
        Sparse {
            stamp: vec![0; len],
            delta: vec![0.0; len],
            list: vec![0; len].into_boxed_slice(),
            len: 0,
        }
    }

    /// Add `x` to index `i`'s delta; true if `i` was not touched before in
    /// this move (stamp `now`).
    #[inline(always)]
    fn add(&mut self, now: u32, i: u32, x: f64) -> bool {
        let at = i as usize;
        if self.stamp[at] != now {
            self.stamp[at] = now;
            self.delta[at] = x;
            self.list[self.len] = i;
            self.len += 1;
            true
        } else {
            self.delta[at] += x;
            false
        }
    }

    /// The indices touched in this move.
    #[inline]
    pub(super) fn touched(&self) -> &[u32] {
        &self.list[..self.len]
    }

    #[inline]
    pub(super) fn is_touched(&self, now: u32, i: usize) -> bool {
        self.stamp[i] == now
    }

    fn reset(&mut self, clear_stamps: bool) {
        if clear_stamps {
            self.stamp.fill(0);
        }
        self.len = 0;
    }
}

/// Per-move scratch: deltas of the touched VMs, hosts and T_r(v).
#[derive(Debug, Clone)]
pub(super) struct Scratch {
    pub(super) stamp: u32,
    pub(super) vm: Sparse,
    pub(super) host: Sparse,
    pub(super) tr: Sparse,
    /// Per VM, the change of its migration count (with `tr`'s stamp).
    pub(super) tr_touch: Vec<i32>,
    pub(super) moved_delta: isize,
    /// Change of [`LocalShare`]'s sum and moves.
    pub(super) local_delta: (f64, isize),
    /// The move the scratch describes, and its score's spread (all that
    /// `apply` takes from it).
    pub(super) pending: Option<(Move, f64)>,
}

impl Scratch {
    pub(super) fn new(vms: usize, hosts: usize) -> Scratch {
        Scratch {
            stamp: 0,
            vm: Sparse::new(vms),
            host: Sparse::new(hosts),
            tr: Sparse::new(vms),
            tr_touch: vec![0; vms],
            moved_delta: 0,
            local_delta: (0.0, 0),
            pending: None,
        }
    }

    pub(super) fn begin(&mut self) {
        let wrap = self.stamp == u32::MAX;
        if wrap {
            self.stamp = 0;
        }
        self.stamp += 1;
        self.vm.reset(wrap);
        self.host.reset(wrap);
        self.tr.reset(wrap);
        self.moved_delta = 0;
        self.local_delta = (0.0, 0);
        self.pending = None;
    }

    #[inline(always)]
    pub(super) fn add_vm(&mut self, v: u32, x: f64) {
        self.vm.add(self.stamp, v, x);
    }

    #[inline(always)]
    pub(super) fn add_host(&mut self, h: u32, x: f64) {
        self.host.add(self.stamp, h, x);
    }

    #[inline]
    pub(super) fn add_tr(&mut self, v: u32, seconds: f64, touches: i32) {
        let i = v as usize;
        if self.tr.add(self.stamp, v, seconds) {
            self.tr_touch[i] = touches;
        } else {
            self.tr_touch[i] += touches;
        }
    }
}
