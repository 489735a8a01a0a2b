//! The migration journal: an append-only NDJSON file in the state dir, one
//! record per step, each line fsynced before the step after it starts.
//!
//! A run starts with `planned` (what it will do) and ends with `finished`
//! (the placement reached). A run with no `finished` record is unfinished:
//! its process crashed or was killed, and `migrate --resume` / `--rollback`
//! takes it up from the records. Every line carries a sequence number and a
//! checksum: a torn last line (a crash while writing it) is reported and cut
//! off; a bad line anywhere else is an input error naming the line.
//!
//! ```text
//! {"seq":0,"t_ms":1764158400000,"rec":{"step":"planned","run":"4242-1764158400000",...},"sum":"9f0c…"}
//! {"seq":1,"t_ms":1764158400012,"rec":{"step":"suspended","vm":"h0-v0"},"sum":"…"}
//! {"seq":2,"t_ms":1764158400071,"rec":{"step":"dumped","vnode":"n3","vm":"h0-v0"},"sum":"…"}
//! ```

use super::secure::{Access, SecureDir};
use crate::error::{Error, Location, Result};
use crate::model::Placement;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// First deployment: nothing was in force.
    Deploy,
    /// Live migration from the placement in force to a target.
    Migrate,
    /// Stop every vnode in force.
    Teardown,
}

/// A move as planned: vnode, source VM, destination VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedMove {
    pub vnode: String,
    pub from: String,
    pub to: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// Everything planned was done.
    Committed,
    /// A step failed; the affected vnodes went back to their source and the
    /// testbed is in the (consistent) placement recorded.
    Recovered,
    /// The run was undone (`--rollback`): the placement before it is in force.
    RolledBack,
}

/// The step names of a move, for `failed` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Deploy,
    /// Memory copied ahead of the pause (pre-copy).
    PreCopy,
    Suspend,
    Checkpoint,
    Transfer,
    Restore,
    Reattach,
    Resume,
    Remove,
    Teardown,
    Probe,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// A run starts. `from` is the placement in force (none for a deploy),
    /// `to` the target (none for a teardown).
    Planned {
        run: String,
        pid: u32,
        kind: RunKind,
        from: Option<Placement>,
        to: Option<Placement>,
        moves: Vec<PlannedMove>,
    },
    /// The vnodes of a VM were frozen.
    Suspended { vm: String },
    /// The vnode's image was written on `vm` (its process there is gone).
    Dumped { vnode: String, vm: String },
    /// The image was copied from `from` to `to`.
    Transferred { vnode: String, from: String, to: String },
    /// The vnode was restored (frozen) on `vm`, in a fresh namespace.
    Restored { vnode: String, vm: String },
    /// The vnode's links were re-attached at `vm`.
    Reattached { vnode: String, vm: String },
    /// A step failed.
    Failed {
        vnode: Option<String>,
        vm: String,
        during: Step,
        error: String,
    },
    /// After a failure the vnode runs (frozen) on `vm`, its source.
    RolledBack { vnode: String, vm: String },
    /// The vnode could not be brought back anywhere (a human must look).
    Lost { vnode: String, detail: String },
    /// The vnodes of a VM were deployed (first deployment).
    Deployed { vm: String },
    /// The vnodes of a VM were stopped and their namespaces removed.
    TornDown { vm: String },
    /// The vnodes of a VM were thawed.
    Resumed { vm: String },
    /// The run ended; `placement` is in force (none after a teardown).
    Finished {
        outcome: RunEnd,
        placement: Option<Placement>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: u64,
    t_ms: u64,
    rec: Record,
    sum: String,
}

fn line_sum(seq: u64, t_ms: u64, rec: &Record) -> String {
    let json = serde_json::to_string(&(seq, t_ms, rec)).expect("a record serialises");
    format!("{:016x}", super::fnv1a64(json.as_bytes()))
}

/// The records of one run: its plan and what was recorded after it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLog {
    pub run: String,
    pub pid: u32,
    pub kind: RunKind,
    pub from: Option<Placement>,
    pub to: Option<Placement>,
    pub moves: Vec<PlannedMove>,
    /// The records after `planned`, in order.
    pub records: Vec<Record>,
}

/// The journal file, open for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    records: Vec<Record>,
    next_seq: u64,
}

impl Journal {
    /// Open (or create) the journal at `path`, checking every line. A torn
    /// last line is reported on stderr and cut off; any other bad line is an
    /// input error naming it.
    pub fn open(path: PathBuf) -> Result<Journal> {
        let name = path.display().to_string();
        let (dir, file_name) = secure_parent(&path, true)?;
        let dir = dir.expect("created");
        let read = read(&path)?;
        if let Some(line_no) = read.torn_line {
            crate::info!("netbalance: {name:?}:{line_no}: torn last journal record (a crash while writing it); it is ignored and cut off");
            let f = dir.open_file(&file_name, Access::Write)?.expect("read above");
            f.set_len(read.good_len as u64)
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io(&name, e))?;
        }
        let file = dir.open_file(&file_name, Access::Append)?.expect("O_CREAT");
        let next_seq = read.records.len() as u64;
        Ok(Journal {
            path,
            file,
            records: read.records,
            next_seq,
        })
    }

    /// The unfinished run of the journal at `path`, read without changing
    /// anything (for `--dry-run`).
    pub fn peek_unfinished(path: &std::path::Path) -> Result<Option<RunLog>> {
        Ok(unfinished_of(&read(path)?.records))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Every record of the file, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The last run if it has no `finished` record.
    pub fn unfinished(&self) -> Option<RunLog> {
        unfinished_of(&self.records)
    }

    /// Start a run: the previous journal (a finished run) becomes
    /// `journal.prev.ndjson` and a fresh one starts with `planned`.
    pub fn begin(
        &mut self,
        kind: RunKind,
        from: Option<&Placement>,
        to: Option<&Placement>,
        moves: Vec<PlannedMove>,
    ) -> Result<String> {
        if let Some(run) = self.unfinished() {
            return Err(Error::usage(format!(
                "{}: run {} (pid {}) did not finish; take it up with `netbalance migrate --resume` or undo it with `--rollback`",
                self.path.display(),
                run.run,
                run.pid
            )));
        }
        if !self.records.is_empty() {
            let (dir, file_name) = secure_parent(&self.path, true)?;
            let dir = dir.expect("created");
            dir.rename(&file_name, "journal.prev.ndjson")?;
            self.file = dir.open_file(&file_name, Access::Append)?.expect("O_CREAT");
            dir.sync();
            self.records.clear();
            self.next_seq = 0;
        }
        let pid = std::process::id();
        let run = format!("{pid}-{}", now_ms());
        let strip = |p: &Placement| Placement {
            tau: None,
            chi: None,
            ..p.clone()
        };
        self.append(Record::Planned {
            run: run.clone(),
            pid,
            kind,
            from: from.map(strip),
            to: to.map(strip),
            moves,
        })?;
        Ok(run)
    }

    /// Append one record and fsync it.
    pub fn append(&mut self, rec: Record) -> Result<()> {
        let t_ms = now_ms();
        let sum = line_sum(self.next_seq, t_ms, &rec);
        let line = Line {
            seq: self.next_seq,
            t_ms,
            rec,
            sum,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| Error::io(self.path.display().to_string(), e.into()))?;
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(self.path.display().to_string(), e))?;
        self.records.push(line.rec);
        self.next_seq += 1;
        Ok(())
    }
}

/// The last run of `records` if it has no `finished` record.
fn unfinished_of(records: &[Record]) -> Option<RunLog> {
    let start = records.iter().rposition(|r| matches!(r, Record::Planned { .. }))?;
    let Record::Planned {
        run,
        pid,
        kind,
        from,
        to,
        moves,
    } = records[start].clone()
    else {
        unreachable!()
    };
    let rest = records[start + 1..].to_vec();
    if rest.iter().any(|r| matches!(r, Record::Finished { .. })) {
        return None;
    }
    Some(RunLog {
        run,
        pid,
        kind,
        from,
        to,
        moves,
        records: rest,
    })
}

/// What a journal file holds: its good records, their length in bytes and
/// the line number of a torn last line, if any.
struct Read {
    records: Vec<Record>,
    good_len: usize,
    torn_line: Option<usize>,
}

/// Read and check every line of a journal (a missing file is empty).
fn read(path: &std::path::Path) -> Result<Read> {
    let name = path.display().to_string();
    let text = match secure_parent(path, false)? {
        (Some(dir), file_name) => dir.read(&file_name)?.unwrap_or_default(),
        (None, _) => Vec::new(),
    };
    let mut out = Read {
        records: Vec::new(),
        good_len: 0,
        torn_line: None,
    };
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < text.len() {
        line_no += 1;
        let end = text[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
        let raw = &text[pos..end.unwrap_or(text.len())];
        let is_last = end.map_or(true, |e| e + 1 >= text.len());
        match (parse_line(raw, out.records.len() as u64), end) {
            (Ok(rec), Some(end)) => {
                out.records.push(rec);
                pos = end + 1;
                out.good_len = pos;
            }
            (_, _) if is_last => {
                out.torn_line = Some(line_no);
                break;
            }
            (Err(msg), _) => return Err(Error::input(Location::file(&name).at_line(line_no), msg)),
            (Ok(_), None) => unreachable!("a line without newline is the last"),
        }
    }
    Ok(out)
}

fn parse_line(raw: &[u8], expected_seq: u64) -> std::result::Result<Record, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "journal record is not UTF-8".to_string())?;
    let line: Line = serde_json::from_str(text).map_err(|e| format!("bad journal record: {e}"))?;
    if line.sum != line_sum(line.seq, line.t_ms, &line.rec) {
        return Err("journal record checksum mismatch (edited by hand or torn)".into());
    }
    if line.seq != expected_seq {
        return Err(format!(
            "journal record out of sequence (seq {}, expected {expected_seq})",
            line.seq
        ));
    }
    Ok(line.rec)
}

/// The checked directory holding `path` (created if `create`; `None` if
/// missing) and the file's name in it.
fn secure_parent(path: &std::path::Path, create: bool) -> Result<(Option<SecureDir>, String)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((SecureDir::open(dir, create)?, file_name))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumped(n: &str) -> Record {
        Record::Dumped {
            vnode: n.into(),
            vm: "h0-v0".into(),
        }
    }

    #[test]
    fn records_survive_reopen_and_runs_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let mut j = Journal::open(path.clone()).unwrap();
        j.begin(RunKind::Migrate, None, None, vec![]).unwrap();
        j.append(dumped("n0")).unwrap();
        let j = Journal::open(path.clone()).unwrap();
        let run = j.unfinished().unwrap();
        assert_eq!(run.records, vec![dumped("n0")]);
        let mut j = j;
        assert!(
            j.begin(RunKind::Migrate, None, None, vec![]).is_err(),
            "an unfinished run blocks a new one"
        );
        j.append(Record::Finished {
            outcome: RunEnd::Committed,
            placement: None,
        })
        .unwrap();
        assert!(Journal::open(path.clone()).unwrap().unfinished().is_none());
        j.begin(RunKind::Teardown, None, None, vec![]).unwrap();
        assert!(dir.path().join("journal.prev.ndjson").exists());
        assert_eq!(Journal::open(path).unwrap().records().len(), 1);
    }

    #[test]
    fn torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let mut j = Journal::open(path.clone()).unwrap();
        j.begin(RunKind::Migrate, None, None, vec![]).unwrap();
        j.append(dumped("n0")).unwrap();
        j.append(dumped("n1")).unwrap();
        drop(j);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 20]).unwrap();
        let mut j = Journal::open(path.clone()).unwrap();
        assert_eq!(j.unfinished().unwrap().records, vec![dumped("n0")]);
        // Appending after the cut gives a clean file.
        j.append(dumped("n2")).unwrap();
        assert_eq!(
            Journal::open(path).unwrap().unfinished().unwrap().records,
            vec![dumped("n0"), dumped("n2")]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]
        /// A crash can cut the file anywhere: opening it keeps exactly the
        /// records written in full before the cut, and appends go on cleanly.
        #[test]
        fn a_cut_anywhere_keeps_the_complete_records(n in 1usize..8, cut in 0.0f64..1.0) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.ndjson");
            let mut j = Journal::open(path.clone()).unwrap();
            j.begin(RunKind::Migrate, None, None, vec![]).unwrap();
            for i in 0..n {
                j.append(dumped(&format!("n{i}"))).unwrap();
            }
            drop(j);
            let full = std::fs::read(&path).unwrap();
            let k = ((full.len() as f64) * cut) as usize;
            std::fs::write(&path, &full[..k]).unwrap();
            let complete = full[..k].iter().filter(|&&b| b == b'\n').count();
            let mut j = Journal::open(path.clone()).unwrap();
            proptest::prop_assert_eq!(j.records().len(), complete);
            j.append(dumped("after")).unwrap();
            proptest::prop_assert_eq!(Journal::open(path).unwrap().records().len(), complete + 1);
        }
    }

    #[test]
    fn edited_middle_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let mut j = Journal::open(path.clone()).unwrap();
        j.begin(RunKind::Migrate, None, None, vec![]).unwrap();
        j.append(dumped("n0")).unwrap();
        j.append(dumped("n1")).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap().replacen("\"n0\"", "\"n9\"", 1);
        std::fs::write(&path, text).unwrap();
        let err = Journal::open(path).unwrap_err().to_string();
        assert!(err.contains("journal.ndjson:2") && err.contains("checksum"), "{err}");
    }
}
