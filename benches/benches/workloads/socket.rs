//! Workload 5, socket coalescing: writers send 128-byte messages into one
//! TCP connection on 127.0.0.1, whose reading side drains and checksums in
//! a thread. `mwsr::AsyncBuffer` (one `write_all` per batch) against a
//! `Mutex<TcpStream>` writing each message and a `Mutex<BufWriter<_>>`
//! flushing after each message. Every contender's stream counts its
//! `write` calls.

use std::io::{BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use parking_lot::Mutex;

use super::support::{CountingWriter, WriteCounts};
use super::{Contender, Entry, Tally, check_bytes, checksum};

pub const MESSAGE: usize = 128;
/// Bytes per `AsyncBuffer` half.
pub const CAPACITY: usize = 64 * 1024;

type Stream = CountingWriter<TcpStream>;

pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "mwsr::AsyncBuffer",
            build: |w| {
                Conn::build(w, |s| {
                    let buf = mwsr::AsyncBuffer::with_writer(CAPACITY, s);
                    Box::new(move |m: Option<&[u8]>| match m {
                        Some(m) => drop(buf.write_slice(m).unwrap()),
                        None => buf.flush().unwrap(),
                    })
                })
            },
        },
        Entry {
            name: "Mutex<TcpStream>",
            build: |w| {
                Conn::build(w, |s| {
                    let s = Mutex::new(s);
                    Box::new(move |m: Option<&[u8]>| {
                        if let Some(m) = m {
                            s.lock().write_all(m).unwrap();
                        }
                    })
                })
            },
        },
        Entry {
            name: "Mutex<BufWriter<TcpStream>>",
            build: |w| {
                Conn::build(w, |s| {
                    let s = Mutex::new(BufWriter::new(s));
                    Box::new(move |m: Option<&[u8]>| {
                        if let Some(m) = m {
                            let mut s = s.lock();
                            s.write_all(m).unwrap();
                            s.flush().unwrap();
                        }
                    })
                })
            },
        },
    ]
}

/// Sends a message, or (`None`) pushes out whatever is buffered.
type SendFn = Box<dyn Fn(Option<&[u8]>) + Send + Sync>;

/// Writer `w`'s message.
fn message(w: usize) -> [u8; MESSAGE] {
    std::array::from_fn(|i| (w * 31 + i) as u8)
}

/// One connection: the sending side shared by the writers, the receiving
/// side in a thread.
struct Conn {
    send: Option<SendFn>,
    counts: Arc<WriteCounts>,
    reader: Option<JoinHandle<()>>,
    tally: Arc<Tally>,
    writers: usize,
}

impl Conn {
    fn build(writers: usize, sender: fn(Stream) -> SendFn) -> Arc<dyn Contender> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        stream.set_nodelay(true).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let tally = Tally::new();
        let reader = {
            let tally = tally.clone();
            thread::spawn(move || drain(conn, &tally))
        };
        let (stream, counts) = CountingWriter::new(stream);
        Arc::new(Self {
            send: Some(sender(stream)),
            counts,
            reader: Some(reader),
            tally,
            writers,
        })
    }
}

/// Reads until the sender closes the connection.
fn drain(mut conn: TcpStream, tally: &Tally) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => tally.add(n as u64, checksum(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the connection: {e}"),
        }
    }
}

impl Contender for Conn {
    fn write(&self, w: usize, count: u64) {
        let send = self.send.as_ref().unwrap();
        let m = message(w);
        for _ in 0..count {
            send(Some(&m));
        }
    }

    fn finish_round(&self, total: u64) {
        (self.send.as_ref().unwrap())(None);
        self.tally.wait_for(total * MESSAGE as u64);
    }

    fn verify(&self, total: u64) {
        let per_writer = total / self.writers as u64;
        let sum: u64 = (0..self.writers)
            .map(|w| checksum(&message(w)) * per_writer)
            .sum();
        check_bytes(&self.tally, total * MESSAGE as u64, sum);
    }

    fn write_calls(&self) -> Option<u64> {
        Some(self.counts.calls())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        drop(self.send.take()); // closes the stream: the reader sees EOF
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }
}
