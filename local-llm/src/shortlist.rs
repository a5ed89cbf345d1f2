//! Which of the offered tools a small model is shown.
//!
//! An agent offers some twenty or thirty tools. A model of a few hundred million
//! parameters cannot choose among that many: with SmolLM2-135M and an agent's 32 tools in
//! the prompt, the call marker's first token stays under 2 % even when the user names the
//! tool (`bench/local-llm`). So a small model sees only the few tools that the conversation
//! is about: those the last user message names or whose names and descriptions share its
//! words, and those already called since that message (a call's result often asks for the
//! next one). The grammar then allows only these, so a call names one of them.
//!
//! The ranking is lexical on purpose: it needs no second model, it runs in microseconds,
//! and its misses are easy to see (the labelled prompts measure how often the expected
//! tool makes the list).

use std::collections::HashSet;

use openlegion_llm::{Message, Role, ToolSpec};

/// Tools a small model is shown by default.
pub const SMALL_MODEL_TOOLS: usize = 5;

/// Models estimated below this many parameters get a shortlist; larger ones see every tool.
pub const SMALL_MODEL_PARAMS: u64 = 500_000_000;

/// Score of a tool named in full in the message (`write_file`).
const NAMED: u32 = 100;
/// Score of a tool called since the last user message.
const CALLED: u32 = 50;
/// Score per word of the tool's name found in the message.
const NAME_WORD: u32 = 4;
/// Score per word of the tool's description found in the message.
const DESCRIPTION_WORD: u32 = 1;

/// Words too common to say anything about a tool.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "from", "into", "your", "you", "are", "was",
    "what", "which", "have", "has", "its", "use", "using", "can", "will", "not", "all", "any",
    "please", "now", "then", "than", "them", "they", "there", "one", "own", "out", "about", "tool",
    "tools", "returns", "return", "such", "only", "other", "also", "when", "how", "who",
];

/// The lower-case words of `text` of three letters or more, stop words and trailing
/// plural `s` removed (`files` and `file` are one word here).
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_owned(),
                _ => w,
            }
        })
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// The tools a small model is shown, and whether the user asked for one of them.
#[derive(Debug)]
pub struct Shortlist<'t> {
    /// Up to the number asked for, in their offered order.
    pub tools: Vec<&'t ToolSpec>,
    /// The last user message names one of `tools` or a word of its name ("list the
    /// files"), and no tool was called since: the engine then calls a tool rather than
    /// wait for a small model to put the call marker first, which it rarely does.
    pub asked: bool,
}

/// Up to `keep` of `tools`, those the conversation is most about. Tools that nothing
/// relates to the conversation are left out, so a greeting may come with no tools at all.
pub fn shortlist<'t>(tools: &'t [ToolSpec], messages: &[Message], keep: usize) -> Shortlist<'t> {
    let last_user = messages.iter().rposition(|m| m.role == Role::User);
    let asked = last_user.map_or("", |i| messages[i].content.as_str());
    let called: HashSet<&str> = messages[last_user.map_or(0, |i| i + 1)..]
        .iter()
        .flat_map(|m| &m.tool_calls)
        .map(|c| c.name.as_str())
        .collect();
    let asked_lower = asked.to_lowercase();
    let asked_words = words(asked);
    let mut asked = false;
    let mut scored: Vec<(u32, usize)> = tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            let mut score = 0;
            if asked_lower.contains(&tool.name.to_lowercase()) {
                score += NAMED;
            }
            let name_words = words(&tool.name);
            score += NAME_WORD * name_words.intersection(&asked_words).count() as u32;
            asked |= score > 0;
            if called.contains(tool.name.as_str()) {
                score += CALLED;
            }
            let description = words(&tool.description);
            score += DESCRIPTION_WORD
                * description
                    .difference(&name_words)
                    .filter(|w| asked_words.contains(*w))
                    .count() as u32;
            (score, i)
        })
        .collect();
    let asked = asked && called.is_empty();
    if tools.len() > keep {
        // Highest score first; among equals, the offered order.
        scored.retain(|(score, _)| *score > 0);
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(keep);
    }
    let mut kept: Vec<usize> = scored.into_iter().map(|(_, i)| i).collect();
    kept.sort_unstable();
    Shortlist {
        tools: kept.into_iter().map(|i| &tools[i]).collect(),
        asked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openlegion_llm::ToolCall;

    fn tool(name: &str, description: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters: serde_json::json!({"type": "object"}),
        }
    }

    fn user(text: &str) -> Message {
        Message {
            role: Role::User,
            content: text.into(),
            tool_calls: vec![],
            tool_call_id: None,
        }
    }

    fn catalogue() -> Vec<ToolSpec> {
        vec![
            tool("read_file", "Read a text file from your data directory."),
            tool("write_file", "Write a text file in your data directory."),
            tool(
                "list_files",
                "List files and directories in your data directory.",
            ),
            tool("memory_save", "Remember a fact for later sessions."),
            tool("memory_recall", "Recall saved facts by meaning."),
            tool("exec", "Run a shell command inside your own sandbox."),
            tool("http_request", "Make an HTTP request to a public URL."),
        ]
    }

    fn names(list: Shortlist<'_>) -> Vec<&str> {
        list.tools.into_iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn a_tool_named_in_full_is_always_kept() {
        let tools = catalogue();
        let got = names(shortlist(
            &tools,
            &[user("Use the exec tool to print the date.")],
            1,
        ));
        assert_eq!(got, ["exec"]);
        assert!(shortlist(&tools, &[user("Use the exec tool.")], 1).asked);
    }

    #[test]
    fn words_of_names_and_descriptions_rank_the_rest() {
        let tools = catalogue();
        let remember = shortlist(&tools, &[user("Remember that my name is Alice.")], 2);
        assert!(!remember.asked, "a word of a description is not a request");
        assert_eq!(
            names(remember),
            ["memory_save"],
            "only one tool shares a word"
        );
        let files = shortlist(&tools, &[user("List the files I have.")], 2);
        assert!(files.asked, "words of a tool's name are a request");
        let got = names(files);
        assert!(got.contains(&"list_files"), "{got:?}");
    }

    #[test]
    fn a_greeting_gets_no_tools_and_few_tools_are_all_kept() {
        let tools = catalogue();
        let greeting = shortlist(&tools, &[user("Hello! How are you today?")], 3);
        assert!(greeting.tools.is_empty() && !greeting.asked);
        let few = shortlist(&tools[..2], &[user("Hello!")], 3);
        assert_eq!(few.tools.len(), 2);
        assert!(!few.asked, "no tool is asked for");
    }

    #[test]
    fn tools_called_since_the_last_user_message_stay_on_the_list() {
        let tools = catalogue();
        let messages = [
            user("Hello there."),
            Message {
                role: Role::Assistant,
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "1".into(),
                    name: "http_request".into(),
                    arguments: "{}".into(),
                }],
                tool_call_id: None,
            },
        ];
        let list = shortlist(&tools, &messages, 3);
        assert!(!list.asked, "after a call the model decides again");
        assert_eq!(names(list), ["http_request"]);
    }
}
