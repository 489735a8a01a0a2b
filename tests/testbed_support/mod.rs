//! Shared pieces of the `testbed_*` integration tests: the root/tool check
//! (fail under CI, skip otherwise), unique names, and guards that always
//! clean up what a test made (namespaces, processes, cgroups, sshd).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a test of vnodes on SSH "VMs" with CRIU needs (see [`require`]).
pub const SSH_CRIU_TOOLS: &[&str] = &[
    "ip",
    "tc",
    "nsenter",
    "setsid",
    "unshare",
    "criu",
    "nft",
    "sshd",
    "ssh-keygen",
];

/// Check the test can run: root and the named programs. Under `CI` a missing
/// requirement fails the test; elsewhere it prints "skipped: …" and returns false.
pub fn require(tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root (run the tests as root)".to_string());
    }
    for t in tools {
        if which(t).is_none() {
            missing.push(format!("{t} (install with: sudo bash .ci/install-deps.sh)"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("needs {}", missing.join(", "));
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipped: {msg}");
    false
}

/// The keeper for the tests: this build's `netbalance` binary.
pub fn keeper() -> Option<String> {
    Some(env!("CARGO_BIN_EXE_netbalance").to_string())
}

pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return Path::new(prog).exists().then(|| PathBuf::from(prog));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.exists());
    found
}

/// A short tag unique to this test process and call: `t<pid><n>`.
pub fn tag() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("t{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn sh(argv: &[&str]) -> std::process::Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

pub fn sh_ok(argv: &[&str]) -> String {
    let out = sh(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deletes the named network namespaces when dropped.
#[derive(Default)]
pub struct NetnsGuard(pub Vec<String>);

impl NetnsGuard {
    pub fn add(&mut self, name: &str) -> String {
        sh_ok(&["ip", "netns", "add", name]);
        sh_ok(&["ip", "-n", name, "link", "set", "lo", "up"]);
        self.0.push(name.to_string());
        name.to_string()
    }
    pub fn adopt(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip")
                .args(["netns", "del", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Kills a child process (and waits for it) when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private sshd with its own host key, authorized key and port, started as
/// a child of the test (optionally inside a network namespace).
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub addr: String,
    pub user_key: PathBuf,
    pub host_key: PathBuf,
    child: Option<ChildGuard>,
}

impl Sshd {
    /// Start sshd listening on `addr:port`, inside `netns` if given.
    pub fn start(addr: &str, port: u16, netns: Option<&str>) -> Sshd {
        Sshd::start_in(addr, port, netns, None)
    }

    /// Like `start`; with `bind = Some((mountpoint, source))` sshd (and all
    /// it runs) gets a private mount namespace in which `source` is mounted
    /// on `mountpoint`: a "VM" with its own state directory and /run/netns.
    pub fn start_in(addr: &str, port: u16, netns: Option<&str>, bind: Option<(&Path, &Path)>) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host_key = d.join("host_key");
        let user_key = d.join("user_key");
        for k in [&host_key, &user_key] {
            sh_ok(&[
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "netbalance-test",
                "-f",
                k.to_str().unwrap(),
            ]);
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let cfg = d.join("sshd_config");
        std::fs::write(
            &cfg,
            format!(
                "ListenAddress {addr}\nPort {port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile none\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 UsePAM no\nStrictModes no\nLogLevel ERROR\nMaxSessions 100\nMaxStartups 100\n\
                 SetEnv SHLVL=1\n",
                hk = host_key.display(),
                ak = d.join("authorized_keys").display()
            ),
        )
        .unwrap();
        let sshd = which("sshd").expect("sshd");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}")).arg("--");
                c
            }
            None => {
                let mut c = Command::new("env");
                c.arg("--");
                c
            }
        };
        if let Some((mnt, src)) = bind {
            cmd.args(["unshare", "-m", "--propagation", "private", "--", "sh", "-c"])
                .arg(r#"mount --bind "$2" "$1" && exec "$3" -f "$4" -D -e"#)
                .arg("sshd-vm")
                .arg(mnt)
                .arg(src)
                .arg(&sshd)
                .arg(&cfg);
        } else {
            cmd.arg(&sshd).arg("-f").arg(&cfg).args(["-D", "-e"]);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let child = ChildGuard(cmd.spawn().expect("start sshd"));
        // Wait until it listens.
        let t0 = Instant::now();
        let target = format!("{addr}:{port}");
        loop {
            let probe = match netns {
                Some(_) => {
                    std::net::TcpStream::connect_timeout(&target.parse().unwrap(), Duration::from_millis(200)).is_ok()
                }
                None => std::net::TcpStream::connect(&target).is_ok(),
            };
            if probe {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "sshd on {target} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sshd {
            dir,
            port,
            addr: addr.to_string(),
            user_key,
            host_key,
            child: Some(child),
        }
    }

    /// `ssh-keygen -lf` of the host key: "SHA256:…".
    pub fn fingerprint(&self) -> String {
        let out = sh_ok(&[
            "ssh-keygen",
            "-l",
            "-E",
            "sha256",
            "-f",
            self.host_key.to_str().unwrap(),
        ]);
        out.split_whitespace().nth(1).unwrap().to_string()
    }

    pub fn stop(&mut self) {
        self.child.take();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run `f` on a thread that has joined network namespace `ns` (setns affects
/// only the calling thread, so the test's own threads stay where they are).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// (dev, inode) of a namespace file, to compare /proc/PID/ns/net with /run/netns/NAME.
pub fn ns_id(path: &str) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.dev(), m.ino())
}

/// Send bytes from `from_ns` to `addr:port` listened on in `to_ns` for
/// `secs` seconds; returns Mbit/s received.
pub fn throughput(from_ns: &str, to_ns: &str, addr: std::net::Ipv4Addr, port: u16, secs: f64) -> f64 {
    use std::io::{Read, Write};
    let listener = in_netns(to_ns, move || std::net::TcpListener::bind((addr, port)).unwrap());
    let rx = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        let t0 = Instant::now();
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k as u64,
            }
        }
        (n, t0.elapsed().as_secs_f64())
    });
    in_netns(from_ns, move || {
        let mut s = std::net::TcpStream::connect_timeout(&(addr, port).into(), Duration::from_secs(5)).unwrap();
        let buf = vec![0u8; 1 << 16];
        let t0 = Instant::now();
        while t0.elapsed().as_secs_f64() < secs {
            s.write_all(&buf).unwrap();
        }
    });
    let (n, dt) = rx.join().unwrap();
    n as f64 * 8.0 / 1e6 / dt
}

/// A vnode `run` script (python3 SERVER.py ADDR PORT): accepts one TCP
/// connection and echoes every line on it.
pub const ECHO_SERVER: &str = r#"
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); f = c.makefile('rwb')
for line in f:
    f.write(line); f.flush()
"#;

/// Python lines (after `import socket, sys, time`) that connect to the
/// TCP server at `sys.argv[1]:sys.argv[2]`, retried every 20 ms up to
/// `tries` times (the server vnode may start later): `c` is the socket,
/// `f` its file.
pub fn py_connect(tries: u32) -> String {
    format!(
        "for attempt in range({tries}):\n    try:\n        c = socket.create_connection((sys.argv[1], int(sys.argv[2]))); break\n    \
         except OSError:\n        time.sleep(0.02)\nf = c.makefile('rwb')\n"
    )
}

/// A vnode `run` script (python3 CLIENT.py ADDR PORT FILE): one TCP
/// connection to [`ECHO_SERVER`], a numbered line every 20 ms, each echo
/// checked; writes "N ok" (or "N BROKEN …" / "N MISMATCH …", then stops)
/// to FILE. The server vnode may start after it: connecting is retried.
pub fn counting_client() -> String {
    format!("import socket, sys, time, os\n{}{COUNTING_LOOP}", py_connect(250))
}

const COUNTING_LOOP: &str = r#"i = 0
while True:
    i += 1
    try:
        f.write(b"%d\n" % i); f.flush()
        r = f.readline().strip().decode()
        state = "ok" if r == str(i) else "MISMATCH " + r
    except Exception as e:
        state = "BROKEN %r" % e
    tmp = sys.argv[3] + ".tmp"
    with open(tmp, "w") as o:
        o.write("%d %s\n" % (i, state))
    os.rename(tmp, sys.argv[3])
    if state != "ok":
        break
    time.sleep(0.02)
"#;

/// The [`counting_client`]'s last report: its counter and "ok" (or what broke).
pub fn client_progress(p: &Path) -> (u64, String) {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let mut it = text.trim().splitn(2, ' ');
    (
        it.next().and_then(|s| s.parse().ok()).unwrap_or(0),
        it.next().unwrap_or("").to_string(),
    )
}

/// Wait (up to `timeout`) until the client's counter passes `beyond`, every
/// echo right; panics if the connection broke. Returns the counter.
pub fn wait_client(p: &Path, beyond: u64, timeout: Duration) -> u64 {
    let t0 = Instant::now();
    loop {
        let (n, state) = client_progress(p);
        assert!(state.is_empty() || state == "ok", "client reports {n} {state}");
        if n > beyond {
            return n;
        }
        assert!(t0.elapsed() < timeout, "client stuck at {n} (waiting for > {beyond})");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A local executor that runs everything for real except the commands
/// whose argv holds all of `words`: those fail (status 1, "injected
/// failure" on stderr). E.g. `["nft", "delete"]`: releasing the hold on a
/// restored vnode's namespace fails; `["nsenter", "restore"]`: `criu
/// restore` fails, directly or under the keeper.
pub struct FailingOn(pub &'static [&'static str]);

impl netbalance::testbed::Executor for FailingOn {
    fn label(&self) -> String {
        format!("local (failing on {})", self.0.join(" "))
    }
    fn machine(&self) -> Option<String> {
        Some("local".into())
    }
    fn output(&mut self, cmd: &netbalance::testbed::Cmd) -> netbalance::Result<netbalance::testbed::Output> {
        let argv = cmd.argv();
        if self.0.iter().all(|w| argv.contains(w)) {
            return Ok(netbalance::testbed::Output {
                status: 1,
                stdout: vec![],
                stderr: b"injected failure".to_vec(),
            });
        }
        netbalance::testbed::LocalExecutor.output(cmd)
    }
    fn read_file(&mut self, p: &Path) -> netbalance::Result<Vec<u8>> {
        netbalance::testbed::LocalExecutor.read_file(p)
    }
    fn write_file(&mut self, p: &Path, d: &[u8]) -> netbalance::Result<()> {
        netbalance::testbed::LocalExecutor.write_file(p, d)
    }
}

/// A bridge in the root namespace, removed on drop.
pub struct Bridge(pub String);
impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// Two "VMs" reached over SSH: network namespaces on a bridge of their own
/// (10.`net`.k.0/24, k from the pid; links made here only), each running
/// its own sshd on port 22 with a private mount of `state_root` (VM i sees
/// `root/vm{i}` there). VM 2 accepts VM 1's user key. Fields drop in order:
/// the sshds first, then the files, the bridge and the namespaces.
pub struct SshVms {
    pub sshds: Vec<Sshd>,
    /// The [`tag`] the namespaces were named with, for the test's own names.
    pub tag: String,
    pub root: tempfile::TempDir,
    pub state_root: PathBuf,
    pub addrs: Vec<String>,
    pub vm_ns: [String; 2],
    pub bridge: Bridge,
    pub nets: NetnsGuard,
}

impl SshVms {
    /// A 2×1 testbed of the two VMs (h0-v0, h1-v0), each reached as `root`.
    pub fn testbed(&self) -> netbalance::model::Testbed {
        let mut testbed = netbalance::model::Testbed::generate(2, 1, 1000.0);
        for (i, a) in self.addrs.iter().enumerate() {
            testbed.hosts[i].vms[0].ssh = Some(format!("root@{a}:22"));
        }
        testbed
    }

    /// SSH options for both VMs: VM 1's user key (VM 2 accepts it too),
    /// new host keys accepted into VM 1's `known_hosts`.
    pub fn ssh_options(&self) -> netbalance::testbed::SshOptions {
        let mut opts = netbalance::testbed::SshOptions::new(self.sshds[0].dir.path().join("known_hosts"));
        opts.accept_new = true;
        opts.identity = Some(self.sshds[0].user_key.clone());
        opts
    }

    /// Paths on the VMs: their state root, and this machine's criu and
    /// keeper (visible in their mount namespaces).
    pub fn paths(&self) -> netbalance::testbed::Paths {
        netbalance::testbed::Paths {
            state_root: self.state_root.clone(),
            criu: which("criu").unwrap().display().to_string(),
            keeper: keeper(),
            ..netbalance::testbed::Paths::default()
        }
    }
}

/// Start [`SshVms`]; `label` (one letter) keeps interface names apart
/// between test files.
pub fn two_ssh_vms(net: u8, label: &str) -> SshVms {
    let k = std::process::id() % 200 + 20;
    let tag = tag();
    let short = format!("{}", std::process::id() % 100_000);
    let mut nets = NetnsGuard::default();
    let vm_ns = [
        nets.add(&format!("{tag}{label}v1")),
        nets.add(&format!("{tag}{label}v2")),
    ];
    let bridge = Bridge(format!("nbb{label}{short}"));
    sh_ok(&["ip", "link", "add", &bridge.0, "type", "bridge"]);
    sh_ok(&["ip", "addr", "add", &format!("10.{net}.{k}.1/24"), "dev", &bridge.0]);
    sh_ok(&["ip", "link", "set", &bridge.0, "up"]);
    let mut addrs = Vec::new();
    for (i, ns) in vm_ns.iter().enumerate() {
        let host_end = format!("nb{label}{i}x{short}");
        sh_ok(&[
            "ip", "link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ]);
        sh_ok(&["ip", "link", "set", &host_end, "master", &bridge.0, "up"]);
        let a = format!("10.{net}.{k}.{}", i + 2);
        sh_ok(&["ip", "-n", ns, "addr", "add", &format!("{a}/24"), "dev", "eth0"]);
        sh_ok(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        addrs.push(a);
    }
    let root = tempfile::tempdir().unwrap();
    let state_root = root.path().join("state");
    std::fs::create_dir_all(&state_root).unwrap();
    let mut sshds = Vec::new();
    for (i, ns) in vm_ns.iter().enumerate() {
        let own = root.path().join(format!("vm{i}"));
        std::fs::create_dir_all(&own).unwrap();
        sshds.push(Sshd::start_in(&addrs[i], 22, Some(ns), Some((&state_root, &own))));
    }
    let ak2 = sshds[1].dir.path().join("authorized_keys");
    std::fs::write(&ak2, std::fs::read(sshds[0].dir.path().join("user_key.pub")).unwrap()).unwrap();
    SshVms {
        sshds,
        tag,
        root,
        state_root,
        addrs,
        vm_ns,
        bridge,
        nets,
    }
}

/// A deployment that is torn down when dropped (whatever the test's outcome).
pub struct Deployed<'a> {
    pub fleet: netbalance::testbed::Fleet,
    pub layout: &'a netbalance::testbed::Layout,
    pub placement: netbalance::model::Placement,
}

impl Drop for Deployed<'_> {
    fn drop(&mut self) {
        if let Err(e) = netbalance::testbed::teardown(&mut self.fleet, self.layout, &self.placement) {
            eprintln!("teardown: {e}");
        }
    }
}

/// Move `vnode` of deployment `d` to VM `to` the way `netbalance migrate`
/// does (engine, testbed driver, a journal in a fresh state dir);
/// `d.placement` follows what the move left in force.
pub fn move_vnode(
    d: &mut Deployed,
    topology: &netbalance::model::Topology,
    testbed: &netbalance::model::Testbed,
    vnode: &str,
    to: &str,
) -> netbalance::Result<netbalance::testbed::MigrationTimes> {
    let dir = tempfile::tempdir().unwrap();
    let state = netbalance::state::StateDir::open(dir.path().join("state"))?;
    netbalance::migrate::move_one(&mut d.fleet, topology, testbed, &mut d.placement, vnode, to, &state)
}

/// Two linked vnodes on local VMs of a 1×3 testbed: `a` (running `run`) on
/// h0-v0, `b` on h0-v1, h0-v2 free for a move; a fleet whose state dir is
/// `state`, with criu and the keeper as found on this machine. Not deployed.
pub struct LocalPair {
    pub a: String,
    pub b: String,
    pub topology: netbalance::model::Topology,
    pub testbed: netbalance::model::Testbed,
    pub placement: netbalance::model::Placement,
    pub layout: netbalance::testbed::Layout,
    pub state: tempfile::TempDir,
    pub fleet: netbalance::testbed::Fleet,
}

pub fn local_pair(run: &str, mbps: f64) -> LocalPair {
    use netbalance::model::{Link, Placement, Testbed, Topology, Vnode};
    let tag = tag();
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let mut va = Vnode::new(&a);
    va.run = Some(run.to_string());
    let topo = Topology {
        vnodes: vec![va, Vnode::new(&b)],
        links: vec![Link::new(&a, &b, mbps)],
    };
    let testbed = Testbed::generate(1, 3, 1000.0);
    let mut placement = Placement::default();
    placement.vm_of.insert(a.clone(), "h0-v0".into());
    placement.vm_of.insert(b.clone(), "h0-v1".into());
    let layout = netbalance::testbed::Layout::new(&topo).unwrap();
    let state = tempfile::tempdir().unwrap();
    let paths = netbalance::testbed::Paths {
        state_root: state.path().to_path_buf(),
        criu: which("criu").unwrap().display().to_string(),
        keeper: keeper(),
        ..Default::default()
    };
    let fleet = netbalance::testbed::Fleet::new(&testbed, netbalance::testbed::SshOptions::new("/dev/null"), paths);
    LocalPair {
        a,
        b,
        topology: topo,
        testbed,
        placement,
        layout,
        state,
        fleet,
    }
}

/// A vnode's root pid on this machine now (its pid file under `state_root`).
pub fn vnode_pid(state_root: &Path, id: &str) -> u32 {
    let f = state_root.join(netbalance::testbed::names::cgroup_name(id)).join("pid");
    let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}: {text:?}", f.display()))
}

/// The pids of `pid` in each pid namespace it is in, outermost first
/// (`NSpid` of /proc/PID/status); a vnode's root: `[outer, 1]`.
pub fn nspid(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| v.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// The paper's scenario on a live testbed: every vnode as the sink, with
/// how much better than the placement `in_force` a re-placement carries its
/// traffic (every other vnode streaming `mbps` to it, c_proc CPU-seconds
/// per Mbit handled, model §6): the ratio of the model τ in force to the
/// placer's (20,000 moves), least to gain first. A test moves the sink to
/// the last one but the current sink, so that the loop has something to
/// answer.
pub fn sinks_by_gain(
    topo: &netbalance::model::Topology,
    testbed: &netbalance::model::Testbed,
    in_force: &netbalance::model::Placement,
    mbps: f64,
    c_proc: f64,
) -> Vec<(String, f64)> {
    use netbalance::place::{initial, Budget, PlaceOptions};
    use netbalance::simulate::scenario::{adjacency, routes_with, sink_load};
    let inst = netbalance::cost::Instance::new(topo, testbed, netbalance::model::Costs::default());
    let assign = inst.assignment(in_force);
    let adj = adjacency(&inst);
    let opts = PlaceOptions {
        budget: Budget::Moves(20_000),
        seed: 1,
        constraints: Default::default(),
    };
    let mut all: Vec<(String, f64)> = (0..inst.vnode_ids.len())
        .map(|s| {
            let load = sink_load(&inst, &routes_with(&adj, s as u32), mbps, c_proc);
            let now = netbalance::cost::tau(&inst, &load, &assign);
            (inst.vnode_ids[s].clone(), now / initial(&inst, &load, &opts).tau)
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    all
}

/// The last of [`sinks_by_gain`] but `now`.
pub fn sink_with_most_to_gain(
    topo: &netbalance::model::Topology,
    testbed: &netbalance::model::Testbed,
    in_force: &netbalance::model::Placement,
    mbps: f64,
    c_proc: f64,
    now: &str,
) -> String {
    let all = sinks_by_gain(topo, testbed, in_force, mbps, c_proc);
    all.into_iter()
        .rev()
        .find(|(s, _)| s != now)
        .expect("two vnodes or more")
        .0
}

/// The paper's scenario as a topology to deploy: a `side`×`side` grid
/// (`topology grid`), vnode `row * side + col` named `<tag>n<index>`, each
/// running `netbalance traffic` (the binary on its VM, `$NETBALANCE`) with
/// the topology and sink files at `dir` on every VM.
pub fn traffic_grid(
    tag: &str,
    side: usize,
    dir: &str,
    mbps: f64,
    c_proc: f64,
    report_s: f64,
) -> netbalance::model::Topology {
    let mut topo = netbalance::topology::generate::grid(side, side);
    let id = |old: &str| format!("{tag}{old}");
    for v in &mut topo.vnodes {
        v.id = id(&v.id);
        v.run = Some(format!(
            "exec \"$NETBALANCE\" traffic --topology {dir}/topology.json --vnode {me} --sink-file {dir}/sink --mbps {mbps} --c-proc {c_proc} --report-s {report_s}",
            me = v.id
        ));
    }
    for l in &mut topo.links {
        (l.a, l.b) = (id(&l.a), id(&l.b));
    }
    topo
}
