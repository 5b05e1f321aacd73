//! A `sku_map` file: a header `marketplace_sku,sku` (either order), then one row per SKU the
//! marketplace spells differently from the inventory. Read as tolerantly as the inventory CSV
//! (see [`crate::csv_rows`]), and as strictly: every error names its line, and one bad
//! row rejects the whole file.

use std::collections::HashMap;

use crate::csv_rows::Rows;

/// A reason the file cannot be used, with the (1-based) line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct SkuMapError {
    pub line: u64,
    pub kind: SkuMapErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuMapErrorKind {
    #[error("no header; the file must start with marketplace_sku,sku")]
    MissingHeader,
    #[error("header must be marketplace_sku,sku, got {0:?}")]
    BadHeader(String),
    #[error("{0} fields where the header has 2")]
    FieldCount(usize),
    #[error("empty {0}")]
    EmptyField(&'static str),
    #[error("marketplace_sku {sku:?} already appears on line {first_line}")]
    DuplicateMarketplaceSku { sku: String, first_line: u64 },
    #[error("{0}")]
    Syntax(String),
}

/// Reads a whole map file into (marketplace SKU, ledger SKU) pairs; `Ok` only if every row
/// is valid. Several marketplace SKUs may name the same ledger SKU.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, SkuMapError> {
    let mut marketplace_first: Option<bool> = None;
    let mut pairs = Vec::new();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    for row in Rows::new(text) {
        let (line, record) = row.map_err(|(line, message)| SkuMapError {
            line,
            kind: SkuMapErrorKind::Syntax(message),
        })?;
        let error = |kind| SkuMapError { line, kind };
        let Some(marketplace_first) = marketplace_first else {
            marketplace_first = Some(header(&record).map_err(error)?);
            continue;
        };
        let [first, second] = [0, 1].map(|i| record.get(i).unwrap_or_default().to_owned());
        if record.len() != 2 {
            return Err(error(SkuMapErrorKind::FieldCount(record.len())));
        }
        let (marketplace_sku, sku) = if marketplace_first {
            (first, second)
        } else {
            (second, first)
        };
        if marketplace_sku.is_empty() {
            return Err(error(SkuMapErrorKind::EmptyField("marketplace_sku")));
        }
        if sku.is_empty() {
            return Err(error(SkuMapErrorKind::EmptyField("sku")));
        }
        if let Some(&first_line) = first_seen.get(&marketplace_sku) {
            return Err(error(SkuMapErrorKind::DuplicateMarketplaceSku {
                sku: marketplace_sku,
                first_line,
            }));
        }
        first_seen.insert(marketplace_sku.clone(), line);
        pairs.push((marketplace_sku, sku));
    }
    if marketplace_first.is_none() {
        return Err(SkuMapError {
            line: 1,
            kind: SkuMapErrorKind::MissingHeader,
        });
    }
    Ok(pairs)
}

/// Whether the marketplace's column comes first.
fn header(record: &::csv::StringRecord) -> Result<bool, SkuMapErrorKind> {
    let names: Vec<String> = record.iter().map(str::to_ascii_lowercase).collect();
    match names.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["marketplace_sku", "sku"] => Ok(true),
        ["sku", "marketplace_sku"] => Ok(false),
        _ => Err(SkuMapErrorKind::BadHeader(
            record.iter().collect::<Vec<_>>().join(","),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(m, s)| ((*m).to_owned(), (*s).to_owned()))
            .collect()
    }

    #[test]
    fn reads_a_map_in_either_column_order() {
        let text = "marketplace_sku,sku\nFNAC-1,A\n\"FN,2\",A\nFNAC-3,B\n";
        assert_eq!(
            parse(text).unwrap(),
            pairs(&[("FNAC-1", "A"), ("FN,2", "A"), ("FNAC-3", "B")])
        );
        let text = "\u{feff} SKU , Marketplace_SKU \r\n\r\n A , M-1 \r\n";
        assert_eq!(parse(text).unwrap(), pairs(&[("M-1", "A")]));
        assert_eq!(parse("marketplace_sku,sku\n").unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_line_and_what_is_wrong() {
        use SkuMapErrorKind as K;
        let table: &[(&str, u64, K)] = &[
            ("", 1, K::MissingHeader),
            ("\n  \n", 1, K::MissingHeader),
            (
                "sku,quantity\nA,1\n",
                1,
                K::BadHeader("sku,quantity".into()),
            ),
            (
                "marketplace_sku\nA\n",
                1,
                K::BadHeader("marketplace_sku".into()),
            ),
            (
                "marketplace_sku,sku,sku\n",
                1,
                K::BadHeader("marketplace_sku,sku,sku".into()),
            ),
            ("marketplace_sku,sku\nM,A\nN\n", 3, K::FieldCount(1)),
            ("marketplace_sku,sku\nM,A,x\n", 2, K::FieldCount(3)),
            (
                "marketplace_sku,sku\n\n , A\n",
                3,
                K::EmptyField("marketplace_sku"),
            ),
            ("marketplace_sku,sku\nM,\n", 2, K::EmptyField("sku")),
            (
                "marketplace_sku,sku\nM,A\nN,B\n\n M ,C\n",
                5,
                K::DuplicateMarketplaceSku {
                    sku: "M".into(),
                    first_line: 2,
                },
            ),
        ];
        for (text, line, kind) in table {
            let error = parse(text).expect_err(text);
            assert_eq!((error.line, &error.kind), (*line, kind), "input {text:?}");
        }
        assert_eq!(
            parse("marketplace_sku,sku\nM,A\nM,B\n")
                .unwrap_err()
                .to_string(),
            r#"line 3: marketplace_sku "M" already appears on line 2"#
        );
        let syntax = parse("marketplace_sku,sku\nM,A\n\"N,B\n").unwrap_err();
        assert_eq!(syntax.line, 3);
    }
}
