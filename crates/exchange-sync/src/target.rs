//! Where `--target` points: the embedded SQLite store or SQL Server.
