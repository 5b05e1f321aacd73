//! The inventory CSV: a header `sku,quantity[,tags]` (columns in any order, tags separated by
//! `|`), then one row per SKU.
//!
//! Tolerant of what spreadsheets and scripts produce (a UTF-8 BOM, CRLF, spaces around fields,
//! blank lines, quoted fields), strict about what would change stock silently: every error
//! names the line, and one bad row rejects the whole file.

use std::collections::HashMap;

use crate::csv_rows::Rows;
use crate::store::stock::StockItem;

/// A reason the file cannot be used, with the (1-based) line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct CsvError {
    pub line: u64,
    pub kind: CsvErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvErrorKind {
    #[error("no header; the file must start with sku,quantity[,tags]")]
    MissingHeader,
    #[error("header has no {0:?} column (expected sku,quantity[,tags])")]
    MissingColumn(&'static str),
    #[error("header column {0:?} is unknown (expected sku,quantity[,tags])")]
    UnknownColumn(String),
    #[error("header names column {0:?} twice")]
    DuplicateColumn(String),
    #[error("{found} fields where the header has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("empty SKU")]
    EmptySku,
    #[error("quantity {0:?} is not a whole number")]
    NotANumber(String),
    #[error("quantity {0:?} is negative")]
    Negative(String),
    #[error("quantity {0:?} is too large (at most {max})", max = u32::MAX)]
    TooLarge(String),
    #[error("SKU {sku:?} already appears on line {first_line}")]
    DuplicateSku { sku: String, first_line: u64 },
    #[error("{0}")]
    Syntax(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Sku,
    Quantity,
    Tags,
}

/// Reads a whole inventory file; `Ok` only if every row is valid.
pub fn parse(text: &str) -> Result<Vec<StockItem>, CsvError> {
    items(text).collect()
}

/// The file's items as they are read, each checked as it comes; the first error ends them.
/// A snapshot is written as it is read ([`crate::store::stock::replace_all`]): a big file is
/// never held as a list of items, and a bad row still changes nothing.
pub fn items(text: &str) -> Items<'_> {
    Items {
        rows: CheckedRows::new(text),
        first_lines: HashMap::new(),
        ended: false,
    }
}

/// See [`items`].
pub struct Items<'a> {
    rows: CheckedRows<'a>,
    /// The line each SKU read so far was found on, to name both lines of a repeat.
    first_lines: HashMap<String, u64>,
    ended: bool,
}

impl Iterator for Items<'_> {
    type Item = Result<StockItem, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let item = self.rows.next().map(|row| {
            let (line, item) = row?;
            if let Some(&first_line) = self.first_lines.get(&item.sku) {
                return Err(CsvError {
                    line,
                    kind: CsvErrorKind::DuplicateSku {
                        sku: item.sku,
                        first_line,
                    },
                });
            }
            self.first_lines.insert(item.sku.clone(), line);
            Ok(item)
        });
        self.ended = !matches!(item, Some(Ok(_)));
        item
    }
}

/// Each row as an item with its line, checked on its own (not against the other rows).
struct CheckedRows<'a> {
    rows: Rows<'a>,
    columns: Option<Vec<Column>>,
}

impl<'a> CheckedRows<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            rows: Rows::new(text),
            columns: None,
        }
    }
}

impl Iterator for CheckedRows<'_> {
    type Item = Result<(u64, StockItem), CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(row) = self.rows.next() else {
                // A file with nothing in it, not even a header.
                return self.columns.is_none().then_some(Err(CsvError {
                    line: 1,
                    kind: CsvErrorKind::MissingHeader,
                }));
            };
            let (line, record) = match row {
                Ok(row) => row,
                Err((line, message)) => {
                    return Some(Err(CsvError {
                        line,
                        kind: CsvErrorKind::Syntax(message),
                    }));
                }
            };
            let error = |kind| CsvError { line, kind };
            let Some(columns) = &self.columns else {
                match header(&record) {
                    Ok(columns) => self.columns = Some(columns),
                    Err(kind) => return Some(Err(error(kind))),
                }
                continue;
            };
            return Some(
                item(columns, &record)
                    .map(|item| (line, item))
                    .map_err(error),
            );
        }
    }
}

fn item(columns: &[Column], record: &::csv::StringRecord) -> Result<StockItem, CsvErrorKind> {
    if record.len() != columns.len() {
        return Err(CsvErrorKind::FieldCount {
            expected: columns.len(),
            found: record.len(),
        });
    }
    let mut item = StockItem {
        sku: String::new(),
        quantity: 0,
        tags: Vec::new(),
    };
    for (column, field) in columns.iter().zip(record.iter()) {
        match column {
            Column::Sku => item.sku = field.to_owned(),
            Column::Quantity => item.quantity = quantity(field)?,
            Column::Tags => item.tags = tags(field),
        }
    }
    if item.sku.is_empty() {
        return Err(CsvErrorKind::EmptySku);
    }
    Ok(item)
}

fn header(record: &::csv::StringRecord) -> Result<Vec<Column>, CsvErrorKind> {
    let mut columns = Vec::with_capacity(record.len());
    for name in record {
        let column = match name.to_ascii_lowercase().as_str() {
            "sku" => Column::Sku,
            "quantity" => Column::Quantity,
            "tags" => Column::Tags,
            _ => return Err(CsvErrorKind::UnknownColumn(name.to_owned())),
        };
        if columns.contains(&column) {
            return Err(CsvErrorKind::DuplicateColumn(name.to_owned()));
        }
        columns.push(column);
    }
    for (required, name) in [(Column::Sku, "sku"), (Column::Quantity, "quantity")] {
        if !columns.contains(&required) {
            return Err(CsvErrorKind::MissingColumn(name));
        }
    }
    Ok(columns)
}

fn quantity(field: &str) -> Result<u32, CsvErrorKind> {
    let digits = field.strip_prefix('+').unwrap_or(field);
    let negative = field.strip_prefix('-');
    if let Some(rest) = negative
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        // "-0" is a whole number, and zero.
        return if rest.bytes().all(|b| b == b'0') {
            Ok(0)
        } else {
            Err(CsvErrorKind::Negative(field.to_owned()))
        };
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CsvErrorKind::NotANumber(field.to_owned()));
    }
    digits
        .parse()
        .map_err(|_| CsvErrorKind::TooLarge(field.to_owned()))
}

/// `fragile | bulky` → ["fragile", "bulky"]; empty tags are dropped.
fn tags(field: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in field.split('|').map(str::trim).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|seen| seen == tag) {
            tags.push(tag.to_owned());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sku: &str, quantity: u32, tags: &[&str]) -> StockItem {
        StockItem {
            sku: sku.to_owned(),
            quantity,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn reads_a_good_file_with_tags() {
        let text =
            "sku,quantity,tags\nA-1,3,fragile|bulky\nB-2,0,\n\"C,3\",12,\" manual | fragile \"\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                item("A-1", 3, &["fragile", "bulky"]),
                item("B-2", 0, &[]),
                item("C,3", 12, &["manual", "fragile"]),
            ]
        );
    }

    #[test]
    fn tolerates_bom_crlf_spaces_blank_lines_and_column_order() {
        let text = "\u{feff} Quantity , SKU \r\n\r\n  7 , A-1 \r\n   \r\n\"0\",\"B-2\"\r\n\r\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![item("A-1", 7, &[]), item("B-2", 0, &[])]
        );
        assert_eq!(parse("sku,quantity\n").unwrap(), vec![]);
        assert_eq!(parse("sku,quantity\nA,-0\nB,+4").unwrap()[1].quantity, 4);
    }

    #[test]
    fn errors_name_the_line() {
        use CsvErrorKind as K;
        let table: &[(&str, u64, K)] = &[
            ("", 1, K::MissingHeader),
            ("\n\n  \n", 1, K::MissingHeader),
            ("sku\nA\n", 1, K::MissingColumn("quantity")),
            ("quantity,tags\n3,x\n", 1, K::MissingColumn("sku")),
            ("sku,qty\nA,1\n", 1, K::UnknownColumn("qty".into())),
            ("sku,quantity,sku\n", 1, K::DuplicateColumn("sku".into())),
            (
                "sku,quantity\nA,1\n\nB,2,x\n",
                4,
                K::FieldCount {
                    expected: 2,
                    found: 3,
                },
            ),
            (
                "sku,quantity,tags\nA,1\n",
                2,
                K::FieldCount {
                    expected: 3,
                    found: 2,
                },
            ),
            ("sku,quantity\nA,1\n  ,2\n", 3, K::EmptySku),
            (
                "sku,quantity\r\nA,1\r\nB,x\r\n",
                3,
                K::NotANumber("x".into()),
            ),
            ("sku,quantity\nA,1.5\n", 2, K::NotANumber("1.5".into())),
            ("sku,quantity\nA,\n", 2, K::NotANumber(String::new())),
            ("sku,quantity\nA,1e3\n", 2, K::NotANumber("1e3".into())),
            ("sku,quantity\nA,-\n", 2, K::NotANumber("-".into())),
            ("sku,quantity\nA,--1\n", 2, K::NotANumber("--1".into())),
            ("sku,quantity\nA,-2\n", 2, K::Negative("-2".into())),
            (
                "sku,quantity\nA,4294967296\n",
                2,
                K::TooLarge("4294967296".into()),
            ),
            (
                "sku,quantity\nA,1\nB,2\n\n\" A \",3\n",
                5,
                K::DuplicateSku {
                    sku: "A".into(),
                    first_line: 2,
                },
            ),
            ("\n\nsku,quantity\n\nA,x\n", 5, K::NotANumber("x".into())),
            ("\r\n\r\nsku,quantity\rA,y\r", 4, K::NotANumber("y".into())),
            (
                "sku,quantity\nA,1\n\"B,2\n",
                3,
                K::FieldCount {
                    expected: 2,
                    found: 1,
                },
            ),
            // A quoted field may span lines; the next row's line is still right.
            (
                "sku,quantity,tags\nA,1,\"x\ny\"\nB,z,\n",
                4,
                K::NotANumber("z".into()),
            ),
        ];
        for (text, line, kind) in table {
            let error = parse(text).expect_err(text);
            assert_eq!(
                (error.line, &error.kind),
                (*line, kind),
                "input {text:?}: {error}"
            );
            assert!(error.to_string().starts_with(&format!("line {line}: ")));
        }
    }

    #[test]
    fn the_message_reads_as_documented() {
        let error = parse("sku,quantity\nA,1\nB,2\nC,3\nD,4\nE,5\nF,x\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"line 7: quantity "x" is not a whole number"#
        );
    }
}
