//! The journey's narration: one line per step with what was checked and how long it took, a
//! spinner while it waits, and the failure in full. Colours only on a terminal and without
//! `NO_COLOR`; the same lines, without colours, go to a log file.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Narrator {
    color: bool,
    spinner: bool,
    log: Option<File>,
    started: Instant,
}

impl Narrator {
    /// Narrates to stdout, and to `log_path` when it can be written.
    pub fn new(log_path: &std::path::Path) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        if let Some(dir) = log_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        Self {
            color,
            spinner: terminal,
            log: File::create(log_path).ok(),
            started: Instant::now(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn emit(&mut self, plain: &str, painted: &str) {
        #[allow(clippy::print_stdout)] // the narration is the program's output
        {
            println!("{painted}");
        }
        if let Some(log) = &mut self.log {
            let _ = writeln!(log, "{plain}");
        }
    }

    /// A heading line.
    pub fn title(&mut self, text: &str) {
        let painted = self.paint("1", text);
        self.emit(text, &painted);
    }

    /// A step that passed: what it checked, and how long it took.
    pub fn passed(&mut self, step: &str, checked: &str, took: Duration) {
        let time = format!("({} ms)", took.as_millis());
        let plain = format!("✔ {step}: {checked} {time}");
        let painted = format!(
            "{} {}: {checked} {}",
            self.paint("32", "✔"),
            self.paint("1", step),
            self.paint("2", &time)
        );
        self.emit(&plain, &painted);
    }

    /// A step that failed: what was asked and what came back. The run stops after it.
    pub fn failed(&mut self, step: &str, error: &anyhow::Error) {
        let plain = format!("✘ {step}: {error:#}");
        let painted = format!(
            "{} {}: {error:#}",
            self.paint("31", "✘"),
            self.paint("1", step)
        );
        self.emit(&plain, &painted);
    }

    /// The closing line.
    pub fn done(&mut self, steps: usize) {
        let text = format!(
            "the whole journey passed: {steps} steps in {:.1} s",
            self.started.elapsed().as_secs_f64()
        );
        let painted = self.paint("32;1", &text);
        self.emit(&text, &painted);
    }

    /// Shows a spinner with `what` while `work` runs (on a terminal only).
    pub async fn waiting<T>(&self, what: &str, work: impl Future<Output = T>) -> T {
        if !self.spinner {
            return work.await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = {
            let (stop, what) = (stop.clone(), what.to_owned());
            tokio::spawn(async move {
                let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    #[allow(clippy::print_stdout)]
                    {
                        print!("\r{} {what}…", frames[i % frames.len()]);
                    }
                    let _ = std::io::stdout().flush();
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                #[allow(clippy::print_stdout)]
                {
                    print!("\r\x1b[2K");
                }
                let _ = std::io::stdout().flush();
            })
        };
        let value = work.await;
        stop.store(true, Ordering::Relaxed);
        let _ = spinning.await;
        value
    }
}
