//! The problem a command works on, once resolved: the topology and the
//! testbed (validated, with the files they came from) and the indexed
//! instance the formulas work on. Finding the files is input discovery's
//! job ([`crate::inputs`], `Problem::resolve`); the layers that act on a
//! problem (`migrate`, `balance`) take it resolved and never look for files.

use crate::error::Result;
use crate::model::{Placement, Testbed, Topology};
use std::path::{Path, PathBuf};

/// Topology, testbed and costs resolved together, with the indexed instance
/// the formulas work on.
#[derive(Debug, Clone)]
pub struct Problem {
    pub topology: Topology,
    pub topology_path: PathBuf,
    pub testbed: Testbed,
    pub testbed_path: PathBuf,
    pub instance: crate::cost::Instance,
}

/// True for `-` (stdin).
pub(crate) fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

impl Problem {
    /// Check a placement against this topology and testbed; its assignment.
    pub fn assignment(&self, placement: &Placement, source_name: &str) -> Result<crate::cost::Assignment> {
        placement.validate(source_name, &self.topology, &self.testbed)?;
        Ok(self.instance.assignment(placement))
    }

    /// True if the topology or the testbed was read from stdin.
    pub fn reads_stdin(&self) -> bool {
        is_stdin(&self.topology_path) || is_stdin(&self.testbed_path)
    }

    /// A placement of an assignment that records this problem's files
    /// (not `-`: stdin cannot be read again by the next command).
    pub fn placement_of(&self, assign: &[u32]) -> Placement {
        let mut p = self.instance.placement(assign);
        p.topology = Some(self.topology_path.clone()).filter(|p| !is_stdin(p));
        p.testbed = Some(self.testbed_path.clone()).filter(|p| !is_stdin(p));
        p
    }
}
