//! `netbalance xfer recv|send` (hidden): the two ends of a direct VM-to-VM
//! copy of a state directory (see [`crate::testbed::stream`]). A migration
//! starts `recv` on the destination VM and then `send` on the source VM,
//! over their SSH sessions; both read the transfer's token on stdin.

use super::Status;
use crate::error::{Error, Result};
use crate::testbed::stream;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  echo TOKEN | netbalance xfer recv --listen 10.0.0.6:0 --dir /var/lib/netbalance/vnodes/nb1234abcd\n  echo TOKEN | netbalance xfer send --to 10.0.0.6:40123 --dir /var/lib/netbalance/vnodes/nb1234abcd"
)]
pub struct Args {
    #[command(subcommand)]
    pub end: End,
}

#[derive(Debug, clap::Subcommand)]
pub enum End {
    /// Listen, print the port, then in the background unpack one sender's archive into DIR
    Recv {
        /// Address to listen on (port 0: any free port)
        #[arg(long, value_name = "ADDR:PORT")]
        listen: SocketAddr,
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Give up if no sender connects within this many seconds
        #[arg(long, value_name = "S", default_value_t = 30)]
        timeout_s: u64,
    },
    /// Send DIR as a tar archive to a receiver; print the bytes sent
    Send {
        #[arg(long, value_name = "ADDR:PORT")]
        to: SocketAddr,
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

fn read_token() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::host_op("xfer", "reading the token", e))?;
    stream::parse_token(&line)
}

pub fn run(args: Args) -> Result<Status> {
    let token = read_token()?;
    match args.end {
        End::Recv { listen, dir, timeout_s } => {
            let l = stream::listen(listen)?;
            let port = l
                .local_addr()
                .map_err(|e| Error::host_op("xfer", "the listening address", e))?
                .port();
            let deadline = Instant::now() + Duration::from_secs(timeout_s);
            let mut out = std::io::stdout();
            writeln!(out, "{port}")
                .and_then(|_| out.flush())
                .map_err(|e| Error::host_op("xfer", "stdout", e))?;
            stream::serve_detached(&l, &dir, &token, deadline)?;
            Ok(Status::Done)
        }
        End::Send { to, dir } => {
            // On a LAN a connection takes well under a millisecond; a firewall
            // that drops the packets should cost a move little before the
            // fallback to SSH.
            let n = stream::send(to, &dir, &token, Duration::from_secs(3))?;
            println!("{n}");
            Ok(Status::Done)
        }
    }
}
