//! What every service's OpenAPI document shares, written once: the bearer scheme, the problem
//! answers the kit itself gives on every route, the contract's header and paging rules, and an
//! audit that tests run on each service's document.
//!
//! A service annotates its handlers (`#[utoipa::path]`) with what only it knows: its success
//! answers, and the problems its own code gives (403, 404, 409, 429, …, `body = Problem`). The
//! kit's runner then hands the generated document to [`finish`], which adds what the kit's
//! extractors and layers answer on every route, so that no service repeats it and none forgets
//! it:
//!
//! | when the operation … | the kit may answer |
//! | --- | --- |
//! | takes parameters or a body | 400 (`invalid-path`, `invalid-query`, `bad-request`, `malformed-json`) |
//! | requires or accepts a token | 401 (`unauthorized`, with `WWW-Authenticate: Bearer`) |
//! | takes a body | 413, 415, 422 (`invalid-body`, `validation` for NUL) |
//! | always | 500 (`internal`), 503 (`unavailable`: the request timed out, or the token keys are out of reach; `Retry-After`) |
//!
//! Every answer of 400 or more is an RFC 9457 problem, `application/problem+json` with the
//! [`Problem`](crate::Problem) schema, whatever the annotation said; 429 and 503 carry
//! `Retry-After`, 401 `WWW-Authenticate`.

use serde_json::{Map, Value, json};
use utoipa::Modify;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::problem::CONTENT_TYPE;

/// Declares the `bearer` security scheme (a JWT from user-service) that handlers refer to with
/// `security(("bearer" = []))`, or `security((), ("bearer" = []))` where a token is optional.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The schema of a list of `min` to `max` distinct ids (utoipa has no `unique_items`
/// attribute): a field takes `#[schema(schema_with = my_fn)]`, `my_fn` calling this.
pub fn distinct_ids(
    min: usize,
    max: usize,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Uuid,
                ))),
        )
        .min_items(Some(min))
        .max_items(Some(max))
        .unique_items(true)
        .into()
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// The statuses the kit answers on an operation, with the description each gets when the
/// service did not describe it.
fn kit_statuses(op: &Value) -> Vec<(&'static str, &'static str)> {
    let has_body = op.get("requestBody").is_some();
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let mut statuses = Vec::new();
    if has_params || has_body {
        statuses.push((
            "400",
            "Malformed request: JSON that does not parse, a path or query value that does not parse, a required header missing or malformed, or NUL (`%00`) in the path or query",
        ));
    }
    if secured {
        statuses.push((
            "401",
            "No access token, or an invalid or expired one (`WWW-Authenticate: Bearer`)",
        ));
    }
    if has_body {
        statuses.push(("413", "The body is over 1 MiB"));
        statuses.push(("415", "The body is not sent as `application/json`"));
        statuses.push((
            "422",
            "The body has the wrong shape (`invalid-body`) or invalid field values (`validation`, with `errors`)",
        ));
    }
    statuses.push((
        "500",
        "Our fault; quote the `X-Request-Id` when reporting it",
    ));
    statuses.push((
        "503",
        "The request took too long and was abandoned, or the token keys could not be fetched; see `Retry-After`",
    ));
    statuses
}

/// The finished document: `openapi` as utoipa generated it from the annotations, with the
/// bearer scheme, the problem schema, `POST /v1/messages` when the kit serves it for `service`
/// (`consumes`), and the kit's own answers and rules on every operation.
pub fn finish(
    mut openapi: utoipa::openapi::OpenApi,
    service: crate::fleet::Service,
    consumes: bool,
) -> Value {
    BearerAuth.modify(&mut openapi);
    // Cannot fail (every map key is a string); a null document would fail each service's audit.
    let mut doc = serde_json::to_value(&openapi).unwrap_or_default();
    add_problem_schemas(&mut doc);
    if consumes {
        add_inbox(&mut doc, service);
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method) {
                    finish_operation(op);
                }
            }
        }
    }
    doc
}

fn add_problem_schemas(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let components = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(components) = components else {
        return;
    };
    let schemas = components.entry("schemas").or_insert_with(|| json!({}));
    let Some(schemas) = schemas.as_object_mut() else {
        return;
    };
    schemas.insert(
        "FieldError".into(),
        json!({
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": { "type": "string", "description": "The field's name in the request (empty for the whole body)" },
                "message": { "type": "string" }
            }
        }),
    );
    // Written here rather than derived: `status` is a number, other members may follow.
    schemas.insert("Problem".into(), problem_schema());
}

/// `POST /v1/messages` (`messages::inbox`), which no handler of the service annotates: the
/// envelope with the types `service` consumes and the services that may send each.
fn add_inbox(doc: &mut Value, service: crate::fleet::Service) {
    use crate::fleet::{Service, consumers_of};
    let mut types: Vec<&str> = Service::ALL
        .iter()
        .flat_map(|s| s.links().produces.iter().copied())
        .filter(|t| consumers_of(t).contains(&service))
        .collect();
    types.sort_unstable();
    types.dedup();
    let sources: Vec<&str> = Service::ALL
        .iter()
        .filter(|s| s.links().produces.iter().any(|t| types.contains(t)))
        .map(|s| s.name())
        .collect();
    let envelope = json!({
        "type": "object",
        "description": "A message between services: written to the producer's outbox with the change it reports, delivered until accepted.",
        "required": ["id", "type", "occurredAt", "source", "data"],
        "properties": {
            "id": { "type": "string", "format": "uuid", "description": "A repeated id is accepted and ignored" },
            "type": { "type": "string", "enum": types },
            "occurredAt": { "type": "string", "format": "date-time" },
            "source": { "type": "string", "enum": sources, "description": "The sending service: the caller's own token" },
            "data": { "type": "object", "description": "The type's payload (docs/api.md, messages); another shape is refused with 422" }
        }
    });
    let operation = json!({
        "tags": ["messages"],
        "summary": "Deliver a message (services that produce its type only)",
        "operationId": "receive_message",
        "security": [{ "bearer": [] }],
        "requestBody": {
            "required": true,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Envelope" } } }
        },
        "responses": {
            "202": { "description": "Handled; or a repeat of a message already handled, ignored" },
            "403": { "description": "Not a service, or a type or source the caller may not send" }
        }
    });
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert("Envelope".into(), envelope);
    }
    let paths = doc
        .as_object_mut()
        .map(|root| root.entry("paths").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut);
    if let Some(paths) = paths {
        paths.insert("/v1/messages".into(), json!({ "post": operation }));
    }
}

/// RFC 9457 problem details as the fleet sends them: other members (`conflicts`, `payment`,
/// `order`, …) may follow.
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details. The last segment of `type` is a stable error code.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {
                "type": "string",
                "example": "https://ticketing.example/problems/validation"
            },
            "title": { "type": "string" },
            "status": { "type": "integer", "minimum": 400, "maximum": 599 },
            "detail": { "type": "string" },
            "errors": {
                "type": "array",
                "description": "One entry per invalid field (`validation` problems only).",
                "items": { "$ref": "#/components/schemas/FieldError" }
            }
        },
        "additionalProperties": true
    })
}

fn finish_operation(op: &mut Value) {
    constrain_parameters(op);
    let statuses = kit_statuses(op);
    let Some(responses) = op
        .as_object_mut()
        .map(|o| o.entry("responses").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, description) in statuses {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description }));
    }
    for (status, response) in responses.iter_mut() {
        let code: u16 = status.parse().unwrap_or(0);
        if code >= 400 {
            as_problem(code, response);
        }
    }
}

/// Makes an error answer a problem: its content type, its schema, its headers.
fn as_problem(code: u16, response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    response.insert(
        "content".into(),
        json!({ CONTENT_TYPE: { "schema": { "$ref": PROBLEM_REF } } }),
    );
    let header = match code {
        401 => Some((
            "WWW-Authenticate",
            json!({ "description": "`Bearer` when the access token is missing or bad", "schema": { "type": "string" } }),
        )),
        429 | 503 => Some((
            "Retry-After",
            // Every 429 and 503 of the fleet says when to come back.
            json!({ "description": "Seconds to wait before trying again", "required": true, "schema": { "type": "integer", "minimum": 0 } }),
        )),
        // A conflict that passes (the same key in flight, an order busy) says when to retry.
        409 => Some((
            "Retry-After",
            json!({ "description": "When the conflict passes by itself (a request still running): seconds to wait", "schema": { "type": "integer", "minimum": 0 } }),
        )),
        _ => None,
    };
    if let Some((name, value)) = header {
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(headers) = headers {
            headers.entry(name).or_insert(value);
        }
    }
}

/// The contract's rules on shared parameters: `Idempotency-Key` (1 to 255 visible ASCII
/// characters) and paging (`page` from 1, `limit` 1 to 100). And a query parameter is never
/// `null` (an optional one is left out): utoipa's `Option<T>` says it may be.
fn constrain_parameters(op: &mut Value) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for param in params {
        let name = param
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let place = param
            .get("in")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(types) = schema.get("type").and_then(Value::as_array) {
            let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            let single = if types.len() == 1 {
                types[0].clone()
            } else {
                Value::Array(types)
            };
            schema.insert("type".into(), single);
        }
        match (place.as_str(), name.as_str()) {
            ("header", n) if n.eq_ignore_ascii_case("idempotency-key") => {
                schema.insert("type".into(), json!("string"));
                schema.insert("minLength".into(), json!(1));
                schema.insert("maxLength".into(), json!(255));
                schema.insert("pattern".into(), json!("^[!-~]+$"));
            }
            ("query", "page") => {
                schema.insert("minimum".into(), json!(1));
                schema.entry("maximum").or_insert(json!(i64::MAX));
            }
            ("query", "limit") => {
                schema.insert("minimum".into(), json!(1));
                schema.insert("maximum".into(), json!(crate::paging::MAX_LIMIT));
                schema.insert("default".into(), json!(crate::paging::DEFAULT_LIMIT));
            }
            _ => {}
        }
    }
}

/// What is wrong with a finished document: every operation must answer something that is not
/// an error, document the kit's answers, and send every error as a problem (with `Retry-After`
/// on 429 and 503). Empty when the document is truthful in these respects; each service's tests
/// assert it on its `/openapi.json`.
pub fn audit(doc: &Value) -> Vec<String> {
    let mut faults = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return vec!["no paths".into()];
    };
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let label = format!("{} {path}", method.to_uppercase());
            audit_operation(&label, op, &mut faults);
        }
    }
    faults
}

fn audit_operation(label: &str, op: &Value, faults: &mut Vec<String>) {
    let empty = Map::new();
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !responses
        .keys()
        .any(|s| s.starts_with('2') || s.starts_with('3'))
    {
        faults.push(format!("{label}: no success answer"));
    }
    for (status, _) in kit_statuses(op) {
        if !responses.contains_key(status) {
            faults.push(format!("{label}: {status} not documented"));
        }
    }
    for (status, response) in responses {
        let code: u16 = status.parse().unwrap_or(0);
        if code < 400 {
            continue;
        }
        let schema = response
            .pointer("/content/application~1problem+json/schema/$ref")
            .and_then(Value::as_str);
        let content_types = response
            .get("content")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        if schema != Some(PROBLEM_REF) || content_types != 1 {
            faults.push(format!(
                "{label}: {status} is not only application/problem+json with the Problem schema"
            ));
        }
        if matches!(code, 429 | 503) && response.pointer("/headers/Retry-After").is_none() {
            faults.push(format!("{label}: {status} without Retry-After"));
        }
    }
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for param in params {
        if param.get("schema").is_none() {
            let name = param.get("name").and_then(Value::as_str).unwrap_or("?");
            faults.push(format!("{label}: parameter {name} without a schema"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{FieldError, Problem};
    use utoipa::OpenApi;

    #[utoipa::path(post, path = "/v1/things/{id}", security(("bearer" = [])),
        params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = String, Header)),
        request_body = FieldError,
        responses((status = 201, body = FieldError), (status = 404, body = Problem),
            (status = 429, body = Problem)))]
    #[allow(dead_code, clippy::unused_async)]
    async fn make_thing() {}

    #[utoipa::path(get, path = "/v1/things", responses((status = 200)))]
    #[allow(dead_code, clippy::unused_async)]
    async fn list_things() {}

    #[derive(OpenApi)]
    #[openapi(paths(make_thing, list_things))]
    struct Doc;

    #[test]
    fn the_kit_documents_its_own_answers_as_problems() {
        let doc = finish(Doc::openapi(), crate::fleet::Service::User, false);
        let op = &doc["paths"]["/v1/things/{id}"]["post"];
        for status in [
            "400", "401", "404", "413", "415", "422", "429", "500", "503",
        ] {
            let content = &op["responses"][status]["content"];
            assert_eq!(
                content[CONTENT_TYPE]["schema"]["$ref"], PROBLEM_REF,
                "{status}: {content}"
            );
            assert!(content.get("application/json").is_none(), "{status}");
        }
        assert!(op["responses"]["429"]["headers"]["Retry-After"].is_object());
        assert!(op["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
        let key = &op["parameters"][1]["schema"];
        assert_eq!(key["maxLength"], 255);
        // A route without parameters, body or token answers none of those.
        let list = &doc["paths"]["/v1/things"]["get"]["responses"];
        assert!(list.get("400").is_none() && list.get("401").is_none());
        assert!(list["503"].is_object());
        assert_eq!(audit(&doc), Vec::<String>::new());
        assert!(doc["components"]["schemas"]["Problem"]["properties"]["errors"].is_object());
        assert!(doc["paths"].get("/v1/messages").is_none());
    }

    #[test]
    fn a_consumer_documents_its_inbox_with_what_it_takes_and_from_whom() {
        let doc = finish(Doc::openapi(), crate::fleet::Service::Seating, true);
        let envelope = &doc["components"]["schemas"]["Envelope"]["properties"];
        assert_eq!(envelope["type"]["enum"], json!(["event.cancelled"]));
        assert_eq!(envelope["source"]["enum"], json!(["catalog-service"]));
        let inbox = &doc["paths"]["/v1/messages"]["post"]["responses"];
        for status in ["202", "400", "401", "403", "413", "415", "422", "503"] {
            assert!(inbox[status].is_object(), "{status}");
        }
        assert_eq!(audit(&doc), Vec::<String>::new());
    }

    #[test]
    fn the_audit_names_what_an_unfinished_document_lacks() {
        let raw = serde_json::to_value(Doc::openapi()).unwrap();
        let faults = audit(&raw);
        assert!(
            faults
                .iter()
                .any(|f| f == "POST /v1/things/{id}: 401 not documented"),
            "{faults:?}"
        );
        assert!(
            faults
                .iter()
                .any(|f| f
                    .contains("404 is not only application/problem+json with the Problem schema")),
            "{faults:?}"
        );
    }
}
