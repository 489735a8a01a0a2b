//! The cost model, one place for every formula: τ (model §2), T_r (§3) and
//! χ (§4). Pure functions over an indexed [`Instance`]; the simulator, the
//! placer and `cost` all call these (the placer's incremental deltas are
//! tested against them).

pub mod instance;
pub mod migration;
pub mod modes;
pub mod tau;

pub use instance::{Assignment, Instance, Load};
pub use migration::{estimate, plan, t_r, Plan, PlanMove};
pub use tau::{link_class, loads, report, tau, Loads, TauReport};

/// The prediction window T_p and optimisation budget T_o, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub tp: f64,
    pub to: f64,
}

impl Default for Window {
    fn default() -> Self {
        Window { tp: 10.0, to: 1.0 }
    }
}

/// χ (model §4, the paper's eq. 1): the runtime of the rest of the window
/// with the re-placement (including the migration pause) minus without.
/// Re-place only if χ < 0.
///
/// ```
/// use netbalance::cost::{chi, Window};
/// let w = Window { tp: 10.0, to: 1.0 };
/// // τ 4 → 2 over 9 s costs 2 s of migration: χ = 9·2 + 2 − 9·4 = −16
/// assert_eq!(chi(w, 4.0, 2.0, 2.0), -16.0);
/// assert_eq!(chi(w, 4.0, 4.0, 0.0), 0.0);
/// ```
pub fn chi(window: Window, tau_now: f64, tau_next: f64, t_r: f64) -> f64 {
    let rest = window.tp - window.to;
    (rest * tau_next + t_r) - rest * tau_now
}

/// χ of moving from assignment `from` to `to` under a (predicted) load.
pub fn chi_of(inst: &Instance, load: &Load, window: Window, from: &[u32], to: &[u32]) -> f64 {
    chi(window, tau(inst, load, from), tau(inst, load, to), t_r(inst, from, to))
}
