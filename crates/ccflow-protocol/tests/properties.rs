//! Property tests for the encodings where hand-picked cases miss the corners: scopes, Basic credentials, form bodies, Bearer challenges.

use ccflow_protocol::{
    BearerChallenge, ErrorCode, FormParams, Scope, Scopes, basic_authorization, form_urlencode,
    parse_basic_authorization,
};
use proptest::option;
use proptest::prelude::*;

/// One RFC 6749 §3.3 scope-token.
const SCOPE_TOKEN: &str = "[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,12}";
/// Text an RFC 6750 quoted value may hold without sanitizing.
const CHALLENGE_TEXT: &str = "[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]{0,24}";

fn challenge_from(
    realm: Option<String>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
) -> BearerChallenge {
    BearerChallenge {
        realm,
        scope,
        error: error.map(ErrorCode::from),
        error_description,
        error_uri: None,
    }
}

proptest! {
    #[test]
    fn scopes_round_trip_through_display(tokens in prop::collection::vec(SCOPE_TOKEN, 1..8)) {
        let joined = tokens.join(" ");
        let scopes = Scopes::parse(&joined).unwrap();
        let mut expected: Vec<&str> = Vec::new();
        for token in &tokens {
            if !expected.contains(&token.as_str()) {
                expected.push(token);
            }
        }
        prop_assert_eq!(scopes.to_string(), expected.join(" "));
        prop_assert_eq!(&Scopes::parse(&scopes.to_string()).unwrap(), &scopes);
        let rebuilt: Scopes = tokens.iter().map(|token| Scope::new(token.as_str()).unwrap()).collect();
        prop_assert_eq!(rebuilt, scopes);
    }

    #[test]
    fn scopes_parse_never_panics(input in any::<String>()) {
        if let Ok(scopes) = Scopes::parse(&input) {
            prop_assert!(!scopes.is_empty());
        }
    }

    #[test]
    fn basic_credentials_round_trip(client_id in any::<String>(), client_secret in any::<String>()) {
        prop_assume!(!client_id.is_empty());
        let header = basic_authorization(&client_id, &client_secret);
        let (parsed_id, parsed_secret) = parse_basic_authorization(&header).unwrap();
        prop_assert_eq!(parsed_id.as_str(), client_id.as_str());
        prop_assert_eq!(parsed_secret.expose_secret(), client_secret.as_str());
    }

    #[test]
    fn basic_parse_never_panics(header in any::<String>()) {
        let _ = parse_basic_authorization(&header);
        let _ = parse_basic_authorization(&format!("Basic {header}"));
    }

    #[test]
    fn form_pairs_round_trip(pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..8)) {
        let body = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", form_urlencode(name), form_urlencode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let params = FormParams::parse(&body).unwrap();
        // RFC 6749 §3.1: pairs with an empty value are treated as omitted.
        let expected: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        prop_assert_eq!(params.iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn form_parse_never_panics(body in any::<String>()) {
        let _ = FormParams::parse(&body);
    }

    #[test]
    fn bearer_parse_never_panics(header in any::<String>()) {
        let _ = BearerChallenge::parse(&header);
    }

    #[test]
    fn bearer_parse_never_panics_on_challenge_like_input(header in "[ \t,=\"\\\\a-zA-Z0-9_/+~.\u{e9}\x01]{0,60}") {
        let _ = BearerChallenge::parse(&header);
        let _ = BearerChallenge::parse(&format!("Bearer {header}"));
    }

    #[test]
    fn built_challenges_round_trip_exactly(
        realm in option::of(CHALLENGE_TEXT),
        scope in option::of(CHALLENGE_TEXT),
        error in option::of(CHALLENGE_TEXT),
        error_description in option::of(CHALLENGE_TEXT),
    ) {
        let challenge = challenge_from(realm, scope, error, error_description);
        let parsed = BearerChallenge::parse(&challenge.to_header_value());
        prop_assert_eq!(parsed, Some(challenge));
    }

    #[test]
    fn any_built_challenge_parses_back_to_the_same_header(
        realm in option::of(any::<String>()),
        scope in option::of(any::<String>()),
        error in option::of(any::<String>()),
        error_description in option::of(any::<String>()),
        error_uri in option::of(any::<String>()),
    ) {
        let mut challenge = challenge_from(realm, scope, error, error_description);
        challenge.error_uri = error_uri;
        let header = challenge.to_header_value();
        let parsed = BearerChallenge::parse(&header);
        prop_assert!(parsed.is_some(), "{}", header);
        prop_assert_eq!(parsed.unwrap().to_header_value(), header);
    }
}
