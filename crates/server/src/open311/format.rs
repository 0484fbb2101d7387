//! The two formats of every answer (`.json`, `.xml`) made from one description ([`V`]), and
//! errors in the specification's shape.

use crate::error::Shaped;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json` (the "Spark convention" mapping of the XML)
    Json,
    /// `.xml`
    Xml,
}

impl Format {
    /// Splits `name.json` / `name.xml`.
    pub(super) fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, ext) = file.rsplit_once('.')?;
        match ext {
            "json" => Some((stem, Format::Json)),
            "xml" => Some((stem, Format::Xml)),
            _ => None,
        }
    }

    pub(super) fn of(file: &str) -> Result<(&str, Format), Open311Error> {
        Format::split(file).ok_or_else(|| {
            Open311Error::new(Format::Json, 404, "ask for a resource as .json or .xml")
        })
    }
}

/// A value of a response, kept in the specification's field order so both formats are made
/// from one description.
#[derive(Debug, Clone)]
pub(super) enum V {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(String),
    /// elements of a list: in XML each is an element of the given name
    List(&'static str, Vec<V>),
    Rec(Vec<(&'static str, V)>),
}

impl V {
    pub(super) fn str(s: impl Into<String>) -> V {
        V::Str(s.into())
    }

    pub(super) fn opt(s: Option<impl Into<String>>) -> V {
        s.map_or(V::Null, V::str)
    }

    pub(super) fn time(t: DateTime<Utc>) -> V {
        V::Str(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    pub(super) fn json(&self) -> serde_json::Value {
        match self {
            V::Null => serde_json::Value::Null,
            V::Bool(b) => (*b).into(),
            V::Int(n) => (*n).into(),
            V::Num(n) => (*n).into(),
            V::Str(s) => s.as_str().into(),
            V::List(_, items) => items.iter().map(V::json).collect(),
            V::Rec(fields) => fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }

    pub(super) fn xml(&self, name: &str, out: &mut String) {
        if let V::Null = self {
            out.push_str(&format!("<{name}/>"));
            return;
        }
        out.push_str(&format!("<{name}>"));
        match self {
            V::Null => {}
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(n) => out.push_str(&n.to_string()),
            V::Num(n) => out.push_str(&n.to_string()),
            V::Str(s) => out.push_str(&quick_xml::escape::escape(s.as_str())),
            V::List(item, items) => items.iter().for_each(|v| v.xml(item, out)),
            V::Rec(fields) => fields.iter().for_each(|(k, v)| v.xml(k, out)),
        }
        out.push_str(&format!("</{name}>"));
    }

    /// The response: JSON as it is; XML under `root`, a list's items named as it says.
    pub(super) fn respond(
        &self,
        format: Format,
        root: &'static str,
        status: StatusCode,
    ) -> Response {
        let (content_type, body) = match format {
            Format::Json => ("application/json; charset=utf-8", self.json().to_string()),
            Format::Xml => {
                let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
                self.xml(root, &mut out);
                ("text/xml; charset=utf-8", out)
            }
        };
        let mut res = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        res.extensions_mut().insert(Shaped);
        res
    }
}

/// An error in the specification's format: `errors[]{code, description}`.
#[derive(Debug)]
pub struct Open311Error {
    format: Format,
    status: u16,
    description: String,
}

impl Open311Error {
    pub(super) fn new(format: Format, status: u16, description: impl Into<String>) -> Self {
        Open311Error {
            format,
            status,
            description: description.into(),
        }
    }

    pub(super) fn from_api(format: Format, e: crate::error::ApiError) -> Self {
        let status = e.status().as_u16();
        if status >= 500 {
            tracing::error!(error = ?e, "open311 request failed");
        }
        Open311Error::new(format, status, e.client_message())
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = V::List(
            "error",
            vec![V::Rec(vec![
                ("code", V::Int(i64::from(self.status))),
                ("description", V::Str(self.description)),
            ])],
        );
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        body.respond(self.format, "errors", status)
    }
}

pub(super) type O311<T> = Result<T, Open311Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_description_two_formats() {
        let v = V::List(
            "request",
            vec![V::Rec(vec![
                ("service_request_id", V::str("a<b&c")),
                ("lat", V::Num(23.5)),
                ("metadata", V::Bool(false)),
                ("address", V::Null),
            ])],
        );
        assert_eq!(
            v.json(),
            serde_json::json!([{"service_request_id": "a<b&c", "lat": 23.5, "metadata": false, "address": null}])
        );
        let mut xml = String::new();
        v.xml("service_requests", &mut xml);
        assert_eq!(
            xml,
            "<service_requests><request><service_request_id>a&lt;b&amp;c</service_request_id><lat>23.5</lat><metadata>false</metadata><address/></request></service_requests>"
        );
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("a.b.xml"), Some(("a.b", Format::Xml)));
        assert_eq!(Format::split("services.html"), None);
        assert_eq!(Format::split("services"), None);
    }
}
