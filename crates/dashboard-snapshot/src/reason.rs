//! The reason-code taxonomies: one enum per taxonomy, so a code
//! from one can never be used where the other is expected.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every code of this taxonomy.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The snake_case code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

codes! {
    /// Why an oracle is not ready.
    OracleReason {
        /// The oracle reported a timeout.
        OracleTimeout => "oracle_timeout",
        /// The oracle reported any other error.
        OracleError => "oracle_error",
        /// The oracle was expected but no result was supplied.
        MissingOraclePayload => "missing_oracle_payload",
    }
}

codes! {
    /// Why a projection is not ready (the projection taxonomy).
    ProjectionReason {
        /// A required oracle has no result.
        MissingOraclePayload => "missing_oracle_payload",
        /// A required oracle reported an error.
        DependencyFailed => "dependency_failed",
        /// An optional oracle is not ready, or the projection degraded itself.
        DependencyUnavailable => "dependency_unavailable",
        /// An oracle payload has the wrong shape or an out-of-range value.
        InvalidProjectionData => "invalid_projection_data",
        /// The projection failed (error or panic).
        ProjectionDerivationFailed => "projection_derivation_failed",
        /// The projection key is not registered.
        UnsupportedProjection => "unsupported_projection",
        /// Reserved: no time budget is enforced in v1.
        ProjectionTimeout => "projection_timeout",
    }
}

codes! {
    /// Why a dataset is not exported or the export failed (the export taxonomy).
    ExportReason {
        /// A required projection is unavailable or absent.
        RequiredProjectionUnavailable => "required_projection_unavailable",
        /// A required projection failed.
        RequiredProjectionFailed => "required_projection_failed",
        /// A required projection is partial under `fail_closed`.
        RequiredProjectionPartial => "required_projection_partial",
        /// The dataset was left out by its `allow_partial_with_manifest` policy.
        DatasetPolicyExcluded => "dataset_policy_excluded",
        /// The dataset's serializer failed.
        SerializerError => "serializer_error",
        /// The ZIP archive could not be built.
        ZipBuildFailed => "zip_build_failed",
        /// The export profile is not registered.
        UnknownExportProfile => "unknown_export_profile",
        /// The bundle's version is not supported.
        UnsupportedBundleVersion => "unsupported_bundle_version",
        /// A parity fingerprint did not match.
        ParityMismatch => "parity_mismatch",
        /// Any other export failure.
        ExportFailed => "export_failed",
    }
}
