//! Scope tokens and space-delimited scope lists, parsed strictly per RFC 6749 §3.3.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// Why a scope or scope list was rejected (RFC 6749 §3.3).
///
/// The messages name a position and a code point, never the whole input, so
/// an error can be echoed to a client without reflecting unbounded data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The scope, or the scope list, is empty.
    #[error("scope is empty")]
    Empty,
    /// A character outside `%x21 / %x23-5B / %x5D-7E` appeared.
    #[error(
        "invalid character U+{code_point:04X} at byte offset {position} (scope-tokens allow printable ASCII except space, `\"` and `\\`)"
    )]
    InvalidCharacter {
        /// Byte offset of the character in the input.
        position: usize,
        /// The offending character's Unicode code point.
        code_point: u32,
    },
    /// A space at the start or end, or two spaces in a row.
    #[error(
        "misplaced space at byte offset {position} (scope-tokens are separated by exactly one space, none leading or trailing)"
    )]
    MisplacedSpace {
        /// Byte offset of the space in the input.
        position: usize,
    },
}

/// Whether `character` may appear in a scope-token:
/// `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3).
fn is_scope_token_char(character: char) -> bool {
    matches!(character, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// Checks one scope-token; `offset` shifts reported positions so errors
/// point into the whole scope list.
fn validate_scope_token(token: &str, offset: usize) -> Result<(), ScopeError> {
    if token.is_empty() {
        return Err(ScopeError::Empty);
    }
    match token
        .char_indices()
        .find(|&(_, character)| !is_scope_token_char(character))
    {
        Some((position, character)) => Err(ScopeError::InvalidCharacter {
            position: offset + position,
            code_point: u32::from(character),
        }),
        None => Ok(()),
    }
}

/// One scope-token (RFC 6749 §3.3): one or more characters in
/// `%x21 / %x23-5B / %x5D-7E`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Scope(String);

impl Scope {
    /// Validates a scope-token (RFC 6749 §3.3).
    pub fn new(scope: impl Into<String>) -> Result<Scope, ScopeError> {
        let scope = scope.into();
        validate_scope_token(&scope, 0)?;
        Ok(Scope(scope))
    }

    /// The scope-token as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;

    fn try_from(scope: String) -> Result<Self, Self::Error> {
        Scope::new(scope)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The value of a `scope` parameter (RFC 6749 §3.3): an order-preserving
/// set of scope-tokens.
///
/// Duplicates are dropped, keeping the first occurrence, so the order a
/// client asked in is the order a server answers in. Equality (`==`) is
/// order-sensitive; use [`Scopes::same_set`] to compare as sets.
///
/// It serializes as the space-joined string and deserializes through
/// [`Scopes::parse`]; an empty `Scopes` therefore serializes as `""`, which
/// does not parse back, so leave the field out instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// An empty scope set.
    pub fn new() -> Scopes {
        Scopes(Vec::new())
    }

    /// Parses a scope list strictly (RFC 6749 §3.3): non-empty, scope-tokens
    /// separated by exactly one space (0x20), no leading or trailing space,
    /// no other whitespace. Repeated tokens are accepted and dropped.
    pub fn parse(scope: &str) -> Result<Scopes, ScopeError> {
        if scope.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut scopes = Scopes::new();
        let mut offset = 0;
        for token in scope.split(' ') {
            if token.is_empty() {
                // An empty piece means a space at `offset` is leading, doubled
                // or (at the very end) trailing.
                let position = offset.min(scope.len() - 1);
                return Err(ScopeError::MisplacedSpace { position });
            }
            validate_scope_token(token, offset)?;
            scopes.insert(Scope(token.to_owned()));
            offset += token.len() + 1;
        }
        Ok(scopes)
    }

    /// Adds a scope at the end; returns `false` (and changes nothing) if it
    /// was already present.
    pub fn insert(&mut self, scope: Scope) -> bool {
        if self.contains(scope.as_str()) {
            return false;
        }
        self.0.push(scope);
        true
    }

    /// Whether the scope-token `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|present| present.as_str() == scope)
    }

    /// Whether every scope here is also in `other`.
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|scope| other.contains(scope.as_str()))
    }

    /// Whether both hold the same scopes, in any order.
    pub fn same_set(&self, other: &Scopes) -> bool {
        self.len() == other.len() && self.is_subset_of(other)
    }

    /// The scopes in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.0.iter()
    }

    /// How many distinct scopes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no scopes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<String> for Scopes {
    type Error = ScopeError;

    fn try_from(scope: String) -> Result<Self, Self::Error> {
        Scopes::parse(&scope)
    }
}

impl std::str::FromStr for Scopes {
    type Err = ScopeError;

    fn from_str(scope: &str) -> Result<Self, Self::Err> {
        Scopes::parse(scope)
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        let mut set = Scopes::new();
        set.extend(scopes);
        set
    }
}

impl Extend<Scope> for Scopes {
    fn extend<I: IntoIterator<Item = Scope>>(&mut self, scopes: I) {
        for scope in scopes {
            self.insert(scope);
        }
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Scopes {
    type Item = Scope;
    type IntoIter = std::vec::IntoIter<Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, scope) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str(" ")?;
            }
            formatter.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Scopes {
        list.iter()
            .map(|scope| Scope::new(*scope).unwrap())
            .collect()
    }

    #[test]
    fn parses_scope_lists_strictly() {
        #[track_caller]
        fn check(input: &str, expected: Result<&[&str], ScopeError>) {
            let parsed = Scopes::parse(input);
            match expected {
                Ok(list) => assert_eq!(parsed, Ok(scopes(list)), "input {input:?}"),
                Err(error) => assert_eq!(parsed, Err(error), "input {input:?}"),
            }
        }
        check("read", Ok(&["read"]));
        check("read write", Ok(&["read", "write"]));
        check("write read write", Ok(&["write", "read"]));
        check("a:b/c!#[]~", Ok(&["a:b/c!#[]~"]));
        check("", Err(ScopeError::Empty));
        check(" read", Err(ScopeError::MisplacedSpace { position: 0 }));
        check("read ", Err(ScopeError::MisplacedSpace { position: 4 }));
        check(
            "read  write",
            Err(ScopeError::MisplacedSpace { position: 5 }),
        );
        check(" ", Err(ScopeError::MisplacedSpace { position: 0 }));
        check(
            "read\twrite",
            Err(ScopeError::InvalidCharacter {
                position: 4,
                code_point: 0x09,
            }),
        );
        check(
            "read write\"",
            Err(ScopeError::InvalidCharacter {
                position: 10,
                code_point: 0x22,
            }),
        );
        check(
            "a\\b",
            Err(ScopeError::InvalidCharacter {
                position: 1,
                code_point: 0x5C,
            }),
        );
        check(
            "é",
            Err(ScopeError::InvalidCharacter {
                position: 0,
                code_point: 0xE9,
            }),
        );
        check(
            "a\nb",
            Err(ScopeError::InvalidCharacter {
                position: 1,
                code_point: 0x0A,
            }),
        );
        check(
            "a\u{7f}",
            Err(ScopeError::InvalidCharacter {
                position: 1,
                code_point: 0x7F,
            }),
        );
    }

    #[test]
    fn scope_rejects_spaces_and_empty_tokens() {
        assert_eq!(Scope::new(""), Err(ScopeError::Empty));
        assert_eq!(
            Scope::new("a b"),
            Err(ScopeError::InvalidCharacter {
                position: 1,
                code_point: 0x20
            })
        );
        assert_eq!(Scope::new("orders.read").unwrap().as_str(), "orders.read");
    }

    #[test]
    fn scope_error_does_not_echo_the_input() {
        let huge = format!("{}\"", "a".repeat(10_000));
        let message = Scopes::parse(&huge).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("U+0022"), "{message}");
    }

    #[test]
    fn set_operations_keep_insertion_order() {
        let mut set = Scopes::new();
        assert!(set.is_empty());
        assert!(set.insert(Scope::new("b").unwrap()));
        assert!(set.insert(Scope::new("a").unwrap()));
        assert!(!set.insert(Scope::new("b").unwrap()));
        assert_eq!(set.len(), 2);
        assert_eq!(set.to_string(), "b a");
        assert!(set.contains("a"));
        assert!(!set.contains("c"));
        let names: Vec<&str> = set.iter().map(Scope::as_str).collect();
        assert_eq!(names, ["b", "a"]);

        let other = scopes(&["a", "b"]);
        assert_ne!(set, other);
        assert!(set.same_set(&other));
        assert!(set.is_subset_of(&scopes(&["a", "b", "c"])));
        assert!(!scopes(&["a", "c"]).is_subset_of(&set));
        assert!(!set.same_set(&scopes(&["a", "b", "c"])));
        assert!(Scopes::new().is_subset_of(&set));
    }

    #[test]
    fn serializes_as_a_space_joined_string() {
        let set = scopes(&["orders.read", "orders.write"]);
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#""orders.read orders.write""#
        );
        let back: Scopes = serde_json::from_str(r#""orders.read orders.write""#).unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<Scopes>(r#""a  b""#).is_err());
        assert!(serde_json::from_str::<Scopes>(r#""""#).is_err());
        assert!(serde_json::from_str::<Scopes>(r#"["a"]"#).is_err());
    }

    #[test]
    fn single_scope_deserializes_with_validation() {
        let scope: Scope = serde_json::from_str(r#""read""#).unwrap();
        assert_eq!(serde_json::to_string(&scope).unwrap(), r#""read""#);
        assert!(serde_json::from_str::<Scope>(r#""re ad""#).is_err());
    }
}
