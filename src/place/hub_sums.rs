//! Link-rate sums per VM and per host for the vnodes of high degree ("hubs").
//!
//! Scoring a move of vnode n walks its links (model §2: every link's class,
//! same VM / same host / across hosts, sets its cost). On real router maps a
//! few vnodes carry hundreds of links (CAIDA AS-7018: one of 594 routers has
//! 449, the next 116): they were 2–3 % of the moves scored and ~60 % of the
//! links walked. For such a hub the sums of its link rates to each VM and to
//! each host tell the same: links to VMs off the two hosts a move touches
//! are across hosts before and after (one sum), and only the VMs of those
//! two hosts need a look of their own. A move of a hub then costs
//! O(VMs of two hosts) instead of O(degree); every applied move of one of
//! its neighbours shifts two entries of each row.
//!
//! ```
//! use netbalance::place::hub_sums::HubSums;
//! // vnode 0 linked to 1 (rate 5) and 2 (rate 7); VMs 0, 1 on host 0, VM 2 on host 1
//! let adj_start = [0, 2, 3, 4];
//! let adj = [(1, 5.0), (2, 7.0), (0, 5.0), (0, 7.0)];
//! let sums = HubSums::new(&adj_start, &adj, &[0, 1, 2], &[0, 0, 1], 2, 2);
//! let r = sums.row(0).unwrap();
//! assert!(sums.row(1).is_none());
//! assert_eq!((sums.vm(r), sums.host(r), sums.total(r)), (&[0.0, 5.0, 7.0][..], &[5.0, 7.0][..], 12.0));
//! ```
//!
//! Complexity: building O(|vnodes| + Σ hub degrees + hubs·(VMs + hosts));
//! memory hubs·(VMs + hosts), hubs ≤ 2·|links| / min degree.

/// The rows of the hubs.
#[derive(Debug, Clone)]
pub struct HubSums {
    /// Per vnode: its row, or `u32::MAX` if it is no hub.
    row: Vec<u32>,
    vms: usize,
    /// `vms + hosts`: per hub, Σ rate to the neighbours on each VM, then
    /// on each host (one row, so that a shift touches one slice).
    width: usize,
    sums: Vec<f64>,
    /// Σ rate of all links of each hub.
    total: Vec<f64>,
}

impl HubSums {
    /// Sums for the vnodes with at least `min_degree` links in the CSR
    /// adjacency (`adj_start`, `adj`) under `assign`; `vm_host` maps VMs to hosts.
    pub fn new(
        adj_start: &[u32],
        adj: &[(u32, f64)],
        assign: &[u32],
        vm_host: &[u32],
        hosts: usize,
        min_degree: usize,
    ) -> HubSums {
        let vms = vm_host.len();
        let mut row = vec![u32::MAX; assign.len()];
        let mut count = 0u32;
        for (n, r) in row.iter_mut().enumerate() {
            if (adj_start[n + 1] - adj_start[n]) as usize >= min_degree {
                *r = count;
                count += 1;
            }
        }
        let width = vms + hosts;
        let mut sums = HubSums {
            row,
            vms,
            width,
            sums: vec![0.0; count as usize * width],
            total: vec![0.0; count as usize],
        };
        for n in 0..assign.len() {
            let Some(r) = sums.row(n as u32) else { continue };
            for &(m, rate) in &adj[adj_start[n] as usize..adj_start[n + 1] as usize] {
                let v = assign[m as usize] as usize;
                sums.sums[r * width + v] += rate;
                sums.sums[r * width + vms + vm_host[v] as usize] += rate;
                sums.total[r] += rate;
            }
        }
        sums
    }

    /// Whether no vnode is a hub (then nothing needs to ask [`Self::row`]).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.total.is_empty()
    }

    /// The row of vnode `n`, if it is a hub.
    #[inline]
    pub fn row(&self, n: u32) -> Option<usize> {
        let r = self.row[n as usize];
        (r != u32::MAX).then_some(r as usize)
    }

    /// Σ rate to the neighbours on each VM.
    #[inline]
    pub fn vm(&self, r: usize) -> &[f64] {
        &self.sums[r * self.width..r * self.width + self.vms]
    }

    /// Σ rate to the neighbours on each host.
    #[inline]
    pub fn host(&self, r: usize) -> &[f64] {
        &self.sums[r * self.width + self.vms..(r + 1) * self.width]
    }

    /// Σ rate of all links of the hub.
    #[inline]
    pub fn total(&self, r: usize) -> f64 {
        self.total[r]
    }

    /// A neighbour of hub row `r` over a link of `rate` moved from VM
    /// `from` (host `hf`) to VM `to` (host `ht`).
    #[inline]
    pub fn shift(&mut self, r: usize, rate: f64, (from, hf): (u32, u32), (to, ht): (u32, u32)) {
        let row = &mut self.sums[r * self.width..(r + 1) * self.width];
        row[from as usize] -= rate;
        row[to as usize] += rate;
        if hf != ht {
            row[self.vms + hf as usize] -= rate;
            row[self.vms + ht as usize] += rate;
        }
    }
}
