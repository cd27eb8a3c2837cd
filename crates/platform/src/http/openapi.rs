//! Completing the generated OpenAPI document with what every route shares, so that
//! clients and fuzzers see each status the server can really answer.
//!
//! Handlers describe their own outcomes; the layers every route sits behind add more: a
//! JSON body can be malformed (400 `malformed_json`), too large (413), of the wrong media
//! type (415) or missing a field (422). [`complete`] adds those responses (with the shared
//! `ErrorBody` schema) to every operation that takes a body, and gives every response a
//! description (OpenAPI requires one; the generator leaves it empty when a handler's
//! annotation names none).

use axum::http::StatusCode;
use serde_json::{Value, json};

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Statuses the platform's extractors and layers answer for any request with a JSON body.
const BODY_STATUSES: [StatusCode; 4] = [
    StatusCode::BAD_REQUEST,
    StatusCode::PAYLOAD_TOO_LARGE,
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    StatusCode::UNPROCESSABLE_ENTITY,
];

/// Adds the shared body-error responses and missing descriptions to `document` (an
/// OpenAPI 3 document as JSON) in place.
pub fn complete(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                complete_operation(operation);
            }
        }
    }
}

fn complete_operation(operation: &mut Value) {
    let takes_body = operation.get("requestBody").is_some();
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    if takes_body {
        for status in BODY_STATUSES {
            responses.entry(status.as_str()).or_insert_with(|| {
                json!({ "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/ErrorBody" } } } })
            });
        }
    }
    for (code, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else { continue };
        let empty = response.get("description").and_then(Value::as_str).is_none_or(str::is_empty);
        if empty && !response.contains_key("$ref") {
            response.insert("description".into(), Value::String(reason(code)));
        }
    }
}

fn reason(code: &str) -> String {
    code.parse::<u16>()
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .and_then(|status| status.canonical_reason())
        .unwrap_or("response")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_operations_gain_the_shared_errors_and_every_response_a_description() {
        let mut document = json!({ "paths": {
            "/a": { "post": { "requestBody": {}, "responses": {
                "200": { "content": {} },
                "422": { "description": "own words" } } } },
            "/b": { "get": { "responses": { "200": {} } } } } });
        complete(&mut document);
        let post = &document["paths"]["/a"]["post"]["responses"];
        for code in ["400", "413", "415", "422"] {
            assert!(post.get(code).is_some(), "{code} missing");
        }
        assert_eq!(post["200"]["description"], "OK");
        assert_eq!(post["422"]["description"], "own words", "a handler's own text stays");
        assert_eq!(post["413"]["description"], "Payload Too Large");
        let get = &document["paths"]["/b"]["get"]["responses"];
        assert_eq!(get.as_object().map(|r| r.len()), Some(1), "no body, no body errors");
        assert_eq!(get["200"]["description"], "OK");
    }
}
