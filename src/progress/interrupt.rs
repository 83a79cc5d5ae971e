//! Ctrl-C during a build: say which steps were cancelled, then die of the
//! SIGINT as before (the default disposition is restored and the signal
//! raised again, so the exit status and the sandbox's teardown are what
//! they were without the report).

use super::Progress;

impl Progress {
    /// On the first SIGINT, reports the running steps as cancelled
    /// ([`super::Event::Cancelled`]) and then lets the signal kill the
    /// process. Needs a tokio runtime with signal support (`rt`).
    pub fn report_interrupts(&self, rt: &tokio::runtime::Handle) {
        let p = self.clone();
        let _guard = rt.enter();
        let Ok(mut sigint) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        else {
            return; // no handler: SIGINT keeps its default action, unreported
        };
        rt.spawn(async move {
            if sigint.recv().await.is_some() {
                p.cancelled();
                // SAFETY: restoring the default disposition and re-raising
                // the signal; no Rust state is touched afterwards.
                unsafe {
                    libc::signal(libc::SIGINT, libc::SIG_DFL);
                    libc::raise(libc::SIGINT);
                }
            }
        });
    }
}
