//! Real crashes for the durability tests: the test binary runs one of its
//! own tests again as a child process, which reports on standard output,
//! and the parent kills it (SIGKILL) at a random moment.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::Rng;

/// What one killed child printed.
pub struct Killed {
    /// The rest of the child's `ready ...` line.
    pub ready: String,
    /// Every line it printed whole, up to the kill.
    pub lines: Vec<Vec<u8>>,
}

/// Runs test `test` of this binary as a child with `env` set to `value`,
/// waits for it to print a line starting with `ready `, lets it work for a
/// random 5 to 250 ms, then kills it.
pub fn run_and_kill(test: &str, env: &str, value: &str) -> Killed {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        // `split` yields a line cut short by the kill too: it is dropped
        // below, as only lines with their newline were printed whole.
        for line in out.split(b'\n') {
            let _ = lines_tx.send(line.unwrap());
        }
    });
    let ready = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("child ready");
        if let Some(rest) = line.strip_prefix(b"ready ") {
            break String::from_utf8(rest.to_vec()).unwrap();
        }
    };
    std::thread::sleep(Duration::from_millis(rand::rng().random_range(5..250)));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    Killed {
        ready,
        lines: lines.try_iter().collect(),
    }
}

/// Prints the child's `ready` line, on a line of its own (the test harness
/// has begun one without a newline).
pub fn ready(details: &str) {
    println!("\nready {details}");
}

/// Thread `t`'s `seq`-th line in round `round`, for a crash test's child to
/// append: its id, the length of its filler, and the filler (up to a few
/// KiB, so that lines straddle a buffer's batches and a kill can tear one).
pub fn line(round: u32, t: u32, seq: u64) -> String {
    let len = (seq as usize * 7919 + t as usize * 104_729) % 3000;
    let fill = char::from(b'a' + (seq % 26) as u8);
    format!("{round} {t} {seq} {len} {}\n", fill.to_string().repeat(len))
}

/// The id of a whole [`line`] (without its newline), or `None` for a
/// fragment a kill tore.
pub fn parse_line(text: &str) -> Option<(u32, u32, u64)> {
    let mut fields = text.splitn(5, ' ');
    let mut next = || fields.next();
    let (round, t, seq) = (
        next()?.parse().ok()?,
        next()?.parse().ok()?,
        next()?.parse().ok()?,
    );
    (format!("{text}\n") == line(round, t, seq)).then_some((round, t, seq))
}
