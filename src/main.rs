fn main() -> std::process::ExitCode {
    enisim::cli::main()
}
