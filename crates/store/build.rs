//! `embed_migrations!` reads the migration directories at compile time, but cargo only knows of
//! the files it included: a migration added later would not rebuild this crate without this.

fn main() {
    println!("cargo::rerun-if-changed=../../migrations");
}
