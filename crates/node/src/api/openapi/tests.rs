use std::collections::BTreeSet;

use super::*;

/// `(METHOD, path)` of every operation in the document.
fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(document()).expect("the document serializes");
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

/// `(METHOD, path)` of every route the node serves under `/api/v1`, read from the route table
/// of the node's own router (`server::routes`), the one `serve` wraps in its layers.
///
/// axum has no public way to list a router's routes, but its `Debug` shows the table: the
/// route ids with their paths (`node: Node { paths: {RouteId(3): "/api/v1/items", ...} }`),
/// and each id's method router with its `Allow` header (`allow_header: Bytes(b"GET,HEAD,POST")`).
/// Should a new axum print it otherwise, this fails loudly (no routes, or a route without its
/// methods) rather than passing.
fn served_routes() -> BTreeSet<(String, String)> {
    let table = format!("{:?}", crate::server::routes(1));
    // The routes proper; the fallback router (the nested routers' "no such endpoint") follows.
    let routes = table
        .split("fallback_router")
        .next()
        .expect("a router prints its path router first");
    let (endpoints, paths) = routes
        .split_once("node: Node { paths: {")
        .expect("the route table prints the paths of its route ids");
    let id_of = |chunk: &str| -> Option<(u32, String)> {
        let (id, rest) = chunk.split_once(')')?;
        Some((id.parse().ok()?, rest.to_owned()))
    };
    let mut path_of = std::collections::HashMap::new();
    for chunk in paths.split("RouteId(").skip(1) {
        let (id, rest) = id_of(chunk).expect("a route id");
        let path = rest
            .trim_start_matches(": ")
            .split('"')
            .nth(1)
            .expect("a quoted path")
            .to_owned();
        path_of.insert(id, path);
    }
    assert!(
        path_of.len() > 20,
        "the route table shows too few paths: {path_of:?}"
    );
    let mut served = BTreeSet::new();
    for chunk in endpoints.split("RouteId(").skip(1) {
        let (id, rest) = id_of(chunk).expect("a route id");
        let path = path_of.get(&id).expect("every route id has a path");
        if !path.starts_with(PREFIX) {
            continue;
        }
        let allow = rest
            .split_once("allow_header: Bytes(b\"")
            .and_then(|(_, after)| after.split_once('"'))
            .map(|(methods, _)| methods)
            .unwrap_or_else(|| panic!("route {path} shows no methods: {rest}"));
        for method in allow.split(',').filter(|m| *m != "HEAD") {
            served.insert((method.to_owned(), path.clone()));
        }
    }
    served
}

#[test]
fn every_route_under_api_v1_is_in_the_document_and_the_document_has_no_other() {
    let served = served_routes();
    let documented = documented();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && not_served.is_empty(),
        "served but not in the document: {undocumented:?}\nin the document but not served: {not_served:?}"
    );
    // Spot checks that the table was read, not merely equal by being empty.
    for route in [
        ("GET", "/api/v1/openapi.json"),
        ("PATCH", "/api/v1/items/{key}"),
        ("DELETE", "/api/v1/connections/{name}/triggers/{id}"),
        ("POST", "/api/v1/connections/{name}/verify"),
    ] {
        assert!(
            served.contains(&(route.0.to_owned(), route.1.to_owned())),
            "{route:?} is not in the route table"
        );
    }
}

/// Every `$ref` in the JSON, as written.
fn refs(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", serde_json::Value::String(target)) => found.push(target.clone()),
                    _ => refs(inner, found),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let text = document()
        .to_pretty_json()
        .expect("the document serializes");
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI 3.1");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));

    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    // Every reference resolves within the document.
    let mut targets = Vec::new();
    refs(&json, &mut targets);
    assert!(!targets.is_empty());
    for target in &targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} points outside the document"));
        assert!(json.pointer(pointer).is_some(), "{target} does not resolve");
    }

    let mut ids = BTreeSet::new();
    let operations: Vec<_> = spec.operations().collect();
    assert!(operations.len() > 50, "{} operations", operations.len());
    for (path, method, op) in operations {
        let name = format!("{method} {path}");
        let id = op.operation_id.clone().unwrap_or_default();
        assert!(!id.is_empty(), "{name} has no operationId");
        assert!(ids.insert(id.clone()), "operationId {id} is used twice");
        // Every `{param}` of the path template is declared, in the path.
        let declared: BTreeSet<String> = op
            .parameters(&spec)
            .unwrap_or_else(|e| panic!("{name}: a parameter does not resolve: {e:?}"))
            .into_iter()
            .filter(|p| p.location == oas3::spec::ParameterIn::Path)
            .map(|p| p.name)
            .collect();
        let in_template: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
            .collect();
        assert_eq!(declared, in_template, "{name}: path parameters");
        // Request bodies and answers resolve; every operation says what success and failure
        // look like, failures in the node's error body.
        op.request_body(&spec)
            .unwrap_or_else(|e| panic!("{name}: the request body does not resolve: {e:?}"));
        let responses = op.responses(&spec);
        assert_eq!(
            responses.len(),
            op.responses.as_ref().map_or(0, |r| r.len()),
            "{name}: an answer does not resolve"
        );
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name} has no success answer"
        );
        let public = path == "/api/v1/openapi.json";
        let mut shared = vec!["408"];
        if !public {
            shared.extend(["401", "500", "503"]);
        }
        for status in shared {
            let answer = responses
                .get(status)
                .unwrap_or_else(|| panic!("{name} has no {status} answer"));
            let schema = answer
                .content
                .get("application/json")
                .and_then(|c| c.schema.as_ref())
                .map(|s| serde_json::to_value(s).expect("serializes"));
            assert_eq!(
                schema,
                Some(serde_json::json!({"$ref": "#/components/schemas/ApiErrorBody"})),
                "{name}: its {status} answer is not the node's error body"
            );
        }
    }
    // The bearer token is the scheme, required unless an operation says otherwise.
    assert_eq!(
        json.pointer("/components/securitySchemes/bearer/scheme"),
        Some(&serde_json::json!("bearer"))
    );
    assert_eq!(json["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        json.pointer("/paths/~1api~1v1~1openapi.json/get/security"),
        Some(&serde_json::json!([{}])),
        "the document itself is public"
    );
}

#[test]
fn the_error_body_in_the_document_is_the_one_the_node_answers() {
    let answer = serde_json::to_value(crate::error::ApiErrorBody {
        error: crate::error::ApiErrorDetail {
            code: "not_found",
            message: "item OPS-9 does not exist".into(),
        },
    })
    .expect("serializes");
    let doc = serde_json::to_value(document()).expect("serializes");
    let schema = &doc["components"]["schemas"]["ApiErrorBody"];
    assert_eq!(schema["required"], serde_json::json!(["error"]));
    let detail = &doc["components"]["schemas"]["ApiErrorDetail"];
    let keys: BTreeSet<&str> = answer["error"]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let documented: BTreeSet<&str> = detail["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, documented);
}
