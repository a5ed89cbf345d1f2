//! Brave Search's web search API (`GET /res/v1/web/search?q=…&count=…` with the key in
//! `X-Subscription-Token`): JSON whose `web.results` hold `title`, `url` and a
//! `description` with `<strong>` highlights, which are stripped with the HTML parser.

use openlegion_protocol::SearchResult;
use reqwest::Url;
use scraper::Html;
use serde::Deserialize;

/// The endpoint when `search.base_url` is unset.
pub(super) const DEFAULT_URL: &str = "https://api.search.brave.com/res/v1/web/search";
/// The vault's name for the key (`OPENLEGION_CRED_BRAVE_SEARCH_API_KEY`).
pub(super) const CREDENTIAL: &str = "brave_search_api_key";
/// The header that carries it.
pub(super) const KEY_HEADER: &str = "X-Subscription-Token";

pub(super) fn request_url(base: &str, query: &str, count: usize) -> Result<Url, String> {
    let mut url = Url::parse(base).map_err(|e| format!("search.base_url {base:?}: {e}"))?;
    url.query_pairs_mut()
        .append_pair("q", query)
        .append_pair("count", &count.to_string());
    Ok(url)
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    web: Option<Web>,
}

#[derive(Debug, Deserialize)]
struct Web {
    #[serde(default)]
    results: Vec<Hit>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    title: String,
    url: String,
    #[serde(default)]
    description: String,
}

/// The web results of an answer, at most `limit`; a body that is not Brave's JSON is an
/// error naming what is wrong.
pub(super) fn parse(body: &str, limit: usize) -> Result<Vec<SearchResult>, String> {
    let answer: Answer = serde_json::from_str(body)
        .map_err(|e| format!("Brave Search answered something that is not its JSON: {e}"))?;
    Ok(answer
        .web
        .map(|w| w.results)
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.url.starts_with("http://") || h.url.starts_with("https://"))
        .take(limit)
        .map(|h| SearchResult {
            title: plain(&h.title),
            url: h.url,
            snippet: plain(&h.description),
        })
        .collect())
}

/// Text with its markup removed and entities decoded.
fn plain(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    super::duckduckgo::text(fragment.root_element())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = include_str!("../../tests/fixtures/search/brave.json");

    #[test]
    fn web_results_with_highlights_stripped() {
        let results = parse(ANSWER, 10).unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].url, "https://www.rust-lang.org/");
        assert_eq!(
            results[0].snippet,
            "A language empowering everyone to build reliable and efficient software."
        );
        assert!(
            results[1]
                .snippet
                .starts_with("Rust is a general-purpose programming")
        );
        assert!(results[1].snippet.contains("memory safety & thread safety"));
        assert!(results[2].snippet.contains("you're using Rust 1.85.0"));
        assert_eq!(parse(ANSWER, 1).unwrap().len(), 1);
    }

    #[test]
    fn odd_answers() {
        assert!(parse(r#"{"type": "search"}"#, 5).unwrap().is_empty());
        assert!(
            parse("<html>rate limited</html>", 5)
                .unwrap_err()
                .contains("not its JSON")
        );
    }
}
