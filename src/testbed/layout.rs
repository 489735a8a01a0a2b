//! The derived names and addresses of a topology ([`Layout`]): per vnode
//! its cgroup/state name and the ends of its links (interface names, /30
//! addresses, rate limits), the same on every VM and under every placement.

use super::names::{self, checked};
use crate::error::{Error, Result};
use crate::model::Topology;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

/// One end of a link, as seen from its vnode.
#[derive(Debug, Clone, PartialEq)]
pub struct Iface {
    /// Index of the link in the topology.
    pub link: usize,
    /// Interface name inside the vnode's namespace (`eth<k>`).
    pub name: String,
    pub addr: Ipv4Addr,
    pub peer: String,
    pub peer_if: String,
    pub peer_addr: Ipv4Addr,
    /// Rate limit of this end's egress (Mbit/s; 0: none).
    pub mbps: f64,
}

/// What every VM needs to know about a vnode, independent of placement.
#[derive(Debug, Clone, PartialEq)]
pub struct VnodeLayout {
    pub id: String,
    /// cgroup and state-directory name.
    pub cgroup: String,
    pub run: Option<String>,
    pub memory_mb: f64,
    pub ifaces: Vec<Iface>,
}

/// The derived names and addresses of a topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub vnodes: BTreeMap<String, VnodeLayout>,
    /// (a, b, delay_ms) per link, by topology index.
    pub links: Vec<(String, String, f64)>,
}

impl Layout {
    /// Derive names and addresses; refuse unsafe ids and hash collisions.
    pub fn new(topo: &Topology) -> Result<Layout> {
        let mut vnodes = BTreeMap::new();
        let mut by_cgroup: HashMap<String, String> = HashMap::new();
        for n in &topo.vnodes {
            checked("vnode", &n.id)?;
            let cg = names::cgroup_name(&n.id);
            if let Some(other) = by_cgroup.insert(cg.clone(), n.id.clone()) {
                return Err(Error::Host(format!(
                    "vnode ids {other:?} and {:?} hash to the same name {cg}; rename one",
                    n.id
                )));
            }
            vnodes.insert(
                n.id.clone(),
                VnodeLayout {
                    id: n.id.clone(),
                    cgroup: cg,
                    run: n.run.clone(),
                    memory_mb: n.memory_mb,
                    ifaces: Vec::new(),
                },
            );
        }
        let mut links = Vec::with_capacity(topo.links.len());
        for (i, l) in topo.links.iter().enumerate() {
            let (addr_a, addr_b) = names::link_addrs(i)?;
            let ka = vnodes
                .get(&l.a)
                .map(|v| v.ifaces.len())
                .ok_or_else(|| Error::Host(format!("link {i}: no vnode {:?}", l.a)))?;
            let kb = vnodes
                .get(&l.b)
                .map(|v| v.ifaces.len())
                .ok_or_else(|| Error::Host(format!("link {i}: no vnode {:?}", l.b)))?;
            let (if_a, if_b) = (names::ifname(ka), names::ifname(kb));
            vnodes.get_mut(&l.a).unwrap().ifaces.push(Iface {
                link: i,
                name: if_a.clone(),
                addr: addr_a,
                peer: l.b.clone(),
                peer_if: if_b.clone(),
                peer_addr: addr_b,
                mbps: l.mbps,
            });
            vnodes.get_mut(&l.b).unwrap().ifaces.push(Iface {
                link: i,
                name: if_b,
                addr: addr_b,
                peer: l.a.clone(),
                peer_if: if_a,
                peer_addr: addr_a,
                mbps: l.mbps,
            });
            links.push((l.a.clone(), l.b.clone(), l.delay_ms));
        }
        Ok(Layout { vnodes, links })
    }

    pub fn vnode(&self, id: &str) -> Result<&VnodeLayout> {
        self.vnodes
            .get(id)
            .ok_or_else(|| Error::Host(format!("no vnode {id:?} in the topology")))
    }

    /// The end of link `i` that belongs to vnode `id`.
    pub fn iface(&self, id: &str, link: usize) -> Result<&Iface> {
        self.vnode(id)?
            .ifaces
            .iter()
            .find(|f| f.link == link)
            .ok_or_else(|| Error::Host(format!("vnode {id:?} has no end of link {link}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Link, Vnode};

    fn topo() -> Topology {
        let mut t = Topology::default();
        for i in 0..3 {
            t.vnodes.push(Vnode::new(format!("n{i}")));
        }
        t.links.push(Link::new("n0", "n1", 100.0));
        t.links.push(Link::new("n1", "n2", 10.0));
        t
    }

    #[test]
    fn layout_names_interfaces_in_link_order() {
        let l = Layout::new(&topo()).unwrap();
        let n1 = &l.vnodes["n1"];
        assert_eq!(n1.ifaces.len(), 2);
        assert_eq!(
            (
                n1.ifaces[0].name.as_str(),
                n1.ifaces[0].peer.as_str(),
                n1.ifaces[0].peer_if.as_str()
            ),
            ("eth0", "n0", "eth0")
        );
        assert_eq!((n1.ifaces[1].name.as_str(), n1.ifaces[1].peer.as_str()), ("eth1", "n2"));
        assert_eq!(n1.ifaces[0].addr, Ipv4Addr::new(10, 64, 0, 2));
        assert_eq!(l.iface("n2", 1).unwrap().addr, Ipv4Addr::new(10, 64, 0, 6));
    }

    #[test]
    fn layout_refuses_unsafe_ids() {
        let mut t = topo();
        t.vnodes.push(Vnode::new("x;reboot"));
        assert!(Layout::new(&t).is_err());
    }
}
