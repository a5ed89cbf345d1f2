//! Name resolution for the mesh's address checks ([`crate::fetch`]): the system resolver,
//! asked once per check, so the answer that is checked is the one connected to (the
//! connection is pinned to it; see `fetch::pinned_client` and [`crate::browse_proxy`]).
//!
//! **Test hook, debug builds only.** `OPENLEGION_TEST_RESOLVE` answers chosen names in place
//! of DNS, so tests can make a name only the mesh knows (`site.invalid`) and a name whose
//! answer changes between two questions (DNS rebinding). It is compiled out of release
//! builds (`cfg(debug_assertions)`): an installed mesh ignores the variable and always asks
//! the system resolver. Format: entries separated by `;`, each `name=ANSWERS[>ANSWERS…]`,
//! where ANSWERS is a comma-separated list of addresses (`127.0.0.2`, or with a port that
//! replaces the URL's, `127.0.0.1:8080`, `[::1]:80`); the n-th question gets the n-th
//! group, and every later question the last one. Example:
//! `site.invalid=127.0.0.1;rebind.invalid=1.1.1.1>127.0.0.2` (the first answer for
//! `rebind.invalid` is public, every later one is loopback).

use std::net::SocketAddr;

/// The addresses `host` resolves to, with `port` for those that name none.
pub(crate) async fn lookup(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    #[cfg(debug_assertions)]
    if let Some(answer) = test_hook::answer(host, port) {
        return Ok(answer);
    }
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

#[cfg(debug_assertions)]
pub(crate) mod test_hook {
    use std::collections::HashMap;
    use std::net::{IpAddr, SocketAddr};
    use std::sync::{Mutex, OnceLock};

    /// The environment variable read once, at the first lookup.
    pub(crate) const VAR: &str = "OPENLEGION_TEST_RESOLVE";

    /// One name's answers in turn, and how many questions it has had.
    #[derive(Debug)]
    struct Answers {
        groups: Vec<Vec<(IpAddr, Option<u16>)>>,
        asked: usize,
    }

    fn table() -> &'static Mutex<HashMap<String, Answers>> {
        static TABLE: OnceLock<Mutex<HashMap<String, Answers>>> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut table = HashMap::new();
            if let Ok(spec) = std::env::var(VAR) {
                tracing::warn!(
                    "{VAR} is set: the mesh answers these names itself (a test hook of debug builds): {spec}"
                );
                if let Err(problem) = add(&mut table, &spec) {
                    tracing::error!("{VAR}: {problem}; the entry is ignored");
                }
            }
            Mutex::new(table)
        })
    }

    fn add(table: &mut HashMap<String, Answers>, spec: &str) -> Result<(), String> {
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, answers) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not name=addresses"))?;
            let groups = answers
                .split('>')
                .map(|group| group.split(',').map(address).collect())
                .collect::<Result<Vec<_>, _>>()?;
            table.insert(
                name.trim().to_ascii_lowercase(),
                Answers { groups, asked: 0 },
            );
        }
        Ok(())
    }

    fn address(text: &str) -> Result<(IpAddr, Option<u16>), String> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok((ip, None));
        }
        text.parse::<SocketAddr>()
            .map(|a| (a.ip(), Some(a.port())))
            .map_err(|_| format!("{text:?} is not an address"))
    }

    /// Answers `host` from the table, if it is there.
    pub(super) fn answer(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
        let answers = table.get_mut(&host.trim_end_matches('.').to_ascii_lowercase())?;
        let group = &answers.groups[answers.asked.min(answers.groups.len() - 1)];
        answers.asked += 1;
        Some(
            group
                .iter()
                .map(|(ip, p)| SocketAddr::new(*ip, p.unwrap_or(port)))
                .collect(),
        )
    }

    /// Adds entries (the variable's format) for this process's own tests.
    #[cfg(test)]
    pub(crate) fn set(spec: &str) {
        let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
        add(&mut table, spec).unwrap();
    }

    #[cfg(test)]
    mod tests {
        #[tokio::test]
        async fn answers_come_in_turn_and_the_last_one_stays() {
            super::set("turns.invalid=1.1.1.1,8.8.8.8>127.0.0.2:99");
            let first = super::super::lookup("turns.invalid", 80).await.unwrap();
            assert_eq!(
                first,
                ["1.1.1.1:80".parse().unwrap(), "8.8.8.8:80".parse().unwrap()]
            );
            for _ in 0..2 {
                let later = super::super::lookup("TURNS.invalid.", 80).await.unwrap();
                assert_eq!(later, ["127.0.0.2:99".parse().unwrap()]);
            }
            // A name not in the table goes to the system resolver, which knows no `.invalid`.
            assert!(super::super::lookup("other.invalid", 80).await.is_err());
        }
    }
}
