//! The README's examples are tests: every ```console block of README.md is run (`$ enisim
//! …` lines, with `enisim` the binary this package builds) and its output compared with
//! what the block shows, so a changed output fails until the README says what the tool
//! does. `[..]` in a block stands for text that varies run to run (wall-clock times) and
//! `...` on its own line for lines the README leaves out.

#[test]
fn readme_examples_show_real_output() {
    trycmd::TestCases::new()
        .register_bin("enisim", trycmd::cargo::cargo_bin!("enisim"))
        .case("README.md");
}
