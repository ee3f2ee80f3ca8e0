//! Time and randomness, passed in rather than reached for: expiry logic is tested with a
//! fixed clock, and every identifier or secret comes from one [`Entropy`] source.

use std::fmt;

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

/// The wall clock the service reads.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;

    /// Milliseconds since the Unix epoch, for what needs finer steps (rate limits); test
    /// clocks move in whole seconds.
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixTime {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
    }

    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that always says the same time, for tests.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// A clock that reads what a test sets, and moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(unix_time: UnixTime) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(unix_time))
    }

    /// Moves the clock forward (or back) by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The random source could not produce bytes.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct EntropyError;

/// Cryptographically secure random bytes.
pub trait Entropy: Send + Sync + 'static {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

/// The operating system's CSPRNG (through aws-lc).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        aws_lc_rs::rand::fill(dest).map_err(|_| EntropyError)
    }
}

/// `len` random bytes.
pub fn random_bytes(entropy: &dyn Entropy, len: usize) -> Result<Vec<u8>, EntropyError> {
    let mut bytes = vec![0; len];
    entropy.fill(&mut bytes)?;
    Ok(bytes)
}

/// A prefixed random identifier such as `tn_3f9a…` (`bytes` random bytes, hex encoded).
pub fn random_id(entropy: &dyn Entropy, prefix: &str, bytes: usize) -> Result<String, EntropyError> {
    let random = random_bytes(entropy, bytes)?;
    let mut id = String::with_capacity(prefix.len() + 1 + 2 * bytes);
    id.push_str(prefix);
    id.push('_');
    for byte in random {
        id.push_str(&format!("{byte:02x}"));
    }
    Ok(id)
}

/// An identifier that sorts in creation order: `prefix_` + the time (`now`, seconds) and a
/// node-wide counter, both hex and fixed-width, + `bytes` random bytes. Lists ordered by
/// (time, id) then keep the order of things created within the same second on one node.
pub fn sortable_id(entropy: &dyn Entropy, prefix: &str, now: i64, bytes: usize) -> Result<String, EntropyError> {
    static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let random = random_id(entropy, "", bytes)?;
    Ok(format!("{prefix}_{:010x}{sequence:08x}{}", now.max(0), random.trim_start_matches('_')))
}

impl fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock(now={})", self.now())
    }
}

impl fmt::Debug for dyn Entropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Entropy")
    }
}
