//! `enisim report DIR`, and `--report` of run, sweep, recommend and sensitivity: the output directory rendered to
//! DIR/report.html with its figures under DIR/figures (`report::render`).

use super::BadInput;
use crate::report::render::{render_dir, ReportError, FIGURES_DIR};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// An output directory of `enisim run --out`, `sweep`, `recommend`, `sensitivity --out`,
    /// `replay --out` or `calibrate`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// A report error as the CLI reports it: the user's input → exit status 2.
fn cli_error(e: ReportError) -> anyhow::Error {
    if e.is_input() {
        BadInput(e.to_string()).into()
    } else {
        anyhow::anyhow!(e)
    }
}

/// Renders `dir` and says what was written.
pub fn render(dir: &Path) -> anyhow::Result<()> {
    let w = render_dir(dir).map_err(cli_error)?;
    println!(
        "wrote {} ({} report; {} figures as SVG and PNG in {})",
        w.html.display(),
        w.kind,
        w.figures,
        dir.join(FIGURES_DIR).display()
    );
    Ok(())
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    render(&args.dir)?;
    Ok(ExitCode::SUCCESS)
}
