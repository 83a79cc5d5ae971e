//! The expansion budget of one build: every word expanded while planning and evaluating
//! counts its result's bytes against [`MAX_EXPANDED_BYTES`] (issue 17). One word is bounded
//! by `MAX_WORD_BYTES`; this bounds their sum, so many lines each expanding a large value
//! stop with an error instead of filling memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::dockerfile::limits::MAX_EXPANDED_BYTES;

/// Bytes of expansion results so far, shared by the evaluators of one pass over the stages
/// (clones share the count).
#[derive(Debug, Clone, Default)]
pub struct Budget(Arc<AtomicUsize>);

impl Budget {
    /// A budget of which `used` bytes are spent.
    pub fn new(used: usize) -> Self {
        Budget(Arc::new(AtomicUsize::new(used)))
    }

    /// Spends `bytes`; the error (a reason) when the total passes [`MAX_EXPANDED_BYTES`].
    pub fn charge(&self, bytes: usize) -> Result<(), String> {
        let before = self.0.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > MAX_EXPANDED_BYTES {
            return Err(exhausted_reason());
        }
        Ok(())
    }

    /// Bytes spent so far.
    pub fn used(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// True once the total has passed [`MAX_EXPANDED_BYTES`].
    pub fn exhausted(&self) -> bool {
        self.used() > MAX_EXPANDED_BYTES
    }
}

/// The reason given when the budget is spent.
pub fn exhausted_reason() -> String {
    format!(
        "expansion too large: the build's expanded words total more than {MAX_EXPANDED_BYTES} \
         bytes (16 MiB, builder's limit)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_count_and_the_limit_holds() {
        let b = Budget::new(MAX_EXPANDED_BYTES - 10);
        let c = b.clone();
        assert!(c.charge(10).is_ok());
        assert!(!b.exhausted());
        assert!(b.charge(1).unwrap_err().contains("16777216 bytes"));
        assert!(c.exhausted());
    }
}
