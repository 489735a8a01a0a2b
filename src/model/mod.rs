//! The objects of model §1, parsed with serde (unknown fields are an error)
//! and validated with the file, JSON path or line in every error.

pub mod costs;
pub mod inventory;
pub mod load;
pub mod mode;
pub mod names;
pub mod placement;
pub mod plan;
pub mod testbed;
pub mod topology;

pub use costs::{Costs, LinkClass, PerClass, TransferCosts};
pub use load::{parse_load_stream, LinkRate, LoadSnapshot};
pub use mode::{MigrationMode, PostCopyCosts, PreCopyCosts};
pub use placement::Placement;
pub use plan::{MigrationEstimate, MigrationPlan, Move, PhaseTimes};
pub use testbed::{Host, Testbed, Vm};
pub use topology::{Link, Topology, Vnode};
