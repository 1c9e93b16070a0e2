//! The one error type of fabric-core.

/// Result alias for fabric-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the pure model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document is not what the contract says (filled in by the model work).
    #[error("invalid document: {0}")]
    Invalid(String),
}
