//! Logging as gost's `log:` block and `-D`/`-DD` configure it: level, format (`text`, or `json`
//! with gost's field names `time`, `level`, `msg` and the event's fields), and output
//! (`stderr`, `stdout`, `none`, or a file appended to).

use std::fmt;
use std::io::IsTerminal;

use gost_core::{Error, Result};
use gost_x_config::model::LogConfig;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global logger.
pub(crate) fn init(debug: bool, trace: bool, log: Option<&LogConfig>) -> Result<()> {
    let level = if trace {
        Level::TRACE
    } else if debug {
        Level::DEBUG
    } else {
        match log.and_then(|l| l.level.as_deref()).map(str::to_ascii_lowercase).as_deref() {
            None | Some("info" | "") => Level::INFO,
            Some("trace") => Level::TRACE,
            Some("debug") => Level::DEBUG,
            Some("warn") => Level::WARN,
            Some("error" | "fatal") => Level::ERROR,
            Some(other) => {
                return Err(Error::config(format!(
                    "log.level {other:?} is not one of trace, debug, info, warn, error, fatal"
                )));
            }
        }
    };
    if log.is_some_and(|l| l.rotation.is_some()) {
        return Err(crate::not_yet("log.rotation"));
    }
    let (writer, terminal): (BoxMakeWriter, bool) = match log
        .and_then(|l| l.output.as_deref())
        .unwrap_or("")
    {
        "" | "stderr" => (BoxMakeWriter::new(std::io::stderr), std::io::stderr().is_terminal()),
        "stdout" => (BoxMakeWriter::new(std::io::stdout), std::io::stdout().is_terminal()),
        "none" | "null" => (BoxMakeWriter::new(std::io::sink), false),
        path => {
            if let Some(dir) =
                std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
            {
                let _ = std::fs::create_dir_all(dir);
            }
            let file =
                std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    Error::with_source(
                        gost_core::ErrorKind::Config,
                        format!("log.output {path}"),
                        e,
                    )
                })?;
            (BoxMakeWriter::new(std::sync::Mutex::new(file)), false)
        }
    };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_writer(writer);
    match log.and_then(|l| l.format.as_deref()).map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "text") => builder.with_ansi(terminal).init(),
        Some("json") => builder.event_format(Json).init(),
        Some(other) => {
            return Err(Error::config(format!("log.format {other:?} is not one of text, json")));
        }
    }
    Ok(())
}

/// One JSON object per line: `{"time":"2025-01-12T06:58:41.123Z","level":"info","msg":"...",...}`.
struct Json;

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut obj = serde_json::Map::new();
        obj.insert("time".into(), now_rfc3339().into());
        obj.insert("level".into(), level.into());
        obj.insert("msg".into(), fields.msg.into());
        for (k, v) in fields.rest {
            obj.insert(k, v);
        }
        let line = serde_json::Value::Object(obj).to_string();
        writeln!(w, "{line}")
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    rest: Vec<(String, serde_json::Value)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.msg = text;
        } else {
            self.rest.push((field.name().to_owned(), text.into()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_owned();
        } else {
            self.rest.push((field.name().to_owned(), value.into()));
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.push((field.name().to_owned(), value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.push((field.name().to_owned(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.push((field.name().to_owned(), value.into()));
    }
}

/// UTC now as `2025-01-12T06:58:41.123Z` (gost's layout with millisecond precision).
fn now_rfc3339() -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format_utc(now.as_secs(), now.subsec_millis())
}

fn format_utc(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(1_736_657_921, 7), "2025-01-12T04:58:41.007Z");
        assert_eq!(format_utc(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }
}
