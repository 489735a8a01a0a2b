//! Tests of the loop with a fake clock, a scripted load source, a greedy test
//! optimiser and a counting actuator.

use super::*;
use crate::cost::{self, Assignment, Instance, Load, Window};
use crate::model::{Costs, Testbed, Topology, Vnode};
use proptest::prelude::*;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// 8 vnodes without links on 2 hosts × 2 VMs (capacity 1).
fn instance(memory_mb: f64) -> Instance {
    let tb = Testbed::generate(2, 2, 10_000.0);
    let topo = Topology {
        vnodes: (0..8)
            .map(|i| Vnode {
                memory_mb,
                ..Vnode::new(format!("n{i}"))
            })
            .collect(),
        links: vec![],
    };
    Instance::new(&topo, &tb, Costs::default())
}

/// vnodes in `hot` use 0.8 CPU, the others 0.1.
fn hotspot(inst: &Instance, hot: &[usize]) -> Load {
    let cpu = (0..inst.n_vnodes())
        .map(|n| if hot.contains(&n) { 0.8 } else { 0.1 })
        .collect();
    Load {
        cpu,
        rate: vec![0.0; inst.links.len()],
    }
}

/// Hot pairs (0,1) from t=0, (2,3) from t=30, (4,5) from t=60; the stream
/// ends at t=90 (last sample at 89, interval 1).
fn moving_hotspot(inst: &Instance) -> ReplaySource {
    let mut samples = Vec::new();
    for t in 0..90 {
        let hot: &[usize] = match t {
            0..=29 => &[0, 1],
            30..=59 => &[2, 3],
            _ => &[4, 5],
        };
        samples.push(Sample {
            t: t as f64,
            load: hotspot(inst, hot),
            dirty_mb_s: Vec::new(),
        });
    }
    ReplaySource::from_samples(samples, 1.0)
}

/// Pairs (2k, 2k+1) share VM k: bad for every hotspot (the hot pair shares
/// a VM: τ 1.6). `spread_for_01` suits the first hotspot only.
fn paired() -> Assignment {
    vec![0, 0, 1, 1, 2, 2, 3, 3]
}
fn spread_for_01() -> Assignment {
    vec![0, 1, 2, 2, 3, 3, 0, 1]
}

/// Test optimiser: greedy relocations, each the one lowering τ most.
fn greedy(inst: &Instance, load: &Load, current: &[u32]) -> Assignment {
    let mut a = current.to_vec();
    for _ in 0..inst.n_vnodes() {
        let now = cost::tau(inst, load, &a);
        let mut best = (now, None);
        for n in 0..a.len() {
            let keep = a[n];
            for v in 0..inst.n_vms() as u32 {
                a[n] = v;
                let t = cost::tau(inst, load, &a);
                if t < best.0 - 1e-12 {
                    best = (t, Some((n, v)));
                }
            }
            a[n] = keep;
        }
        match best.1 {
            Some((n, v)) => a[n] = v,
            None => break,
        }
    }
    a
}

#[derive(Default)]
struct Counting {
    calls: usize,
    stop_on_apply: Option<&'static AtomicBool>,
}
impl Actuator for Counting {
    fn apply(&mut self, _: &Instance, _: &[u32], to: &[u32]) -> crate::Result<actuator::Applied> {
        self.calls += 1;
        if let Some(flag) = self.stop_on_apply {
            flag.store(true, Ordering::SeqCst); // a signal arrives mid-migration
        }
        Ok(actuator::Applied {
            reached: to.to_vec(),
            pause_s: None,
            failure: None,
            dirty_mb_s: Vec::new(),
        })
    }
}

#[derive(Default)]
struct Recorder {
    windows: Vec<WindowRecord>,
    summary: Option<Summary>,
    checkpoints: Vec<Position>,
    points: Vec<TauPoint>,
}
impl Output for Recorder {
    fn checkpoint(&mut self, p: &Position) -> crate::Result<()> {
        self.checkpoints.push(p.clone());
        Ok(())
    }
    fn window(&mut self, r: &WindowRecord) -> crate::Result<()> {
        self.windows.push(r.clone());
        Ok(())
    }
    fn summary(&mut self, s: &Summary) -> crate::Result<()> {
        self.summary = Some(s.clone());
        Ok(())
    }
    fn sample(&mut self, p: &TauPoint) -> crate::Result<()> {
        self.points.push(*p);
        Ok(())
    }
}

fn config() -> Config {
    Config {
        window: Window { tp: 10.0, to: 1.0 },
        limits: Limits::default(),
        max_windows: None,
        duration_s: None,
        interval_s: 1.0,
        skip_unchanged: false,
    }
}

fn fresh(start: Assignment) -> Position {
    Position {
        window: 0,
        t: None,
        baseline: start.clone(),
        current: start,
    }
}

fn run_with(
    inst: &Instance,
    config: Config,
    source: &mut dyn LoadSource,
    replacer: &mut dyn Replacer,
    actuator: &mut dyn Actuator,
    stop: &AtomicBool,
    progress: Position,
) -> Recorder {
    let mut clock = FakeClock::starting_at(progress.t.or(source.start()).unwrap_or(0.0));
    let mut out = Recorder::default();
    let mut predictor = LastValue::default();
    let mut b = Balancer {
        inst: Cow::Borrowed(inst),
        config,
        source,
        predictor: &mut predictor,
        clock: &mut clock,
        replacer,
        actuator,
        stop,
    };
    b.run(progress, &mut out).unwrap();
    out
}

#[test]
fn a_moving_hotspot_is_followed_and_tau_recovers() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut act = Counting::default();
    let out = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut act,
        &stop,
        fresh(spread_for_01()),
    );
    let w = &out.windows;
    assert_eq!(w.len(), 9, "90 s of stream in windows of 10 s");
    assert_eq!(out.summary.as_ref().unwrap().stopped_by, StopCause::EndOfStream);
    // The placement suits the first hotspot: nothing to do.
    assert!(w[..3].iter().all(|r| r.decision == Decision::Kept));
    // Each change of the hotspot (t=30, t=60) is answered in its window.
    for start in [30.0, 60.0] {
        let r = w.iter().find(|r| r.t == start).unwrap();
        assert_eq!(r.decision, Decision::Changed, "{r:?}");
        assert!(r.chi.unwrap() < 0.0 && r.tau_after < r.tau_now, "{r:?}");
        let next = w.iter().find(|r| r.t == start + 10.0).unwrap();
        assert!(
            next.tau_actual < r.tau_now - 0.5,
            "τ recovers: {} after {}",
            next.tau_actual,
            r.tau_now
        );
    }
    assert_eq!(act.calls as u64, out.summary.as_ref().unwrap().changes);
    assert!(out.summary.unwrap().relative_runtime < 1.0);
}

#[test]
fn the_window_is_accounted_old_placement_for_to_then_pause_then_new() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let load = hotspot(&inst, &[0, 1]);
    let samples = vec![Sample {
        t: 0.0,
        load: load.clone(),
        dirty_mb_s: Vec::new(),
    }];
    let mut source = ReplaySource::from_samples(samples, 10.0);
    let out = run_with(
        &inst,
        config(),
        &mut source,
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(paired()),
    );
    let r = &out.windows[0];
    assert_eq!(r.decision, Decision::Changed);
    let after = greedy(&inst, &load, &paired());
    let expected = 1.0 * cost::tau(&inst, &load, &paired())
        + cost::t_r(&inst, &paired(), &after)
        + 9.0 * cost::tau(&inst, &load, &after);
    assert!((r.real_s - expected).abs() < 1e-9, "{} vs {expected}", r.real_s);
    assert!((r.baseline_s - 10.0 * cost::tau(&inst, &load, &paired())).abs() < 1e-9);
    assert_eq!(out.points.len(), 2, "one τ step before the switch at T_o, one after");
    assert_eq!(out.points[1].t, 1.0);
}

#[test]
fn chi_not_negative_never_applies() {
    // 20 GB vnodes: T_r of any move dwarfs what a 10 s window can win.
    let inst = instance(20_000.0);
    let stop = AtomicBool::new(false);
    let mut act = Counting::default();
    let out = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut act,
        &stop,
        fresh(paired()),
    );
    assert!(
        out.windows.iter().any(|r| r.moves > 0),
        "the optimiser did propose moves"
    );
    for r in &out.windows {
        assert_eq!(r.decision, Decision::Kept);
        assert!(r.moves == 0 || r.chi.unwrap() >= 0.0);
        assert!(r.moved.is_empty());
    }
    assert_eq!(act.calls, 0);
    assert!(out.checkpoints.iter().all(|p| p.current == paired()));
}

#[test]
fn max_moves_is_respected_even_when_the_optimiser_ignores_it() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut cfg = config();
    cfg.limits.max_moves = Some(1);
    let out = run_with(
        &inst,
        cfg,
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(paired()),
    );
    assert!(
        out.windows.iter().any(|r| r.trimmed),
        "greedy proposes more than one move here"
    );
    assert!(out.windows.iter().any(|r| r.decision == Decision::Changed));
    for r in &out.windows {
        assert!(r.moves <= 1 && r.moved.len() <= 1, "{r:?}");
    }
}

#[test]
fn min_gain_holds_back_small_gains() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut cfg = config();
    cfg.limits.min_gain = 0.99;
    let out = run_with(
        &inst,
        cfg,
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(paired()),
    );
    assert!(out.windows.iter().any(|r| r.reason == Reason::BelowMinGain));
    assert!(out.windows.iter().all(|r| r.decision == Decision::Kept));
}

#[test]
fn a_restart_continues_from_the_checkpoint_as_if_never_stopped() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let whole = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(spread_for_01()),
    );
    let mut first_cfg = config();
    first_cfg.max_windows = Some(4);
    let first = run_with(
        &inst,
        first_cfg,
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(spread_for_01()),
    );
    assert_eq!(first.summary.as_ref().unwrap().stopped_by, StopCause::Windows);
    let saved = first.checkpoints.last().unwrap().clone();
    assert_eq!(saved.window, 4);
    assert_eq!(saved.t, Some(40.0));
    let second = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        saved,
    );
    assert_eq!(second.windows[0].window, 4);
    let joined: Vec<_> = first.windows.iter().chain(&second.windows).cloned().collect();
    assert_eq!(joined, whole.windows);
}

#[test]
fn a_stop_during_a_migration_lets_it_finish_and_ends_the_run() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let inst = instance(10.0);
    let mut act = Counting {
        calls: 0,
        stop_on_apply: Some(&STOP),
    };
    let out = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut act,
        &STOP,
        fresh(paired()),
    );
    assert_eq!(act.calls, 1);
    assert_eq!(
        out.windows.len(),
        1,
        "the window in flight is logged, no new one starts"
    );
    let r = &out.windows[0];
    assert_eq!(r.decision, Decision::Changed);
    let last = out.checkpoints.last().unwrap();
    assert_eq!(last.window, 1);
    assert_eq!(
        last.t,
        Some(0.0),
        "stopped at once: the next window starts where it stopped"
    );
    assert_ne!(last.current, paired(), "the migration completed and is recorded");
    assert_eq!(out.summary.unwrap().stopped_by, StopCause::Signal);
}

#[test]
fn a_stop_before_the_migration_keeps_the_placement() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut act = Counting::default();
    let mut replacer = |inst: &Instance, load: &Load, cur: &[u32]| {
        stop.store(true, Ordering::SeqCst); // the signal arrives while optimising
        greedy(inst, load, cur)
    };
    let out = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut replacer,
        &mut act,
        &stop,
        fresh(paired()),
    );
    assert_eq!(act.calls, 0);
    assert_eq!(out.windows[0].reason, Reason::Stopping);
    assert_eq!(out.checkpoints.last().unwrap().current, paired());
}

#[test]
fn duration_and_windows_bound_the_run() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut cfg = config();
    cfg.duration_s = Some(25.0);
    let out = run_with(
        &inst,
        cfg,
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(paired()),
    );
    let lengths: Vec<f64> = out.windows.iter().map(|r| r.length_s).collect();
    assert_eq!(lengths, vec![10.0, 10.0, 5.0]);
    assert_eq!(out.summary.unwrap().stopped_by, StopCause::Duration);
}

#[test]
fn log_lines_carry_their_type_tag_and_decode() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let out = run_with(
        &inst,
        config(),
        &mut moving_hotspot(&inst),
        &mut greedy,
        &mut WhatIf,
        &stop,
        fresh(paired()),
    );
    let line = serde_json::to_string(&LogLine::Window(out.windows[0].clone())).unwrap();
    assert!(line.starts_with(r#"{"type":"window","window":0,"#), "{line}");
    let decoded: LogLine = serde_json::from_str(&line).unwrap();
    let LogLine::Window(r) = decoded else {
        panic!("not a window: {line}")
    };
    let w = &out.windows[0];
    assert_eq!(
        (r.window, r.decision, r.reason, &r.moved),
        (w.window, w.decision, w.reason, &w.moved)
    );
    assert!((r.tau_actual - w.tau_actual).abs() < 1e-12 && (r.chi.unwrap() - w.chi.unwrap()).abs() < 1e-12);
    let line = serde_json::to_string(&LogLine::Summary(out.summary.clone().unwrap())).unwrap();
    assert!(line.starts_with(r#"{"type":"summary","#), "{line}");
    assert!(serde_json::from_str::<LogLine>(r#"{"type":"summary","bogus":1}"#).is_err());
}

fn arb_case() -> impl Strategy<Value = (Vec<f64>, Vec<u32>, Vec<u32>, usize, f64)> {
    (
        proptest::collection::vec(0.0f64..1.5, 8),
        proptest::collection::vec(0u32..4, 8),
        proptest::collection::vec(0u32..4, 8),
        0usize..5,
        0.0f64..0.5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn decide_never_changes_unless_chi_is_negative((cpu, current, candidate, k, min_gain) in arb_case()) {
        let inst = instance(10.0);
        let load = Load { cpu, rate: vec![] };
        let limits = Limits { max_moves: Some(k), min_gain };
        let v = decide(&inst, &load, Window { tp: 10.0, to: 1.0 }, &current, candidate, limits);
        prop_assert!(v.moves <= k);
        prop_assert_eq!(v.moves, decide::count_moves(&current, &v.candidate));
        if v.change {
            prop_assert!(v.chi < 0.0 && v.gain >= min_gain);
        }
        if v.trimmed {
            prop_assert!(v.tau_candidate <= v.tau_now);
        }
        let chi = cost::chi_of(&inst, &load, Window { tp: 10.0, to: 1.0 }, &current, &v.candidate);
        prop_assert!((chi - v.chi).abs() < 1e-9);
    }
}

/// Fails every migration after half the moves, reporting a recovered failure.
struct HalfThenFail;
impl Actuator for HalfThenFail {
    fn apply(&mut self, _: &Instance, from: &[u32], to: &[u32]) -> crate::Result<actuator::Applied> {
        let mut reached = from.to_vec();
        let moving: Vec<usize> = (0..from.len()).filter(|&n| from[n] != to[n]).collect();
        for &n in &moving[..moving.len() / 2] {
            reached[n] = to[n];
        }
        let failure = crate::Error::HostRecovered {
            message: "h1 unreachable".into(),
        };
        Ok(actuator::Applied {
            reached,
            pause_s: Some(0.5),
            failure: Some(failure),
            dirty_mb_s: Vec::new(),
        })
    }
}

#[test]
fn a_recovered_host_failure_records_the_placement_reached_and_exits_3() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut source = moving_hotspot(&inst);
    let mut clock = FakeClock::starting_at(0.0);
    let mut out = Recorder::default();
    let mut b = Balancer {
        inst: Cow::Borrowed(&inst),
        config: config(),
        source: &mut source,
        predictor: &mut LastValue::default(),
        clock: &mut clock,
        replacer: &mut greedy,
        actuator: &mut HalfThenFail,
        stop: &stop,
    };
    let err = b.run(fresh(paired()), &mut out).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    let last = out.checkpoints.last().unwrap();
    let target = greedy(&inst, &hotspot(&inst, &[0, 1]), &paired());
    let moved = decide::count_moves(&paired(), &last.current);
    assert_eq!(
        moved,
        decide::count_moves(&paired(), &target) / 2,
        "half of the moves are in force"
    );
    assert_eq!(
        (last.window, last.t),
        (0, Some(0.0)),
        "the window is taken up again on restart"
    );
    assert!(out.summary.is_none());
}

/// Moves as asked and reports that every moved vnode dirtied 40 MB/s
/// during its pre-copy rounds.
struct Dirtying;
impl Actuator for Dirtying {
    fn apply(&mut self, _: &Instance, from: &[u32], to: &[u32]) -> crate::Result<actuator::Applied> {
        Ok(actuator::Applied {
            reached: to.to_vec(),
            pause_s: Some(0.5),
            failure: None,
            dirty_mb_s: (0..to.len()).filter(|&n| from[n] != to[n]).map(|n| (n, 40.0)).collect(),
        })
    }
}

/// Run the loop over `source` with `actuator` (greedy re-placement, from
/// `spread_for_01`): the records, and the model as the run left it if it
/// learned anything (`None`: the one given).
fn run_learning(
    inst: &Instance,
    source: &mut dyn LoadSource,
    actuator: &mut dyn Actuator,
) -> (Recorder, Option<Instance>) {
    let stop = AtomicBool::new(false);
    let mut clock = FakeClock::starting_at(0.0);
    let mut out = Recorder::default();
    let mut b = Balancer {
        inst: Cow::Borrowed(inst),
        config: config(),
        source,
        predictor: &mut LastValue::default(),
        clock: &mut clock,
        replacer: &mut greedy,
        actuator,
        stop: &stop,
    };
    b.run(fresh(spread_for_01()), &mut out).unwrap();
    let learned = match b.inst {
        Cow::Owned(inst) => Some(inst),
        Cow::Borrowed(_) => None,
    };
    (out, learned)
}

#[test]
fn a_live_pre_copy_move_prices_its_vnodes_next_move_with_the_dirty_rate_it_measured() {
    let inst = instance(100.0).with_mode(crate::model::MigrationMode::PreCopy);
    let (out, learned) = run_learning(&inst, &mut moving_hotspot(&inst), &mut Dirtying);
    let learned = learned.expect("the moves measured rates");
    let moved: std::collections::BTreeSet<&str> = out
        .windows
        .iter()
        .flat_map(|w| &w.moved)
        .map(|m| m.vnode.as_str())
        .collect();
    assert!(!moved.is_empty(), "the hotspot moved and so did vnodes");
    for (n, id) in learned.vnode_ids.iter().enumerate() {
        let want = moved.contains(id.as_str()).then_some(40.0);
        assert_eq!(learned.dirty_mb_s[n], want, "{id}");
    }
    // The learned rate is what prices the vnode's next move: 40 MB/s
    // outruns the copy (q ≥ 1), so its pause grows beyond the estimate's.
    let n = learned
        .vnode_ids
        .iter()
        .position(|id| moved.contains(id.as_str()))
        .unwrap();
    let (from, mut to) = (spread_for_01(), spread_for_01());
    to[n] = (to[n] + 1) % inst.n_vms() as u32;
    assert!(cost::t_r(&learned, &from, &to) > cost::t_r(&inst, &from, &to));
    // What-if runs measure nothing and leave the model as given.
    let (_, kept) = run_learning(&inst, &mut moving_hotspot(&inst), &mut actuator::WhatIf);
    assert!(kept.is_none());
}

#[test]
fn dirty_rates_in_the_load_stream_price_later_moves() {
    let inst = instance(100.0).with_mode(crate::model::MigrationMode::PreCopy);
    let snaps: Vec<crate::model::LoadSnapshot> = (0..30)
        .map(|t| {
            let mut s = crate::simulate::loads::snapshot(&inst, &hotspot(&inst, &[0, 1]), t as f64);
            s.dirty_mb_s.insert("n3".into(), if t < 20 { 2.0 } else { 7.5 });
            s
        })
        .collect();
    let mut source = ReplaySource::new(&inst, &snaps, "loads.ndjson", 1.0).unwrap();
    let (_, learned) = run_learning(&inst, &mut source, &mut actuator::WhatIf);
    let learned = learned.expect("the stream's rates");
    let n3 = inst.vnode("n3").unwrap() as usize;
    assert_eq!(learned.dirty_mb_s[n3], Some(7.5), "the last rate measured");
    assert!(learned
        .dirty_mb_s
        .iter()
        .enumerate()
        .all(|(n, d)| n == n3 || d.is_none()));

    let mut bad = snaps[0].clone();
    bad.dirty_mb_s.insert("nope".into(), 1.0);
    let err = ReplaySource::new(&inst, &[bad], "loads.ndjson", 1.0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dirty_mb_s.nope") && err.contains("unknown vnode"),
        "{err}"
    );
}

/// Always predicts the first hotspot, whatever is measured.
struct Stuck(Load);
impl Predictor for Stuck {
    fn observe(&mut self, _: &Sample) {}
    fn predict(&self) -> Option<Load> {
        Some(self.0.clone())
    }
}

#[test]
fn decisions_rest_on_the_prediction_and_windows_are_paid_at_the_measured_load() {
    let inst = instance(10.0);
    let stop = AtomicBool::new(false);
    let mut source = moving_hotspot(&inst);
    let mut clock = FakeClock::starting_at(0.0);
    let mut out = Recorder::default();
    let mut b = Balancer {
        inst: Cow::Borrowed(&inst),
        config: config(),
        source: &mut source,
        predictor: &mut Stuck(hotspot(&inst, &[0, 1])),
        clock: &mut clock,
        replacer: &mut greedy,
        actuator: &mut WhatIf,
        stop: &stop,
    };
    b.run(fresh(spread_for_01()), &mut out).unwrap();
    assert!(out
        .windows
        .iter()
        .all(|r| r.decision == Decision::Kept && r.tau_now == out.windows[0].tau_now));
    let late = out.windows.last().unwrap();
    assert!(
        late.tau_actual > late.tau_now + 0.5,
        "the wrong prediction is paid for: {late:?}"
    );
}
