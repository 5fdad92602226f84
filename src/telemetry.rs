//! Logging: one JSON object per line on stdout in the shape Cloud Logging lifts into a LogEntry
//! (`severity`, `message`, `timestamp`, `logging.googleapis.com/trace`, …), or human-readable
//! lines with `LOG_FORMAT=pretty`.
//!
//! Request context (`request_id`, `tenant_id`, trace ids) lives in fields of the `request` span
//! that the HTTP layer opens; this layer copies them onto every event logged inside it.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber. `LOG_LEVEL` is a Python-style level name or an `EnvFilter`
/// directive; `sqlx` statements stay at warn unless asked for.
pub fn init(level: &str, format: LogFormat, project: Option<String>) {
    let filter =
        EnvFilter::try_new(filter_directive(level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry.with(CloudJsonLayer { project }).try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    // Colour codes only for a person at a terminal, never in a file or a pipe.
                    .with_ansi(std::io::stdout().is_terminal())
                    .fmt_fields(tracing_subscriber::fmt::format::debug_fn(pretty_field)),
            )
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    install_panic_hook();
}

/// Replaces the default panic hook, which writes raw text to stderr, with one ERROR event
/// through the logger: a panic anywhere (a handler, a background task, start-up) becomes one
/// structured line, its message and location as escaped fields, inside the request's span when
/// a handler panicked (so it carries the request id). Handler panics still become the opaque
/// 500 of [`crate::http::middleware::panic_response`].
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let current = std::thread::current();
        let thread = current.name().unwrap_or("<unnamed>");
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(
                target: "panic",
                panic_message = message,
                panic_location = location,
                thread,
                backtrace = %backtrace,
                "panic"
            );
        } else {
            tracing::error!(
                target: "panic",
                panic_message = message,
                panic_location = location,
                thread,
                "panic"
            );
        }
    }));
}

/// The text a panic was raised with (`panic!("…")` payloads are a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(non-text panic payload)")
}

/// One field of a pretty line. The access log's message already reads `GET /path 200`, so its
/// `method`, `path` and `status` fields are not repeated, and latencies are rounded to 0.1 ms
/// (the JSON format keeps every field at full precision for log queries).
fn pretty_field(
    writer: &mut tracing_subscriber::fmt::format::Writer<'_>,
    field: &Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    match field.name() {
        "message" => write!(writer, "{value:?}"),
        "method" | "path" | "status" => Ok(()),
        name if name.ends_with("_ms") => {
            let text = format!("{value:?}");
            match text.parse::<f64>() {
                Ok(ms) => write!(writer, " {name}={ms:.1}"),
                Err(_) => write!(writer, " {name}={text}"),
            }
        }
        name => write!(writer, " {name}={value:?}"),
    }
}

fn filter_directive(level: &str) -> String {
    let base = match level.trim().to_ascii_lowercase().as_str() {
        "critical" | "fatal" | "error" => "error",
        "warning" | "warn" => "warn",
        "debug" => "debug",
        "trace" | "notset" => "trace",
        "info" | "" => "info",
        other => return other.to_owned(),
    };
    format!("{base},sqlx=warn")
}

/// The Cloud Logging severity names.
fn severity(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARNING",
        tracing::Level::INFO => "INFO",
        tracing::Level::DEBUG | tracing::Level::TRACE => "DEBUG",
    }
}

pub struct CloudJsonLayer {
    project: Option<String>,
}

/// The request span's fields an event line carries (the only span fields it prints).
#[derive(Default)]
struct SpanFields {
    request_id: Option<String>,
    tenant_id: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
    trace_sampled: Option<String>,
}

impl SpanFields {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        match name {
            "request_id" => Some(&mut self.request_id),
            "tenant_id" => Some(&mut self.tenant_id),
            "trace_id" => Some(&mut self.trace_id),
            "span_id" => Some(&mut self.span_id),
            "trace_sampled" => Some(&mut self.trace_sampled),
            _ => None,
        }
    }

    /// Inner spans win: `inner`'s values replace these.
    fn overlay(&mut self, inner: &SpanFields) {
        for (mine, theirs) in [
            (&mut self.request_id, &inner.request_id),
            (&mut self.tenant_id, &inner.tenant_id),
            (&mut self.trace_id, &inner.trace_id),
            (&mut self.span_id, &inner.span_id),
            (&mut self.trace_sampled, &inner.trace_sampled),
        ] {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
    }
}

struct SpanVisitor<'a>(&'a mut SpanFields);

impl Visit for SpanVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(slot) = self.0.slot(field.name()) {
            *slot = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if let Some(slot) = self.0.slot(field.name()) {
            *slot = Some(format!("{value:?}"));
        }
    }
}

/// An event field's value, as JSON will show it.
enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

/// The keys every line starts with: an event field of the same name is not printed again.
const FIXED_KEYS: [&str; 9] = [
    "timestamp",
    "severity",
    "message",
    "logger",
    "request_id",
    "tenant_id",
    "logging.googleapis.com/trace",
    "logging.googleapis.com/spanId",
    "logging.googleapis.com/trace_sampled",
];

/// An event's message and fields, in the order they were recorded; a repeated name keeps its
/// first place and its last value.
#[derive(Default)]
struct FieldCollector {
    message: Option<String>,
    fields: Vec<(&'static str, FieldValue)>,
}

impl FieldCollector {
    fn push(&mut self, name: &'static str, value: FieldValue) {
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = value,
            None => self.fields.push((name, value)),
        }
    }
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.push(field.name(), FieldValue::Str(value.to_owned()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field.name(), FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field.name(), FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field.name(), FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field.name(), FieldValue::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.push(field.name(), FieldValue::Str(text));
        }
    }
}

/// Appends `"key":` to a JSON line.
fn json_key(out: &mut Vec<u8>, key: &str) {
    json_str(out, key);
    out.push(b':');
}

/// Appends a JSON string, escaped as serde_json escapes it.
fn json_str(out: &mut Vec<u8>, value: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

impl<S> tracing_subscriber::Layer<S> for CloudJsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut fields = SpanFields::default();
            attrs.record(&mut SpanVisitor(&mut fields));
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<SpanFields>() {
                values.record(&mut SpanVisitor(fields));
            }
        }
    }

    /// One line per event, written straight into a buffer (no map of values in between: this
    /// runs for every request's access log line).
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut collector = FieldCollector::default();
        event.record(&mut collector);

        let mut span = SpanFields::default();
        if let Some(scope) = ctx.event_scope(event) {
            // Outermost first, so inner spans win.
            for s in scope.from_root() {
                if let Some(f) = s.extensions().get::<SpanFields>() {
                    span.overlay(f);
                }
            }
        }

        let mut out = Vec::with_capacity(384);
        out.extend_from_slice(b"{\"timestamp\":\"");
        let _ = time::OffsetDateTime::now_utc()
            .format_into(&mut out, &time::format_description::well_known::Rfc3339);
        out.extend_from_slice(b"\",\"severity\":\"");
        out.extend_from_slice(severity(event.metadata().level()).as_bytes());
        out.extend_from_slice(b"\",");
        json_key(&mut out, "message");
        json_str(&mut out, collector.message.as_deref().unwrap_or_default());
        out.push(b',');
        json_key(&mut out, "logger");
        json_str(&mut out, event.metadata().target());
        out.push(b',');
        json_key(&mut out, "request_id");
        json_str(&mut out, span.request_id.as_deref().unwrap_or("-"));
        out.push(b',');
        json_key(&mut out, "tenant_id");
        json_str(&mut out, span.tenant_id.as_deref().unwrap_or("-"));
        if let Some(trace) = &span.trace_id {
            out.push(b',');
            json_key(&mut out, "logging.googleapis.com/trace");
            match &self.project {
                Some(project) => json_str(&mut out, &format!("projects/{project}/traces/{trace}")),
                None => json_str(&mut out, trace),
            }
        }
        if let Some(span_id) = &span.span_id {
            out.push(b',');
            json_key(&mut out, "logging.googleapis.com/spanId");
            json_str(&mut out, span_id);
        }
        if let Some(sampled) = &span.trace_sampled {
            out.push(b',');
            json_key(&mut out, "logging.googleapis.com/trace_sampled");
            out.extend_from_slice(if sampled == "true" { b"true" } else { b"false" });
        }
        for (name, value) in &collector.fields {
            if FIXED_KEYS.contains(name) {
                continue;
            }
            out.push(b',');
            json_key(&mut out, name);
            match value {
                FieldValue::Str(v) => json_str(&mut out, v),
                FieldValue::I64(v) => {
                    let _ = write!(out, "{v}");
                }
                FieldValue::U64(v) => {
                    let _ = write!(out, "{v}");
                }
                // serde_json's form: shortest round-trip digits, `null` for NaN and infinities.
                FieldValue::F64(v) => {
                    let _ = serde_json::to_writer(&mut out, &serde_json::Value::from(*v));
                }
                FieldValue::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
            }
        }
        out.extend_from_slice(b"}\n");
        let stdout = std::io::stdout();
        let mut handle = stdout.lock();
        let _ = handle.write_all(&out);
    }
}

/// Trace context from `traceparent` (W3C) or `X-Cloud-Trace-Context: TRACE/SPAN;o=1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: Option<String>,
    pub sampled: bool,
}

impl TraceContext {
    pub fn from_headers(traceparent: Option<&str>, cloud: Option<&str>) -> Option<Self> {
        if let Some(tp) = traceparent {
            let parts: Vec<&str> = tp.trim().split('-').collect();
            if parts.len() == 4
                && parts[1].len() == 32
                && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Some(Self {
                    trace_id: parts[1].to_ascii_lowercase(),
                    span_id: Some(parts[2].to_ascii_lowercase()),
                    sampled: u8::from_str_radix(parts[3], 16).is_ok_and(|f| f & 1 == 1),
                });
            }
        }
        let cloud = cloud?.trim();
        let (trace, rest) = cloud.split_once('/').unwrap_or((cloud, ""));
        if trace.is_empty() || !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let (span, options) = rest.split_once(';').unwrap_or((rest, ""));
        Some(Self {
            trace_id: trace.to_ascii_lowercase(),
            span_id: (!span.is_empty()).then(|| span.to_owned()),
            sampled: options.trim() == "o=1",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_wins_over_cloud_header() {
        let t = TraceContext::from_headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("abc/1;o=0"),
        )
        .unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(t.sampled);
    }

    #[test]
    fn cloud_trace_header_is_parsed() {
        let t = TraceContext::from_headers(None, Some("105445aa7843bc8bf206b12000100000/1;o=1"))
            .unwrap();
        assert_eq!(t.trace_id, "105445aa7843bc8bf206b12000100000");
        assert_eq!(t.span_id.as_deref(), Some("1"));
        assert!(t.sampled);
        assert_eq!(TraceContext::from_headers(None, Some("not hex/1")), None);
    }

    #[test]
    fn python_level_names_are_understood() {
        assert_eq!(filter_directive("WARNING"), "warn,sqlx=warn");
        assert_eq!(filter_directive("INFO"), "info,sqlx=warn");
        assert_eq!(filter_directive("sole=debug"), "sole=debug");
    }
}
