//! Names derived for the host side: network namespaces, cgroups, interfaces,
//! VXLAN ids and link addresses. They are short (Linux limits interface names
//! to 15 bytes), made of `[a-z0-9-]` only, and a function of the vnode id, the
//! VM name and the link's position, so that every VM derives the same names.
//!
//! vnode ids and VM names themselves are checked by
//! [`crate::model::names::check_name`] (`[A-Za-z0-9._-]`, 1–64 bytes).

use crate::error::{Error, Result};
use crate::model::names::check_name;
use std::net::Ipv4Addr;

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Crockford's base32 alphabet, lower case (no i, l, o, u).
const B32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// MurmurHash3's 64-bit finaliser: spreads FNV's weak high bits.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The first `len` (at most 12) base32 digits (5 bits each) of a name's hash.
pub fn short_hash(name: &str, len: usize) -> String {
    let h = fmix64(fnv1a(name.as_bytes()));
    (0..len)
        .map(|i| B32[((h >> (59 - 5 * i as u32)) & 31) as usize] as char)
        .collect()
}

/// Validate a vnode id / VM / host name for use on a host.
pub fn checked(kind: &str, name: &str) -> Result<()> {
    check_name(name).map_err(|m| Error::Host(format!("{kind} {name:?}: {m}")))
}

/// The cgroup (and state directory) of a vnode: `nb` + 8 base32 digits of its
/// id. It does not depend on the VM, so a migrated vnode keeps the same
/// cgroup path, which CRIU restores it into.
///
/// ```
/// let c = netbalance::testbed::names::cgroup_name("n0");
/// assert_eq!(c.len(), 10);
/// assert!(c.starts_with("nb"));
/// ```
pub fn cgroup_name(vnode: &str) -> String {
    format!("nb{}", short_hash(vnode, 8))
}

/// The network namespace of a vnode on a VM: `nb`, 8 digits of the vnode id,
/// `-`, 4 digits of the VM name (15 bytes). A vnode migrating between two VMs
/// of one machine gets a fresh namespace beside the old one.
///
/// ```
/// let ns = netbalance::testbed::names::netns_name("n0", "h0-v1");
/// assert!(ns.len() <= 15);
/// assert!(ns.starts_with(&netbalance::testbed::names::cgroup_name("n0")));
/// ```
pub fn netns_name(vnode: &str, vm: &str) -> String {
    format!("{}-{}", cgroup_name(vnode), short_hash(vm, 4))
}

/// The name of a vnode's `k`-th interface (its links in topology order).
pub fn ifname(k: usize) -> String {
    format!("eth{k}")
}

/// A temporary name for a VXLAN device in a VM's root namespace, before it
/// is moved into the vnode's namespace and renamed.
pub fn vxlan_tmp_name(link_index: usize) -> String {
    format!("nbx{link_index}")
}

/// Temporary names for the two ends (`a`, `b`) of a veth link as it is
/// made: the kernel (6.1, Debian 12) checks a new veth's name in the
/// namespace of the caller too, so `ethK` would collide with the VM's own
/// `eth0`; each end is renamed inside its namespace.
pub fn veth_tmp_names(link_index: usize) -> (String, String) {
    (format!("nbv{link_index}a"), format!("nbv{link_index}b"))
}

/// VXLAN network identifier of link `i` (1-based; 24 bits).
pub fn vxlan_id(link_index: usize) -> Result<u32> {
    let id = link_index as u64 + 1;
    if id >= (1 << 24) {
        return Err(Error::Host(format!("link {link_index}: too many links for VXLAN ids")));
    }
    Ok(id as u32)
}

/// The /30 of link `i` inside 10.64.0.0/10: end `a` gets .1, end `b` .2
/// (these addresses exist only inside the vnodes' namespaces).
///
/// ```
/// use std::net::Ipv4Addr;
/// let (a, b) = netbalance::testbed::names::link_addrs(1).unwrap();
/// assert_eq!((a, b), (Ipv4Addr::new(10, 64, 0, 5), Ipv4Addr::new(10, 64, 0, 6)));
/// ```
pub fn link_addrs(link_index: usize) -> Result<(Ipv4Addr, Ipv4Addr)> {
    const BASE: u32 = u32::from_be_bytes([10, 64, 0, 0]);
    const SPAN: u64 = 1 << 22; // a /10
    let off = 4 * link_index as u64;
    if off + 4 > SPAN {
        return Err(Error::Host(format!("link {link_index}: more than {} links", SPAN / 4)));
    }
    let net = BASE + off as u32;
    Ok((Ipv4Addr::from(net + 1), Ipv4Addr::from(net + 2)))
}

/// Prefix length of every link subnet.
pub const LINK_PREFIX: u8 = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn derived_names_fit_and_are_safe() {
        for id in ["n0", "a", "x".repeat(64).as_str(), "New_York.1-b"] {
            for vm in ["h0-v0", "h127-v63", "y".repeat(64).as_str()] {
                let ns = netns_name(id, vm);
                assert!(ns.len() <= IFNAME_MAX, "{ns}");
                assert!(
                    ns.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{ns}"
                );
            }
        }
        assert!(ifname(99_999_999_999).len() <= IFNAME_MAX);
        assert!(vxlan_tmp_name(9_999_999_999).len() <= IFNAME_MAX);
        assert!(veth_tmp_names(99_999_999_999).1.len() <= IFNAME_MAX);
    }

    #[test]
    fn names_are_stable_and_spread() {
        assert_eq!(cgroup_name("n0"), cgroup_name("n0"));
        assert_ne!(netns_name("n0", "h0-v0"), netns_name("n0", "h0-v1"));
        let set: HashSet<String> = (0..20_000).map(|i| cgroup_name(&format!("n{i}"))).collect();
        assert_eq!(set.len(), 20_000, "40-bit hashes collided on 20k ids");
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "",
            "a;rm -rf /",
            "$(reboot)",
            "a b",
            "-x",
            "../etc",
            "a\nb",
            &"z".repeat(65),
        ] {
            assert!(checked("vnode", bad).is_err(), "{bad:?} accepted");
        }
        assert!(checked("vnode", "n-0.a_b").is_ok());
    }

    #[test]
    fn link_addresses_do_not_overlap() {
        let (a0, b0) = link_addrs(0).unwrap();
        assert_eq!((a0, b0), (Ipv4Addr::new(10, 64, 0, 1), Ipv4Addr::new(10, 64, 0, 2)));
        let (a, _) = link_addrs(70_000).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 68, 69, 193));
        assert!(link_addrs(1 << 20).is_err());
        assert_eq!(vxlan_id(0).unwrap(), 1);
    }
}
