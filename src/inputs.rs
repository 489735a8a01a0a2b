//! Input discovery (model §7): which file each flag falls back to, so that
//! commands pipe without repeated flags. Every function returns validated
//! objects and errors that name the file.

use crate::error::{Error, Result};
use crate::io::{read_json, stdin_is_piped, Source};
use crate::model::{parse_load_stream, Costs, LoadSnapshot, Placement, Testbed, Topology};
use std::path::{Path, PathBuf};

/// The hint printed when no testbed can be found.
pub const TESTBED_HINT: &str =
    "no testbed: pass --testbed FILE, set NETBALANCE_TESTBED, or create ./testbed.json (netbalance testbed --hosts 8 --cpus 8 > testbed.json)";

use crate::problem::is_stdin;
/// The resolved problem (defined in [`crate::problem`]; resolved here).
pub use crate::problem::Problem;

/// A command reads at most one input from stdin (model §7): refuse two
/// flags naming `-`, or one naming `-` where stdin is already the default
/// input (`default_stdin`: the flag name that falls back to stdin, if absent).
pub fn at_most_one_stdin(flags: &[(&str, Option<&Path>)], default_stdin: Option<&str>) -> Result<()> {
    let mut users: Vec<&str> = flags
        .iter()
        .filter(|(_, p)| p.is_some_and(is_stdin))
        .map(|(n, _)| *n)
        .collect();
    if let Some(d) = default_stdin {
        if flags.iter().any(|(n, p)| *n == d && p.is_none()) {
            users.push(d);
        }
    }
    if users.len() > 1 {
        return Err(Error::usage(format!(
            "only one input can come from stdin, but {} all read it (give all but one a file)",
            users.join(", ")
        )));
    }
    Ok(())
}

/// Find and read the testbed: `--testbed`, `$NETBALANCE_TESTBED`,
/// `./testbed.json`, then the placement's `"testbed"`.
pub fn resolve_testbed(flag: Option<&Path>, placement: Option<&Placement>) -> Result<(Testbed, PathBuf)> {
    let path = flag
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("NETBALANCE_TESTBED")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| Some(PathBuf::from("testbed.json")).filter(|p| p.is_file()));
    let (path, from) = match path {
        Some(p) => (p, None),
        None => placement
            .and_then(|p| recorded(p, "testbed"))
            .ok_or_else(|| Error::usage(TESTBED_HINT))?,
    };
    let source = Source::from_arg(&path);
    let read = || -> Result<Testbed> {
        let mut testbed: Testbed = read_json(&source)?;
        testbed.validate(&source.name())?;
        // A relative "identity" is relative to the testbed file.
        if let (Some(id), Some(dir)) = (&testbed.identity, path.parent()) {
            if Path::new(id).is_relative() && path != Path::new("-") {
                testbed.identity = Some(dir.join(id).display().to_string());
            }
        }
        Ok(testbed)
    };
    let testbed = read().map_err(|e| from_field(e, from.as_deref()))?;
    crate::debug!(
        "netbalance: testbed {} ({})",
        path.display(),
        from.as_deref()
            .unwrap_or("--testbed, $NETBALANCE_TESTBED or ./testbed.json")
    );
    Ok((testbed, path))
}

/// Find and read the topology: `--topology`, then the placement's `"topology"`.
pub fn resolve_topology(flag: Option<&Path>, placement: Option<&Placement>) -> Result<(Topology, PathBuf)> {
    let (path, from) = match flag {
        Some(p) => (p.to_path_buf(), None),
        None => placement.and_then(|p| recorded(p, "topology")).ok_or_else(|| {
            Error::usage("no topology: pass --topology FILE (or a placement that names its topology)")
        })?,
    };
    let topo = crate::topology::read_topology(&Source::from_arg(&path)).map_err(|e| from_field(e, from.as_deref()))?;
    crate::debug!(
        "netbalance: topology {} ({}): {} vnodes, {} links",
        path.display(),
        from.as_deref().unwrap_or("--topology"),
        topo.vnodes.len(),
        topo.links.len()
    );
    Ok((topo, path))
}

/// A placement's recorded `"topology"` or `"testbed"` path, resolved: a
/// relative path is looked up beside the placement file first, then in the
/// current directory (where the command that wrote it ran). Also returns
/// the field's description for errors (`p.json's "topology"`).
///
/// Complexity: two `stat` calls at most.
fn recorded(placement: &Placement, field: &str) -> Option<(PathBuf, Option<String>)> {
    let path = match field {
        "topology" => placement.topology.clone()?,
        _ => placement.testbed.clone()?,
    };
    let file = placement.read_from.as_deref();
    let what = format!(
        "{}'s \"{field}\"",
        file.map_or("the placement".to_string(), |f| f.display().to_string())
    );
    let beside = file
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty() && path.is_relative())
        .map(|d| d.join(&path));
    let resolved = match beside {
        Some(b) if b.exists() || !path.exists() => b,
        _ => path,
    };
    Some((resolved, Some(what)))
}

/// An error reading a file named by a placement's field, prefixed with
/// where the name came from (`from p.json's "topology": grid.json: …`).
fn from_field(err: Error, from: Option<&str>) -> Error {
    match (from, err) {
        (Some(from), Error::Io { path, source }) => Error::Io {
            path: format!("from {from}: {path}"),
            source,
        },
        (Some(from), Error::Input { mut location, message }) => {
            location.file = format!("from {from}: {}", location.file);
            Error::Input { location, message }
        }
        (_, err) => err,
    }
}

/// The costs in force: a `--costs` profile, else the testbed's `costs`.
pub fn resolve_costs(flag: Option<&Path>, testbed: &Testbed) -> Result<Costs> {
    match flag {
        None => Ok(testbed.costs.clone()),
        Some(path) => {
            let source = Source::from_arg(path);
            let costs: Costs = read_json(&source)?;
            costs.check().map_err(|(field, msg)| {
                Error::input(crate::error::Location::file(source.name()).at_path(field), msg)
            })?;
            Ok(costs)
        }
    }
}

/// How long stdin, read because it is not a terminal, may stay silent
/// before a command says once on stderr what it is waiting for.
pub const STDIN_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Say once on stderr, unless the returned flag is set within
/// [`STDIN_NOTICE_AFTER`], that `command` is reading `what` from stdin: a
/// command in a `while read` loop or under a CI runner inherits a stdin
/// that is not a terminal and waits on it (`flag`: the option that names a
/// file instead; `< /dev/null` gives none).
pub fn notice_if_silent(
    command: &'static str,
    what: &'static str,
    flag: &'static str,
) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let heard = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = heard.clone();
    std::thread::spawn(move || {
        std::thread::sleep(STDIN_NOTICE_AFTER);
        if !seen.load(std::sync::atomic::Ordering::Relaxed) {
            crate::info!(
                "netbalance {command}: waiting for {what} on stdin, which is not a terminal; \
                 pass {flag}, or `< /dev/null` if there is nothing to read"
            );
        }
    });
    heard
}

/// How long a live stream on stdin may stay silent, after its first
/// snapshot, before the latest snapshot counts as "the last one".
pub const STREAM_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Read stdin line by line until EOF, or until it has been silent for
/// `settle` after a first non-empty line: a live stream (`monitor |
/// predict | place`) never ends, and its latest snapshot is the one that
/// counts. Files and finished pipes are read to their end as usual.
///
/// Bounded: the total is capped by [`crate::io::max_input_bytes`] and one
/// line by [`crate::limits::MAX_LINE_BYTES`] (`< /dev/zero` is refused after
/// reading that much); the reader thread hands lines over a bounded
/// channel; each line is looked at once (O(total length)).
pub fn read_stdin_until_settled(settle: std::time::Duration) -> Result<String> {
    use std::io::{BufRead, Read};
    use std::sync::mpsc;
    let limit = crate::io::max_input_bytes();
    let line_cap = (crate::limits::MAX_LINE_BYTES as u64).min(limit);
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<Vec<u8>>>(64);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = Vec::new();
            match (&mut lock)
                .take(line_cap.saturating_add(1))
                .read_until(b'\n', &mut line)
            {
                Ok(0) => break,
                Ok(_) => {
                    if tx.send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    let mut text: Vec<u8> = Vec::new();
    let mut seen_content = false;
    let mut line_no = 0usize;
    loop {
        let next = if !seen_content {
            rx.recv().map_err(|_| ())
        } else {
            rx.recv_timeout(settle).map_err(|_| ())
        };
        match next {
            Ok(Ok(line)) => {
                line_no += 1;
                if line.len() as u64 > line_cap {
                    return Err(Error::input(
                        crate::error::Location::file("<stdin>").at_line(line_no),
                        format!("line longer than {line_cap} bytes (one NDJSON record per line expected)"),
                    ));
                }
                seen_content = seen_content || line.iter().any(|b| !b.is_ascii_whitespace());
                text.extend_from_slice(&line);
                if text.len() as u64 > limit {
                    return Err(Error::input(
                        crate::error::Location::file("<stdin>"),
                        format!("input larger than {limit} bytes (set NETBALANCE_MAX_INPUT_BYTES to raise the limit)"),
                    ));
                }
            }
            Ok(Err(e)) => return Err(Error::io("<stdin>", e)),
            // EOF (sender gone) or silence after the first snapshot
            Err(()) => break,
        }
    }
    if text.starts_with(b"\xEF\xBB\xBF") {
        text.drain(..3);
    }
    String::from_utf8(text).map_err(|e| {
        Error::input(
            crate::error::Location::file("<stdin>"),
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Read a placement (not yet checked against a topology and testbed),
/// remembering its file so that its relative `"topology"`/`"testbed"`
/// paths resolve beside it.
pub fn read_placement(source: &Source) -> Result<Placement> {
    let mut placement: Placement = read_json(source)?;
    placement.read_from = source.path().map(Path::to_path_buf);
    Ok(placement)
}

/// Read a load stream; `None` if the stream is empty.
pub fn read_load_stream(source: &Source) -> Result<Vec<LoadSnapshot>> {
    let text = source.read_to_string()?;
    parse_load_stream(&text, &source.name())
}

/// The load for commands that use one snapshot (`place`, `cost`): the last
/// snapshot of `--load`, else of stdin when `stdin_allowed` and stdin is
/// piped and non-empty; `None` means "use the topology's expected load".
pub fn resolve_last_load(flag: Option<&Path>, stdin_allowed: bool) -> Result<Option<(LoadSnapshot, String)>> {
    let source = match flag {
        Some(p) => Source::from_arg(p),
        None if stdin_allowed && stdin_is_piped() => Source::Stdin,
        None => return Ok(None),
    };
    let name = source.name();
    let mut snaps = if source == Source::Stdin {
        let heard = match flag {
            None => notice_if_silent("place", "load snapshots (NDJSON)", "--load FILE"),
            Some(_) => std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        };
        let text = read_stdin_until_settled(STREAM_SETTLE)?;
        heard.store(true, std::sync::atomic::Ordering::Relaxed);
        parse_load_stream(&text, &name).map_err(|e| match (flag, e) {
            (None, Error::Input { location, message }) => Error::Input {
                location,
                message: format!(
                    "{message} (stdin was read for load snapshots because it is not a terminal: \
                     pass --load FILE, or `< /dev/null` for the topology's expected load)"
                ),
            },
            (_, e) => e,
        })?
    } else {
        read_load_stream(&source)?
    };
    match snaps.pop() {
        Some(s) => Ok(Some((s, name))),
        None if flag.is_some() => Err(Error::input(
            crate::error::Location::file(name),
            "no load snapshot in the stream",
        )),
        None => Ok(None),
    }
}

impl Problem {
    /// Resolve topology, testbed and costs (model §7 fallbacks), using the
    /// placement's recorded paths where flags are absent.
    pub fn resolve(
        topology: Option<&Path>,
        testbed: Option<&Path>,
        costs: Option<&Path>,
        placement: Option<&Placement>,
    ) -> Result<Problem> {
        let (topology, topology_path) = resolve_topology(topology, placement)?;
        let (testbed, testbed_path) = resolve_testbed(testbed, placement)?;
        let costs = resolve_costs(costs, &testbed)?;
        let instance = crate::cost::Instance::new(&topology, &testbed, costs);
        Ok(Problem {
            topology,
            topology_path,
            testbed,
            testbed_path,
            instance,
        })
    }

    /// The load: the last snapshot of `--load` (or of piped stdin when
    /// allowed), else the topology's expected load. Also returns a label
    /// saying where it came from.
    pub fn load(&self, flag: Option<&Path>, stdin_allowed: bool) -> Result<(crate::cost::Load, String)> {
        match resolve_last_load(flag, stdin_allowed && !self.reads_stdin())? {
            Some((snap, name)) => {
                let load = self.instance.load_from_snapshot(&snap, &name)?;
                Ok((load, format!("{name} (t={})", snap.t)))
            }
            None => Ok((
                self.instance.expected_load(&self.topology),
                "expected load of the topology".into(),
            )),
        }
    }
}
