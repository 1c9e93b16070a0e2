//! The `jobs` table (seed 001): batch ingestion and loading in store order.
