//! `netbalance export`: a placement as the node → host mapping MaxiNet or
//! Distrinet takes (docs/interop.md).

use super::Status;
use crate::cli::TestbedArg;
use crate::error::Result;
use crate::inputs::{at_most_one_stdin, read_placement, resolve_testbed};
use crate::interop::{mapping, Tool};
use crate::io::Source;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  netbalance place --topology fattree.json | netbalance export maxinet > nodemapping.json\n  netbalance export distrinet --placement placement.json > places.json\n\nMaxiNet:   maxinet.Experiment(cluster, topo, nodemapping=json.load(open(\"nodemapping.json\")))\nDistrinet: DummyMapper(places=json.load(open(\"places.json\")))"
)]
pub struct Args {
    /// The tool whose mapping to write
    #[arg(value_enum)]
    pub tool: Tool,
    /// The placement [default: stdin]
    #[arg(long, value_name = "FILE")]
    pub placement: Option<PathBuf>,
    #[command(flatten)]
    pub testbed: TestbedArg,
}

pub fn run(args: Args) -> Result<Status> {
    at_most_one_stdin(
        &[
            ("--placement", args.placement.as_deref()),
            ("--testbed", args.testbed.testbed.as_deref()),
        ],
        Some("--placement"),
    )?;
    let source = args.placement.as_deref().map(Source::from_arg).unwrap_or(Source::Stdin);
    let placement = read_placement(&source)?;
    let (testbed, _) = resolve_testbed(args.testbed.testbed.as_deref(), Some(&placement))?;
    let map = mapping(&placement, &testbed, args.tool, &source.name())?;
    crate::io::write_json_stdout(&map)?;
    Ok(Status::Done)
}
