//! The Aggregate API (`GET /api/now/stats/{table}`, also `/api/now/v1/stats/{table}`):
//! `sysparm_count`, `sysparm_avg_fields`, `sysparm_min_fields`, `sysparm_max_fields`,
//! `sysparm_sum_fields` and `sysparm_group_by` over the rows `sysparm_query` selects.
//!
//! Without `sysparm_group_by` the result is one object, `{"stats": {...}}`; with it, a list of
//! `{"stats": {...}, "groupby_fields": [{"field", "value"}]}`, one per group. Every number
//! is a string, as in the Table API. (inference) Averages are written with four decimals,
//! and group values get a `display_value` when `sysparm_display_value` is true or all.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::records::{Record, val};
use super::render::DisplayMode;
use super::schema::{FieldType, TableDef};
use super::table::{Params, checked_query};
use super::{AppState, base_url, lock};

/// The aggregates asked for, by the name ServiceNow gives them in `stats`.
struct Aggregates {
    count: bool,
    fields: Vec<(&'static str, Vec<String>)>,
    group_by: Vec<String>,
}

fn list(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect()
}

fn aggregates(pairs: &[(String, String)], def: &TableDef) -> Result<Aggregates, ApiError> {
    let a = Aggregates {
        count: pairs
            .iter()
            .any(|(k, v)| k == "sysparm_count" && v.eq_ignore_ascii_case("true")),
        fields: [
            ("avg", "sysparm_avg_fields"),
            ("min", "sysparm_min_fields"),
            ("max", "sysparm_max_fields"),
            ("sum", "sysparm_sum_fields"),
        ]
        .into_iter()
        .map(|(stat, param)| (stat, list(pairs, param)))
        .filter(|(_, fields)| !fields.is_empty())
        .collect(),
        group_by: list(pairs, "sysparm_group_by"),
    };
    for f in a.fields.iter().flat_map(|(_, f)| f).chain(&a.group_by) {
        if def.field(f).is_none() {
            return Err(ApiError::bad_request(
                "Invalid aggregate field",
                format!("table {} has no field {f}", def.name),
            ));
        }
    }
    Ok(a)
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok()
}

/// Whole numbers without a fraction, others as written by Rust.
fn show(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

fn stats(a: &Aggregates, def: &TableDef, rows: &[&Record]) -> Value {
    let mut out = Map::new();
    if a.count {
        out.insert("count".into(), json!(rows.len().to_string()));
    }
    for (stat, fields) in &a.fields {
        let mut per_field = Map::new();
        for f in fields {
            let numeric = matches!(def.field(f).map(|d| d.ty), Some(FieldType::Integer));
            let values: Vec<&str> = rows
                .iter()
                .map(|r| val(r, f))
                .filter(|v| !v.is_empty())
                .collect();
            let nums: Vec<f64> = values.iter().filter_map(|v| number(v)).collect();
            let shown = match *stat {
                "sum" => show(nums.iter().sum()),
                "avg" if nums.is_empty() => String::new(),
                "avg" => format!("{:.4}", nums.iter().sum::<f64>() / nums.len() as f64),
                "min" if numeric => nums
                    .iter()
                    .copied()
                    .reduce(f64::min)
                    .map(show)
                    .unwrap_or_default(),
                "max" if numeric => nums
                    .iter()
                    .copied()
                    .reduce(f64::max)
                    .map(show)
                    .unwrap_or_default(),
                "min" => values
                    .iter()
                    .min()
                    .map(|v| (*v).to_owned())
                    .unwrap_or_default(),
                _ => values
                    .iter()
                    .max()
                    .map(|v| (*v).to_owned())
                    .unwrap_or_default(),
            };
            per_field.insert(f.clone(), json!(shown));
        }
        out.insert((*stat).to_owned(), Value::Object(per_field));
    }
    Value::Object(out)
}

/// `GET /api/now/stats/{table}`.
pub async fn aggregate(
    State(state): State<AppState>,
    Path(table): Path<String>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, base_url(&state, &headers))?;
    let data = lock(&state.data);
    let t = data.table(&table)?;
    let a = aggregates(&params.pairs, &t.def)?;
    let rows: Vec<&Record> = match checked_query(&state, &data, &t.def, &params)? {
        Some(q) => t
            .rows
            .values()
            .filter(|r| q.matches(&t.def, &*data, r))
            .collect(),
        None => Vec::new(),
    };
    if a.group_by.is_empty() {
        return Ok(
            axum::Json(json!({ "result": { "stats": stats(&a, &t.def, &rows) } })).into_response(),
        );
    }
    let mut groups: IndexMap<Vec<&str>, Vec<&Record>> = IndexMap::new();
    for r in &rows {
        let key: Vec<&str> = a.group_by.iter().map(|f| val(r, f)).collect();
        groups.entry(key).or_default().push(r);
    }
    let with_display = params.render.mode != DisplayMode::Raw;
    let result: Vec<Value> = groups
        .iter()
        .map(|(key, members)| {
            let fields: Vec<Value> = a
                .group_by
                .iter()
                .zip(key)
                .map(|(field, value)| {
                    let mut g = json!({ "field": field, "value": value });
                    if with_display && let Some(def) = t.def.field(field) {
                        let label = def
                            .choices
                            .iter()
                            .find(|(v, _)| v == value)
                            .map_or(*value, |(_, l)| *l);
                        g["display_value"] = json!(label);
                    }
                    g
                })
                .collect();
            json!({ "stats": stats(&a, &t.def, members), "groupby_fields": fields })
        })
        .collect();
    Ok(axum::Json(json!({ "result": result })).into_response())
}
