//! Segment names: the stream offset of a segment's first byte, zero-padded
//! to 20 digits (Kafka's scheme), between an optional prefix and suffix.

/// How a stream's segments are named: `{prefix}{base:020}{suffix}`, where
/// `base` is the stream offset of the segment's first byte. 20 digits hold
/// any `u64`, so names sort in stream order as plain strings and never
/// change. Several streams can share a directory (or bucket prefix) with
/// different prefixes or suffixes; each sees only its own segments.
///
/// ```
/// let naming = mwsr::segments::Naming::default();
/// assert_eq!(naming.name(0), "00000000000000000000.seg");
/// assert_eq!(naming.name(64 << 20), "00000000000067108864.seg");
/// assert_eq!(naming.parse("00000000000067108864.seg"), Some(64 << 20));
/// assert_eq!(naming.parse("00000000000067108864.seg.tmp"), None);
///
/// let app = mwsr::segments::Naming::new("app-", ".log");
/// assert_eq!(app.name(7), "app-00000000000000000007.log");
/// assert_eq!(app.parse("db-00000000000000000007.log"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Naming {
    prefix: String,
    suffix: String,
}

/// The digits of a base offset: enough for `u64::MAX`.
const DIGITS: usize = 20;

impl Naming {
    /// Segments named `{prefix}{base:020}{suffix}`.
    ///
    /// # Panics
    /// If `prefix` or `suffix` contains a path separator (`/` or `\`): a
    /// segment name is one file name.
    #[track_caller]
    pub fn new(prefix: impl Into<String>, suffix: impl Into<String>) -> Self {
        let (prefix, suffix) = (prefix.into(), suffix.into());
        assert!(
            !(prefix.contains(['/', '\\']) || suffix.contains(['/', '\\'])),
            "mwsr::segments::Naming: a prefix or suffix cannot hold a path separator"
        );
        Self { prefix, suffix }
    }

    /// The name of the segment whose first byte is at stream offset `base`.
    pub fn name(&self, base: u64) -> String {
        format!("{}{base:0DIGITS$}{}", self.prefix, self.suffix)
    }

    /// The base offset `name` stands for, or `None` if it is not one of this
    /// stream's segment names (another stream's, a lock file, a temporary).
    pub fn parse(&self, name: &str) -> Option<u64> {
        let digits = name
            .strip_prefix(&*self.prefix)?
            .strip_suffix(&*self.suffix)?;
        if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// The name of the stream's lock file: `{prefix}writer{suffix}.lock`,
    /// which never parses as a segment.
    pub fn lock_name(&self) -> String {
        format!("{}writer{}.lock", self.prefix, self.suffix)
    }

    /// The prefix every name of this stream starts with: where an object
    /// store's listing can start.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// No prefix, suffix `.seg`.
impl Default for Naming {
    fn default() -> Self {
        Self::new("", ".seg")
    }
}
