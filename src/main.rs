fn main() {
    std::process::exit(builder::cli::main());
}
