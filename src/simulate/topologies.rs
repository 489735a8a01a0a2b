//! STAND-IN for `crate::topology::generate` (being written in parallel):
//! the paper's topologies by name. Only `grid` (40×40) until the topology
//! generators are on main; delete this file then and call
//! `topology::generate::paper`.

use crate::model::{Link, Topology, Vnode};

/// `w`×`h` grid, ids `n{i}` row-major, 4-neighbour links of 1000 Mbit/s.
pub fn grid(w: usize, h: usize) -> Topology {
    let vnodes = (0..w * h).map(|i| Vnode::new(format!("n{i}"))).collect();
    let mut links = Vec::new();
    for r in 0..h {
        for c in 0..w {
            let i = r * w + c;
            if c + 1 < w {
                links.push(Link { delay_ms: 1.0, ..Link::new(format!("n{i}"), format!("n{}", i + 1), 1000.0) });
            }
            if r + 1 < h {
                links.push(Link { delay_ms: 1.0, ..Link::new(format!("n{i}"), format!("n{}", i + w), 1000.0) });
            }
        }
    }
    Topology { vnodes, links }
}

/// The paper's topology called `name`, if this build can generate it.
pub fn paper(name: &str, _seed: u64) -> Option<Topology> {
    match name {
        "grid" => Some(grid(40, 40)),
        _ => None,
    }
}
