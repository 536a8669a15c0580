//! The Go `writerat-pipe` test suite, ported. Where this pipe deliberately
//! differs (a gap at close is an error, not a silent EOF; reading a reader
//! you closed is an error), the test says so.

use std::io::{self, Read};

use mwsr::pipe::{self, Error};

use crate::{pattern, pipe_error, read_to_end, spawn};

/// The Go suite's chunk size; here it is only a convenient length that
/// crosses this pipe's page boundaries at odd places.
const CHUNK: usize = 65535;

#[test]
fn basic_pipeline() {
    let (mut reader, writer) = pipe::unbounded();
    let task = spawn(move || writer.write_at(b"Hello, world!", 0));
    let mut buf = [0; 1024];
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, world!");
    assert_eq!(task.join().unwrap(), 13);
}

#[test]
fn wait_for_contiguous() {
    let (mut reader, writer) = pipe::unbounded();
    let task = spawn(move || {
        writer.write_all_at(b"Hello, world!", 4)?;
        writer.write_all_at(b"Hi, ", 0)
    });
    let mut buf = [0; 1024];
    let n = reader.read(&mut buf).unwrap();
    // The first read sees nothing until offset 0 arrives, and then all of it.
    assert_eq!(&buf[..n], b"Hi, Hello, world!");
    task.join().unwrap();
}

#[test]
fn checkered_writes() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"part1", 0).unwrap();
    let mut buf = [0; 1024];
    assert_eq!(reader.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"part1");
    writer.write_all_at(b"part4", 15).unwrap();
    writer.write_all_at(b"part3", 10).unwrap();
    writer.write_all_at(b"part2", 5).unwrap();
    writer.close();
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"part2part3part4");
    assert_eq!(reader.read(&mut buf).unwrap(), 0);
}

#[test]
fn read_after_close() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"Hello, world!", 0).unwrap();
    writer.close();
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"Hello, world!");
    end.unwrap();
}

#[test]
fn read_after_close_with_lost_bytes() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"Hello, world!", 0).unwrap();
    writer.write_all_at(b"Test", 14).unwrap();
    writer.close();
    let mut buf = [0; 1024];
    assert_eq!(reader.read(&mut buf).unwrap(), 13);
    assert_eq!(&buf[..14], b"Hello, world!\0");
    // Go: io.EOF, and the four bytes are gone without a word.
    let err = reader.read(&mut buf).unwrap_err();
    assert_eq!(
        pipe_error(&err),
        Error::Gap {
            offset: 13,
            missing: 1,
            stranded: 4
        }
    );
}

#[test]
fn close_by_reader() {
    let (mut reader, writer) = pipe::unbounded();
    reader.close();
    let err = writer.write_at(b"Hello, world!", 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    // Go: io.EOF. Reading a reader you closed is a mistake: an error.
    assert_eq!(
        pipe_error(&reader.read(&mut [0; 8]).unwrap_err()),
        Error::ReaderClosed
    );
}

#[test]
fn close_by_reader_after_bytes_read() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"Hello, world!", 0).unwrap();
    let mut buf = [0; 1024];
    assert_eq!(reader.read(&mut buf).unwrap(), 13);
    reader.close();
    let err = writer.write_at(b"Hello, world!", 13).unwrap_err();
    assert_eq!(pipe_error(&err), Error::ReaderClosed);
}

/// Go's `TestRead1MiB`: half, read in small reads; the other half; all
/// memory but the last page's released.
#[test]
fn read_1mib() {
    let data = pattern(1 << 20);
    let (first, second) = data.split_at(data.len() / 2);
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(first, 0).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    while got.len() < first.len() {
        let n = reader.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, first);
    writer.write_all_at(second, first.len() as u64).unwrap();
    writer.close();
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, data);
    let stats = reader.stats();
    assert_eq!(stats.buffered, 0);
    // Go keeps at most one chunk; this keeps at most four spare pages.
    assert!(stats.allocated <= 4 * 65536, "{stats:?}");
}

#[test]
fn read_1mib_with_multi_chunk_reads() {
    let data = pattern(1 << 20);
    let half = data.len() / 2;
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(&data[..half], 0).unwrap();
    let mut got = vec![0; data.len() + 1];
    assert_eq!(reader.read(&mut got[..half]).unwrap(), half);
    writer.write_all_at(&data[half..], half as u64).unwrap();
    let n = reader.read(&mut got[half..]).unwrap();
    assert_eq!(n, half, "one read takes everything contiguous");
    assert_eq!(&got[..data.len()], &data[..]);
    assert_eq!(got[data.len()], 0);
}

#[test]
fn offsets_less_than_consumed_error() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"Hello, world!", 0).unwrap();
    reader.read_exact(&mut [0; 13]).unwrap();
    let err = writer.write_at(b"Test", 0).unwrap_err();
    assert_eq!(
        pipe_error(&err),
        Error::BelowConsumed {
            offset: 0,
            consumed: 13
        }
    );
}

#[test]
fn offset_writes_with_chunk_gaps() {
    let full = pattern(CHUNK);
    let almost_full = pattern(CHUNK - 10);
    let almost_empty = pattern(10);
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(&almost_full, 0).unwrap();
    // Leave a whole chunk's gap, then fill it.
    writer.write_all_at(&almost_full, 2 * CHUNK as u64).unwrap();
    let mut buf = vec![0; 3 * CHUNK];
    assert_eq!(reader.read(&mut buf).unwrap(), almost_full.len());
    assert_eq!(&buf[..almost_full.len()], &almost_full[..]);
    writer.write_all_at(&full, CHUNK as u64).unwrap();
    writer
        .write_all_at(&almost_empty, almost_full.len() as u64)
        .unwrap();
    writer.close();
    let (rest, end) = read_to_end(&mut reader);
    end.unwrap();
    let expected = [&almost_empty[..], &full, &almost_full].concat();
    assert_eq!(rest, expected);
}

#[test]
fn many_concurrent_writes() {
    const WRITES: u64 = 100;
    let text = b"Hello, world!";
    for _ in 0..20 {
        let (mut reader, writer) = pipe::unbounded();
        let tasks: Vec<_> = (0..WRITES)
            .map(|i| {
                let writer = writer.clone();
                spawn(move || writer.write_at(text, i * text.len() as u64))
            })
            .collect();
        drop(writer);
        let (bytes, end) = read_to_end(&mut reader);
        end.unwrap();
        assert_eq!(bytes, text.repeat(WRITES as usize));
        for task in tasks {
            assert_eq!(task.join().unwrap(), text.len());
        }
    }
}
