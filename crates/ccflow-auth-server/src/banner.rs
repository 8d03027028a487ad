//! The start-up summary the binary prints after its `listening on` line.

use crate::domain::auth_server::AuthServer;

impl AuthServer {
    /// The start-up summary the binary prints after its `listening on` line: endpoints, clients
    /// (ids and scopes; secrets only for the built-in demo clients) and a ready-to-paste curl.
    pub fn banner(&self) -> String {
        use std::fmt::Write as _;
        let routes = self.routes();
        let mut text = String::new();
        if self.inner.issuer_from_request {
            // The URLs below are those of the bound address; a request under another name gets
            // that name's.
            let _ = writeln!(
                text,
                "issuer:         from each request's scheme and host (here: {})",
                self.issuer()
            );
        } else {
            let _ = writeln!(text, "issuer:         {}", self.issuer());
        }
        let _ = writeln!(
            text,
            "profile:        {} ({})",
            self.profile(),
            self.spec().vendor
        );
        if let Some(region) = self.dialect().banner_region() {
            let _ = writeln!(text, "region:         {region}");
        }
        for path in &routes.token {
            let _ = writeln!(text, "token endpoint: {}", self.url(path));
        }
        let _ = writeln!(text, "jwks:           {}", self.url(&routes.jwks));
        for path in &routes.discovery {
            let _ = writeln!(text, "discovery:      {}", self.url(path));
        }
        if let Some(path) = &routes.introspection {
            let _ = writeln!(text, "introspection:  {}", self.url(path));
        }
        if let Some(path) = &routes.revocation {
            let _ = writeln!(text, "revocation:     {}", self.url(path));
        }
        let keys = self.keys();
        let key = keys.active();
        let _ = writeln!(
            text,
            "signing key:    {:?}, kid {}",
            key.algorithm(),
            key.kid()
        );
        let admin = &self.inner.admin;
        if admin.enabled {
            let access = if admin.token.is_some() {
                "bearer admin token required"
            } else {
                "loopback peers only"
            };
            let _ = writeln!(text, "admin api:      {} ({access})", self.url("/_ccflow"));
            let _ = writeln!(
                text,
                "admin openapi:  {}",
                self.url("/_ccflow/openapi.json")
            );
            let _ = writeln!(text, "admin console:  {}", self.url("/_ccflow/console"));
        }
        let _ = writeln!(text, "clients:");
        let mut example = None;
        let registry = self.registry();
        for client in registry.iter() {
            let methods: Vec<&str> = client.auth_methods.iter().map(|m| m.as_str()).collect();
            // What a client asks for in `scope` depends on the profile: OAuth scopes, the
            // audiences it may reach (SLB), or nothing (UserClouds).
            let _ = write!(
                text,
                "  {}  {}  auth: {}",
                client.id,
                self.dialect().banner_scope(client),
                methods.join(",")
            );
            if let (Some(secret), true) = (&client.secret, client.is_demo) {
                let _ = write!(
                    text,
                    "  secret: {} (built-in demo client)",
                    secret.expose_secret()
                );
                example.get_or_insert((client.id.as_str(), secret.expose_secret()));
            }
            text.push('\n');
        }
        if registry.iter().next().is_none() {
            let _ = writeln!(text, "  (none)");
        }
        if let Some((id, secret)) = example {
            let scope = self.dialect().try_parameters();
            let _ = writeln!(text, "try:");
            let _ = writeln!(
                text,
                "  curl -s -u '{id}:{secret}' -d grant_type=client_credentials{scope} {}",
                self.token_url()
            );
        }
        text
    }
}
