//! `netbalance topology`: generate the paper's topologies or import one
//! (model §1), print it as netbalance topology JSON.

use super::Status;
use crate::cli::SeedArg;
use crate::error::{Error, Result};
use crate::io::Source;
use crate::model::Topology;
use crate::topology::{self, generate, stats::Stats, Format};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance topology grid --width 40 --height 40 > grid.json\n  netbalance topology waxman --nodes 2500 --alpha 0.15 --beta 0.03 --seed 1 > waxman.json\n  netbalance topology paper campus --stats > campus.json\n  netbalance topology import Abilene.gml --mbps 100 > abilene.json\n  netbalance topology import srl01.clab.yml > lab.json"
)]
pub struct Args {
    #[command(subcommand)]
    pub kind: Kind,
    /// Memory of every vnode's software under test, MB [default: 10]
    #[arg(long, value_name = "MB", global = true)]
    pub memory_mb: Option<f64>,
    /// Bandwidth of every link, Mbit/s [default: the file's link speed, else 1000]
    #[arg(long, value_name = "MBPS", global = true)]
    pub mbps: Option<f64>,
    /// Delay of every link, ms [default: 1]
    #[arg(long, value_name = "MS", global = true)]
    pub delay_ms: Option<f64>,
    /// Print nodes, links, degrees, components and a diameter estimate to stderr
    #[arg(long, global = true)]
    pub stats: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Kind {
    /// A width × height grid (ids n0… row-major, 4-neighbour links)
    Grid {
        /// Vnodes per row
        #[arg(long, default_value_t = 40)]
        width: usize,
        /// Rows
        #[arg(long, default_value_t = 40)]
        height: usize,
    },
    /// A Waxman random graph: P(u,v) = alpha·exp(−d/(beta·√2)) in the unit square, made connected
    Waxman {
        /// Vnodes
        #[arg(long, default_value_t = 2500)]
        nodes: usize,
        /// Link density, in (0, 1]
        #[arg(long, default_value_t = generate::PAPER_WAXMAN.0)]
        alpha: f64,
        /// Reach of links relative to the square's diagonal, > 0 (BRITE's default 0.2 is dense: mean degree 84 at 2,500 nodes)
        #[arg(long, default_value_t = generate::PAPER_WAXMAN.1)]
        beta: f64,
        #[command(flatten)]
        seed: SeedArg,
    },
    /// The multi-campus benchmark: 548 vnodes per campus, campuses joined in a ring backbone
    Campus {
        /// Campuses (548 vnodes each; 10 = the paper's 5,480)
        #[arg(long, default_value_t = 10)]
        campuses: usize,
        #[command(flatten)]
        seed: SeedArg,
    },
    /// An Internet-like graph (GLP preferential attachment, heavy-tailed degrees)
    Internet {
        /// Vnodes
        #[arg(long, default_value_t = 2113)]
        nodes: usize,
        #[command(flatten)]
        seed: SeedArg,
    },
    /// One of the paper's topologies at the paper's size (grid 1,600, waxman 2,500, campus 5,480, internet 2,113)
    Paper {
        /// Which topology
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(generate::PAPER_NAMES))]
        name: String,
        #[command(flatten)]
        seed: SeedArg,
    },
    /// Import a Topology Zoo GML or GraphML file, networkx node-link JSON, an edge list or a containerlab topology (`-`: stdin)
    Import {
        /// The file (`-`: stdin)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The file's format [default: by extension, else by content]
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// The most vnodes a generator is asked for (about the 1 GiB input limit's
/// worth of JSON); Waxman, being O(n²), is slow long before that.
const MAX_GENERATED: usize = 10_000_000;
/// The most vnodes of a Waxman graph (O(n²) pairs; 5,000 take 1.3 s in a
/// debug build, so this bound is well under a minute).
const MAX_WAXMAN: usize = 20_000;

/// The validated settings of one `topology` run.
struct Settings {
    overrides: [Option<f64>; 3],
}

impl Settings {
    fn resolve(args: &Args) -> Result<Settings> {
        for (flag, value) in [
            ("--memory-mb", args.memory_mb),
            ("--mbps", args.mbps),
            ("--delay-ms", args.delay_ms),
        ] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::usage(format!("{flag} {v}: must be a number >= 0")));
            }
        }
        let nodes = match &args.kind {
            Kind::Grid { width, height } => width.checked_mul(*height),
            Kind::Waxman { nodes, .. } | Kind::Internet { nodes, .. } => Some(*nodes),
            Kind::Campus { campuses, .. } => campuses.checked_mul(generate::CAMPUS_NODES),
            Kind::Paper { .. } | Kind::Import { .. } => Some(0),
        };
        if nodes.map_or(true, |n| n > MAX_GENERATED) {
            return Err(Error::usage(format!("at most {MAX_GENERATED} vnodes can be generated")));
        }
        if let Kind::Waxman { nodes, .. } = &args.kind {
            crate::limits::count("waxman --nodes", *nodes, 1, MAX_WAXMAN)?;
        }
        match &args.kind {
            Kind::Grid { width, height } if *width == 0 || *height == 0 => {
                Err(Error::usage("--width and --height must be at least 1"))
            }
            Kind::Waxman { nodes, .. } | Kind::Internet { nodes, .. } if *nodes == 0 => {
                Err(Error::usage("--nodes must be at least 1"))
            }
            Kind::Waxman { alpha, beta, .. } if !(*alpha > 0.0 && *alpha <= 1.0 && beta.is_finite() && *beta > 0.0) => {
                Err(Error::usage(format!(
                    "--alpha {alpha} --beta {beta}: need 0 < alpha <= 1 and beta > 0"
                )))
            }
            Kind::Campus { campuses: 0, .. } => Err(Error::usage("--campuses must be at least 1")),
            _ => Ok(Settings {
                overrides: [args.memory_mb, args.mbps, args.delay_ms],
            }),
        }
    }
}

pub fn run(args: Args) -> Result<Status> {
    let settings = Settings::resolve(&args)?;
    let (mut topo, name) = match &args.kind {
        Kind::Grid { width, height } => (generate::grid(*width, *height), "<grid>".to_string()),
        Kind::Waxman {
            nodes,
            alpha,
            beta,
            seed,
        } => (generate::waxman(*nodes, *alpha, *beta, seed.seed), "<waxman>".into()),
        Kind::Campus { campuses, seed } => (generate::campus(*campuses, seed.seed), "<campus>".into()),
        Kind::Internet { nodes, seed } => (generate::internet(*nodes, seed.seed), "<internet>".into()),
        Kind::Paper { name, seed } => {
            let t =
                generate::paper(name, seed.seed).ok_or_else(|| Error::usage(format!("no paper topology {name:?}")))?;
            (t, format!("<paper {name}>"))
        }
        Kind::Import { file, format } => {
            let source = Source::from_arg(file);
            (topology::read_topology_as(&source, *format)?, source.name())
        }
    };
    apply_overrides(&mut topo, settings.overrides);
    topo.validate(&name)?;
    if args.stats {
        let s = Stats::of(&topo);
        eprintln!(
            "{name}: {} nodes, {} links, degree min {} / mean {:.2} / max {}, {} component(s), diameter >= {} hops (estimate)",
            s.nodes, s.links, s.degree_min, s.degree_mean, s.degree_max, s.components, s.diameter_estimate
        );
    }
    crate::io::write_json_stdout(&topo)?;
    Ok(Status::Done)
}

/// Set every vnode's memory and every link's bandwidth and delay, where given.
fn apply_overrides(topo: &mut Topology, [memory_mb, mbps, delay_ms]: [Option<f64>; 3]) {
    for n in &mut topo.vnodes {
        n.memory_mb = memory_mb.unwrap_or(n.memory_mb);
    }
    for l in &mut topo.links {
        l.mbps = mbps.unwrap_or(l.mbps);
        l.delay_ms = delay_ms.unwrap_or(l.delay_ms);
    }
}
