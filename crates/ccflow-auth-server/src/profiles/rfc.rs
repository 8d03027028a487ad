//! The strict RFC profile (RFC 6749, RFC 9068, RFC 8414, RFC 8707): the default behaviour the
//! other vendors' files start from.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::{AuthMethod, ErrorResponse, Scopes, ServerMetadata};
use serde_json::{Map, Value, json};

use super::{
    ClaimInput, ExchangeInput, Grant, GrantInput, MetadataInput, Vendor, into_map, one_or_many,
};
use crate::domain::clients::{ASSERTION_ALGORITHMS, RegisteredClient};
use crate::domain::echo::truncate;
use crate::domain::endpoint::EndpointError;
use crate::domain::ids::random_bytes;

/// RFC 6749 / RFC 9068 (strict).
#[derive(Debug)]
pub(super) struct Rfc;

impl Vendor for Rfc {
    fn dpop_by_default(&self) -> bool {
        true
    }

    fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value> {
        let client_id = input.client.id.as_str();
        let mut claims = json!({
            "iss": input.issuer,
            "sub": client_id,
            "aud": one_or_many(input.audience),
            "exp": input.exp,
            "iat": input.now,
            "nbf": input.now,
            "jti": input.jti,
            "client_id": client_id,
        });
        if !input.granted.is_empty() {
            claims["scope"] = json!(input.granted.to_string());
        }
        into_map(claims)
    }
}

/// OAuth scopes from the client's allow-list (RFC 6749 §3.3) and audiences picked by
/// `resource` (RFC 8707 §2).
pub(super) fn grant(input: &GrantInput<'_>) -> Result<Grant, EndpointError> {
    Ok(Grant {
        scopes: oauth_scopes(input.client, input)?,
        audience: oauth_audience(input.client, input)?,
        ..Grant::default()
    })
}

/// RFC 6749 §3.3: requested scopes must be allowed; none requested grants the default set.
fn oauth_scopes(
    client: &RegisteredClient,
    input: &GrantInput<'_>,
) -> Result<Scopes, EndpointError> {
    match &input.request.scope {
        None => Ok(client.scopes.clone()),
        Some(requested) => {
            if let Some(denied) = requested
                .iter()
                .find(|scope| !client.scopes.contains(scope.as_str()))
            {
                return Err(EndpointError::plain(ErrorResponse::invalid_scope(format!(
                    "scope `{}` is not allowed for client `{}`",
                    truncate(denied.as_str()),
                    truncate(client.id.as_str())
                ))));
            }
            Ok(requested.clone())
        }
    }
}

/// RFC 8707 §2: each `resource` must be one of the client's audiences; none requested
/// means all of them (or the client id when none are configured).
fn oauth_audience(
    client: &RegisteredClient,
    input: &GrantInput<'_>,
) -> Result<Vec<String>, EndpointError> {
    pick_audience(client, &input.request.resources)
}

/// Each requested target must be one of the client's audiences (`invalid_target`, RFC 8707
/// §2, RFC 8693 §2.2.2); none requested means all of them (or the client id when none are
/// configured).
fn pick_audience(
    client: &RegisteredClient,
    resources: &[String],
) -> Result<Vec<String>, EndpointError> {
    if resources.is_empty() {
        return Ok(if client.audiences.is_empty() {
            vec![client.id.as_str().to_owned()]
        } else {
            client.audiences.clone()
        });
    }
    let mut picked: Vec<String> = Vec::new();
    for resource in resources {
        if !client.audiences.iter().any(|aud| aud == resource) {
            return Err(EndpointError::plain(ErrorResponse::invalid_target(
                format!(
                    "resource `{}` is not an audience of client `{}`",
                    truncate(resource),
                    truncate(client.id.as_str())
                ),
            )));
        }
        if !picked.contains(resource) {
            picked.push(resource.clone());
        }
    }
    Ok(picked)
}

/// A token exchange (RFC 8693): `scope` must stay within the subject token's scopes
/// (`invalid_scope`; none requested keeps them all); each `resource` and `audience` must be an
/// audience of the requesting client (`invalid_target`, §2.2.2); none requested re-targets
/// the token to the requesting client's audiences, as its own token would have them (I).
pub(super) fn exchange_grant(input: &ExchangeInput<'_>) -> Result<Grant, EndpointError> {
    let client = input.grant.client;
    let request = input.grant.request;
    let scopes = match &request.scope {
        None => input.subject_scopes.clone(),
        Some(requested) => {
            if let Some(wider) = requested
                .iter()
                .find(|scope| !input.subject_scopes.contains(scope.as_str()))
            {
                return Err(EndpointError::plain(ErrorResponse::invalid_scope(format!(
                    "scope `{}` is not in the subject token's scope; a token exchange may only narrow it (RFC 8693 section 2.1)",
                    truncate(wider.as_str())
                ))));
            }
            requested.clone()
        }
    };
    let targets: Vec<String> = request
        .resources
        .iter()
        .chain(&request.audiences)
        .cloned()
        .collect();
    Ok(Grant {
        scopes,
        audience: pick_audience(client, &targets)?,
        ..Grant::default()
    })
}

/// 16 random bytes, base64url.
pub(super) fn jti(rng: &SystemRandom) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(rng))
}

/// The discovery document (RFC 8414 §2 / OpenID Connect Discovery), with `*_supported`
/// lists that match what the server really accepts.
pub(super) fn metadata(input: &MetadataInput<'_>) -> Value {
    let methods: Vec<String> = input
        .auth_methods
        .iter()
        .map(|method| method.as_str().to_owned())
        .collect();
    let algorithms: Vec<String> = ASSERTION_ALGORITHMS
        .iter()
        .map(|&alg| alg.to_owned())
        .collect();
    let jwt_methods = input.auth_methods.contains(&AuthMethod::PrivateKeyJwt);
    let introspection = input.introspection_endpoint.as_ref();
    let revocation = input.revocation_endpoint.as_ref();
    let metadata = ServerMetadata {
        issuer: input.issuer.to_owned(),
        token_endpoint: Some(input.token_endpoint.to_owned()),
        jwks_uri: Some(input.jwks_uri.clone()),
        introspection_endpoint: input.introspection_endpoint.clone(),
        revocation_endpoint: input.revocation_endpoint.clone(),
        scopes_supported: Some(input.scopes.clone()),
        // No authorization endpoint: no response types (RFC 8414 §2 requires the member).
        response_types_supported: Vec::new(),
        grant_types_supported: Some(input.grant_types.clone()),
        token_endpoint_auth_methods_supported: Some(methods.clone()),
        token_endpoint_auth_signing_alg_values_supported: jwt_methods.then(|| algorithms.clone()),
        introspection_endpoint_auth_methods_supported: introspection.map(|_| methods.clone()),
        introspection_endpoint_auth_signing_alg_values_supported: introspection
            .filter(|_| jwt_methods)
            .map(|_| algorithms.clone()),
        revocation_endpoint_auth_methods_supported: revocation.map(|_| methods.clone()),
        revocation_endpoint_auth_signing_alg_values_supported: revocation
            .filter(|_| jwt_methods)
            .map(|_| algorithms.clone()),
        ..ServerMetadata::new(input.issuer.to_owned())
    };
    serde_json::to_value(metadata).unwrap_or_else(|_| json!({"issuer": input.issuer}))
}

/// A full OpenID Provider Metadata document (OpenID Connect Discovery 1.0 §3), as SLB,
/// Cloudentity and CyberArk publish: the RFC 8414 members above plus the vendor's
/// `authorization_endpoint` and `userinfo_endpoint` (advertised at the vendor's paths, not
/// served by the mock: docs/profiles.md), `subject_types_supported`, a non-empty
/// `response_types_supported`, and `id_token_signing_alg_values_supported`, which §3 says
/// MUST include RS256 (the active key's algorithm comes first).
pub(super) fn openid_metadata(
    input: &MetadataInput<'_>,
    authorization_endpoint: &str,
    userinfo_endpoint: &str,
) -> Value {
    let mut document = metadata(input);
    let mut algorithms = vec![input.signing_algorithm.clone()];
    if input.signing_algorithm != "RS256" {
        algorithms.push("RS256".to_owned());
    }
    if let Value::Object(members) = &mut document {
        members.insert(
            "authorization_endpoint".to_owned(),
            json!(authorization_endpoint),
        );
        members.insert("userinfo_endpoint".to_owned(), json!(userinfo_endpoint));
        members.insert("response_types_supported".to_owned(), json!(["code"]));
        members.insert("subject_types_supported".to_owned(), json!(["public"]));
        members.insert(
            "id_token_signing_alg_values_supported".to_owned(),
            json!(algorithms),
        );
    }
    document
}

/// The client's OAuth scopes and audiences, as the start-up summary lists them.
pub(super) fn banner_scope(client: &RegisteredClient) -> String {
    let mut text = format!("scopes: [{}]", client.scopes);
    if !client.audiences.is_empty() {
        text.push_str(&format!("  audiences: [{}]", client.audiences.join(" ")));
    }
    text
}
