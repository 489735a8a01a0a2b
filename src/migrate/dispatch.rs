//! Which move starts when. Moves that share a VM (as source or destination)
//! run one after another, the others in parallel (model §3). Two rules:
//!
//! - **queues**: each VM takes its moves in the order of
//!   [`crate::cost::plan`]'s schedule; a move starts when it heads the queue
//!   of both its VMs;
//! - **greedy**: whenever VMs are idle, start every waiting move whose two
//!   VMs are idle, the move on the most loaded VM first (then the longest).
//!   It fills the gaps a fixed order leaves, and often reaches the lower
//!   bound max_v Σ mig(n) over the moves of v.
//!
//! [`Dispatcher::new`] simulates both with the modelled durations and keeps
//! the one that finishes first. Complexity: O(m² + m·V) per simulation for
//! m moves on V VMs.
//!
//! ```
//! use netbalance::migrate::dispatch::{Dispatcher, Order};
//! // VM 0 → 1 (1 s), 2 → 3 (1 s), 1 → 2 (1 s): the third waits for both others.
//! let moves = [(0, 1, 1.0), (2, 3, 1.0), (1, 2, 1.0)];
//! let d = Dispatcher::with_order(&moves, 4, Order::Greedy);
//! assert_eq!(d.simulate(&moves), 2.0);
//! ```

/// The rule in force.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// Per VM, the move indices in the order to run them.
    Queues(Vec<Vec<usize>>),
    Greedy,
}

/// Hands out the moves that may start now.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    order: Order,
    /// (from VM, to VM) per move.
    vms: Vec<(u32, u32)>,
    /// Greedy: the moves by priority.
    priority: Vec<usize>,
    busy: Vec<bool>,
    head: Vec<usize>,
    started: Vec<bool>,
}

impl Dispatcher {
    /// The better of the plan's queues (per VM index, the move indices in
    /// order: [`crate::cost::Plan::queues`]) and the greedy rule for `moves`
    /// (from, to, modelled seconds: [`crate::cost::Plan::timed`]).
    pub fn new(moves: &[(u32, u32, f64)], n_vms: usize, queues: &[Vec<usize>]) -> Dispatcher {
        let mut queues = queues.to_vec();
        queues.resize(n_vms, Vec::new());
        let greedy = Dispatcher::with_order(moves, n_vms, Order::Greedy);
        let planned = Dispatcher::with_order(moves, n_vms, Order::Queues(queues));
        if planned.simulate(moves) < greedy.simulate(moves) {
            planned
        } else {
            greedy
        }
    }

    pub fn with_order(moves: &[(u32, u32, f64)], n_vms: usize, order: Order) -> Dispatcher {
        let mut load = vec![0.0f64; n_vms];
        for &(a, b, t) in moves {
            load[a as usize] += t;
            load[b as usize] += t;
        }
        let mut priority: Vec<usize> = (0..moves.len()).collect();
        let key = |&(a, b, _): &(u32, u32, f64)| load[a as usize].max(load[b as usize]);
        priority.sort_by(|&x, &y| {
            key(&moves[y])
                .total_cmp(&key(&moves[x]))
                .then(moves[y].2.total_cmp(&moves[x].2))
                .then(x.cmp(&y))
        });
        Dispatcher {
            order,
            vms: moves.iter().map(|&(a, b, _)| (a, b)).collect(),
            priority,
            busy: vec![false; n_vms],
            head: vec![0; n_vms],
            started: vec![false; moves.len()],
        }
    }

    pub fn order(&self) -> &Order {
        &self.order
    }

    fn heads(&self, q: &[Vec<usize>], v: u32, m: usize) -> bool {
        q[v as usize].get(self.head[v as usize]) == Some(&m)
    }

    /// The moves to start now (marked started, their VMs busy).
    pub fn ready(&mut self) -> Vec<usize> {
        let candidates: Vec<usize> = match &self.order {
            Order::Greedy => self.priority.clone(),
            Order::Queues(q) => {
                let q = q.clone();
                (0..self.vms.len())
                    .filter(|&m| self.heads(&q, self.vms[m].0, m) && self.heads(&q, self.vms[m].1, m))
                    .collect()
            }
        };
        let mut out = Vec::new();
        for m in candidates {
            let (a, b) = self.vms[m];
            if !self.started[m] && !self.busy[a as usize] && !self.busy[b as usize] {
                self.started[m] = true;
                self.busy[a as usize] = true;
                self.busy[b as usize] = true;
                out.push(m);
            }
        }
        out
    }

    /// Move `m` ended: its VMs are free.
    pub fn done(&mut self, m: usize) {
        let (a, b) = self.vms[m];
        for v in [a, b] {
            self.busy[v as usize] = false;
            self.head[v as usize] += 1;
        }
    }

    /// The makespan of the moves under this rule, with the modelled
    /// durations (an event simulation; the dispatcher is not changed).
    pub fn simulate(&self, moves: &[(u32, u32, f64)]) -> f64 {
        let mut d = self.clone();
        let mut running: Vec<(f64, usize)> = Vec::new();
        let mut now = 0.0f64;
        let mut end = 0.0f64;
        loop {
            for m in d.ready() {
                running.push((now + moves[m].2, m));
                end = end.max(now + moves[m].2);
            }
            let Some(k) = (0..running.len()).min_by(|&x, &y| {
                running[x]
                    .0
                    .total_cmp(&running[y].0)
                    .then(running[x].1.cmp(&running[y].1))
            }) else {
                break;
            };
            let (t, m) = running.swap_remove(k);
            now = t;
            d.done(m);
        }
        debug_assert!(d.started.iter().all(|&s| s), "every move started");
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Both rules start every move once, never two on one VM, and the
        /// greedy rule never ends before the busiest VM's total.
        #[test]
        fn greedy_respects_vms_and_the_lower_bound(raw in proptest::collection::vec((0u32..6, 0u32..6, 0.1f64..2.0), 1..30)) {
            let moves: Vec<(u32, u32, f64)> = raw.into_iter().filter(|(a, b, _)| a != b).collect();
            prop_assume!(!moves.is_empty());
            let mut load = [0.0f64; 6];
            for &(a, b, t) in &moves {
                load[a as usize] += t;
                load[b as usize] += t;
            }
            let bound = load.iter().cloned().fold(0.0, f64::max);
            let serial: f64 = moves.iter().map(|m| m.2).sum();
            let d = Dispatcher::with_order(&moves, 6, Order::Greedy);
            let t = d.simulate(&moves);
            prop_assert!(t >= bound - 1e-9 && t <= serial + 1e-9, "{t} not in [{bound}, {serial}]");
            // Step by step (moves ending first-in first-out): never two
            // moves on one VM, every move started once.
            let mut d = d;
            let mut on = [0usize; 6];
            let mut running: std::collections::VecDeque<usize> = Default::default();
            let mut started = 0;
            loop {
                for m in d.ready() {
                    started += 1;
                    on[moves[m].0 as usize] += 1;
                    on[moves[m].1 as usize] += 1;
                    prop_assert!(on.iter().all(|&c| c <= 1), "two moves on one VM");
                    running.push_back(m);
                }
                let Some(m) = running.pop_front() else { break };
                on[moves[m].0 as usize] -= 1;
                on[moves[m].1 as usize] -= 1;
                d.done(m);
            }
            prop_assert_eq!(started, moves.len());
        }
    }
}
