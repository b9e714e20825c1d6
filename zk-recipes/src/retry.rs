//! Retry policies (Curator's `ExponentialBackoffRetry`, `RetryNTimes`, `RetryUntilElapsed`),
//! built on [`backon`], and a helper that retries an operation on retryable errors.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ConstantBuilder, ExponentialBuilder};
use zk_core::Error;

/// How often and how long to retry an operation that failed with a retryable error
/// ([`Error::is_retryable`]: connection loss, operation timeout, session moved).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryPolicy {
    /// Never retry.
    Never,
    /// Exponential backoff with jitter: `base`, `2·base`, ... capped at `max_delay`, at most
    /// `max_retries` times.
    Exponential {
        /// The first delay.
        base: Duration,
        /// The largest delay.
        max_delay: Duration,
        /// How many retries at most.
        max_retries: usize,
    },
    /// A fixed delay, `n` times.
    NTimes {
        /// How many retries at most.
        n: usize,
        /// The delay between tries.
        delay: Duration,
    },
    /// A fixed delay, until `max_elapsed` has passed since the first try.
    UntilElapsed {
        /// The overall budget.
        max_elapsed: Duration,
        /// The delay between tries.
        delay: Duration,
    },
}

impl Default for RetryPolicy {
    /// Exponential from 100 ms, capped at 2 s, 10 retries.
    fn default() -> Self {
        RetryPolicy::Exponential {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retries: 10,
        }
    }
}

impl RetryPolicy {
    /// The delays to sleep between tries, in order; the iterator ends when the policy gives up.
    pub fn delays(&self) -> Box<dyn Iterator<Item = Duration> + Send> {
        match *self {
            RetryPolicy::Never => Box::new(std::iter::empty()),
            RetryPolicy::Exponential {
                base,
                max_delay,
                max_retries,
            } => Box::new(
                ExponentialBuilder::default()
                    .with_min_delay(base)
                    .with_max_delay(max_delay)
                    .with_max_times(max_retries)
                    .with_jitter()
                    .build(),
            ),
            RetryPolicy::NTimes { n, delay } => Box::new(
                ConstantBuilder::default()
                    .with_delay(delay)
                    .with_max_times(n)
                    .build(),
            ),
            RetryPolicy::UntilElapsed { max_elapsed, delay } => {
                // Stop once the time spent (measured, or the sum of the delays handed out,
                // whichever is larger) plus the next delay would exceed the budget.
                let start = Instant::now();
                let mut planned = Duration::ZERO;
                Box::new(
                    ConstantBuilder::default()
                        .with_delay(delay)
                        .without_max_times()
                        .build()
                        .take_while(move |d| {
                            let spent = start.elapsed().max(planned);
                            planned += *d;
                            spent + *d <= max_elapsed
                        }),
                )
            }
        }
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or the policy gives up
    /// (then the last error is returned).
    ///
    /// # Errors
    /// The last error of `op`.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut delays = self.delays();
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() => match delays.next() {
                    Some(d) => {
                        tracing::debug!(error = %e, delay = ?d, "retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_times_gives_n_delays() {
        let p = RetryPolicy::NTimes {
            n: 3,
            delay: Duration::from_millis(5),
        };
        assert_eq!(p.delays().count(), 3);
        assert_eq!(RetryPolicy::Never.delays().count(), 0);
    }

    #[test]
    fn exponential_is_capped() {
        let p = RetryPolicy::Exponential {
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retries: 8,
        };
        let d: Vec<_> = p.delays().collect();
        assert_eq!(d.len(), 8);
        // jitter adds at most one more delay's worth
        assert!(d.iter().all(|d| *d <= Duration::from_millis(100)), "{d:?}");
    }

    #[test]
    fn until_elapsed_stops() {
        let p = RetryPolicy::UntilElapsed {
            max_elapsed: Duration::from_millis(50),
            delay: Duration::from_millis(10),
        };
        assert_eq!(p.delays().count(), 5);
    }

    #[tokio::test]
    async fn run_retries_only_retryable_errors() {
        let p = RetryPolicy::NTimes {
            n: 2,
            delay: Duration::from_millis(1),
        };
        let mut calls = 0;
        let r: Result<(), _> = p
            .run(|| {
                calls += 1;
                async { Err(Error::ConnectionLoss) }
            })
            .await;
        assert_eq!(r, Err(Error::ConnectionLoss));
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<(), _> = p
            .run(|| {
                calls += 1;
                async { Err(Error::NoNode) }
            })
            .await;
        assert_eq!(r, Err(Error::NoNode));
        assert_eq!(calls, 1);
    }
}
