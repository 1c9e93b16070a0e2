//! TLS for the PostgreSQL mirror through rustls (aws-lc-rs provider; no OpenSSL).
//!
//! libpq's `sslmode` decides how the server's certificate is checked:
//! `prefer`/`require` encrypt without checking it (as libpq does without a root
//! certificate), `verify-ca` checks the chain against `sslrootcert`, and
//! `verify-full` also checks that the certificate names the host. Handshake
//! signatures are always verified, whatever the mode.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct as Dss, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::SslMode;
use crate::error::BoxError;

/// The connector for `mode`, reading the authorities from `root_cert` when the mode
/// checks certificates.
pub fn connector(mode: SslMode, root_cert: Option<&Path>) -> Result<MakeRustlsConnect, BoxError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let chain = match (mode, root_cert) {
        (SslMode::VerifyCa | SslMode::VerifyFull, Some(path)) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)? {
                roots.add(cert?)?;
            }
            if roots.is_empty() {
                return Err(format!("{} holds no PEM certificate", path.display()).into());
            }
            Some(WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()?)
        }
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err("verify-ca/verify-full needs a root certificate file".into());
        }
        _ => None,
    };
    let config = match chain {
        Some(webpki) if mode == SslMode::VerifyFull => {
            builder.with_webpki_verifier(webpki).with_no_client_auth()
        }
        chain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NameUnchecked { chain, algorithms }))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// What a handshake-signature check answers.
type Verdict = Result<HandshakeSignatureValid, rustls::Error>;

/// The modes that never check the certificate's name. `verify-ca` (`chain`): the
/// chain must lead to a trusted root. `prefer`/`require` (no `chain`): encryption
/// only, as libpq without a root certificate; the certificate is not checked. The
/// handshake signatures always are, with the provider's `algorithms` (those the
/// chain's verifier checks them with too).
#[derive(Debug)]
struct NameUnchecked {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NameUnchecked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(&self, msg: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> Verdict {
        rustls::crypto::verify_tls12_signature(msg, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(&self, msg: &[u8], cert: &CertificateDer<'_>, dss: &Dss) -> Verdict {
        rustls::crypto::verify_tls13_signature(msg, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
