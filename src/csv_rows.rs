//! Reading the rows of a seller's CSV file (the inventory, a SKU map) the same tolerant way,
//! with the line each starts on, so every error can name its line.

/// The rows of a CSV text that hold something, each with the (1-based) line it starts on.
/// Tolerant of what spreadsheets and scripts produce: a UTF-8 BOM, CRLF, spaces around
/// fields, blank lines (and lines of empty fields), quoted fields. A syntax error is the
/// last item, with its line.
pub struct Rows<'a> {
    reader: ::csv::Reader<&'a [u8]>,
    lines: LineCounter<'a>,
    failed: bool,
}

impl<'a> Rows<'a> {
    pub fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            // Field counts are checked by each file's reader, so the error can say which line
            // and what it expected.
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(text.as_bytes());
        Self {
            reader,
            lines: LineCounter::new(text),
            failed: false,
        }
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<(u64, ::csv::StringRecord), (u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = ::csv::StringRecord::new();
        while !self.failed {
            match self.reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    let line = e.position().map_or(0, |p| self.lines.line_at(p.byte()));
                    return Some(Err((line, e.to_string())));
                }
            }
            // Lines of spaces (or of empty fields) are layout, not rows.
            if record.iter().all(str::is_empty) {
                continue;
            }
            let line = record
                .position()
                .map_or(0, |p| self.lines.line_at(p.byte()));
            return Some(Ok((line, record)));
        }
        None
    }
}

/// Line numbers from byte offsets: the csv crate's own line count ignores blank lines.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The line holding byte `offset`; offsets must not decrease between calls.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        // The reader reports where the previous record ended, before any blank lines it
        // skipped; a record never starts with a line terminator, so step over them.
        while matches!(self.text.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset > self.byte {
            let skipped = &self.text[self.byte..offset];
            // A line ends at "\n", "\r\n" or a lone "\r", as the csv reader reads them.
            for (i, &b) in skipped.iter().enumerate() {
                let lone_cr = b == b'\r' && self.text.get(self.byte + i + 1) != Some(&b'\n');
                if b == b'\n' || lone_cr {
                    self.line += 1;
                }
            }
            self.byte = offset;
        }
        self.line
    }
}
