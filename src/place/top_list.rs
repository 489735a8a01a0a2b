//! The largest of `n` values under point updates: a short sorted list of the
//! leaders (at most [`CAP`]) in front of an unsorted array. Every value off
//! the list is known to rank behind every value on it, so the maximum is the
//! list's head and "the maximum of the values not marked" is the first
//! unmarked entry; a full scan is needed only when every entry is marked or
//! the list has run short.
//!
//! The annealer asks for "τ after this move" millions of times a second: a
//! move changes two to six of the 64 VM loads, and the answer is the largest
//! load it did not touch, compared with the touched ones. A tournament tree
//! (the previous structure) walks the paths of touched winners; the list
//! answers after one to three entries.
//!
//! Order: larger value first, ties to the lower index (deterministic).
//!
//! ```
//! use netbalance::place::top_list::TopList;
//! let mut t = TopList::new(&[0.5, 2.0, 1.0]);
//! assert_eq!((t.max(), t.argmax()), (2.0, 1));
//! // the maximum of the values other than 1
//! assert_eq!(t.max_excluding(|i| i == 1), 1.0);
//! t.set(2, 3.0);
//! assert_eq!((t.max(), t.argmax()), (3.0, 2));
//! ```
//!
//! Complexity: `max`/`argmax`/`get` O(1); `set` O(CAP), plus an O(n) rebuild
//! when decreases have pushed all but a few entries off the list;
//! `max_excluding` with k marked values O(k + 1) if fewer than the list's
//! length are marked among its leaders, else O(n).

/// Longest list kept.
pub const CAP: usize = 16;
/// The list is rebuilt when it gets shorter than this (or than n).
const MIN_LEN: usize = 6;
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub struct TopList {
    values: Vec<f64>,
    /// Indices of the leaders, best first.
    top: Vec<u32>,
    /// Position of every index in `top`, or `NONE`.
    pos: Vec<u32>,
    /// Scratch for rebuilds.
    order: Vec<u32>,
}

impl TopList {
    pub fn new(values: &[f64]) -> TopList {
        let mut t = TopList {
            values: values.to_vec(),
            top: Vec::with_capacity(CAP + 1),
            pos: vec![NONE; values.len()],
            order: Vec::new(),
        };
        t.rebuild();
        t
    }

    /// Whether index `a` ranks before index `b`.
    #[inline]
    fn ahead(&self, a: u32, b: u32) -> bool {
        let (va, vb) = (self.values[a as usize], self.values[b as usize]);
        va > vb || (va == vb && a < b)
    }

    fn rebuild(&mut self) {
        for &i in &self.top {
            self.pos[i as usize] = NONE;
        }
        self.top.clear();
        let n = self.values.len();
        if n == 0 {
            return;
        }
        let keep = n.min(CAP);
        self.order.clear();
        self.order.extend(0..n as u32);
        let values = &self.values;
        let cmp = |a: &u32, b: &u32| values[*b as usize].total_cmp(&values[*a as usize]).then(a.cmp(b));
        if keep < n {
            self.order.select_nth_unstable_by(keep - 1, cmp);
        }
        self.order.truncate(keep);
        self.order.sort_unstable_by(cmp);
        for (p, &i) in self.order.iter().enumerate() {
            self.pos[i as usize] = p as u32;
        }
        self.top.extend_from_slice(&self.order);
    }

    /// Put `top[p]` where it belongs by moving it towards the front.
    #[inline]
    fn rise(&mut self, mut p: usize) -> usize {
        let i = self.top[p];
        while p > 0 && self.ahead(i, self.top[p - 1]) {
            self.top[p] = self.top[p - 1];
            self.pos[self.top[p] as usize] = p as u32;
            p -= 1;
        }
        self.top[p] = i;
        self.pos[i as usize] = p as u32;
        p
    }

    /// Set value `i` to `v`.
    #[inline]
    pub fn set(&mut self, i: usize, v: f64) {
        let old = self.values[i];
        self.values[i] = v;
        let p = self.pos[i];
        if p != NONE {
            let mut p = p as usize;
            if v >= old {
                self.rise(p);
                return;
            }
            let len = self.top.len();
            while p + 1 < len && self.ahead(self.top[p + 1], i as u32) {
                self.top[p] = self.top[p + 1];
                self.pos[self.top[p] as usize] = p as u32;
                p += 1;
            }
            self.top[p] = i as u32;
            self.pos[i] = p as u32;
            if p + 1 == len && len < self.values.len() {
                // Last after a decrease: a value off the list may now rank
                // before it.
                self.top.pop();
                self.pos[i] = NONE;
                if self.top.len() < MIN_LEN {
                    self.rebuild();
                }
            }
        } else if let Some(&last) = self.top.last() {
            if self.ahead(i as u32, last) {
                self.top.push(i as u32);
                self.rise(self.top.len() - 1);
                if self.top.len() > CAP {
                    let out = self.top.pop().expect("non-empty");
                    self.pos[out as usize] = NONE;
                }
            }
        } else {
            self.rebuild();
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        self.values[i]
    }

    /// The maximum (−∞ if there are no values).
    #[inline]
    pub fn max(&self) -> f64 {
        self.top.first().map_or(f64::NEG_INFINITY, |&i| self.values[i as usize])
    }

    /// The index of the (first) maximum; 0 if there are no values.
    #[inline]
    pub fn argmax(&self) -> usize {
        self.top.first().map_or(0, |&i| i as usize)
    }

    /// The maximum over the values for which `marked` is false (−∞ if none).
    #[inline]
    pub fn max_excluding(&self, marked: impl Fn(usize) -> bool) -> f64 {
        for &i in &self.top {
            if !marked(i as usize) {
                return self.values[i as usize];
            }
        }
        if self.top.len() == self.values.len() {
            return f64::NEG_INFINITY;
        }
        self.scan_excluding(marked)
    }

    #[cold]
    fn scan_excluding(&self, marked: impl Fn(usize) -> bool) -> f64 {
        self.values
            .iter()
            .enumerate()
            .filter(|(i, _)| !marked(*i))
            .map(|(_, &v)| v)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_scan(
            values in prop::collection::vec(0.0f64..10.0, 1..80),
            updates in prop::collection::vec((0usize..80, 0.0f64..10.0, any::<bool>()), 0..300),
            marks in prop::collection::vec(any::<bool>(), 80),
        ) {
            let mut vals = values.clone();
            let mut t = TopList::new(&values);
            for (i, v, small) in updates {
                let i = i % vals.len();
                // Also ties and repeated values: round half the updates.
                let v = if small { v.round() } else { v };
                vals[i] = v;
                t.set(i, v);
                let scan = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                prop_assert_eq!(t.max(), scan);
                prop_assert_eq!(t.argmax(), vals.iter().position(|&x| x == scan).unwrap());
            }
            let excl = vals.iter().enumerate().filter(|(i, _)| !marks[*i]).map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!(t.max_excluding(|i| marks[i]), excl);
            for (i, &v) in vals.iter().enumerate() {
                prop_assert_eq!(t.get(i), v);
            }
        }
    }

    #[test]
    fn few_marked_never_scan_and_many_do() {
        let values: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let t = TopList::new(&values);
        assert_eq!(t.max_excluding(|i| i >= 97), 96.0);
        assert_eq!(t.max_excluding(|i| i >= 50), 49.0);
        assert_eq!(t.max_excluding(|_| true), f64::NEG_INFINITY);
        assert_eq!(TopList::new(&[]).max(), f64::NEG_INFINITY);
    }
}
