//! Evaluating a parsed condition over JSON. `and` and `or` stop at the first operand that
//! decides them, so `a.done or a.result.x > 1` needs `a.result.x` only when `a.done` is
//! false. Anything that cannot be evaluated is a [`Miss`] naming the path and the reason.
//!
//! Types are strict: numbers compare with numbers and strings with strings; `==` between
//! different types is simply false, while ordering them (`"7" >= 5`) cannot be evaluated.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::{Expr, Miss, Op, Operand, Path};

pub(super) fn expr(e: &Expr, env: &Value) -> Result<bool, Miss> {
    match e {
        Expr::Or(items) => {
            for item in items {
                if expr(item, env)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Expr::And(items) => {
            for item in items {
                if !expr(item, env)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Expr::Not(inner) => Ok(!expr(inner, env)?),
        Expr::Compare(a, op, b) => {
            let (x, y) = (operand(a, env)?, operand(b, env)?);
            match op {
                Op::Eq => Ok(equal(&x, &y)),
                Op::Ne => Ok(!equal(&x, &y)),
                _ => {
                    let ord = order(&x, &y).ok_or_else(|| {
                        Miss(format!(
                            "cannot compare {} with {} ({} {} {})",
                            describe(a, &x),
                            describe(b, &y),
                            show(a),
                            op.symbol(),
                            show(b)
                        ))
                    })?;
                    Ok(match op {
                        Op::Gt => ord == Ordering::Greater,
                        Op::Ge => ord != Ordering::Less,
                        Op::Lt => ord == Ordering::Less,
                        Op::Le => ord != Ordering::Greater,
                        Op::Eq | Op::Ne => unreachable!("handled above"),
                    })
                }
            }
        }
        Expr::In { item, set, negated } => {
            let (x, s) = (operand(item, env)?, operand(set, env)?);
            let found = match (&*x, &*s) {
                (_, Value::Array(items)) => items.iter().any(|v| equal(&x, v)),
                (Value::String(needle), Value::String(hay)) => hay.contains(needle.as_str()),
                (Value::String(key), Value::Object(map)) => map.contains_key(key),
                _ => {
                    return Err(Miss(format!(
                        "cannot look for {} in {}",
                        describe(item, &x),
                        describe(set, &s)
                    )));
                }
            };
            Ok(found != *negated)
        }
        Expr::Test(o) => match &*operand(o, env)? {
            Value::Bool(b) => Ok(*b),
            other => Err(Miss(format!(
                "{} is {}, not true or false",
                show(o),
                kind(other)
            ))),
        },
    }
}

fn operand<'a>(o: &Operand, env: &'a Value) -> Result<Cow<'a, Value>, Miss> {
    match o {
        Operand::Literal(v) => Ok(Cow::Owned(v.clone())),
        Operand::Path(p) => lookup(p, env).map(Cow::Borrowed),
        Operand::List(items) => Ok(Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| operand(i, env).map(Cow::into_owned))
                .collect::<Result<_, _>>()?,
        ))),
    }
}

/// The value at `path` in `env`. Right under a step, a field that the step's record lacks
/// is looked for in its `result` too, as the original did (`research.score` for
/// `research.result.score`).
fn lookup<'a>(path: &Path, env: &'a Value) -> Result<&'a Value, Miss> {
    let missing = |why: String| Miss(format!("`{path}` is missing: {why}"));
    let root = path.root();
    let mut here = env
        .get(root)
        .ok_or_else(|| missing(format!("no step `{root}` has a result")))?;
    for (i, seg) in path.segments.iter().enumerate().skip(1) {
        let prefix = path.segments[..i].join(".");
        let next = match here {
            Value::Object(map) => map.get(seg).or_else(|| {
                (i == 1 && root != "trigger" && seg != "result")
                    .then(|| here.get("result").and_then(|r| r.get(seg)))
                    .flatten()
            }),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|n| items.get(n)),
            _ => None,
        };
        here = next.ok_or_else(|| {
            missing(match here {
                Value::Object(_) => format!("{prefix} has no field `{seg}`"),
                Value::Array(items) => {
                    format!("{prefix} is a list of {} (no item `{seg}`)", items.len())
                }
                other => format!("{prefix} is {}", kind(other)),
            })
        })?;
    }
    Ok(here)
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => order(a, b) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// The order of two numbers or two strings; `None` for anything else.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("the string {short:?}")
        }
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// How an operand is written in the condition.
fn show(o: &Operand) -> String {
    match o {
        Operand::Literal(v) => v.to_string(),
        Operand::Path(p) => p.to_string(),
        Operand::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn describe(o: &Operand, v: &Value) -> String {
    match o {
        Operand::Path(p) => format!("{p} ({})", kind(v)),
        _ => kind(v),
    }
}
