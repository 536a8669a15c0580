//! Many threads share one TCP connection through an `AsyncBuffer`, which
//! coalesces their small messages into few large `write` calls.
//!
//! A server inside the example (127.0.0.1, an ephemeral port) reads the
//! stream and checks that every message arrived whole and in its sender's
//! order. For comparison, the same threads then send a quarter as many
//! messages through a `Mutex<TcpStream>`, one `write` per message. Prints
//! messages per second and messages per `write` call for both. Stops by
//! itself.
//!
//! ```text
//! cargo run --release --example tcp_coalescing [-- --threads 4 --messages 250000 --capacity 65536]
//! ```

mod support;

use std::error::Error;
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mwsr::AsyncBuffer;
use support::{CountingWriter, Progress, rate, ratio, setting};

/// Every message has this size: a sender id, a sequence number, a payload
/// derived from both, so that a torn or misplaced message cannot pass.
const MESSAGE: usize = 128;

fn message(sender: usize, seq: usize) -> [u8; MESSAGE] {
    let mut m = [0u8; MESSAGE];
    m[..4].copy_from_slice(&(sender as u32).to_le_bytes());
    m[4..12].copy_from_slice(&(seq as u64).to_le_bytes());
    let mut x = (sender as u64) << 40 ^ seq as u64;
    for b in &mut m[12..] {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *b = (x >> 56) as u8;
    }
    m
}

/// Accepts one connection and checks what arrives until the sender shuts it
/// down. Returns the number of messages.
fn serve(
    senders: usize,
    per_sender: usize,
) -> io::Result<(SocketAddr, thread::JoinHandle<io::Result<u64>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || {
        let (conn, _) = listener.accept()?;
        // A sender that stops sending must not hang the example.
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut conn = BufReader::with_capacity(256 * 1024, conn);
        let mut next = vec![0usize; senders];
        let mut m = [0u8; MESSAGE];
        let mut received = 0u64;
        loop {
            match conn.read_exact(&mut m) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
            let sender = u32::from_le_bytes(m[..4].try_into().unwrap()) as usize;
            let bad = || {
                io::Error::new(
                    ErrorKind::InvalidData,
                    format!("message {received} is torn or out of order"),
                )
            };
            let expected_seq = *next.get(sender).ok_or_else(bad)?;
            if m != message(sender, expected_seq) {
                return Err(bad());
            }
            next[sender] += 1;
            received += 1;
        }
        if let Some(s) = next.iter().position(|&n| n != per_sender) {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("sender {s}: {} of {per_sender} messages arrived", next[s]),
            ));
        }
        Ok(received)
    });
    Ok((addr, server))
}

/// One measured run: `threads` threads each `send` `per_thread` messages;
/// `finish` completes the sending side and shuts the connection down.
fn run(
    label: &str,
    threads: usize,
    per_thread: usize,
    connect: impl FnOnce(CountingWriter<TcpStream>) -> Box<dyn Sender>,
) -> Result<(f64, f64), Box<dyn Error>> {
    let (addr, server) = serve(threads, per_thread)?;
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let (stream, writes) = CountingWriter::new(stream);
    let sender = connect(stream);
    let sent = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let sent = sent.clone();
        // ORDERING: Relaxed: a progress display, read while it changes.
        move || format!("{} messages sent", sent.load(Ordering::Relaxed))
    });
    let started = Instant::now();
    let sending: io::Result<()> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (sender, sent) = (&sender, &sent);
                s.spawn(move || -> io::Result<()> {
                    for seq in 0..per_thread {
                        sender.send(&message(t, seq))?;
                        if seq % 4096 == 4095 {
                            sent.fetch_add(4096, Ordering::Relaxed);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a sender panicked"))
    });
    let finished = sending.and_then(|()| sender.finish());
    // The server's verdict first: a server that found a torn message hangs
    // up, and the senders' "broken pipe" would only hide why.
    let received = server.join().expect("the server thread panicked")?;
    finished?;
    let elapsed = started.elapsed();
    drop(progress);
    let calls = writes.calls();
    println!(
        "{label:<24} {received:>9} messages in {:>5.2} s: {:>11}, {:>8} write calls, {:>7.1} messages per write",
        elapsed.as_secs_f64(),
        rate(received, elapsed),
        calls,
        ratio(received, calls),
    );
    Ok((
        received as f64 / elapsed.as_secs_f64(),
        ratio(received, calls),
    ))
}

/// One way of sharing the connection between threads.
trait Sender: Sync {
    fn send(&self, message: &[u8]) -> io::Result<()>;
    /// Sends what is left and shuts the connection down for writing.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl Sender for AsyncBuffer<u8, mwsr::WriteSink<CountingWriter<TcpStream>>> {
    fn send(&self, message: &[u8]) -> io::Result<()> {
        self.write_slice(message)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        // A peer that stopped reading would block the flusher for good:
        // give shutdown a bound instead (what was not sent is counted in
        // `stats().items_dropped`).
        self.close_timeout(std::time::Duration::from_secs(30))?;
        let (sink, closed) = self.into_inner();
        closed?;
        sink.get_ref().get_ref().shutdown(Shutdown::Write)
    }
}

impl Sender for Mutex<CountingWriter<TcpStream>> {
    fn send(&self, message: &[u8]) -> io::Result<()> {
        self.lock().unwrap().write_all(message)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let stream = self.into_inner().unwrap();
        stream.get_ref().shutdown(Shutdown::Write)
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let threads = setting("threads", 4);
    let messages = setting("messages", 250_000);
    let capacity = setting("capacity", 64 * 1024);
    println!(
        "tcp_coalescing: {threads} threads share one connection to 127.0.0.1, {MESSAGE}-byte messages; the server checks every one"
    );
    let (buffered, per_write) = run("AsyncBuffer", threads, messages, |stream| {
        Box::new(AsyncBuffer::with_writer(capacity, stream))
    })?;
    // One write per message is far slower: a quarter of the messages gives
    // a run of comparable length.
    let (locked, _) = run("Mutex<TcpStream>", threads, messages / 4, |stream| {
        Box::new(Mutex::new(stream))
    })?;
    println!(
        "AsyncBuffer: {:.1}x the messages/s of a Mutex<TcpStream>, {:.4} write calls per message (vs 1)",
        buffered / locked,
        1.0 / per_write
    );
    println!("verified: every message arrived whole and in its sender's order");
    Ok(())
}
