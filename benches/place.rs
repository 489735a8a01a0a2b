//! Placer benchmarks.
//!
//! `cargo bench --bench place` runs criterion on move evaluation and on a
//! fixed-move anneal. With `NETBALANCE_BENCH_TABLE=1` (what `./bench` does)
//! it instead prints, for each paper topology on 8 × 8 VMs, in one process:
//! moves evaluated per second, τ reached at 0.125 / 1 / 10 s, the greedy
//! baseline, a METIS partition (pymetis) scored by our model, the lower
//! bound, each as a ratio to the best τ found; then a re-placement after a
//! sink change (model §6) with T_o = 0.125 s. The same rows follow for
//! real router maps imported from topohub's node-link JSON (CAIDA AS-7018
//! and AS-3356) under the sink load and under a seeded random load;
//! they are skipped, saying how to get them, when topohub is not installed.

use criterion::{black_box, Criterion};
use netbalance::cost::{self, Instance, Load, Window};
use netbalance::model::Testbed;
use netbalance::place::evaluator::{Evaluator, Move};
use netbalance::place::{self, Budget, PlaceOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

const TOPOLOGIES: [&str; 4] = ["grid", "waxman", "campus", "internet"];
/// Real router maps: (bench name, file under topohub's `data/` folder).
/// Not committed: CAIDA's data-use terms are not ours to
/// relicense; `pip install topohub` (MIT) ships them.
const IMPORTED: [(&str, &str); 2] = [
    ("as7018", "caida/2024-08/7018.json"),
    ("as3356", "caida/2024-08/3356.json"),
];
const RATE_MBPS: f64 = 10.0;
const C_PROC: f64 = 4e-5;

/// A paper scenario: topology on 8 hosts × 8 VMs, paper costs, NIC 40 Gbit/s.
fn scenario(name: &str) -> Instance {
    let topo = netbalance::topology::generate::paper(name, 1).expect("known topology");
    on_testbed(&topo)
}

fn on_testbed(topo: &netbalance::model::Topology) -> Instance {
    let tb = Testbed::generate(8, 8, 40_000.0);
    Instance::new(topo, &tb, netbalance::simulate::scenario::paper_costs())
}

/// topohub's data folder: `NETBALANCE_BENCH_TOPOHUB`, else asked of python3.
fn topohub_dir() -> Result<std::path::PathBuf, String> {
    if let Some(dir) = std::env::var_os("NETBALANCE_BENCH_TOPOHUB") {
        return Ok(dir.into());
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import os, topohub; print(os.path.dirname(topohub.__file__))"])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err("topohub is not importable".into());
    }
    Ok(std::path::Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("data"))
}

/// An imported router map on 8 hosts × 8 VMs (as `netbalance topology import` reads it).
fn imported(file: &str) -> Result<Instance, String> {
    let path = topohub_dir()?.join(file);
    let source = netbalance::io::Source::from_arg(&path);
    let topo = netbalance::topology::read_topology(&source).map_err(|e| e.to_string())?;
    Ok(on_testbed(&topo))
}

/// A seeded random load: CPU uniform in [0, 0.1) per vnode, rate uniform in
/// [0, 1000) Mbit/s per link (so that cutting links matters under the paper
/// costs: a crossing link costs up to 0.08 CPU at each end).
fn random_load(inst: &Instance, seed: u64) -> Load {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Load {
        cpu: (0..inst.n_vnodes()).map(|_| rng.gen_range(0.0..0.1)).collect(),
        rate: (0..inst.links.len()).map(|_| rng.gen_range(0.0..1000.0)).collect(),
    }
}

/// One row of the table: a topology, the load placed, and the load after a
/// change (the sink moves to the last vnode; a random load is redrawn).
struct Case {
    inst: Instance,
    load: Load,
    new_load: Load,
    change: &'static str,
}

/// The case called `name`: a paper topology, or `as7018` / `as3356` (sink
/// load), `as7018-rand` / `as3356-rand` (random load). `Err` says why not.
fn case(name: &str) -> Result<Case, String> {
    let (base, random) = match name.strip_suffix("-rand") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let inst = if TOPOLOGIES.contains(&base) && !random {
        scenario(base)
    } else {
        let file = IMPORTED
            .iter()
            .find(|(n, _)| *n == base)
            .ok_or_else(|| format!("unknown bench case {name:?}"))?
            .1;
        imported(file)?
    };
    let (load, new_load, change) = if random {
        (random_load(&inst, 1), random_load(&inst, 2), "redrawn")
    } else {
        let last = inst.n_vnodes() as u32 - 1;
        (load_for_sink(&inst, 0), load_for_sink(&inst, last), "sink 0 -> last")
    };
    Ok(Case {
        inst,
        load,
        new_load,
        change,
    })
}

/// Every case of the table, in order (`NETBALANCE_BENCH_ONLY` filters by name).
fn case_names() -> Vec<String> {
    let mut names: Vec<String> = TOPOLOGIES.iter().map(|s| s.to_string()).collect();
    for (n, _) in IMPORTED {
        names.push(n.to_string());
        names.push(format!("{n}-rand"));
    }
    names
}

fn load_for_sink(inst: &Instance, sink: u32) -> Load {
    netbalance::simulate::scenario::sink_load(
        inst,
        &netbalance::simulate::scenario::routes_to(inst, sink),
        RATE_MBPS,
        C_PROC,
    )
}

/// max(ΣL_min/ΣC, max_n L_min(n)/max C): every link at its cheapest class.
fn lower_bound(inst: &Instance, load: &Load) -> f64 {
    let p = inst.costs.cpu_per_mbit;
    let single = p.vm.min(p.host).min(p.net);
    let pair = p.vm.min(2.0 * p.host).min(2.0 * p.net);
    let mut own = load.cpu.clone();
    let mut total: f64 = load.cpu.iter().sum();
    for (e, &(a, b)) in inst.links.iter().enumerate() {
        own[a as usize] += load.rate[e] * single;
        own[b as usize] += load.rate[e] * single;
        total += load.rate[e] * pair;
    }
    let cap_total: f64 = inst.vm_capacity.iter().sum();
    let cap_max = inst.vm_capacity.iter().copied().fold(0.0, f64::max);
    (total / cap_total).max(own.iter().copied().fold(0.0, f64::max) / cap_max)
}

/// A METIS k-way partition via pymetis (vertex weight = CPU, edge weight =
/// rate), part p on VM p; `Err` says why there is none.
fn metis(inst: &Instance, load: &Load) -> Result<Vec<u32>, String> {
    let n = inst.n_vnodes();
    let mut adj: Vec<Vec<(u32, u64)>> = vec![Vec::new(); n];
    for (e, &(a, b)) in inst.links.iter().enumerate() {
        let w = load.rate[e].round().max(1.0) as u64;
        adj[a as usize].push((b, w));
        adj[b as usize].push((a, w));
    }
    let mut xadj = vec![0usize];
    let (mut adjncy, mut eweights) = (Vec::new(), Vec::new());
    for list in &adj {
        for &(v, w) in list {
            adjncy.push(v);
            eweights.push(w);
        }
        xadj.push(adjncy.len());
    }
    let vweights: Vec<u64> = load.cpu.iter().map(|c| (c * 1e5).round().max(1.0) as u64).collect();
    let graph = serde_json::json!({"nparts": inst.n_vms(), "xadj": xadj, "adjncy": adjncy, "eweights": eweights, "vweights": vweights});
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("graph.json");
    std::fs::write(&path, graph.to_string()).map_err(|e| e.to_string())?;
    let script = "import json,sys\nimport pymetis\ng=json.load(open(sys.argv[1]))\n\
_,parts=pymetis.part_graph(g['nparts'],xadj=g['xadj'],adjncy=g['adjncy'],vweights=g['vweights'],eweights=g['eweights'])\n\
print(json.dumps([int(p) for p in parts]))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("python3 failed").to_string());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let parts: Vec<u32> = serde_json::from_str(last)
        .map_err(|e| format!("{e} in pymetis output {:?}", &stdout[..stdout.len().min(120)]))?;
    if parts.len() != n || parts.iter().any(|&p| p as usize >= inst.n_vms()) {
        return Err("pymetis returned a malformed partition".into());
    }
    Ok(parts)
}

/// CPU time of this thread, seconds (the moves/s per core, whatever else runs).
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// `s` seconds of wall clock, or with NETBALANCE_BENCH_MOVES_PER_S=R the
/// move budget s·R (reproducible, independent of what else runs).
fn budget(s: f64) -> Budget {
    match std::env::var("NETBALANCE_BENCH_MOVES_PER_S")
        .ok()
        .and_then(|r| r.parse::<f64>().ok())
    {
        Some(rate) => Budget::Moves((s * rate) as u64),
        None => Budget::Time(Duration::from_secs_f64(s)),
    }
}

fn opts(budget: Budget) -> PlaceOptions {
    let seed = std::env::var("NETBALANCE_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    PlaceOptions {
        budget,
        seed,
        constraints: Default::default(),
    }
}

fn cell(tau: f64, best: f64) -> String {
    format!("{tau:.4} ({:.3})", tau / best)
}

fn table() {
    println!("placer bench: 8 hosts x 8 VMs (64), NIC 40000 Mbit/s, paper costs, seed 1");
    println!("(paper topologies: topology::generate::paper(name, 1), sink load 10 Mbit/s per vnode to vnode 0;");
    println!(" as7018, as3356 = CAIDA AS-7018, AS-3356 from topohub's node-link JSON: sink load, or -rand:");
    println!(" CPU U[0,0.1) per vnode and U[0,1000) Mbit/s per link, seeded)");
    println!("tau (ratio to the best tau found for that row; lower is better); moves/cpu-s: moves evaluated per CPU second of the 1 s run");
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", l.trim());
    }
    println!();
    println!(
        "{:<11} {:>6} {:>12} {:>16} {:>16} {:>16} {:>16} {:>16} {:>16} {:>8}",
        "topology", "vnodes", "moves/cpu-s", "SA 0.125s", "SA 1s", "SA 10s", "greedy", "METIS", "start", "LB"
    );
    let mut replacements = Vec::new();
    let only = std::env::var("NETBALANCE_BENCH_ONLY").ok();
    let mut skipped = Vec::new();
    for name in case_names()
        .into_iter()
        .filter(|n| only.as_deref().map_or(true, |o| o.split(',').any(|x| x == n)))
    {
        let Case {
            inst,
            load,
            new_load,
            change,
        } = match case(&name) {
            Ok(c) => c,
            Err(why) => {
                skipped.push(format!("{name}: {why}"));
                continue;
            }
        };
        let start = place::start_assignment(&inst, &load, &Default::default());
        let runs: Vec<(f64, place::Placed)> = [0.125, 1.0, 10.0]
            .iter()
            .map(|&s| {
                let cpu = thread_cpu_s();
                let out = place::initial(&inst, &load, &opts(budget(s)));
                (thread_cpu_s() - cpu, out)
            })
            .collect();
        let rate = runs[1].1.moves_evaluated as f64 / runs[1].0;
        let greedy = cost::tau(&inst, &load, &place::greedy(&inst, &load, &start));
        let metis = metis(&inst, &load).map(|p| cost::tau(&inst, &load, &p));
        let start_tau = cost::tau(&inst, &load, &start);
        let mut taus: Vec<f64> = runs.iter().map(|r| r.1.tau).chain([greedy, start_tau]).collect();
        if let Ok(m) = metis {
            taus.push(m);
        }
        let best = taus.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{:<11} {:>6} {:>12.3e} {:>16} {:>16} {:>16} {:>16} {:>16} {:>16} {:>8.4}",
            name,
            inst.n_vnodes(),
            rate,
            cell(runs[0].1.tau, best),
            cell(runs[1].1.tau, best),
            cell(runs[2].1.tau, best),
            cell(greedy, best),
            metis
                .as_ref()
                .map(|&m| cell(m, best))
                .unwrap_or_else(|_| "unavailable".into()),
            cell(start_tau, best),
            lower_bound(&inst, &load),
        );
        if let Err(why) = &metis {
            println!("  METIS unavailable ({why}); install it with: pip install pymetis");
        }
        // Re-placement after a load change: from the 1 s placement, the new
        // load, T_p = 10 s, T_o = 0.125 s.
        let window = Window { tp: 10.0, to: 0.125 };
        let t = Instant::now();
        let out = place::replace(&inst, &new_load, window, &runs[1].1.assignment, &opts(budget(0.125)));
        let took = t.elapsed().as_secs_f64();
        let before = cost::tau(&inst, &new_load, &runs[1].1.assignment);
        if std::env::var_os("NETBALANCE_BENCH_DEBUG").is_some() {
            let r = cost::report(&inst, &new_load, &runs[1].1.assignment);
            let mut u: Vec<f64> = r.vms.iter().map(|v| v.utilisation).collect();
            u.sort_by(|a, b| b.total_cmp(a));
            let mut h: Vec<f64> = r.hosts.iter().map(|v| v.utilisation).collect();
            h.sort_by(|a, b| b.total_cmp(a));
            let fresh = place::initial(&inst, &new_load, &opts(budget(1.0)));
            let chi = cost::chi_of(&inst, &new_load, window, &runs[1].1.assignment, &fresh.assignment);
            eprintln!("{name}: bottleneck {:?}, top VM utilisations {:?}, top NIC {:?}; a fresh 1 s placement for the new load: tau {:.4}, chi {:.3}", r.bottleneck, &u[..4], &h[..3], fresh.tau, chi);
        }
        let moved = runs[1]
            .1
            .assignment
            .iter()
            .zip(&out.assignment)
            .filter(|(a, b)| a != b)
            .count();
        let t_r = cost::t_r(&inst, &runs[1].1.assignment, &out.assignment);
        replacements.push((name, change, before, out, moved, t_r, took));
    }
    for s in &skipped {
        println!("  skipped {s}; the real router maps come with: pip install topohub (or set NETBALANCE_BENCH_TOPOHUB to its data folder)");
    }
    println!("\nre-placement after a load change, T_p 10 s, T_o 0.125 s, from the SA 1 s placement");
    println!(
        "{:<11} {:>15} {:>10} {:>10} {:>7} {:>9} {:>11} {:>8}",
        "topology", "load change", "tau before", "tau after", "moved", "T_r s", "chi", "took s"
    );
    for (name, change, before, out, moved, t_r, took) in replacements {
        println!(
            "{:<11} {:>15} {:>10.4} {:>10.4} {:>7} {:>9.3} {:>11.4} {:>8.3}{}",
            name,
            change,
            before,
            out.tau,
            moved,
            t_r,
            out.chi.unwrap_or(0.0),
            took,
            if out.changed {
                ""
            } else {
                "  (no beneficial re-placement)"
            }
        );
    }
}

fn criterion_benches(c: &mut Criterion) {
    let inst = scenario("campus");
    let load = load_for_sink(&inst, 0);
    let start = place::start_assignment(&inst, &load, &Default::default());
    let mut ev = Evaluator::new(&inst, &load, start, None);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    c.bench_function("evaluate relocate to a neighbour's VM (campus, 64 VMs)", |b| {
        b.iter(|| {
            let n = rng.gen_range(0..inst.n_vnodes() as u32);
            let nb = ev.neighbours(n);
            let to = if nb.is_empty() {
                0
            } else {
                ev.assignment()[nb[rng.gen_range(0..nb.len())].0 as usize]
            };
            let to = if to == ev.assignment()[n as usize] {
                (to + 1) % inst.n_vms() as u32
            } else {
                to
            };
            black_box(ev.evaluate(Move::Relocate { vnode: n, to }))
        })
    });
    c.bench_function("anneal 100k moves (campus, 64 VMs)", |b| {
        b.iter(|| black_box(place::initial(&inst, &load, &opts(Budget::Moves(100_000))).tau))
    });
}

/// One initial placement of `name` with a fixed move count: for
/// `valgrind --tool=callgrind`, whose instruction counts do not depend on
/// what else the machine runs (instructions per move = the difference of
/// two counts over the difference of the moves).
fn single_run(spec: &str) {
    let (name, moves) = spec.split_once(':').unwrap_or(("campus", spec));
    let moves: u64 = moves.parse().expect("NETBALANCE_BENCH_SINGLE=[case:]moves");
    let Case { inst, load, .. } = case(name).unwrap_or_else(|why| panic!("{why}"));
    let cpu = thread_cpu_s();
    let out = place::initial(&inst, &load, &opts(Budget::Moves(moves)));
    let took = thread_cpu_s() - cpu;
    println!(
        "{name}: {} moves, tau {:.4}, {:.3e} moves/cpu-s",
        out.moves_evaluated,
        out.tau,
        out.moves_evaluated as f64 / took
    );
}

/// The table's re-placement after a load change, for seeds 1..=`seeds`,
/// with budgets as move counts (`NETBALANCE_BENCH_MOVES_PER_S`, default
/// 5,000,000 per second): reproducible, so variants of the placer can be
/// compared on the same starting placements. Prints χ per seed.
fn replace_sweep(spec: &str) {
    let (name, seeds) = spec.split_once(':').unwrap_or((spec, "8"));
    let seeds: u64 = seeds.parse().expect("NETBALANCE_BENCH_REPLACE=case[:seeds]");
    let rate: f64 = std::env::var("NETBALANCE_BENCH_MOVES_PER_S")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5e6);
    let Case {
        inst, load, new_load, ..
    } = case(name).unwrap_or_else(|why| panic!("{why}"));
    let window = Window { tp: 10.0, to: 0.125 };
    let mut found = 0;
    for seed in 1..=seeds {
        let o = |moves: f64| PlaceOptions {
            budget: Budget::Moves(moves as u64),
            seed,
            constraints: Default::default(),
        };
        let first = place::initial(&inst, &load, &o(rate));
        let out = place::replace(&inst, &new_load, window, &first.assignment, &o(0.125 * rate));
        let chi = out.chi.unwrap_or(0.0);
        found += usize::from(out.changed);
        let before = cost::tau(&inst, &new_load, &first.assignment);
        println!(
            "{name} seed {seed}: tau {before:.4} -> {:.4}, chi {chi:.4}, {} moves evaluated",
            out.tau, out.moves_evaluated
        );
    }
    println!("{name}: chi < 0 for {found} of {seeds} seeds");
}

fn main() {
    if let Ok(spec) = std::env::var("NETBALANCE_BENCH_REPLACE") {
        replace_sweep(&spec);
        return;
    }
    if let Ok(spec) = std::env::var("NETBALANCE_BENCH_SINGLE") {
        single_run(&spec);
        return;
    }
    if std::env::var_os("NETBALANCE_BENCH_TABLE").is_some() {
        table();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
