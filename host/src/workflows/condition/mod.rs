//! The condition language of workflow steps (`condition: "research.result.score >= 5"`):
//! comparisons, `and` / `or` / `not`, `in`, string, number, boolean and null literals,
//! lists, and field paths into the trigger and the results of earlier steps.
//!
//! A condition is parsed once, when its file loads, by a recursive-descent parser whose
//! nesting is bounded by [`MAX_DEPTH`], so hostile input (ten thousand `(`) is an error
//! and never a stack overflow; a condition that does not parse is a load error. It is
//! evaluated over JSON without anything like `eval`. A condition that cannot be evaluated
//! (a field that is missing, a string compared with a number) is false, and [`Miss`] says
//! why, for the run's log.
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! expr    := and ( ("or" | "||") and )*
//! and     := unary ( ("and" | "&&") unary )*
//! unary   := ("not" | "!") unary | "(" expr ")" | compare
//! compare := operand ( ("==" | "!=" | ">=" | "<=" | ">" | "<") operand
//!                    | "not"? "in" operand )?
//! operand := STRING | NUMBER | "true" | "false" | "null" | PATH
//!          | "[" ( operand ( "," operand )* )? "]"
//! PATH    := NAME ( "." ( NAME | INDEX ) )*        research.result.items.0.name
//! ```
//!
//! What does not belong here: which roots a path may start from (the workflow's loader
//! checks [`Condition::paths`] against its steps) and what the roots hold (the executor
//! builds the environment).

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

pub use parse::ParseError;

/// How deeply parentheses, `not` and lists may nest. Real conditions use two or three
/// levels; the bound keeps the parser's recursion (and the evaluator's) far from the
/// stack's end whatever the input.
pub const MAX_DEPTH: usize = 32;

/// The longest condition accepted, in bytes: far beyond any real condition, and small
/// enough that lexing a hostile one costs nothing.
pub const MAX_LEN: usize = 64 * 1024;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
}

/// Why a condition could not be evaluated (it then counts as false).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Miss(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    In {
        item: Operand,
        set: Operand,
        negated: bool,
    },
    /// A bare operand, which must be `true` or `false`.
    Test(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Value),
    Path(Path),
    List(Vec<Operand>),
}

/// A field path: `research.result.score`, `trigger.payload.items.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<String>,
    /// 1-based column of its first character in the condition.
    pub column: usize,
}

impl Path {
    /// The first segment: a step id or `trigger`.
    pub fn root(&self) -> &str {
        &self.segments[0]
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

impl Condition {
    /// Parses `source`. An empty condition is refused: leave the key out instead.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let expr = parse::parse(source)?;
        Ok(Self {
            source: source.to_owned(),
            expr,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every field path the condition reads, in order of appearance.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.expr.paths(&mut out);
        out
    }

    /// Evaluates the condition over `env`, an object whose keys are the paths' roots.
    /// `Err` says why it cannot be evaluated; the caller treats that as false.
    pub fn evaluate(&self, env: &Value) -> Result<bool, Miss> {
        eval::expr(&self.expr, env)
    }
}

impl Expr {
    fn paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Expr::Or(items) | Expr::And(items) => items.iter().for_each(|e| e.paths(out)),
            Expr::Not(e) => e.paths(out),
            Expr::Compare(a, _, b) => {
                a.paths(out);
                b.paths(out);
            }
            Expr::In { item, set, .. } => {
                item.paths(out);
                set.paths(out);
            }
            Expr::Test(o) => o.paths(out),
        }
    }
}

impl Operand {
    fn paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Operand::Literal(_) => {}
            Operand::Path(p) => out.push(p),
            Operand::List(items) => items.iter().for_each(|o| o.paths(out)),
        }
    }
}
