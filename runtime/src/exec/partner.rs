//! The second worker of a two-thread executor: one dedicated thread that spins while runs
//! keep coming and takes the second half of each split through an atomic flag.
//!
//! Waking a sleeping thread costs tens of microseconds on this machine (a rayon join per
//! split spent about 28% of a digits step in the kernel's scheduler: docs/performance.md),
//! more than many splits save. The partner spins (with `spin_loop` hints) until
//! [`SPIN`] has passed since its last job, then parks; the next job unparks it.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the partner spins after a job before it parks.
pub const SPIN: Duration = Duration::from_micros(300);

const IDLE: u32 = 0; // parked, or about to park
const AWAKE: u32 = 1; // spinning, no job
const JOB: u32 = 2; // a job is posted
const DONE: u32 = 3; // the posted job has finished
const EXIT: u32 = 4;

/// A posted job: a closure on the poster's stack, which waits for it to finish.
type Job = *const (dyn Fn() + Sync);

struct Shared {
    state: AtomicU32,
    job: UnsafeCell<Option<Job>>,
    /// The job panicked (the poster re-raises).
    panicked: AtomicU32,
}

// SAFETY: `job` is written only by the poster while the state is not JOB, and read only by
// the partner after it saw JOB (release/acquire on `state` orders the two).
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

pub(super) struct Partner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Partner {
    /// `None` if the thread cannot be spawned: the executor then runs both halves itself.
    pub fn new() -> Option<Partner> {
        let shared = Arc::new(Shared {
            state: AtomicU32::new(IDLE),
            job: UnsafeCell::new(None),
            panicked: AtomicU32::new(0),
        });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nnc-partner".into())
            .spawn(move || work(&theirs))
            .ok()?;
        Some(Partner {
            shared,
            thread: Some(thread),
        })
    }

    /// Runs `mine` here and `theirs` on the partner, returning when both are done.
    pub fn join(&self, mine: impl FnOnce(), theirs: &(dyn Fn() + Sync)) {
        // SAFETY: the lifetime is erased only for the time the partner holds the pointer:
        // this function does not return before the partner has set DONE.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), Job>(theirs) };
        unsafe { *self.shared.job.get() = Some(job) };
        if self.shared.state.swap(JOB, Ordering::AcqRel) == IDLE {
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
        mine();
        let mut spins = 0u32;
        while self.shared.state.load(Ordering::Acquire) != DONE {
            relax(&mut spins);
        }
        self.shared.state.store(AWAKE, Ordering::Release);
        if self.shared.panicked.swap(0, Ordering::AcqRel) != 0 {
            panic!("the executor's second thread panicked");
        }
    }
}

impl Drop for Partner {
    fn drop(&mut self) {
        self.shared.state.store(EXIT, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// One turn of a spin wait: a `pause`, and every 256th turn the CPU to whoever else wants
/// it (on two cores, the other thread of the pair may be waiting for this one's core).
fn relax(spins: &mut u32) {
    *spins = spins.wrapping_add(1);
    if spins.is_multiple_of(256) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

fn work(shared: &Shared) {
    let mut last = Instant::now();
    let mut spins = 0u32;
    loop {
        match shared.state.load(Ordering::Acquire) {
            JOB => {
                // SAFETY: the poster wrote the job before publishing JOB and waits for DONE.
                let job = unsafe { (*shared.job.get()).take() };
                if let Some(job) = job {
                    let f = unsafe { &*job };
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                        shared.panicked.store(1, Ordering::Release);
                    }
                }
                shared.state.store(DONE, Ordering::Release);
                last = Instant::now();
            }
            EXIT => return,
            IDLE => std::thread::park(),
            _ => {
                if last.elapsed() > SPIN {
                    // Park unless a job arrived meanwhile (then the exchange fails).
                    let _ = shared.state.compare_exchange(
                        AWAKE,
                        IDLE,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                } else {
                    relax(&mut spins);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn both_halves_run_before_join_returns_also_after_parking() {
        let p = Partner::new().expect("a thread");
        let count = AtomicUsize::new(0);
        for round in 0..200 {
            if round % 50 == 0 {
                // Long enough for the partner to park.
                std::thread::sleep(SPIN * 3);
            }
            p.join(
                || {
                    count.fetch_add(1, Ordering::Relaxed);
                },
                &|| {
                    count.fetch_add(1000, Ordering::Relaxed);
                },
            );
            assert_eq!(count.load(Ordering::Relaxed), (round + 1) * 1001);
        }
    }
}
