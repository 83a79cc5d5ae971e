//! Byte progress of blob transfers (pulls and pushes), reported through a
//! callback the UI sets with [`RegistryClient::with_transfers`]: updates at
//! most every 100 ms while bytes move, and, from a ticker thread, about
//! every half second for a transfer that has gone a second or more without
//! a byte, so a stalled registry shows as one (with the idle time and the
//! idle timeout that will end it) instead of as silence.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{idle_timeout, RegistryClient};

/// One report about one blob transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferUpdate {
    /// The UI scope the transfer started in ([`scoped`]), 0 outside any.
    pub scope: usize,
    /// The blob digest (`sha256:…`).
    pub id: String,
    /// The registry talked to, `host[:port]`.
    pub host: String,
    /// Bytes moved so far.
    pub current: u64,
    /// Bytes in the blob.
    pub total: u64,
    /// Time since the transfer started.
    pub elapsed: Duration,
    /// Time since the last byte moved (or since the start).
    pub idle: Duration,
    /// The idle timeout that fails the transfer ([`idle_timeout`]).
    pub timeout: Duration,
    /// The transfer completed (the last report for it).
    pub done: bool,
}

/// Receives transfer reports; called from async tasks and the ticker thread.
pub type OnTransfer = Arc<dyn Fn(&TransferUpdate) + Send + Sync>;

tokio::task_local! {
    static SCOPE: usize;
}

/// Runs `f` with transfers it starts reported under `scope` (a progress
/// step number).
pub async fn scoped<F: Future>(scope: usize, f: F) -> F::Output {
    SCOPE.scope(scope, f).await
}

/// How long bytes may not move before a transfer is reported as waiting.
const STALL_REPORT: Duration = Duration::from_secs(1);
/// The least time between two reports of a moving transfer.
const REPORT_EVERY: Duration = Duration::from_millis(100);

struct Live {
    scope: usize,
    id: String,
    host: String,
    current: u64,
    total: u64,
    started: Instant,
    last_byte: Instant,
    last_report: Instant,
}

impl Live {
    fn update(&self, done: bool) -> TransferUpdate {
        TransferUpdate {
            scope: self.scope,
            id: self.id.clone(),
            host: self.host.clone(),
            current: self.current,
            total: self.total,
            elapsed: self.started.elapsed(),
            idle: self.last_byte.elapsed(),
            timeout: idle_timeout(),
            done,
        }
    }
}

/// The transfers in flight of one client, and where their reports go.
pub(crate) struct Tracker {
    on: OnTransfer,
    live: Mutex<HashMap<u64, Live>>,
    next: AtomicU64,
}

impl Tracker {
    pub(crate) fn new(on: OnTransfer) -> Arc<Tracker> {
        let t = Arc::new(Tracker {
            on,
            live: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&t);
        // The ticker ends with the client (the last strong reference).
        std::thread::spawn(move || tick(weak));
        t
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn tick(weak: Weak<Tracker>) {
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let Some(t) = weak.upgrade() else { return };
        let stalled: Vec<TransferUpdate> = t
            .lock()
            .values()
            .filter(|l| l.last_byte.elapsed() >= STALL_REPORT)
            .map(|l| l.update(false))
            .collect();
        for u in &stalled {
            (t.on)(u);
        }
    }
}

/// A handle on one transfer: count bytes with [`Transfer::advance`], end
/// it with [`Transfer::finish`]; dropped unfinished (a failed attempt), it
/// just stops being reported. Clones share the transfer.
#[derive(Clone, Default)]
pub struct Transfer(Option<Arc<Handle>>);

struct Handle {
    tracker: Arc<Tracker>,
    key: u64,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.tracker.lock().remove(&self.key);
    }
}

impl Transfer {
    /// `n` more bytes moved.
    pub fn advance(&self, n: u64) {
        let Some(h) = &self.0 else { return };
        let report = {
            let mut live = h.tracker.lock();
            let Some(l) = live.get_mut(&h.key) else {
                return;
            };
            l.current += n;
            l.last_byte = Instant::now();
            (l.last_report.elapsed() >= REPORT_EVERY).then(|| {
                l.last_report = Instant::now();
                l.update(false)
            })
        };
        if let Some(u) = report {
            (h.tracker.on)(&u);
        }
    }

    /// The transfer completed: a last report with `done`, all `total`
    /// bytes moved.
    pub fn finish(&self) {
        self.end(|l| l.current = l.total);
    }

    /// The transfer of a blob whose size was not known when it started
    /// (compressed while it was sent) completed with `total` bytes: a last
    /// report with `done`, that total and the bytes counted (equal to it
    /// when every byte went through [`Transfer::advance`]).
    pub fn finish_with_total(&self, total: u64) {
        self.end(|l| l.total = total);
    }

    fn end(&self, last: impl FnOnce(&mut Live)) {
        let Some(h) = &self.0 else { return };
        let last = h.tracker.lock().remove(&h.key).map(|mut l| {
            last(&mut l);
            l.update(true)
        });
        if let Some(u) = last {
            (h.tracker.on)(&u);
        }
    }
}

impl RegistryClient {
    /// Reports blob transfers' byte progress to `on` (see [`TransferUpdate`]).
    pub fn with_transfers(mut self, on: OnTransfer) -> Self {
        self.transfers = Some(Tracker::new(on));
        self
    }

    /// Starts reporting a transfer of `total` bytes of blob `id` with `host`
    /// (a no-op handle when nobody listens).
    pub(crate) fn transfer(&self, id: &str, host: &str, total: u64) -> Transfer {
        let Some(tracker) = &self.transfers else {
            return Transfer::default();
        };
        let key = tracker.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        tracker.lock().insert(
            key,
            Live {
                scope: SCOPE.try_with(|s| *s).unwrap_or(0),
                id: id.to_string(),
                host: host.to_string(),
                current: 0,
                total,
                started: now,
                last_byte: now,
                last_report: now,
            },
        );
        Transfer(Some(Arc::new(Handle {
            tracker: tracker.clone(),
            key,
        })))
    }
}
