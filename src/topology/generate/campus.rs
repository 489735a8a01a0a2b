//! The multi-campus benchmark (after the DARPA NMS / SSFNet "campus"
//! baseline): campuses of LANs behind routers, joined in a backbone ring.

use super::with_ids;
use crate::model::Topology;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Vnodes per campus: 3 core routers + 1 server router + 4 servers + 12 LAN
/// routers + 48 LAN switches + 480 clients = 548.
pub const CAMPUS_NODES: usize = 548;
const LAN_ROUTERS: usize = 12;
const LANS_PER_ROUTER: usize = 4;
const CLIENTS_PER_LAN: usize = 10;
const SERVERS: usize = 4;

/// `campuses` copies of one campus, 548 vnodes each (10 campuses = the
/// paper's 5,480). A campus, as in the NMS baseline, has four networks:
/// net0, three core routers in a triangle (`c{k}-core0` is the border
/// router); net1, a router `c{k}-srvgw` with four servers `c{k}-srv{i}`;
/// net2 and net3, chains of 7 and 5 LAN routers `c{k}-r{j}` hanging off
/// core1 and core2. Every LAN router serves four LANs, each a switch
/// `c{k}-r{j}-lan{l}` with ten clients `c{k}-r{j}-lan{l}-h{m}` (the NMS
/// baseline has 42 clients per router; 40 here, so that a LAN is a star).
/// The border routers form a ring; for 4 or more campuses, ⌊campuses/2⌋
/// chords between random non-adjacent campuses (chosen by `seed`) make it a
/// backbone. Connected by construction.
///
/// ```
/// use netbalance::topology::generate::campus;
/// let t = campus(10, 1);
/// assert_eq!(t.vnodes.len(), 5480);
/// assert_eq!(t.vnodes[0].id, "c0-core0");
/// ```
/// Complexity: O(campuses²) for choosing chords, O(campuses) otherwise.
pub fn campus(campuses: usize, seed: u64) -> Topology {
    let mut ids = Vec::with_capacity(campuses * CAMPUS_NODES);
    let mut edges = Vec::new();
    let mut borders = Vec::with_capacity(campuses);
    for k in 0..campuses {
        borders.push(ids.len());
        one_campus(k, &mut ids, &mut edges);
    }
    let mut backbone: Vec<(usize, usize)> = match campuses {
        0 | 1 => vec![],
        2 => vec![(0, 1)],
        _ => (0..campuses).map(|i| (i, (i + 1) % campuses)).collect(),
    };
    if campuses >= 4 {
        let ring_neighbours = |a: usize, b: usize| (a + 1) % campuses == b || (b + 1) % campuses == a;
        let mut chords: Vec<(usize, usize)> = (0..campuses)
            .flat_map(|a| (a + 1..campuses).map(move |b| (a, b)))
            .filter(|&(a, b)| !ring_neighbours(a, b))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        chords.shuffle(&mut rng);
        backbone.extend(chords.into_iter().take(campuses / 2));
    }
    edges.extend(backbone.into_iter().map(|(a, b)| (borders[a], borders[b])));
    with_ids(ids, &edges)
}

/// Append campus `k`'s vnodes and internal links.
fn one_campus(k: usize, ids: &mut Vec<String>, edges: &mut Vec<(usize, usize)>) {
    let add = |ids: &mut Vec<String>, name: String| {
        ids.push(format!("c{k}-{name}"));
        ids.len() - 1
    };
    let core: Vec<usize> = (0..3).map(|i| add(ids, format!("core{i}"))).collect();
    edges.extend([(core[0], core[1]), (core[1], core[2]), (core[0], core[2])]);
    let srvgw = add(ids, "srvgw".into());
    edges.push((core[0], srvgw));
    for i in 0..SERVERS {
        let s = add(ids, format!("srv{i}"));
        edges.push((srvgw, s));
    }
    let mut previous = None;
    for j in 0..LAN_ROUTERS {
        let r = add(ids, format!("r{j}"));
        // net2 = r0..r6 from core1, net3 = r7..r11 from core2; each a chain.
        match (j, previous) {
            (0, _) => edges.push((core[1], r)),
            (7, _) => edges.push((core[2], r)),
            (_, Some(p)) => edges.push((p, r)),
            (_, None) => unreachable!("every router but the first has a predecessor"),
        }
        previous = Some(r);
        for l in 0..LANS_PER_ROUTER {
            let switch = add(ids, format!("r{j}-lan{l}"));
            edges.push((r, switch));
            for m in 0..CLIENTS_PER_LAN {
                let client = add(ids, format!("r{j}-lan{l}-h{m}"));
                edges.push((switch, client));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::generate::tests::check;

    #[test]
    fn every_campus_has_548_nodes_and_the_backbone_is_a_ring_with_chords() {
        for k in 0..7 {
            let t = campus(k, 5);
            assert_eq!(t.vnodes.len(), k * CAMPUS_NODES);
            check(&t);
            let inter = t
                .links
                .iter()
                .filter(|l| l.a.split('-').next() != l.b.split('-').next())
                .count();
            let expected = match k {
                0 | 1 => 0,
                2 => 1,
                3 => 3,
                _ => k + k / 2,
            };
            assert_eq!(inter, expected, "{k} campuses");
        }
        // One campus is a tree plus the core triangle: n − 1 + 1 links.
        assert_eq!(campus(1, 0).links.len(), CAMPUS_NODES);
    }

    #[test]
    fn the_seed_chooses_the_chords() {
        let chords = |seed| {
            campus(10, seed)
                .links
                .into_iter()
                .filter(|l| l.a.split('-').next() != l.b.split('-').next())
                .map(|l| (l.a, l.b))
                .collect::<Vec<_>>()
        };
        assert_eq!(chords(1), chords(1));
        assert!((2..6).any(|s| chords(s) != chords(1)));
    }
}
