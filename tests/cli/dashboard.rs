//! End-to-end tests of `fabric dashboard` (filled in with the dashboard work).
