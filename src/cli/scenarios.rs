//! `enisim scenarios`: the built-in scenarios, one line each.

use crate::scenario::ScenarioSpec;

pub fn run() -> anyhow::Result<std::process::ExitCode> {
    for name in ScenarioSpec::embedded_names() {
        if let Some(s) = ScenarioSpec::embedded(name) {
            let c = &s.cluster;
            println!(
                "{:<11} {:<10} {:>2} × {:<2} {:<13} {}",
                name,
                s.kind.as_str(),
                c.nodes,
                c.enis_per_node,
                c.instance_type,
                s.description
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
