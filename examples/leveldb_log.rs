//! Reads and writes LevelDB `.log` files with `mwsr::record`.
//!
//! ```sh
//! # One line per record: its offset, then its payload in hex.
//! cargo run --release --example leveldb_log -- dump 000003.log
//! # Frames payloads (one hex line each) as a log.
//! cargo run --release --example leveldb_log -- encode payloads.hex out.log
//! ```
//!
//! `scripts/leveldb_compat.py` uses both to check this crate against a real
//! LevelDB (see `.ci/run`). Dumping is strict: any damage is an error.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use mwsr::record::{Reader, Writer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["dump", log] => dump(log),
        ["encode", payloads, out] => encode(payloads, out),
        _ => Err("usage: leveldb_log dump LOG | leveldb_log encode PAYLOADS.hex OUT.log".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leveldb_log: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dump(log: &str) -> Result<()> {
    let mut reader = Reader::new(BufReader::new(File::open(log)?));
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut record = Vec::new();
    while reader.read_record(&mut record)? {
        let offset = reader.last_record_offset().unwrap_or_default();
        writeln!(out, "{offset} {}", hex(&record))?;
    }
    out.flush()?;
    Ok(())
}

fn encode(payloads: &str, out: &str) -> Result<()> {
    let mut log = Writer::new(BufWriter::new(File::create(out)?));
    for (n, line) in BufReader::new(File::open(payloads)?).lines().enumerate() {
        let payload = unhex(line?.trim()).ok_or_else(|| format!("line {}: not hex", n + 1))?;
        log.write_record(&payload)?;
    }
    log.into_inner()
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
