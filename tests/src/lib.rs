//! End-to-end tests live under `tests/cli`; this library is empty.
