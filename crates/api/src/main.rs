//! The `loanwatch` binary; see `loanwatch --help`.

fn main() -> std::process::ExitCode {
    match loanwatch_api::cli::run() {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("loanwatch: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
