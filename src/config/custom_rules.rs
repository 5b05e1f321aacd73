//! `[[rules.custom]]`: the seller's own rules, each a `when` expression (minijinja's
//! expression language) over the order's facts, compiled once when the configuration is read
//! so that a mistake stops the load, naming the rule's key and the column.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use minijinja::{Environment, Expression, UndefinedBehavior, Value};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    pub code: RuleCode,
    pub when: Condition,
    pub action: RuleAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Flag,
    Refuse,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Refuse => "refuse",
        }
    }
}

/// A rule's reason code: snake_case, as `orders --json` `reasons` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleCode(&'static str);

impl<'de> Deserialize<'de> for RuleCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::try_from(code).map_err(serde::de::Error::custom)
    }
}

impl RuleCode {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Reason codes are `&'static str` wherever verdicts go (decision rows, alerts, reports); a
/// seller's codes are few, so each distinct one is kept for the life of the process (a
/// reload that names the same codes adds nothing).
fn intern(code: String) -> &'static str {
    static CODES: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut codes = CODES.lock().unwrap_or_else(|p| p.into_inner());
    match codes.get(code.as_str()) {
        Some(kept) => kept,
        None => {
            let kept: &'static str = Box::leak(code.into_boxed_str());
            codes.insert(kept);
            kept
        }
    }
}

impl TryFrom<String> for RuleCode {
    type Error = String;

    fn try_from(code: String) -> Result<Self, String> {
        let snake = code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if snake {
            Ok(Self(intern(code)))
        } else {
            Err(format!(
                "{code:?} is not a snake_case code (lowercase letters, digits and '_', starting with a letter)"
            ))
        }
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One environment for every rule: strict, so that a fact misspelt is an error rather than
/// a rule that silently never matches.
static RULES_ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true); // errors carry the byte range they point at
    env
});

/// A compiled `when` expression, with its text.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Condition {
    text: Arc<str>,
    compiled: Arc<Expression<'static, 'static>>,
    /// Read once: finding them parses the expression again.
    facts_read: Arc<[String]>,
}

impl Condition {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the condition holds for `facts`; an error (a missing fact, a type mismatch, a
    /// result that is not `true` or `false`) says where it happened.
    pub fn holds(&self, facts: &Value) -> Result<bool, String> {
        let value = self
            .compiled
            .eval(facts)
            .map_err(|e| describe_error(&self.text, &e))?;
        if value.kind() == minijinja::value::ValueKind::Bool {
            Ok(value.is_true())
        } else {
            Err(format!(
                "gives {value} ({}), not true or false",
                value.kind()
            ))
        }
    }

    /// The facts the expression reads (`order.total`, `customer.first_order`...), sorted.
    pub fn facts_read(&self) -> &[String] {
        &self.facts_read
    }
}

impl TryFrom<String> for Condition {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let compiled = RULES_ENV
            .compile_expression_owned(text.clone())
            .map_err(|e| describe_error(&text, &e))?;
        let mut facts_read: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
        facts_read.sort();
        Ok(Self {
            text: text.into(),
            compiled: Arc::new(compiled),
            facts_read: facts_read.into(),
        })
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.text).finish()
    }
}

/// "at column 25 (`and`): unexpected end of input", without minijinja's template framing.
fn describe_error(text: &str, e: &minijinja::Error) -> String {
    let what = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_owned);
    match e.range().filter(|r| r.start < text.len()) {
        Some(range) => {
            let column = text[..range.start].chars().count() + 1;
            let near = text.get(range).unwrap_or_default();
            format!("at column {column} (`{near}`): {what}")
        }
        None => what,
    }
}

/// Checks what serde cannot: each code is used once.
pub(super) fn validate(rules: &[CustomRule]) -> Result<(), (String, String)> {
    for (index, rule) in rules.iter().enumerate() {
        let key = format!("custom[{index}].code");
        let code = rule.code.as_str();
        if rules[..index].iter().any(|r| r.code == rule.code) {
            return Err((key, format!("{code:?} is already the code of another rule")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_says_the_column() {
        let err = Condition::try_from("customer.first_order and".to_owned()).unwrap_err();
        assert!(err.contains("column"), "{err}");
        let ok = Condition::try_from("order.total > 300".to_owned()).unwrap();
        assert_eq!(ok.facts_read(), ["order.total"]);
    }

    #[test]
    fn codes_are_snake_case() {
        assert!(RuleCode::try_from("first_order_300".to_owned()).is_ok());
        for bad in ["", "First", "1st", "a-b", "a b"] {
            assert!(RuleCode::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }
}
