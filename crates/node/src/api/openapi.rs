//! The OpenAPI 3.1 document of `/api/v1`, served at `GET /api/v1/openapi.json`.
//!
//! Nothing here is written by hand but the document's frame (title, the bearer scheme, the
//! error answers every operation shares): the paths come from the `#[utoipa::path]`
//! annotations of the handlers, and the schemas from the wire types' `ToSchema` derives.
//! [`crate::api::routes`] registers each handler with `utoipa_axum::routes!`, which adds its
//! route to the router and its path item to the document in one step, so the router the node
//! serves and the document are built from one list.
//!
//! The document is public: it describes the API and holds no data of the node, and a client
//! generator or an admin's tooling can fetch it before it has a token.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Where the API is mounted; the document's paths start with it.
pub const PREFIX: &str = "/api/v1";
/// The name of the bearer-token security scheme in the document.
pub const BEARER: &str = "bearer";

/// The frame the handlers' path items and schemas are added to.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Tandem node API",
        description = "The REST API of a Tandem node: projects, items, comments, attachments, \
            history, change events, connections and sync. Every operation but this document \
            needs an API token, sent as `Authorization: Bearer <token>`; a `read` token may \
            only GET, a `sync` token may also run the sync operations, an `admin` token may \
            do everything. Errors answer `{\"error\": {\"code\", \"message\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(crate::error::ApiErrorBody)),
    tags(
        (name = "node", description = "What this node is, and this document"),
        (name = "projects", description = "Projects of the built-in tracker"),
        (name = "items", description = "Items, their comments, attachments and history"),
        (name = "events", description = "The change events, in order"),
        (name = "connections", description = "Connections to other nodes and invitations"),
        (name = "sync", description = "Sync operations, sync errors and bulk jobs"),
        (name = "rules", description = "A connection's triggers and test runs of its rules"),
        (name = "reconcile", description = "A connection's conflicts and verification"),
        (name = "tokens", description = "API tokens (admin tokens only)"),
        (name = "servicenow", description = "Push from ServiceNow: the business rule and its secret (admin tokens only)"),
    )
)]
struct Frame;

/// The routes under [`PREFIX`] with their document, paths prefixed.
fn nested() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<Frame as utoipa::OpenApi>::openapi())
        .nest(PREFIX, crate::api::routes())
}

/// The document of `/api/v1`, complete: the handlers' path items, the bearer scheme required
/// by every operation that declares none of its own, and the error answers they share.
pub fn document() -> OpenApi {
    let mut doc = nested().into_openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token: create one in the console (Settings → API tokens) or with \
                     `tandem token create`.",
                ))
                .build(),
        ),
    );
    doc.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
    for item in doc.paths.paths.values_mut() {
        for (method, operation) in operations(item) {
            add_shared_errors(method, operation);
        }
    }
    doc
}

/// The path item's operations, with their methods.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
}

/// Adds the errors any operation of its kind may answer, where its annotation names none:
/// 401 and 403 (the token), 400/413 (a body), 404 (a path naming something), 408 (a slow
/// request), 500, 503 and 507 (the node's storage). A public operation (`security: []`) gets
/// no 401/403.
fn add_shared_errors(method: HttpMethod, op: &mut Operation) {
    let public = op.security.as_ref().is_some_and(|s| {
        s.iter()
            .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
    });
    let reads = method == HttpMethod::Get;
    let has_body = op.request_body.is_some();
    let has_path_params = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Path))
    });
    let mut shared: Vec<(&str, &str, bool)> = Vec::new();
    if !public {
        shared.push((
            "401",
            "No API token, or one that is not valid or revoked.",
            false,
        ));
        if !reads {
            shared.push((
                "403",
                "The token's scope does not allow this (a read token may only GET; a sync \
                 token may run sync operations only).",
                false,
            ));
        }
    }
    if has_body {
        shared.push((
            "400",
            "The body is not understood: malformed JSON, a missing or unknown field, or a \
             value out of range (the message names it).",
            false,
        ));
        shared.push(("413", "The request body is too large.", false));
    }
    if has_path_params {
        shared.push(("404", "What the path names does not exist.", false));
    }
    shared.push((
        "408",
        "The request, or its body, did not arrive in time.",
        false,
    ));
    if !public {
        shared.push((
            "500",
            "The node could not complete the request; its log says why.",
            false,
        ));
        shared.push((
            "503",
            "The node's storage cannot serve the request now: try again after `Retry-After` \
             seconds.",
            true,
        ));
        if !reads {
            shared.push(("507", "The disk holding the node's data is full.", false));
        }
    }
    for (status, description, retry_after) in shared {
        if op.responses.responses.contains_key(status) {
            continue;
        }
        op.responses.responses.insert(
            status.to_owned(),
            RefOr::T(error_response(description, retry_after)),
        );
    }
}

/// An error answer: the node's error body, with `Retry-After` when it asks to wait.
pub fn error_response(description: &str, retry_after: bool) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ApiErrorBody")))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                ))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    response.build()
}

/// The document as served, made once.
static SERVED: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize the document: {e}\"}}"))
});

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "node",
    operation_id = "openapi",
    security(()),
    responses(
        (status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object),
    )
)]
pub async fn served() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        SERVED.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
