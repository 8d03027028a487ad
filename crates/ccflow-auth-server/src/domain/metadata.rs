//! Discovery metadata (RFC 8414 §2 / OpenID Connect Discovery): the server's URLs and what it
//! accepts, in the profile's document.

use ccflow_protocol::{AuthMethod, Scopes};
use serde_json::Value;

use crate::domain::auth_server::AuthServer;
use crate::domain::site::Site;
use crate::profiles::MetadataInput;

impl AuthServer {
    /// The discovery document, with `*_supported` lists that match what the server really
    /// accepts.
    pub(crate) fn metadata(&self, site: &Site) -> Value {
        let routes = self.routes();
        let mut scopes = Scopes::new();
        for client in self.registry().iter() {
            for scope in &client.scopes {
                scopes.insert(scope.clone());
            }
        }
        let scopes: Vec<String> = scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect();
        // The mutual TLS methods (RFC 8705 §2) only where a client can present a certificate.
        let mtls = self.inner.mtls.is_some();
        let auth_methods: Vec<AuthMethod> = self
            .spec()
            .auth_methods
            .iter()
            .copied()
            .filter(|method| mtls || !method.is_mutual_tls())
            .collect();
        let mut metadata = self.dialect().metadata(&MetadataInput {
            issuer: &site.issuer,
            base_url: &site.base_url,
            token_endpoint: &site.token_url,
            jwks_uri: site.url(&routes.jwks),
            introspection_endpoint: routes.introspection.as_deref().map(|path| site.url(path)),
            revocation_endpoint: routes.revocation.as_deref().map(|path| site.url(path)),
            scopes,
            signing_algorithm: format!("{:?}", self.keys().active().algorithm()),
            auth_methods: &auth_methods,
            options: &self.dialect().settings().options,
            grant_types: self.dialect().grant_types(),
        });
        if let (Some(algorithms), Some(object)) = (
            self.inner.dpop.advertised_algorithms(),
            metadata.as_object_mut(),
        ) {
            // RFC 9449 §5.1.
            object.insert(
                "dpop_signing_alg_values_supported".to_owned(),
                Value::from(algorithms),
            );
        }
        let mtls_methods = auth_methods.iter().any(|method| method.is_mutual_tls());
        if let (true, Some(object)) = (mtls_methods, metadata.as_object_mut()) {
            // RFC 8705 §3.3: the server binds tokens to certificates.
            object.insert(
                "tls_client_certificate_bound_access_tokens".to_owned(),
                Value::Bool(true),
            );
            if let Some(https) = &self.inner.mtls_base_url {
                // RFC 8705 §5: where the endpoints take client certificates when the
                // advertised ones (plain HTTP, side by side) cannot.
                let https_site = Site::new(site.issuer.clone(), https.clone(), &routes.token[0]);
                let mut aliases = serde_json::Map::new();
                aliases.insert(
                    "token_endpoint".to_owned(),
                    Value::String(https_site.token_url.clone()),
                );
                for (name, path) in [
                    ("introspection_endpoint", &routes.introspection),
                    ("revocation_endpoint", &routes.revocation),
                ] {
                    if let Some(path) = path {
                        aliases.insert(name.to_owned(), Value::String(https_site.url(path)));
                    }
                }
                object.insert("mtls_endpoint_aliases".to_owned(), Value::Object(aliases));
            }
        }
        metadata
    }
}
