//! A tournament tree: the maximum of `n` values and where it is, with
//! O(log n) point updates and a "maximum over the leaves not marked" query
//! that visits only the paths of marked leaves that win a match.
//!
//! ```
//! use netbalance::place::max_tree::MaxTree;
//! let mut t = MaxTree::new(&[0.5, 2.0, 1.0]);
//! assert_eq!((t.max(), t.argmax()), (2.0, 1));
//! // the maximum of the leaves other than 1
//! assert_eq!(t.max_excluding(|i| i == 1), 1.0);
//! t.set(2, 3.0);
//! assert_eq!((t.max(), t.argmax()), (3.0, 2));
//! ```
//!
//! Complexity: `set` O(log n); `max`/`argmax` O(1); `max_excluding` with k
//! marked leaves O(k log n) in the worst case, O(1) when the winner is
//! unmarked.

/// Leaf index used for padding leaves (never marked, value −∞).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub struct MaxTree {
    /// Number of leaves, a power of two ≥ the number of values.
    size: usize,
    /// Node values; node 1 is the root, leaves start at `size`.
    value: Vec<f64>,
    /// Leaf index holding each node's value.
    arg: Vec<u32>,
}

impl MaxTree {
    pub fn new(values: &[f64]) -> MaxTree {
        let size = values.len().max(1).next_power_of_two();
        let mut value = vec![f64::NEG_INFINITY; 2 * size];
        let mut arg = vec![NONE; 2 * size];
        for (i, &v) in values.iter().enumerate() {
            value[size + i] = v;
            arg[size + i] = i as u32;
        }
        let mut tree = MaxTree { size, value, arg };
        for node in (1..size).rev() {
            tree.value[node] = f64::NAN;
            tree.pull(node);
        }
        tree
    }

    /// Recompute a node from its children; false if nothing changed.
    #[inline]
    fn pull(&mut self, node: usize) -> bool {
        let (l, r) = (2 * node, 2 * node + 1);
        // Ties go to the left (lower index): deterministic and stable.
        let winner = if self.value[r] > self.value[l] { r } else { l };
        let (v, a) = (self.value[winner], self.arg[winner]);
        if self.value[node].to_bits() == v.to_bits() && self.arg[node] == a {
            return false;
        }
        self.value[node] = v;
        self.arg[node] = a;
        true
    }

    /// Set leaf `i` to `v`.
    #[inline]
    pub fn set(&mut self, i: usize, v: f64) {
        let mut node = self.size + i;
        self.value[node] = v;
        // Stop where a match result stays the same: the ancestors do too.
        while node > 1 {
            node /= 2;
            if !self.pull(node) {
                break;
            }
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        self.value[self.size + i]
    }

    /// The maximum (−∞ if there are no values).
    #[inline]
    pub fn max(&self) -> f64 {
        self.value[1]
    }

    /// The index of the (first) maximum.
    #[inline]
    pub fn argmax(&self) -> usize {
        self.arg[1] as usize
    }

    /// The maximum over the leaves for which `marked` is false (−∞ if none).
    #[inline]
    pub fn max_excluding(&self, marked: impl Fn(usize) -> bool + Copy) -> f64 {
        self.max_below(1, marked)
    }

    fn max_below(&self, node: usize, marked: impl Fn(usize) -> bool + Copy) -> f64 {
        let a = self.arg[node];
        if a == NONE || !marked(a as usize) {
            return self.value[node];
        }
        if node >= self.size {
            return f64::NEG_INFINITY;
        }
        self.max_below(2 * node, marked).max(self.max_below(2 * node + 1, marked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn max_excluding_matches_a_scan(
            values in prop::collection::vec(0.0f64..10.0, 1..40),
            updates in prop::collection::vec((0usize..40, 0.0f64..10.0), 0..20),
            marks in prop::collection::vec(any::<bool>(), 40),
        ) {
            let mut vals = values.clone();
            let mut t = MaxTree::new(&values);
            for (i, v) in updates {
                let i = i % vals.len();
                vals[i] = v;
                t.set(i, v);
            }
            let scan = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!(t.max(), scan);
            prop_assert_eq!(vals[t.argmax()], scan);
            let excl = vals.iter().enumerate().filter(|(i, _)| !marks[*i]).map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!(t.max_excluding(|i| marks[i]), excl);
        }
    }
}
