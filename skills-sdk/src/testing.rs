//! A stand-in for the agent's host, so skills can be unit-tested natively with `cargo test`.
//!
//! Only on non-`wasm32` targets. A test implements [`Host`] for the calls it cares about
//! (every method refuses by default, as an ungranted capability does in the real host) and
//! runs the code under test inside [`with_host`]:
//!
//! ```
//! use openlegion_skill_sdk::testing::{self, Host};
//! use openlegion_skill_sdk::workspace;
//!
//! #[derive(Default)]
//! struct OneFile;
//!
//! impl Host for OneFile {
//!     fn read_file(&mut self, path: &str, _: Option<u32>, _: Option<u32>) -> Result<String, String> {
//!         match path {
//!             "notes.md" => Ok("hello".into()),
//!             _ => Err(format!("File not found: {path}")),
//!         }
//!     }
//! }
//!
//! let (text, _host) = testing::with_host(OneFile, || workspace::read_file("notes.md", None, None));
//! assert_eq!(text.unwrap(), "hello");
//! // Outside `with_host` nothing is granted (except `log`, which prints to stderr).
//! assert!(workspace::read_file("notes.md", None, None).unwrap_err().contains("not granted"));
//! ```

use std::any::Any;
use std::cell::RefCell;

use crate::bindings::openlegion::skill::http::{Request, Response};
use crate::bindings::openlegion::skill::log::Level;
use crate::bindings::openlegion::skill::process::Output;
use crate::bindings::openlegion::skill::skills::Source;
use crate::bindings::openlegion::skill::workspace::Entry;

/// The host's side of the imports. Each method has the signature of its WIT function; the
/// defaults behave like a host that grants only `log`.
pub trait Host: Any {
    fn log(&mut self, level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
    fn read_file(
        &mut self,
        path: &str,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, String> {
        let _ = (path, offset, limit);
        Err(not_granted("workspace"))
    }
    fn write_file(&mut self, path: &str, contents: &str, append: bool) -> Result<u64, String> {
        let _ = (path, contents, append);
        Err(not_granted("workspace"))
    }
    fn list_files(
        &mut self,
        path: &str,
        pattern: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<Entry>, String> {
        let _ = (path, pattern, recursive);
        Err(not_granted("workspace"))
    }
    fn fetch(&mut self, request: &Request) -> Result<Response, String> {
        let _ = request;
        Err(not_granted("http"))
    }
    fn read_state(&mut self, key: &str) -> Result<Option<String>, String> {
        let _ = key;
        Err(not_granted("mesh"))
    }
    fn write_state(
        &mut self,
        key: &str,
        value_json: &str,
        ttl_seconds: Option<u32>,
    ) -> Result<String, String> {
        let _ = (key, value_json, ttl_seconds);
        Err(not_granted("mesh"))
    }
    fn list_state(&mut self, prefix: &str) -> Result<String, String> {
        let _ = prefix;
        Err(not_granted("mesh"))
    }
    fn publish(&mut self, topic: &str, payload_json: &str) -> Result<u32, String> {
        let _ = (topic, payload_json);
        Err(not_granted("mesh"))
    }
    fn list_agents(&mut self) -> Result<String, String> {
        Err(not_granted("mesh"))
    }
    fn send_message(&mut self, to: &str, kind: &str, payload_json: &str) -> Result<String, String> {
        let _ = (to, kind, payload_json);
        Err(not_granted("mesh"))
    }
    fn set_cron(&mut self, spec_json: &str) -> Result<String, String> {
        let _ = spec_json;
        Err(not_granted("mesh"))
    }
    fn list_cron(&mut self) -> Result<String, String> {
        Err(not_granted("mesh"))
    }
    fn remove_cron(&mut self, id: &str) -> Result<String, String> {
        let _ = id;
        Err(not_granted("mesh"))
    }
    fn set_heartbeat(&mut self, spec_json: &str) -> Result<String, String> {
        let _ = spec_json;
        Err(not_granted("mesh"))
    }
    fn spawn_agent(
        &mut self,
        role: &str,
        instructions: &str,
        ttl_seconds: Option<u32>,
        budget_usd: Option<f64>,
    ) -> Result<String, String> {
        let _ = (role, instructions, ttl_seconds, budget_usd);
        Err(not_granted("mesh"))
    }
    fn read_agent_history(&mut self, agent: &str, limit: u32) -> Result<String, String> {
        let _ = (agent, limit);
        Err(not_granted("mesh"))
    }
    fn register_artifact(&mut self, name: &str) -> Result<String, String> {
        let _ = name;
        Err(not_granted("mesh"))
    }
    fn read_artifact(&mut self, agent: &str, name: &str) -> Result<String, String> {
        let _ = (agent, name);
        Err(not_granted("mesh"))
    }
    fn web_search(&mut self, query: &str, limit: u32) -> Result<String, String> {
        let _ = (query, limit);
        Err(not_granted("http"))
    }
    /// One browser action, as `(name, arguments)`: `navigate` (`{"url", "new_tab"}`),
    /// `snapshot`, `click` (`{"target"}`), `type_text` (`{"target", "text", "submit"}`),
    /// `screenshot` (`{"path", "full_page"}`), `evaluate` (`{"script"}`). One method for
    /// the six, so a test double implements the browser once.
    fn browser(&mut self, action: &str, args: serde_json::Value) -> Result<String, String> {
        let _ = (action, args);
        Err(not_granted("browser"))
    }
    fn run(
        &mut self,
        command: &str,
        workdir: Option<&str>,
        timeout_ms: Option<u32>,
    ) -> Result<Output, String> {
        let _ = (command, workdir, timeout_ms);
        Err(not_granted("process"))
    }
    fn create_skill(&mut self, source: &Source) -> Result<String, String> {
        let _ = source;
        Err(not_granted("skills"))
    }
    fn list_skills(&mut self) -> Result<String, String> {
        Err(not_granted("skills"))
    }
    fn remove_skill(&mut self, name: &str) -> Result<String, String> {
        let _ = name;
        Err(not_granted("skills"))
    }
    fn reload_skills(&mut self) -> Result<String, String> {
        Err(not_granted("skills"))
    }
    fn memory_save(
        &mut self,
        key: &str,
        value: &str,
        category: Option<&str>,
        source: Option<&str>,
    ) -> Result<String, String> {
        let _ = (key, value, category, source);
        Err(not_granted("memory"))
    }
    fn memory_search(&mut self, query: &str, limit: u32) -> Result<String, String> {
        let _ = (query, limit);
        Err(not_granted("memory"))
    }
    fn memory_recall(
        &mut self,
        query: &str,
        category: Option<&str>,
        limit: u32,
    ) -> Result<String, String> {
        let _ = (query, category, limit);
        Err(not_granted("memory"))
    }
}

/// A host that grants nothing but `log`; also the one used outside [`with_host`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Denied;

impl Host for Denied {}

/// The real host's refusal text for an ungranted capability (see `wit/skill.wit`).
pub fn not_granted(capability: &str) -> String {
    format!("capability '{capability}' is not granted to skill 'test'")
}

thread_local! {
    static HOST: RefCell<Option<Box<dyn Host>>> = const { RefCell::new(None) };
}

/// Runs `f` with `host` serving this thread's imports, then hands the host back so the test
/// can inspect what it recorded.
///
/// # Panics
/// If `f` panics (the host is dropped with it), or if called inside another `with_host`.
pub fn with_host<H: Host, R>(host: H, f: impl FnOnce() -> R) -> (R, H) {
    HOST.with_borrow_mut(|slot| {
        assert!(slot.is_none(), "with_host called inside with_host");
        *slot = Some(Box::new(host));
    });
    let result = f();
    let host: Box<dyn Any> = HOST
        .with_borrow_mut(Option::take)
        .expect("the host was installed above");
    let host = host
        .downcast::<H>()
        .expect("the host installed above has type H");
    (result, *host)
}

/// Calls `f` on the installed host, or on [`Denied`] when there is none.
fn call<R>(f: impl FnOnce(&mut dyn Host) -> R) -> R {
    HOST.with_borrow_mut(|slot| match slot {
        Some(host) => f(host.as_mut()),
        None => f(&mut Denied),
    })
}

/// The import functions, with the bindings' signatures, served by the installed host.
pub(crate) mod imports {
    pub(crate) mod log {
        use super::super::{Level, call};
        pub(crate) fn log(level: Level, message: &str) {
            call(|h| h.log(level, message));
        }
    }

    pub(crate) mod workspace {
        use super::super::{Entry, call};
        pub(crate) fn read_file(
            path: &str,
            offset: Option<u32>,
            limit: Option<u32>,
        ) -> Result<String, String> {
            call(|h| h.read_file(path, offset, limit))
        }
        pub(crate) fn write_file(path: &str, contents: &str, append: bool) -> Result<u64, String> {
            call(|h| h.write_file(path, contents, append))
        }
        pub(crate) fn list_files(
            path: &str,
            pattern: Option<&str>,
            recursive: bool,
        ) -> Result<Vec<Entry>, String> {
            call(|h| h.list_files(path, pattern, recursive))
        }
    }

    pub(crate) mod http {
        use super::super::{Request, Response, call};
        pub(crate) fn fetch(request: &Request) -> Result<Response, String> {
            call(|h| h.fetch(request))
        }
        pub(crate) fn search(query: &str, limit: u32) -> Result<String, String> {
            call(|h| h.web_search(query, limit))
        }
    }

    pub(crate) mod mesh {
        use super::super::call;
        pub(crate) fn read_state(key: &str) -> Result<Option<String>, String> {
            call(|h| h.read_state(key))
        }
        pub(crate) fn write_state(
            key: &str,
            value_json: &str,
            ttl_seconds: Option<u32>,
        ) -> Result<String, String> {
            call(|h| h.write_state(key, value_json, ttl_seconds))
        }
        pub(crate) fn list_state(prefix: &str) -> Result<String, String> {
            call(|h| h.list_state(prefix))
        }
        pub(crate) fn publish(topic: &str, payload_json: &str) -> Result<u32, String> {
            call(|h| h.publish(topic, payload_json))
        }
        pub(crate) fn list_agents() -> Result<String, String> {
            call(|h| h.list_agents())
        }
        pub(crate) fn send_message(
            to: &str,
            kind: &str,
            payload_json: &str,
        ) -> Result<String, String> {
            call(|h| h.send_message(to, kind, payload_json))
        }
        pub(crate) fn set_cron(spec_json: &str) -> Result<String, String> {
            call(|h| h.set_cron(spec_json))
        }
        pub(crate) fn list_cron() -> Result<String, String> {
            call(|h| h.list_cron())
        }
        pub(crate) fn remove_cron(id: &str) -> Result<String, String> {
            call(|h| h.remove_cron(id))
        }
        pub(crate) fn set_heartbeat(spec_json: &str) -> Result<String, String> {
            call(|h| h.set_heartbeat(spec_json))
        }
        pub(crate) fn spawn_agent(
            role: &str,
            instructions: &str,
            ttl_seconds: Option<u32>,
            budget_usd: Option<f64>,
        ) -> Result<String, String> {
            call(|h| h.spawn_agent(role, instructions, ttl_seconds, budget_usd))
        }
        pub(crate) fn read_agent_history(agent: &str, limit: u32) -> Result<String, String> {
            call(|h| h.read_agent_history(agent, limit))
        }
        pub(crate) fn register_artifact(name: &str) -> Result<String, String> {
            call(|h| h.register_artifact(name))
        }
        pub(crate) fn read_artifact(agent: &str, name: &str) -> Result<String, String> {
            call(|h| h.read_artifact(agent, name))
        }
    }

    pub(crate) mod browser {
        use super::super::call;
        use serde_json::json;
        pub(crate) fn navigate(url: &str, new_tab: bool) -> Result<String, String> {
            call(|h| h.browser("navigate", json!({"url": url, "new_tab": new_tab})))
        }
        pub(crate) fn snapshot() -> Result<String, String> {
            call(|h| h.browser("snapshot", json!({})))
        }
        pub(crate) fn click(target: &str) -> Result<String, String> {
            call(|h| h.browser("click", json!({"target": target})))
        }
        pub(crate) fn type_text(target: &str, text: &str, submit: bool) -> Result<String, String> {
            call(|h| {
                h.browser(
                    "type_text",
                    json!({"target": target, "text": text, "submit": submit}),
                )
            })
        }
        pub(crate) fn screenshot(path: &str, full_page: bool) -> Result<String, String> {
            call(|h| h.browser("screenshot", json!({"path": path, "full_page": full_page})))
        }
        pub(crate) fn evaluate(script: &str) -> Result<String, String> {
            call(|h| h.browser("evaluate", json!({"script": script})))
        }
    }

    pub(crate) mod process {
        use super::super::{Output, call};
        pub(crate) fn run(
            command: &str,
            workdir: Option<&str>,
            timeout_ms: Option<u32>,
        ) -> Result<Output, String> {
            call(|h| h.run(command, workdir, timeout_ms))
        }
    }

    pub(crate) mod skills {
        use super::super::{Source, call};
        pub(crate) fn create(source: &Source) -> Result<String, String> {
            call(|h| h.create_skill(source))
        }
        pub(crate) fn list_skills() -> Result<String, String> {
            call(|h| h.list_skills())
        }
        pub(crate) fn remove(name: &str) -> Result<String, String> {
            call(|h| h.remove_skill(name))
        }
        pub(crate) fn reload() -> Result<String, String> {
            call(|h| h.reload_skills())
        }
    }

    pub(crate) mod memory {
        use super::super::call;
        pub(crate) fn save(
            key: &str,
            value: &str,
            category: Option<&str>,
            source: Option<&str>,
        ) -> Result<String, String> {
            call(|h| h.memory_save(key, value, category, source))
        }
        pub(crate) fn search(query: &str, limit: u32) -> Result<String, String> {
            call(|h| h.memory_search(query, limit))
        }
        pub(crate) fn recall(
            query: &str,
            category: Option<&str>,
            limit: u32,
        ) -> Result<String, String> {
            call(|h| h.memory_recall(query, category, limit))
        }
    }
}
