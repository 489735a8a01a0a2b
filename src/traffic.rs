//! The paper's video-sensor workload as a real program, for live runs
//! (`netbalance traffic`, hidden): run as each vnode's `run` command, every
//! vnode but the sink sends `mbps` Mbit/s of UDP towards the sink and relays
//! what it receives one hop further, along the same shortest-path tree as
//! the simulation ([`crate::simulate::scenario::routes_with`]: BFS from the
//! sink, ties to the lowest-index neighbour). Each packet it handles (sent,
//! relayed or received) is processed (passes over its payload) until this
//! thread has spent c_proc CPU-seconds per Mbit of it, on top of what the
//! sockets cost, so the CPU a vnode burns grows with the traffic through it
//! and shows up in its cgroup, as the model's c_proc × (Mbit in + Mbit out)
//! says (model §6). Measured in thread CPU time, the same on any build or
//! machine (an emulated VM included).
//!
//! The sink is named in a file (`--sink-file`) re-read every second: the
//! sink moves when the file changes. The next hop is the peer's address on
//! the link towards it (the testbed's /30 link addresses, see
//! [`crate::testbed::names::link_addrs`]), so traffic takes exactly the
//! emulated links and nothing is routed by the kernel.
//!
//! Every `report_s` seconds one NDJSON line goes to stdout:
//! `{"t":…,"sink":…,"next_hop":…,"sent":…,"relayed":…,"received":…,"dropped":…}`
//! (counts since start; `t` in seconds of the process's monotonic clock).

use crate::error::{Error, Result};
use crate::model::Topology;
use crate::simulate::scenario::routes_with;
use crate::testbed::names::link_addrs;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Bytes of UDP payload per packet.
pub const PACKET_BYTES: usize = 1200;

/// What one vnode's traffic program does.
#[derive(Debug, Clone)]
pub struct Relay {
    pub vnode: String,
    /// Mbit/s this vnode generates (the sink generates nothing).
    pub mbps: f64,
    /// UDP port every vnode listens on.
    pub port: u16,
    /// CPU-seconds spent per Mbit handled (model §6's c_proc).
    pub c_proc: f64,
    pub sink_file: PathBuf,
    /// Seconds between two report lines (0: none).
    pub report_s: f64,
}

/// One report line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub t: f64,
    pub sink: Option<String>,
    pub next_hop: Option<Ipv4Addr>,
    pub sent: u64,
    pub relayed: u64,
    pub received: u64,
    /// Sends that failed (no route yet, buffer full, link being re-attached).
    pub dropped: u64,
}

/// The next hops of a topology: per sink, per vnode, the address to send to.
#[derive(Debug, Clone)]
pub struct Tree {
    index: HashMap<String, u32>,
    adj: Vec<Vec<(u32, u32)>>,
    /// Per link, its two ends' vnode indices.
    ends: Vec<(u32, u32)>,
}

impl Tree {
    pub fn new(topo: &Topology) -> Result<Tree> {
        let index: HashMap<String, u32> = topo
            .vnodes
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.clone(), i as u32))
            .collect();
        let mut adj = vec![Vec::new(); topo.vnodes.len()];
        let mut ends = Vec::with_capacity(topo.links.len());
        for (e, l) in topo.links.iter().enumerate() {
            let end = |id: &str| {
                index
                    .get(id)
                    .copied()
                    .ok_or_else(|| Error::usage(format!("traffic: link {e} names no vnode {id:?}")))
            };
            let (a, b) = (end(&l.a)?, end(&l.b)?);
            adj[a as usize].push((b, e as u32));
            adj[b as usize].push((a, e as u32));
            ends.push((a, b));
        }
        for list in &mut adj {
            list.sort_unstable();
        }
        Ok(Tree { index, adj, ends })
    }

    /// Where `me` sends towards `sink`: the peer's address on the link of
    /// its parent in the routing tree; `None` for the sink itself, an
    /// unreachable vnode or an unknown id.
    ///
    /// Complexity: O(|vnodes| + |links|) (one BFS).
    ///
    /// ```
    /// use netbalance::model::{Link, Topology, Vnode};
    /// use netbalance::traffic::Tree;
    /// // n0 - n1 - n2: link 0 is 10.64.0.1/.2, link 1 10.64.0.5/.6
    /// let topo = Topology {
    ///     vnodes: vec![Vnode::new("n0"), Vnode::new("n1"), Vnode::new("n2")],
    ///     links: vec![Link::new("n0", "n1", 100.0), Link::new("n1", "n2", 100.0)],
    /// };
    /// let tree = Tree::new(&topo).unwrap();
    /// assert_eq!(tree.next_hop("n0", "n2").unwrap().to_string(), "10.64.0.2");
    /// assert_eq!(tree.next_hop("n1", "n2").unwrap().to_string(), "10.64.0.6");
    /// assert_eq!(tree.next_hop("n1", "n0").unwrap().to_string(), "10.64.0.1");
    /// assert_eq!(tree.next_hop("n2", "n2"), None);
    /// ```
    pub fn next_hop(&self, me: &str, sink: &str) -> Option<Ipv4Addr> {
        let (&me, &sink) = (self.index.get(me)?, self.index.get(sink)?);
        let routes = routes_with(&self.adj, sink);
        let (_, link) = routes.parent[me as usize]?;
        let (addr_a, addr_b) = link_addrs(link as usize).ok()?;
        // The peer's end: `a` is the link's first vnode.
        Some(if self.ends[link as usize].0 == me {
            addr_b
        } else {
            addr_a
        })
    }
}

/// One pass over a packet's payload; returns a digest (stored in its first
/// 8 bytes, so that the work is not optimised away).
pub fn digest(payload: &mut [u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in payload.chunks_exact(8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap());
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    if payload.len() >= 8 {
        payload[..8].copy_from_slice(&h.to_le_bytes());
    }
    h
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Process a packet: passes over its payload until this thread has spent
/// `cpu` (at least one pass). A restore (CRIU) starts the thread's CPU
/// clock again from about zero: a clock gone back ends the packet.
pub fn process(payload: &mut [u8], cpu: Duration) {
    let start = thread_cpu();
    loop {
        digest(payload);
        let now = thread_cpu();
        if cpu.is_zero() || now >= start + cpu || now < start {
            return;
        }
    }
}

fn read_sink(path: &std::path::Path) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Run the relay until killed (errors only at start-up: the socket).
pub fn run(relay: &Relay, tree: &Tree, out: &mut dyn Write) -> Result<()> {
    if !(relay.mbps.is_finite() && relay.mbps >= 0.0) {
        return Err(Error::usage(format!("traffic: --mbps {} is not a rate", relay.mbps)));
    }
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, relay.port))
        .map_err(|e| Error::host_op("traffic", format!("binding UDP port {}", relay.port), e))?;
    if !(relay.c_proc.is_finite() && relay.c_proc >= 0.0) {
        return Err(Error::usage(format!(
            "traffic: --c-proc {} is not a cost",
            relay.c_proc
        )));
    }
    let per_packet = Duration::from_secs_f64(relay.c_proc * PACKET_BYTES as f64 * 8.0 / 1e6);
    let interval = (relay.mbps > 0.0).then(|| Duration::from_secs_f64(PACKET_BYTES as f64 * 8.0 / (relay.mbps * 1e6)));
    let start = Instant::now();
    let mut rep = Report::default();
    let mut buf = vec![0u8; 65536];
    let mut own = vec![0x5au8; PACKET_BYTES];
    let mut next_send = start;
    let mut next_sink_read = start;
    let mut next_report = start;
    loop {
        let now = Instant::now();
        if now >= next_sink_read {
            let sink = read_sink(&relay.sink_file);
            if sink != rep.sink {
                rep.next_hop = sink.as_deref().and_then(|s| tree.next_hop(&relay.vnode, s));
                rep.sink = sink;
            }
            next_sink_read = now + Duration::from_secs(1);
        }
        if relay.report_s > 0.0 && now >= next_report {
            rep.t = now.duration_since(start).as_secs_f64();
            let line = serde_json::to_string(&rep).expect("a report serialises");
            let _ = writeln!(out, "{line}").and_then(|_| out.flush());
            next_report = now + Duration::from_secs_f64(relay.report_s);
        }
        let to = rep.next_hop.map(|a| SocketAddrV4::new(a, relay.port));
        if let (Some(interval), Some(to)) = (interval, to) {
            if now >= next_send {
                process(&mut own, per_packet);
                match sock.send_to(&own, to) {
                    Ok(_) => rep.sent += 1,
                    Err(_) => rep.dropped += 1,
                }
                next_send += interval;
                // After a pause (frozen, migrated) go on at the rate, without a burst.
                if now.duration_since(next_send) > Duration::from_secs(1) {
                    next_send = now + interval;
                }
                continue;
            }
        } else {
            next_send = now;
        }
        let sending = interval.is_some() && to.is_some();
        let deadline = [
            Some(next_sink_read),
            (relay.report_s > 0.0).then_some(next_report),
            sending.then_some(next_send),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(next_sink_read);
        let wait = deadline.saturating_duration_since(now).max(Duration::from_millis(1));
        let _ = sock.set_read_timeout(Some(wait));
        let Ok((n, _)) = sock.recv_from(&mut buf) else { continue };
        process(&mut buf[..n], per_packet);
        match to {
            Some(to) => match sock.send_to(&buf[..n], to) {
                Ok(_) => rep.relayed += 1,
                Err(_) => rep.dropped += 1,
            },
            None => rep.received += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Link;
    use crate::topology::generate::grid;

    #[test]
    fn every_vnode_but_the_sink_has_a_next_hop_on_one_of_its_own_links() {
        let topo = grid(4, 4);
        let tree = Tree::new(&topo).unwrap();
        let layout = crate::testbed::layout::Layout::new(&topo).unwrap();
        for sink in ["n0", "n15", "n6"] {
            for v in &topo.vnodes {
                let hop = tree.next_hop(&v.id, sink);
                if v.id == sink {
                    assert_eq!(hop, None);
                    continue;
                }
                let hop = hop.unwrap();
                let iface = layout.vnodes[&v.id].ifaces.iter().find(|f| f.peer_addr == hop).unwrap();
                // one hop closer: the peer's own next hop is not back to us
                assert_ne!(tree.next_hop(&iface.peer, sink), Some(iface.addr));
            }
        }
    }

    #[test]
    fn unknown_ids_have_no_next_hop_and_bad_links_are_refused() {
        let topo = grid(2, 2);
        let tree = Tree::new(&topo).unwrap();
        assert_eq!(tree.next_hop("nope", "n0"), None);
        assert_eq!(tree.next_hop("n1", "nope"), None);
        let mut bad = grid(2, 2);
        bad.links.push(Link::new("n0", "ghost", 1.0));
        assert!(Tree::new(&bad).unwrap_err().to_string().contains("ghost"));
    }

    #[test]
    fn the_digest_depends_on_every_word_and_processing_takes_the_cpu_asked() {
        let a = vec![1u8; 64];
        let mut b = a.clone();
        b[40] = 2;
        assert_ne!(digest(&mut a.clone()), digest(&mut b));
        let mut p = vec![3u8; PACKET_BYTES];
        let t0 = thread_cpu();
        for _ in 0..10 {
            process(&mut p, Duration::from_millis(2));
        }
        let spent = thread_cpu() - t0;
        assert!(spent >= Duration::from_millis(20), "{spent:?}");
        assert!(spent < Duration::from_millis(200), "{spent:?}");
    }
}
