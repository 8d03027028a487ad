//! Discovery metadata (RFC 8414 §2 / OpenID Connect Discovery): the server's URLs and what it
//! accepts, in the profile's document.

use ccflow_protocol::Scopes;
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
        let mut metadata = self.dialect().metadata(&MetadataInput {
            issuer: &site.issuer,
            base_url: &site.base_url,
            token_endpoint: &site.token_url,
            jwks_uri: site.url(&routes.jwks),
            introspection_endpoint: routes.introspection.as_deref().map(|path| site.url(path)),
            revocation_endpoint: routes.revocation.as_deref().map(|path| site.url(path)),
            scopes,
            signing_algorithm: format!("{:?}", self.keys().active().algorithm()),
            auth_methods: self.spec().auth_methods,
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
        metadata
    }
}
