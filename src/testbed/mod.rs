//! The only code that touches hosts (docs/architecture.md): executors (local,
//! SSH, dry run: `exec`, `ssh`), derived names (`names`, `layout`), the VMs
//! (`fleet`, `pool`), where things are on a VM (`paths`, `site`), vnodes
//! (`vnode`: deploy, pid namespace, teardown; `links`: network namespaces,
//! veth/VXLAN links, `tc tbf`/`netem`), cgroups (`cgroup`: one driver per
//! hierarchy kind, probed per machine), CRIU (`criu`), image transfer
//! (`transfer`, `stream`), the keeper and monitor sampling.
//!
//! What this layer relies on, and what was checked on a real machine, is in
//! `docs/testbed.md`.

pub mod batch;
pub mod cgroup;
pub mod cpu;
pub mod criu;
mod daemon;
pub mod dirty;
pub mod exec;
pub mod fleet;
pub mod keeper;
pub mod layout;
pub mod lazy;
pub mod links;
pub mod monitor;
pub mod names;
pub mod pages;
pub mod paths;
pub mod pool;
pub mod precopy;
pub mod provision;
pub mod quote;
pub mod site;
pub mod ssh;
pub mod stream;
pub mod times;
pub mod transfer;
pub mod vnode;

pub use exec::{copy_dir, Cmd, DryRunExecutor, Executor, LocalExecutor, Output};
pub use pool::{FleetPool, Held};
pub use ssh::{SshArgs, SshExecutor, SshOptions};
pub use times::MigrationTimes;
pub use vnode::{deploy, teardown, DeployReport, Fleet, Layout, Paths, Site, VmHandle};
