//! Small driver for measurements:
//!   trace_tool synth RECORDS OUT_DIR [SEED]     write a synthetic S3 trail
//!   trace_tool ingest OUT.parquet PATH...        ingest, write Parquet, print report + stats
//!                                               (OUT `-`: ingest only)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use enisim::trace::{
    example_workload, ingest, stats, synth, write_parquet, IngestOptions, SynthOptions,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Peak resident memory so far (VmHWM), in MB.
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time (user + system) of this process so far, in seconds (from /proc, 10 ms ticks).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    match args.first().map(String::as_str) {
        Some("synth") if args.len() >= 3 => {
            let n: usize = args[1].parse()?;
            let seed: u64 = args.get(3).map_or(Ok(1), |s| s.parse())?;
            let t = Instant::now();
            let calls = example_workload(n, seed);
            let rep = synth(&calls, &SynthOptions { seed, ..SynthOptions::default() }, &PathBuf::from(&args[2]))?;
            eprintln!(
                "wrote {} records in {} files ({} errors) in {:.1} s",
                rep.records,
                rep.files.len(),
                rep.errors,
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Some("ingest") if args.len() >= 3 => {
            let paths: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
            let t = Instant::now();
            let c0 = cpu_s();
            let got = ingest(&paths, &IngestOptions::default())?;
            let dt = t.elapsed().as_secs_f64();
            let dc = cpu_s() - c0;
            eprint!("{}", got.report);
            let n = got.report.records_read as f64;
            eprintln!(
                "ingest: {} records in {:.2} s wall = {:.0} records/s; {:.2} s CPU = {:.0} records per CPU-second",
                got.report.records_read,
                dt,
                n / dt,
                dc,
                n / dc
            );
            eprintln!("peak RSS after ingest: {:.0} MB", peak_mb());
            if std::env::var_os("TRACE_TOOL_SIZES").is_some() {
                eprintln!("DataFrame estimated size: {:.0} MB", got.df.estimated_size() as f64 / 1e6);
                for c in got.df.columns() {
                    eprintln!("  {:<14} {:>8.1} MB", c.name().as_str(), c.as_materialized_series().estimated_size() as f64 / 1e6);
                }
            }
            if args[1] == "-" {
                return Ok(());
            }
            let t = Instant::now();
            write_parquet(&got.df, &PathBuf::from(&args[1]))?;
            eprintln!("parquet: {:.2} s (peak RSS {:.0} MB)", t.elapsed().as_secs_f64(), peak_mb());
            let t = Instant::now();
            let st = stats(&got.df)?;
            eprintln!("stats: {:.2} s (peak RSS {:.0} MB)", t.elapsed().as_secs_f64(), peak_mb());
            print!("{}", st.to_text());
            Ok(())
        }
        _ => Err("usage: trace_tool synth RECORDS OUT_DIR [SEED] | trace_tool ingest OUT.parquet PATH...".into()),
    }
}
