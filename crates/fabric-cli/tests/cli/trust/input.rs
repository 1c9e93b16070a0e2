//! Items 3, 8, 9, 10, 11: bounded input, the add envelope, ids, chunks, dry runs.
