//! netbalance: shorten network-emulation experiments by re-placing and
//! live-migrating virtual nodes (after NETbalance, Grau, Herrmann, Rothermel).
//! `docs/model.md` is the contract (the model and the command-line rules); modules cite its sections as "model §N".

pub mod balance;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod error;
pub mod finite;
pub mod inputs;
pub mod interop;
pub mod io;
pub mod lab;
pub mod limits;
pub mod log;
pub mod manual;
pub mod migrate;
pub mod model;
pub mod place;
pub mod plot;
pub mod plot_font;
pub mod plot_pdf;
pub mod predict;
pub mod problem;
pub mod simulate;
pub mod state;
pub mod strict_json;
pub mod testbed;
pub mod topology;
pub mod traffic;

pub use error::{Error, Result};
