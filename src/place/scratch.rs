//! Per-move scratch of the [`super::evaluator::Evaluator`].

use super::evaluator::{Move, Score};

/// Per-move scratch: deltas of the touched VMs, hosts and T_r(v), kept dense
/// and marked with a stamp so nothing is cleared between moves.
#[derive(Debug, Clone)]
pub(super) struct Scratch {
    pub(super) stamp: u32,
    pub(super) vm_stamp: Vec<u32>,
    pub(super) vm_delta: Vec<f64>,
    pub(super) vms: Vec<u32>,
    pub(super) host_stamp: Vec<u32>,
    pub(super) host_delta: Vec<f64>,
    pub(super) hosts: Vec<u32>,
    pub(super) tr_stamp: Vec<u32>,
    pub(super) tr_delta: Vec<f64>,
    pub(super) tr_touch: Vec<i32>,
    pub(super) trs: Vec<u32>,
    pub(super) moved_delta: isize,
    /// Change of [`LocalShare`]'s sum and moves.
    pub(super) local_delta: (f64, isize),
    /// The move the scratch describes, and its score.
    pub(super) pending: Option<(Move, Score)>,
}

impl Scratch {
    pub(super) fn new(vms: usize, hosts: usize) -> Scratch {
        Scratch {
            stamp: 0,
            vm_stamp: vec![0; vms],
            vm_delta: vec![0.0; vms],
            vms: Vec::with_capacity(vms),
            host_stamp: vec![0; hosts],
            host_delta: vec![0.0; hosts],
            hosts: Vec::with_capacity(hosts),
            tr_stamp: vec![0; vms],
            tr_delta: vec![0.0; vms],
            tr_touch: vec![0; vms],
            trs: Vec::with_capacity(vms),
            moved_delta: 0,
            local_delta: (0.0, 0),
            pending: None,
        }
    }

    pub(super) fn begin(&mut self) {
        if self.stamp == u32::MAX {
            self.vm_stamp.fill(0);
            self.host_stamp.fill(0);
            self.tr_stamp.fill(0);
            self.stamp = 0;
        }
        self.stamp += 1;
        self.vms.clear();
        self.hosts.clear();
        self.trs.clear();
        self.moved_delta = 0;
        self.local_delta = (0.0, 0);
        self.pending = None;
    }

    #[inline]
    pub(super) fn add_vm(&mut self, v: u32, x: f64) {
        let i = v as usize;
        if self.vm_stamp[i] != self.stamp {
            self.vm_stamp[i] = self.stamp;
            self.vm_delta[i] = x;
            self.vms.push(v);
        } else {
            self.vm_delta[i] += x;
        }
    }

    #[inline]
    pub(super) fn add_host(&mut self, h: u32, x: f64) {
        let i = h as usize;
        if self.host_stamp[i] != self.stamp {
            self.host_stamp[i] = self.stamp;
            self.host_delta[i] = x;
            self.hosts.push(h);
        } else {
            self.host_delta[i] += x;
        }
    }

    #[inline]
    pub(super) fn add_tr(&mut self, v: u32, seconds: f64, touches: i32) {
        let i = v as usize;
        if self.tr_stamp[i] != self.stamp {
            self.tr_stamp[i] = self.stamp;
            self.tr_delta[i] = seconds;
            self.tr_touch[i] = touches;
            self.trs.push(v);
        } else {
            self.tr_delta[i] += seconds;
            self.tr_touch[i] += touches;
        }
    }
}
