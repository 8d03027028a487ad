//! Shown answers and printed ones: JSON kept in member order, the placeholders of a shown
//! answer (`"…"` any string, a bare `…` any number), and the comparison that holds a page to
//! what the product printed, value types and member order included.

use anyhow::Result;

/// JSON with its members in the order they were written (a shown answer promises the order the
/// server sends), and the placeholders of shown answers.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// A bare `…` in a shown answer (any number) is read as this string.
const ANY_NUMBER: &str = "\u{0}any number";
const ANY_STRING: &str = "…";

/// Parses a shown answer, after turning each bare `…` (outside strings) into [`ANY_NUMBER`].
pub(super) fn shown_json(text: &str) -> Result<Json> {
    let mut rewritten = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            in_string = c != '"' || escaped;
            escaped = c == '\\' && !escaped;
            rewritten.push(c);
        } else if c == '…' {
            rewritten.push_str("\"\\u0000any number\"");
        } else {
            in_string = c == '"';
            rewritten.push(c);
        }
    }
    Ok(serde_json::from_str(&rewritten)?)
}

pub(super) fn compare(shown: &Json, printed: &Json, path: &str) -> std::result::Result<(), String> {
    match (shown, printed) {
        (Json::String(any), Json::String(_)) if any == ANY_STRING => Ok(()),
        (Json::String(any), Json::Number(_)) if any == ANY_NUMBER => Ok(()),
        (Json::String(any), other) if any == ANY_NUMBER || any == ANY_STRING => Err(format!(
            "{path}: shown as any {}, printed {}",
            if any == ANY_NUMBER {
                "number"
            } else {
                "string"
            },
            kind(other)
        )),
        (Json::Object(shown), Json::Object(printed)) => {
            let shown_names: Vec<&str> = shown.iter().map(|(name, _)| name.as_str()).collect();
            let printed_names: Vec<&str> = printed.iter().map(|(name, _)| name.as_str()).collect();
            if shown_names != printed_names {
                return Err(format!(
                    "{path}: members {shown_names:?} shown, {printed_names:?} printed (order counts)"
                ));
            }
            shown
                .iter()
                .zip(printed)
                .try_for_each(|((name, shown), (_, printed))| {
                    compare(shown, printed, &format!("{path}.{name}"))
                })
        }
        (Json::Array(shown), Json::Array(printed)) => {
            if shown.len() != printed.len() {
                return Err(format!(
                    "{path}: {} items shown, {} printed",
                    shown.len(),
                    printed.len()
                ));
            }
            shown
                .iter()
                .zip(printed)
                .enumerate()
                .try_for_each(|(index, (shown, printed))| {
                    compare(shown, printed, &format!("{path}[{index}]"))
                })
        }
        (shown, printed) if shown == printed => Ok(()),
        (shown, printed) => Err(format!(
            "{path}: shown {}, printed {}",
            render(shown),
            render(printed)
        )),
    }
}

/// Compact JSON text of a value, for messages.
fn render(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(value) => value.to_string(),
        Json::Number(value) => value.to_string(),
        Json::String(value) => serde_json::Value::String(value.clone()).to_string(),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(",")
        ),
        Json::Object(members) => format!(
            "{{{}}}",
            members
                .iter()
                .map(|(name, value)| format!(
                    "{}:{}",
                    render(&Json::String(name.clone())),
                    render(value)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Json;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
                Ok(Json::Bool(value))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
                Ok(Json::Number(value.into()))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
                Ok(Json::Number(value.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(value)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_str<E>(self, value: &str) -> Result<Json, E> {
                Ok(Json::String(value.to_owned()))
            }
            fn visit_string<E>(self, value: String) -> Result<Json, E> {
                Ok(Json::String(value))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Json::Object(members))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(shown: &str, printed: &str, expected: std::result::Result<(), &str>) {
        let shown = shown_json(shown).expect("shown JSON");
        let printed: Json = serde_json::from_str(printed).expect("printed JSON");
        let result = compare(&shown, &printed, "$");
        match expected {
            Ok(()) => assert_eq!(result, Ok(())),
            Err(part) => {
                let message = result.expect_err("a difference");
                assert!(message.contains(part), "{message:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn shown_answers_hold_order_types_and_values() {
        let cases: &[(&str, &str, std::result::Result<(), &str>)] = &[
            (r#"{"a":"…","b":…}"#, r#"{"a":"x","b":3}"#, Ok(())),
            (
                r#"{"a":"…"}"#,
                r#"{"a":3}"#,
                Err("shown as any string, printed a number"),
            ),
            (
                r#"{"a":…}"#,
                r#"{"a":"3"}"#,
                Err("shown as any number, printed a string"),
            ),
            (r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#, Err("order counts")),
            (r#"{"a":1}"#, r#"{"a":1,"b":2}"#, Err("members")),
            (
                r#"{"a":[1,2]}"#,
                r#"{"a":[1]}"#,
                Err("2 items shown, 1 printed"),
            ),
            (r#"{"a":"x"}"#, r#"{"a":"y"}"#, Err("$.a: shown")),
            (r#"{"a":"…x"}"#, r#"{"a":"…x"}"#, Ok(())),
            (
                r#"{"s":"a \"…\" b","n":…}"#,
                r#"{"s":"a \"…\" b","n":1.5}"#,
                Ok(()),
            ),
        ];
        for (shown, printed, expected) in cases {
            check(shown, printed, *expected);
        }
    }
}
