//! Progress bars for the long stages (collect, load), drawn on stderr when a person is watching: stderr is a
//! terminal and no log lines would interleave (no `-v`, no JSON logs, no `--quiet`). Elsewhere (a pipe, a file,
//! a Serverless Job) nothing is drawn and the one-line summaries say what happened.
//!
//! A bar reads the stage's [`Progress`] counters a few times a second from its own task: the stage never waits
//! on the terminal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use costlake_lake::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The bar on screen, if any: log lines (warnings) are written around it, never through it.
static SHOWN: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// stderr for the logs: while a bar is drawn, a line is written with the bar lifted, then the bar redrawn.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shown = SHOWN.lock().ok().and_then(|bar| bar.clone());
        match shown {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf)).map(|()| buf.len()),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Decided once, from what `main` knows: bars only for an interactive run with default logging.
pub fn enable_if_interactive(verbose: u8, quiet: bool) {
    use std::io::IsTerminal;
    let json_logs = std::env::var("COSTLAKE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let custom_logs = crate::settings::env_value("COSTLAKE_LOG").is_some();
    let on = verbose == 0 && !quiet && !json_logs && !custom_logs && std::io::stderr().is_terminal();
    ENABLED.store(on, Ordering::Relaxed);
}

/// What one bar counts and how it names it.
#[derive(Clone, Copy)]
pub enum Stage {
    /// Products of a collection; the message shows API calls, rows and retries.
    Collect,
    /// Runs of a load; the message shows rows.
    Load,
    /// The demo's replayed days of billing collections; the message shows rows.
    Replay,
}

/// A bar drawing a stage's counters until [`StageBar::finish`] (or drop).
pub struct StageBar {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl StageBar {
    pub fn start(stage: Stage, progress: Arc<Progress>) -> StageBar {
        if !ENABLED.load(Ordering::Relaxed) {
            return StageBar { bar: None, ticker: None };
        }
        let (prefix, unit) = match stage {
            Stage::Collect => ("collect", "products"),
            Stage::Load => ("load", "runs"),
            Stage::Replay => ("replay", "days"),
        };
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:>7}} [{{bar:24}}] {{pos}}/{{len}} {unit}, {{elapsed}} (ETA {{eta}})  {{wide_msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8)).with_style(style);
        bar.set_prefix(prefix);
        let shown = bar.clone();
        let started = std::time::Instant::now();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(125));
            loop {
                tick.tick().await;
                let now = progress.snapshot();
                if now.total > 0 {
                    shown.set_length(now.total);
                    shown.set_position(now.done);
                }
                let seconds = started.elapsed().as_secs_f64().max(0.001);
                let rate = now.rows as f64 / seconds;
                shown.set_message(match stage {
                    Stage::Collect => {
                        format!("{} calls, {} rows ({rate:.0}/s), {} retries", now.api_calls, now.rows, now.retries)
                    }
                    Stage::Load | Stage::Replay => format!("{} rows ({rate:.0}/s)", now.rows),
                });
            }
        });
        if let Ok(mut shown) = SHOWN.lock() {
            *shown = Some(bar.clone());
        }
        StageBar { bar: Some(bar), ticker: Some(ticker) }
    }

    /// Stops drawing and clears the bar: the stage's summary line replaces it.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(bar) = self.bar.take() {
            if let Ok(mut shown) = SHOWN.lock() {
                *shown = None;
            }
            bar.finish_and_clear();
        }
    }
}

impl Drop for StageBar {
    fn drop(&mut self) {
        self.stop();
    }
}
