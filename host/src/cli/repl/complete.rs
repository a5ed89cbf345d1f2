//! Tab completion in the REPL: `/commands` at the start of a line, `@agent` names, and
//! agent names after the commands that take one (`/use`).

use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::commands::COMMANDS;

/// The REPL's rustyline helper: completion only.
#[derive(Debug)]
pub(crate) struct Completion {
    names: Arc<Mutex<Vec<String>>>,
}

impl Completion {
    pub(super) fn new(names: Arc<Mutex<Vec<String>>>) -> Self {
        Self { names }
    }

    /// What `line` (the text before the cursor) completes to: (start, candidates).
    pub(super) fn candidates(&self, line: &str) -> (usize, Vec<String>) {
        let start = line.rfind(' ').map_or(0, |i| i + 1);
        let word = &line[start..];
        let names = self.names.lock().expect("names lock").clone();
        let mut found: Vec<String> = if start == 0 && word.starts_with('/') {
            COMMANDS
                .iter()
                .map(|c| c.name.to_owned())
                .filter(|c| c.starts_with(word))
                .collect()
        } else if start == 0 && word.starts_with('@') {
            names
                .iter()
                .map(|n| format!("@{n}"))
                .filter(|n| n.starts_with(word))
                .collect()
        } else if COMMANDS
            .iter()
            .any(|c| c.takes_agent && line[..start].trim_end() == c.name)
        {
            names.into_iter().filter(|n| n.starts_with(word)).collect()
        } else {
            Vec::new()
        };
        found.sort();
        // A single match gets a space after it, ready for what follows.
        if let [only] = found.as_mut_slice() {
            only.push(' ');
        }
        (start, found)
    }
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.candidates(&line[..pos]);
        Ok((
            start,
            found
                .into_iter()
                .map(|c| Pair {
                    display: c.trim_end().to_owned(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_agents_and_names_after_use_complete() {
        let c = Completion::new(Arc::new(Mutex::new(vec![
            "researcher".into(),
            "reviewer".into(),
            "writer".into(),
        ])));
        assert_eq!(c.candidates("/br"), (0, vec!["/broadcast ".to_owned()]));
        assert_eq!(
            c.candidates("@re"),
            (0, vec!["@researcher".to_owned(), "@reviewer".to_owned()])
        );
        assert_eq!(c.candidates("/use wr"), (5, vec!["writer ".to_owned()]));
        assert_eq!(c.candidates("hello wr"), (6, Vec::<String>::new()));
        assert!(c.candidates("/").1.len() >= 8);
    }
}
