//! Snapshot packs on disk: a dataset folder with `manifest.json`,
//! `index.jsonl` and `records/YYYY/YYYY-MM-DD/chunk-NNNN.ndjson`.
//!
//! [`PackWriter`] appends (new chunks numbered after the highest, the index
//! extended, no chunk ever rewritten, every file temp + rename); [`PackReader`]
//! streams the chunks in numeric order and names file and line on every error.

mod index_reader;
pub mod lock;
pub(crate) mod reader;
pub(crate) mod writer;

pub use exchange_core::index::{INDEX_FILE, IndexEntry};
pub use index_reader::{read_index, read_index_from, read_index_hashes};
pub use lock::{LOCK_FILE, PackLock, lock_wait, set_lock_wait};
pub use reader::{PackLine, PackReader, chunk_files, slash_path};
pub use writer::{DEFAULT_CHUNK_SIZE, PackEntry, PackWriter, init_dataset, recover_killed_writers};

/// The folder under the dataset that holds the chunks.
pub const RECORDS_DIR: &str = "records";
