//! The `poai` binary: parses arguments and hands them to `poai_cli`.

use clap::Parser as _;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = poai_cli::Cli::parse();
    match poai_cli::run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`poai ... | head`) is not an error worth a panic.
            let _ = stdout.write_all(out.text.as_bytes());
            if out.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
