//! Items 2, 5, 6, 7: hostile archives and the encryption policy.
