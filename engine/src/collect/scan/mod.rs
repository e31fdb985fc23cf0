//! `rootcause scan`: the RDP probe over many endpoints at once.
//!
//! [`targets`] turns what the user named into a lazy, indexable list of
//! endpoints; [`run`] probes them with a bounded number of worker threads,
//! each endpoint with the probe's soft [`Mode::Scan`] profile and its step
//! timeouts, new connections spaced by a shared [`Pacer`] when a rate is
//! set. Results come back to the caller's thread as they finish, through a
//! bounded channel, so memory does not grow with the number of targets.
//! What an endpoint's facts mean is the KB's business
//! ([`crate::Engine::scan_findings`]), not this module's.

pub mod targets;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::rdp_probe::{self, Config, Mode, Pacer, Report};
pub use targets::{Endpoint, Target, Targets};

/// How a scan runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timeout of each probe step; an endpoint costs at most three.
    pub step_timeout: Duration,
    /// Endpoints probed at the same time.
    pub concurrency: usize,
    /// Most new connections per second, over all endpoints.
    pub rate: Option<f64>,
}

/// A concurrency suited to this machine: probes wait on the network, not
/// the CPU, so 64 per core, between 32 and 512.
pub fn default_concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 64).clamp(32, 512)
}

/// One endpoint and what the probe found there.
#[derive(Debug, Clone)]
pub struct Probed {
    pub endpoint: Endpoint,
    pub report: Report,
}

/// How a scan ended.
#[derive(Debug, Clone, Copy)]
pub struct Ran {
    pub total: u128,
    pub done: u128,
    /// `stop` was raised before every endpoint was probed.
    pub interrupted: bool,
    pub elapsed: Duration,
}

/// Probe every endpoint of `targets`, calling `on_done` on this thread for
/// each as it finishes (in completion order). Raising `stop` ends the scan
/// at once: `run` returns what was done, and probes still in flight end
/// within their own timeout in the background without reporting.
pub fn run(
    targets: Arc<Targets>,
    options: &Options,
    stop: &Arc<AtomicBool>,
    mut on_done: impl FnMut(Probed),
) -> Ran {
    let start = Instant::now();
    let total = targets.len();
    let workers = (options.concurrency.max(1) as u128).min(total) as usize;
    let pacer = options.rate.and_then(Pacer::new).map(Arc::new);
    let next = Arc::new(Mutex::new(0u128));
    let (tx, rx) = mpsc::sync_channel::<Probed>(workers.max(1));
    for _ in 0..workers {
        let (targets, next, tx, stop) = (targets.clone(), next.clone(), tx.clone(), stop.clone());
        let (step, pacer) = (options.step_timeout, pacer.clone());
        let spawned = std::thread::Builder::new()
            .name("scan".into())
            .stack_size(512 * 1024)
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = match next.lock() {
                        Ok(mut n) => {
                            let i = *n;
                            *n += 1;
                            i
                        }
                        Err(_) => break,
                    };
                    let Some(endpoint) = targets.get(i) else {
                        break;
                    };
                    let mut cfg = Config::scan(&endpoint.host, endpoint.port, step);
                    cfg.pacer = pacer.clone();
                    debug_assert_eq!(cfg.mode, Mode::Scan);
                    let report = rdp_probe::probe(&cfg);
                    if tx.send(Probed { endpoint, report }).is_err() {
                        break;
                    }
                }
            });
        if spawned.is_err() {
            // Fewer workers than asked: the ones running do the work.
            break;
        }
    }
    drop(tx);
    let mut done = 0u128;
    let mut interrupted = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(p) => {
                done += 1;
                on_done(p);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if stop.load(Ordering::Relaxed) && done < total {
            interrupted = true;
            break;
        }
    }
    Ran {
        total,
        done,
        interrupted,
        elapsed: start.elapsed(),
    }
}
