//! The agent's log: JSON lines (the default, as the original's) or text, by
//! `OPENLEGION_LOG_FORMAT`, with the agent's id on every line (`"agent_id"` first in each
//! JSON object, `agent_id=…` first on a text line), so the lines of many agents can be
//! told apart once collected; the level from `RUST_LOG` (default `info`).

use std::fmt;

use openlegion_protocol::env;
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Whether `OPENLEGION_LOG_FORMAT` asks for text (anything but `text` is JSON).
fn text() -> bool {
    std::env::var(env::LOG_FORMAT).is_ok_and(|f| f.eq_ignore_ascii_case("text"))
}

pub(crate) fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let agent = std::env::var(env::AGENT_ID).unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    let _ = if text() {
        builder
            .event_format(WithAgent::text(&agent, tracing_subscriber::fmt::format()))
            .try_init()
    } else {
        builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(WithAgent::json(
                &agent,
                tracing_subscriber::fmt::format().json(),
            ))
            .try_init()
    };
}

/// Puts the agent id at the head of every line another formatter writes.
struct WithAgent<F> {
    inner: F,
    /// What replaces the line's first `{` (JSON), or goes before it (text).
    head: String,
    json: bool,
}

impl<F> WithAgent<F> {
    /// (Without an id, as in the image-building subcommands, lines are left as they are.)
    fn json(agent: &str, inner: F) -> Self {
        let id = serde_json::to_string(agent).expect("a string serialises");
        Self {
            inner,
            head: match agent {
                "" => "{".to_owned(),
                _ => format!("{{\"agent_id\":{id},"),
            },
            json: true,
        }
    }

    fn text(agent: &str, inner: F) -> Self {
        Self {
            inner,
            head: match agent {
                "" => String::new(),
                _ => format!("agent_id={agent} "),
            },
            json: false,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithAgent<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) if self.json => write!(writer, "{}{rest}", self.head),
            _ => write!(writer, "{}{line}", self.head),
        }
    }
}
