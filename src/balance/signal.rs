//! SIGINT/SIGTERM: the first one asks the loop to stop after the migration
//! in flight (the placement stays consistent, the state file is written);
//! a second one ends the process at once (default action restored).

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    // SAFETY: signal(2) is async-signal-safe; restores the default action.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// Install the handlers; the flag they set.
pub fn install() -> &'static AtomicBool {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic and calls signal(2).
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    &STOP
}
