//! The OpenAPI document of `/api/v1` as a real node serves it: public, answered by the routes
//! it lists, and in agreement with the README's `curl` examples.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::{TestNode, read};

/// The document a node serves, fetched without a token.
async fn served_document(node: &TestNode) -> Value {
    let resp = reqwest::get(format!("{}/api/v1/openapi.json", node.url))
        .await
        .expect("request");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let (status, doc) = read(resp).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// A value for a path parameter of the template, by name.
fn sample(param: &str) -> &'static str {
    match param {
        "key" => "OPS-1",
        "name" => "acme_to_globex",
        _ => "1",
    }
}

#[tokio::test]
async fn the_openapi_document_is_public_and_every_operation_in_it_is_served() {
    let node = TestNode::start().await;
    let doc = served_document(&node).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let client = reqwest::Client::new();
    let mut probed = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            let path: String = template
                .split('/')
                .map(|segment| match segment.strip_prefix('{') {
                    Some(name) => sample(name.trim_end_matches('}')),
                    None => segment,
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                .expect("an HTTP method");
            let (status, body) = read(
                client
                    .request(method.clone(), format!("{}{path}", node.url))
                    .send()
                    .await
                    .expect("request"),
            )
            .await;
            probed += 1;
            if template == "/api/v1/openapi.json" {
                assert_eq!(status, 200);
                continue;
            }
            // Without a token, a served route asks for one; a path or method the node does
            // not have answers 404 or 405 before any token is looked at.
            assert_eq!(
                (status, &body["error"]["code"]),
                (401, &Value::from("unauthorized")),
                "{method} {path} (documented as {template}) is not served: {body}"
            );
        }
    }
    assert!(probed > 50, "only {probed} operations");
}

/// One `curl` call of the README against `/api/v1`: method, the path after the host, the
/// query parameter names and the JSON body it sends.
#[derive(Debug)]
struct CurlCall {
    line: String,
    method: String,
    path: String,
    query: Vec<String>,
    body: Option<Value>,
}

/// Splits a shell line into words, honouring single and double quotes and expanding `$VAR`
/// from `vars` (unknown variables are left as they are).
fn shell_words(line: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (_, '$') => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                match vars.get(&name) {
                    Some(value) => word.push_str(value),
                    None => {
                        word.push('$');
                        word.push_str(&name);
                    }
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `curl` calls against `/api/v1` in the Markdown's fenced code blocks: continuation
/// lines joined, variables assigned earlier in the block (`N=http://…/api/v1`) expanded.
fn curl_calls(markdown: &str) -> Vec<CurlCall> {
    let mut calls = Vec::new();
    let mut in_block = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            if in_block {
                calls.extend(block_calls(&lines));
                lines.clear();
            }
            in_block = !in_block;
        } else if in_block {
            lines.push(line);
        }
    }
    calls
}

fn block_calls(lines: &[&str]) -> Vec<CurlCall> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in lines {
        match line.trim_end().strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let mut vars = BTreeMap::new();
    let mut calls = Vec::new();
    for line in joined {
        // A comment ends the command.
        let command = line.split(" # ").next().unwrap_or_default();
        for statement in command.split(';') {
            let words = shell_words(statement, &vars);
            if let [assignment] = words.as_slice()
                && let Some((name, value)) = assignment.split_once('=')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                vars.insert(name.to_owned(), value.to_owned());
                continue;
            }
            if words.first().map(String::as_str) == Some("curl")
                && let Some(call) = curl_call(&line, &words)
            {
                calls.push(call);
            }
        }
    }
    calls
}

/// What a `curl` command line sends, when it is against `/api/v1`.
fn curl_call(line: &str, words: &[String]) -> Option<CurlCall> {
    let mut method = None;
    let mut get = false;
    let mut data = Vec::new();
    let mut url = None;
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            // What follows is the shell's (a redirection, a pipe).
            ">" | ">>" | "|" => break,
            "-X" | "--request" => method = words.next().cloned(),
            "-G" | "--get" => get = true,
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-urlencode" | "-F"
            | "--form" => data.push(words.next()?.clone()),
            "-H" | "--header" | "-u" | "--user" | "-o" | "--output" => {
                words.next();
            }
            other if other.starts_with('-') => {}
            other => url = Some(other.to_owned()),
        }
    }
    let url = url?;
    let at = url.find("/api/v1")?;
    let (path, query_text) = match url[at..].split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (url[at..].to_owned(), None),
    };
    let mut query: Vec<String> = query_text
        .iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split('=').next().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .collect();
    let mut body = None;
    if get {
        query.extend(
            data.iter()
                .filter_map(|d| d.split('=').next().map(str::to_owned)),
        );
    } else if let Some(first) = data.first() {
        body = Some(serde_json::from_str(first).unwrap_or(Value::String(first.clone())));
    }
    let method = method.unwrap_or_else(|| {
        if !get && !data.is_empty() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    Some(CurlCall {
        line: line.trim().to_owned(),
        method,
        path,
        query,
        body,
    })
}

/// The calls the Markdown's prose names in code spans, like `` `GET, POST /api/v1/projects` ``
/// or `` `PATCH /api/v1/connections/NAME {"target_project": "KEY"}` ``: each method with the
/// path, its query parameter names, and the JSON body when one follows.
fn named_calls(markdown: &str) -> Vec<CurlCall> {
    let mut calls = Vec::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for span in line.split('`').skip(1).step_by(2) {
            let Some((methods, rest)) = span.split_once(" /api/v1") else {
                continue;
            };
            let methods: Vec<&str> = methods.split(", ").collect();
            if !methods
                .iter()
                .all(|m| ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m))
            {
                continue;
            }
            let (target, body) = rest.split_once(' ').unwrap_or((rest, ""));
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let query: Vec<String> = query
                .split('&')
                .filter_map(|pair| pair.split('=').next())
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect();
            let body = (!body.trim().is_empty())
                .then(|| serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())));
            for method in methods {
                calls.push(CurlCall {
                    line: span.to_owned(),
                    method: method.to_owned(),
                    path: format!("/api/v1{path}"),
                    query: query.clone(),
                    body: body.clone(),
                });
            }
        }
    }
    calls
}

/// Follows a `$ref` within the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(target) => resolve(doc, doc.pointer(&target[1..]).expect("the $ref resolves")),
        None => value,
    }
}

/// The property names a JSON body schema allows (through `allOf` too).
fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut names: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(doc, part));
    }
    names
}

/// Why the call does not match the document, if it does not.
fn mismatch(doc: &Value, call: &CurlCall) -> Option<String> {
    let segments: Vec<&str> = call.path.trim_end_matches('/').split('/').collect();
    let template = doc["paths"].as_object()?.keys().find(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t.starts_with('{') || t == s)
    });
    let Some(template) = template else {
        return Some(format!("no path {} in the document", call.path));
    };
    let Some(op) = doc["paths"][template].get(call.method.to_lowercase()) else {
        return Some(format!("{template} has no {} in the document", call.method));
    };
    let parameters: BTreeSet<String> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    for name in &call.query {
        if !parameters.contains(name) {
            return Some(format!(
                "{} {template} has no query parameter {name} (it has {parameters:?})",
                call.method
            ));
        }
    }
    if let Some(body) = &call.body {
        let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
            return Some(format!("{} {template} takes no JSON body", call.method));
        };
        let Some(fields) = body.as_object() else {
            return Some(format!("the body {body} is not a JSON object"));
        };
        let allowed = properties(doc, schema);
        for key in fields.keys() {
            if !allowed.contains(key) {
                return Some(format!(
                    "{} {template} has no body field {key} (it has {allowed:?})",
                    call.method
                ));
            }
        }
    }
    None
}

#[tokio::test]
async fn the_readme_curl_examples_against_the_api_match_the_served_document() {
    let node = TestNode::start().await;
    let doc = served_document(&node).await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let calls = curl_calls(&readme);
    assert!(
        calls.len() >= 5,
        "the README shows only {} curl calls against /api/v1: {calls:?}",
        calls.len()
    );
    let wrong: Vec<String> = calls
        .iter()
        .filter_map(|call| mismatch(&doc, call).map(|why| format!("{}\n  -> {why}", call.line)))
        .collect();
    assert!(
        wrong.is_empty(),
        "README examples that do not match the API:\n{}",
        wrong.join("\n")
    );

    // The calls the prose names, in the README and the docs.
    let mut named = named_calls(&readme);
    assert!(named.len() >= 15, "{named:?}");
    for doc_file in ["ARCHITECTURE.md", "SECURITY.md"] {
        let path = format!("{}/docs/{doc_file}", env!("CARGO_MANIFEST_DIR"));
        named.extend(named_calls(&std::fs::read_to_string(path).expect("a doc")));
    }
    let wrong: Vec<String> = named
        .iter()
        .filter_map(|call| {
            mismatch(&doc, call).map(|why| format!("{} {}\n  -> {why}", call.method, call.line))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "API calls named in the README or docs that do not match the API:\n{}",
        wrong.join("\n")
    );

    // The checker itself tells a wrong example from a right one.
    let examples = "```sh\nN=http://h/api/v1\n\
        curl -X PUT -d '{\"status\": \"Done\"}' $N/items/OPS-1\n\
        curl -H 'content-type: application/json' -d '{\"key\": \"OPS\", \"title\": \"x\"}' $N/projects\n\
        curl -G $N/items --data-urlencode 'q=project = OPS'\n\
        curl $N/itemz\n\
        curl -X PATCH -d '{\"status\": \"Done\"}' \\\n     $N/items/OPS-1\n```\n";
    let verdicts: Vec<Option<String>> = curl_calls(examples)
        .iter()
        .map(|call| mismatch(&doc, call))
        .collect();
    assert_eq!(verdicts.len(), 5, "{verdicts:?}");
    assert!(verdicts[0].as_deref().unwrap().contains("has no PUT"));
    assert!(
        verdicts[1]
            .as_deref()
            .unwrap()
            .contains("no body field title")
    );
    assert!(
        verdicts[2]
            .as_deref()
            .unwrap()
            .contains("no query parameter q")
    );
    assert!(
        verdicts[3]
            .as_deref()
            .unwrap()
            .contains("no path /api/v1/itemz")
    );
    assert_eq!(verdicts[4], None);
    let named = named_calls(
        "Use `PUT, PATCH /api/v1/items/{key} {\"status\": \"Done\"}` or `GET /api/v1/items?q=x`.",
    );
    let verdicts: Vec<Option<String>> = named.iter().map(|call| mismatch(&doc, call)).collect();
    assert_eq!(verdicts.len(), 3, "{named:?}");
    assert!(verdicts[0].as_deref().unwrap().contains("has no PUT"));
    assert_eq!(verdicts[1], None);
    assert!(
        verdicts[2]
            .as_deref()
            .unwrap()
            .contains("no query parameter q")
    );
}

#[test]
fn curl_lines_are_read_as_a_shell_reads_them() {
    let vars = BTreeMap::from([("N".to_owned(), "http://h/api/v1".to_owned())]);
    assert_eq!(
        shell_words(
            r#"curl -H "Authorization: Bearer $T" -d '{"a": "$N"}' $N/items"#,
            &vars
        ),
        [
            "curl",
            "-H",
            "Authorization: Bearer $T",
            "-d",
            r#"{"a": "$N"}"#,
            "http://h/api/v1/items"
        ]
    );
    let calls = curl_calls(
        "```sh\nT=...; N=http://h/api/v1\ncurl -H \"Authorization: Bearer $T\" -G $N/items \\\n  --data-urlencode 'query=a = b'\n```\n",
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("GET", "/api/v1/items")
    );
    assert_eq!(calls[0].query, ["query"]);
    assert_eq!(calls[0].body, None);
}
