//! A bounded LRU cache of verified version bodies, owned by the caller.
//!
//! Entries are keyed by the version's row id. A version's body (payload, metadata,
//! changes) never changes after it is written, so an entry can never go stale; the
//! mutable flags (active, deprecated) are always read fresh from the database.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::VersionBody;

/// Hit and miss counters of a [`ChainCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that had to decompress and verify.
    pub misses: u64,
    /// Entries held now.
    pub len: usize,
    /// The most entries held.
    pub capacity: usize,
}

/// A bounded least-recently-used cache of verified version bodies.
#[derive(Debug)]
pub struct ChainCache {
    capacity: usize,
    /// `None` for capacity 0 (caches nothing).
    entries: Option<LruCache<i64, Arc<VersionBody>>>,
    hits: u64,
    misses: u64,
}

impl ChainCache {
    /// The original system's size: 500 versions.
    pub const DEFAULT_CAPACITY: usize = 500;

    /// A cache holding at most `capacity` versions (0 caches nothing).
    pub fn new(capacity: usize) -> Self {
        ChainCache {
            capacity,
            entries: NonZeroUsize::new(capacity).map(LruCache::new),
            hits: 0,
            misses: 0,
        }
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            len: self.entries.as_ref().map_or(0, LruCache::len),
            capacity: self.capacity,
        }
    }

    /// The body of row `id`, counting a hit or a miss and refreshing its recency.
    pub(crate) fn get(&mut self, id: i64) -> Option<Arc<VersionBody>> {
        match self.entries.as_mut().and_then(|c| c.get(&id)) {
            Some(body) => {
                self.hits += 1;
                Some(Arc::clone(body))
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remember the verified body of row `id`, evicting the least recently used.
    pub(crate) fn put(&mut self, id: i64, body: Arc<VersionBody>) {
        if let Some(c) = self.entries.as_mut() {
            c.put(id, body);
        }
    }
}

impl Default for ChainCache {
    fn default() -> Self {
        ChainCache::new(ChainCache::DEFAULT_CAPACITY)
    }
}
