//! The lexer and the recursive-descent parser of conditions. Every recursive call goes
//! through [`Parser::nest`], which refuses to go deeper than [`MAX_DEPTH`].

use serde_json::{Number, Value};

use super::{Expr, MAX_DEPTH, MAX_LEN, Op, Operand, Path};

/// Where and why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Path(Vec<String>),
    Str(String),
    Num(Number),
    True,
    False,
    Null,
    And,
    Or,
    Not,
    In,
    Op(Op),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Path(p) => format!("`{}`", p.join(".")),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Num(n) => format!("the number {n}"),
            Tok::True => "`true`".into(),
            Tok::False => "`false`".into(),
            Tok::Null => "`null`".into(),
            Tok::And => "`and`".into(),
            Tok::Or => "`or`".into(),
            Tok::Not => "`not`".into(),
            Tok::In => "`in`".into(),
            Tok::Op(op) => format!("`{}`", op.symbol()),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::End => "the end of the condition".into(),
        }
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        column,
        message: message.into(),
    })
}

/// Splits `src` into tokens, each with its 1-based column.
fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let op = match two.as_str() {
            "==" => Some((Tok::Op(Op::Eq), 2)),
            "!=" => Some((Tok::Op(Op::Ne), 2)),
            ">=" => Some((Tok::Op(Op::Ge), 2)),
            "<=" => Some((Tok::Op(Op::Le), 2)),
            "&&" => Some((Tok::And, 2)),
            "||" => Some((Tok::Or, 2)),
            _ => match c {
                '>' => Some((Tok::Op(Op::Gt), 1)),
                '<' => Some((Tok::Op(Op::Lt), 1)),
                '!' => Some((Tok::Not, 1)),
                '(' => Some((Tok::LParen, 1)),
                ')' => Some((Tok::RParen, 1)),
                '[' => Some((Tok::LBracket, 1)),
                ']' => Some((Tok::RBracket, 1)),
                ',' => Some((Tok::Comma, 1)),
                _ => None,
            },
        };
        if let Some((tok, len)) = op {
            out.push((tok, col));
            i += len;
            continue;
        }
        if c == '\'' || c == '"' {
            let (s, next) = string(&chars, i)?;
            out.push((Tok::Str(s), col));
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '+' | '-'))
            {
                // A sign belongs to the number only right after its exponent mark.
                if matches!(chars[i], '+' | '-') && !matches!(chars[i - 1], 'e' | 'E') {
                    break;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = serde_json::from_str::<Number>(&text)
                .or_else(|_| err(col, format!("{text:?} is not a number")))?;
            out.push((Tok::Num(n), col));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push((word(&text, col)?, col));
            continue;
        }
        return err(col, format!("unexpected character {c:?}"));
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// A keyword, a literal word or a field path.
fn word(text: &str, col: usize) -> Result<Tok, ParseError> {
    match text {
        "and" => return Ok(Tok::And),
        "or" => return Ok(Tok::Or),
        "not" => return Ok(Tok::Not),
        "in" => return Ok(Tok::In),
        "null" => return Ok(Tok::Null),
        _ => {}
    }
    // The original read `True`/`FALSE` too (Python spellings).
    if text.eq_ignore_ascii_case("true") {
        return Ok(Tok::True);
    }
    if text.eq_ignore_ascii_case("false") {
        return Ok(Tok::False);
    }
    let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return err(
            col,
            format!("`{text}` is not a field path (an empty segment)"),
        );
    }
    Ok(Tok::Path(segments))
}

/// A quoted string starting at `chars[start]`; returns it and the index after it.
fn string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            c if c == quote => return Ok((out, i + 1)),
            '\\' => {
                let escaped = match chars.get(i + 1) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some(c @ ('\\' | '\'' | '"')) => *c,
                    Some(c) => return err(i + 1, format!("unknown escape \\{c}")),
                    None => break,
                };
                out.push(escaped);
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    err(start + 1, "a string is not closed")
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    depth: usize,
}

pub(super) fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_LEN {
        return err(1, format!("longer than {MAX_LEN} bytes"));
    }
    if src.trim().is_empty() {
        return err(1, "empty (leave `condition` out to always run the step)");
    }
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
        depth: 0,
    };
    let expr = p.or()?;
    match p.peek() {
        Tok::End => Ok(expr),
        other => err(
            p.column(),
            format!(
                "expected `and`, `or` or the end, found {}",
                other.describe()
            ),
        ),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn column(&self) -> usize {
        self.toks[self.at].1
    }

    fn bump(&mut self) -> Tok {
        let tok = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        tok
    }

    /// Runs `f` one nesting level deeper, or refuses past [`MAX_DEPTH`].
    fn nest<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return err(
                self.column(),
                format!("nested more than {MAX_DEPTH} levels deep"),
            );
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and()?];
        while *self.peek() == Tok::Or {
            self.bump();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.unary()?];
        while *self.peek() == Tok::And {
            self.bump();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Not => {
                self.bump();
                self.nest(|p| Ok(Expr::Not(Box::new(p.unary()?))))
            }
            Tok::LParen => {
                self.bump();
                let inner = self.nest(Self::or)?;
                let col = self.column();
                match self.bump() {
                    Tok::RParen => Ok(inner),
                    other => err(col, format!("expected `)`, found {}", other.describe())),
                }
            }
            _ => self.compare(),
        }
    }

    fn compare(&mut self) -> Result<Expr, ParseError> {
        let left = self.operand()?;
        match self.peek().clone() {
            Tok::Op(op) => {
                self.bump();
                Ok(Expr::Compare(left, op, self.operand()?))
            }
            Tok::In => {
                self.bump();
                Ok(Expr::In {
                    item: left,
                    set: self.operand()?,
                    negated: false,
                })
            }
            Tok::Not => {
                let col = self.column();
                self.bump();
                if self.bump() != Tok::In {
                    return err(col, "`not` after a value must be followed by `in`");
                }
                Ok(Expr::In {
                    item: left,
                    set: self.operand()?,
                    negated: true,
                })
            }
            _ => Ok(Expr::Test(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let col = self.column();
        match self.bump() {
            Tok::Str(s) => Ok(Operand::Literal(Value::String(s))),
            Tok::Num(n) => Ok(Operand::Literal(Value::Number(n))),
            Tok::True => Ok(Operand::Literal(Value::Bool(true))),
            Tok::False => Ok(Operand::Literal(Value::Bool(false))),
            Tok::Null => Ok(Operand::Literal(Value::Null)),
            Tok::Path(segments) => Ok(Operand::Path(Path {
                segments,
                column: col,
            })),
            Tok::LBracket => self.nest(|p| p.list(col)),
            other => err(
                col,
                format!(
                    "expected a value (a string, a number, true, false, null, a field path or a list), found {}",
                    other.describe()
                ),
            ),
        }
    }

    /// The rest of a list after its `[` (at column `open`).
    fn list(&mut self, open: usize) -> Result<Operand, ParseError> {
        let mut items = Vec::new();
        if *self.peek() == Tok::RBracket {
            self.bump();
            return Ok(Operand::List(items));
        }
        loop {
            items.push(self.operand()?);
            let col = self.column();
            match self.bump() {
                Tok::Comma => {}
                Tok::RBracket => return Ok(Operand::List(items)),
                Tok::End => return err(open, "a list is not closed"),
                other => {
                    return err(
                        col,
                        format!("expected `,` or `]`, found {}", other.describe()),
                    );
                }
            }
        }
    }
}
