//! The vnodes with a neighbour on another VM, as a list the proposer draws
//! from in O(1), kept by the evaluator as moves change the counts.

/// A set of vnodes as a list and each member's place in it.
#[derive(Debug, Clone)]
pub(super) struct Boundary {
    list: Vec<u32>,
    slot: Vec<u32>,
}

const UNLISTED: u32 = u32::MAX;

impl Boundary {
    /// An empty set over `n` vnodes.
    pub(super) fn new(n: usize) -> Boundary {
        Boundary {
            list: Vec::new(),
            slot: vec![UNLISTED; n],
        }
    }

    /// Put vnode `n` in the list when it has `foreign` > 0 neighbours on
    /// other VMs, out of it when none. O(1); the list's order depends only
    /// on the sequence of calls (the proposer's draws, hence seeded
    /// results, depend on it).
    #[inline]
    pub(super) fn mark(&mut self, n: u32, foreign: u32) {
        let i = n as usize;
        let listed = self.slot[i] != UNLISTED;
        if foreign > 0 && !listed {
            self.slot[i] = self.list.len() as u32;
            self.list.push(n);
        } else if foreign == 0 && listed {
            let at = self.slot[i] as usize;
            self.list.swap_remove(at);
            if let Some(&other) = self.list.get(at) {
                self.slot[other as usize] = at as u32;
            }
            self.slot[i] = UNLISTED;
        }
    }

    /// The members, in no particular order.
    pub(super) fn list(&self) -> &[u32] {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::Boundary;

    #[test]
    fn marks_in_and_out_and_keeps_places() {
        let mut b = Boundary::new(5);
        for n in [0, 3, 4] {
            b.mark(n, 1);
        }
        b.mark(3, 2);
        assert_eq!(b.list(), &[0, 3, 4]);
        b.mark(0, 0);
        assert_eq!(b.list(), &[4, 3]);
        b.mark(4, 0);
        b.mark(1, 0);
        assert_eq!(b.list(), &[3]);
        b.mark(4, 1);
        assert_eq!(b.list(), &[3, 4]);
    }
}
