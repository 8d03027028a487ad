//! Server dialects: which vendor's behaviour the mock imitates and where it routes each endpoint.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::truncate_for_echo;

/// The dialect an authorization server speaks. Profiles are data: the
/// server routes and shapes responses from the [`Profile`] value and the
/// client builds requests from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Profile {
    /// Strict RFC 6749 / RFC 9068 behaviour, the default.
    #[default]
    Rfc,
}

/// The paths a profile serves its endpoints at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileRoutes {
    /// The token endpoint (RFC 6749 §3.2).
    pub token: &'static str,
    /// The JWK Set (RFC 7517 §5).
    pub jwks: &'static str,
    /// The introspection endpoint (RFC 7662 §2), if the profile has one.
    pub introspection: Option<&'static str>,
    /// The revocation endpoint (RFC 7009 §2), if the profile has one.
    pub revocation: Option<&'static str>,
    /// Where the metadata document (RFC 8414 §3) is served.
    pub discovery: &'static [&'static str],
}

impl Profile {
    /// Every profile, in the order help texts list them.
    pub const ALL: &'static [Profile] = &[Profile::Rfc];

    /// The profile's name, as used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Rfc => "rfc",
        }
    }

    /// Where this profile serves each endpoint.
    pub fn routes(&self) -> ProfileRoutes {
        match self {
            Profile::Rfc => ProfileRoutes {
                token: "/oauth2/token",
                jwks: "/jwks.json",
                introspection: Some("/oauth2/introspect"),
                revocation: Some("/oauth2/revoke"),
                discovery: &[
                    "/.well-known/openid-configuration",
                    "/.well-known/oauth-authorization-server",
                ],
            },
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name that matches no [`Profile`]; the message lists the available ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "unknown profile `{}`; available profiles: ",
            truncate_for_echo(&self.0)
        )?;
        for (index, profile) in Profile::ALL.iter().enumerate() {
            if index > 0 {
                formatter.write_str(", ")?;
            }
            formatter.write_str(profile.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    /// Parses a profile name exactly as [`Profile::as_str`] writes it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .iter()
            .copied()
            .find(|profile| profile.as_str() == name)
            .ok_or_else(|| UnknownProfile(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_is_the_default_and_round_trips_by_name() {
        assert_eq!(Profile::default(), Profile::Rfc);
        assert_eq!(Profile::Rfc.as_str(), "rfc");
        assert_eq!(Profile::Rfc.to_string(), "rfc");
        assert_eq!("rfc".parse::<Profile>(), Ok(Profile::Rfc));
        assert_eq!(serde_json::to_string(&Profile::Rfc).unwrap(), r#""rfc""#);
        assert_eq!(
            serde_json::from_str::<Profile>(r#""rfc""#).unwrap(),
            Profile::Rfc
        );
        assert!(serde_json::from_str::<Profile>(r#""RFC""#).is_err());
    }

    #[test]
    fn unknown_profile_error_lists_available_names() {
        let error = "okta".parse::<Profile>().unwrap_err();
        assert_eq!(error, UnknownProfile("okta".to_owned()));
        assert_eq!(
            error.to_string(),
            "unknown profile `okta`; available profiles: rfc"
        );
        let long = "x".repeat(1000).parse::<Profile>().unwrap_err().to_string();
        assert!(long.len() < 150, "{long}");
    }

    #[test]
    fn rfc_routes_follow_design() {
        let routes = Profile::Rfc.routes();
        assert_eq!(routes.token, "/oauth2/token");
        assert_eq!(routes.jwks, "/jwks.json");
        assert_eq!(routes.introspection, Some("/oauth2/introspect"));
        assert_eq!(routes.revocation, Some("/oauth2/revoke"));
        assert_eq!(
            routes.discovery,
            [
                "/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server"
            ]
        );
    }
}
