//! `std::io::Write` for the byte buffers, written once for both types.

/// Implements `io::Write` for `&$ty<u8, S>` and `$ty<u8, S>`. The type must
/// have `io_write_parts(&self, parts, slice)` and `flush(&self)` returning
/// `Result<_, mwsr::Error<S::Error>>`.
///
/// `write` and `write_all` copy the whole slice or fail (never a short
/// write), or in an `AsyncBuffer`'s lossy mode drop it whole; `write_vectored`
/// is the atomic `write_v`; `write_fmt` formats the whole message, then
/// writes it once; `flush` returns once the sink has the data.
macro_rules! impl_io_write {
    ($ty:ident) => {
        #[doc = concat!("Bytes written through `&", stringify!($ty), "`, so shared references can")]
        /// write. `write` and `write_all` copy the whole slice or fail (or,
        /// in [lossy mode](crate::Builder::lossy), drop it whole and count
        /// it); `write_vectored` is the atomic `write_v`; `write!` formats the
        /// whole message, then writes it once; `flush` returns once the sink
        /// has the data.
        impl<S> std::io::Write for &$ty<u8, S>
        where
            S: $crate::Sink<u8>,
            S::Error: std::error::Error + Send + Sync + 'static,
        {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                Ok(self.io_write_parts(std::slice::from_ref(&buf), |p| p)?)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                Ok(self.io_write_parts(bufs, |b| b)?)
            }

            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                std::io::Write::write(self, buf).map(drop)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok($ty::flush(self)?)
            }

            /// Formats the whole message first, then writes it as one
            /// contiguous write, so `write!` and `writeln!` never interleave
            /// with other writers (the default would write each piece).
            fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
                $crate::io_write::formatted(args, |message| {
                    std::io::Write::write_all(self, message)
                })
            }
        }

        impl<S> $ty<u8, S>
        where
            S: $crate::Sink<u8>,
            S::Error: std::error::Error + Send + Sync + 'static,
        {
            /// Formats the whole message, then writes it as one contiguous
            /// write (as `io::Write::write_fmt` on the buffer does). An
            /// inherent method, so that `write!(log, ..)` and
            /// `writeln!(log, ..)` work on any handle, shared or owned,
            /// without `mut`.
            ///
            /// # Errors
            /// As `io::Write::write_all` on the buffer.
            pub fn write_fmt(&self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
                let mut this = self;
                std::io::Write::write_fmt(&mut this, args)
            }
        }

        #[doc = concat!("As for `&", stringify!($ty), "`.")]
        impl<S> std::io::Write for $ty<u8, S>
        where
            S: $crate::Sink<u8>,
            S::Error: std::error::Error + Send + Sync + 'static,
        {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                std::io::Write::write_all(&mut &*self, buf)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut &*self)
            }

            fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
                std::io::Write::write_fmt(&mut &*self, args)
            }
        }
    };
}

pub(crate) use impl_io_write;

/// Implements `io::Write` for `&$ty` and `$ty`, a type whose writes are
/// appends of whole records: it must have `append(&self, &[u8])`,
/// `append_io(&self, &[IoSlice])` (one append of all the slices, returning
/// their length) and `sync(&self)`, each returning `io::Result`, and an
/// inherent `write_fmt`.
///
/// Each `write` is one append of the whole slice; `write_vectored` one
/// append of all the slices; `write!` formats the whole message and
/// appends it once; `flush` is `sync`.
macro_rules! impl_io_write_appends {
    ($ty:ty) => {
        #[doc = concat!("Each `write` is one append (the whole slice) to the `", stringify!($ty), "`;")]
        /// `write_vectored` one append of all the slices; `write!` formats
        /// the whole message, then appends it once; `flush` is `sync`: it
        /// returns once everything written before it is durable.
        impl std::io::Write for &$ty {
            fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
                self.append(data).map(|()| data.len())
            }

            fn write_vectored(&mut self, parts: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.append_io(parts)
            }

            fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
                self.append(data)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                self.sync()
            }

            fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
                <$ty>::write_fmt(self, args)
            }
        }

        #[doc = concat!("As for `&", stringify!($ty), "`.")]
        impl std::io::Write for $ty {
            fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, data)
            }

            fn write_vectored(&mut self, parts: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.append_io(parts)
            }

            fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
                self.append(data)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                self.sync()
            }

            fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
                <$ty>::write_fmt(self, args)
            }
        }
    };
}

pub(crate) use impl_io_write_appends;

/// Formats `args` whole (in the thread's scratch vector, unless it is a
/// plain string), then hands the message to `write` once.
pub(crate) fn formatted(
    args: std::fmt::Arguments<'_>,
    write: impl FnOnce(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(text) = args.as_str() {
        return write(text.as_bytes());
    }
    let mut message = crate::scratch::take();
    let written = std::io::Write::write_fmt(&mut message, args).and_then(|()| write(&message));
    crate::scratch::give_back(message);
    written
}
